import Foundation
import Store
import TestSupport
import Testing
import WebhookCore

/// Every status code of the contract table, over real HTTP, with its exact body.
@Suite(.serialized) struct ContractTests {
    let ca: TestCertificateAuthority
    let receiver: HTTPSReceiver
    let app: TestService
    let key: String
    let url: String

    init() throws {
        ca = try TestCertificateAuthority()
        receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        let caFile = ca.caFile
        app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.maxBodySize = 4096
        }
        key = try app.makeFullKey(company: "acme")
        url = "https://localhost:\(receiver.port)/webhooks/billing"
    }

    private func cleanUp() {
        app.stop()
        receiver.stop()
        ca.remove()
    }

    private func create(name: String = "Billing Events", events: String = #"["RecurringPayments.charge.paid"]"#)
        async throws -> [String: Any]
    {
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(name: name, url: url, events: events))
        #expect(response.status == 201)
        return try #require(response.json)
    }

    @Test func createReturnsTheWebhookWithItsTokenOnceThenRedacted() async throws {
        defer { cleanUp() }
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: url))
        #expect(response.status == 201)
        #expect(response.header("content-type") == "application/json; charset=utf-8")
        let created = try #require(response.json)
        let id = try #require(created["id"] as? String)
        let token = try #require(created["token"] as? String)
        let createdAt = try #require(created["created_at"] as? String)
        #expect(Identifier.isWellFormed(id, prefix: "wh"))
        #expect(token.hasPrefix("whsec_"))
        #expect(WebhookToken.secretBytes(token)?.count == 32)
        #expect(
            response.text
                == #"{"id":"\#(id)","name":"Billing Events","description":"Receive invoice and payment updates","url":"\#(url)","events":["RecurringPayments.charge.paid"],"token":"\#(token)","status":"enabled","disabled_reason":null,"created_at":"\#(createdAt)"}"#
        )

        let shown = try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: key)
        #expect(shown.status == 200)
        #expect(
            shown.text
                == #"{"id":"\#(id)","name":"Billing Events","description":"Receive invoice and payment updates","url":"\#(url)","events":["RecurringPayments.charge.paid"],"token":"redacted","status":"enabled","disabled_reason":null,"created_at":"\#(createdAt)"}"#
        )
    }

    @Test func singleEventStringAndDuplicatesCollapse() async throws {
        defer { cleanUp() }
        let single = try await create(events: #""RecurringPayments.charge.paid""#)
        #expect(single["events"] as? [String] == ["RecurringPayments.charge.paid"])
        let duplicates = try await create(
            events:
                #"["RecurringPayments.charge.failed","RecurringPayments.charge.paid","RecurringPayments.charge.failed"]"#
        )
        #expect(
            duplicates["events"] as? [String] == ["RecurringPayments.charge.failed", "RecurringPayments.charge.paid"])
    }

    @Test func listPagesInCreationOrder() async throws {
        defer { cleanUp() }
        var ids: [String] = []
        for index in 0..<3 {
            ids.append(try #require(try await create(name: "hook \(index)")["id"] as? String))
        }

        let first = try await app.send("GET", "/2026-02-01/webhooks.json?size=2", key: key)
        #expect(first.status == 200)
        let page1 = try #require(first.json)
        #expect(page1["entities"] as? String == "Webhook")
        #expect(page1["count"] as? Int == 3)
        #expect(page1["per_page"] as? Int == 2)
        #expect(page1["pages"] as? [String: Int] == ["current": 1, "max": 2])
        let elements1 = try #require(page1["elements"] as? [[String: Any]])
        #expect(elements1.map { $0["id"] as? String } == [ids[0], ids[1]])
        #expect(elements1.allSatisfy { $0["token"] as? String == "redacted" })

        let second = try #require(try await app.send("GET", "/2026-02-01/webhooks.json?size=2&page=2", key: key).json)
        #expect((second["elements"] as? [[String: Any]])?.map { $0["id"] as? String } == [ids[2]])

        let past = try await app.send("GET", "/2026-02-01/webhooks.json?size=2&page=7", key: key)
        #expect(past.status == 200)
        #expect(
            past.text == #"{"entities":"Webhook","count":3,"per_page":2,"pages":{"current":7,"max":2},"elements":[]}"#)
    }

    @Test func emptyListHasOnePage() async throws {
        defer { cleanUp() }
        let response = try await app.send("GET", "/2026-02-01/webhooks.json", key: key)
        #expect(response.status == 200)
        #expect(
            response.text
                == #"{"entities":"Webhook","count":0,"per_page":100,"pages":{"current":1,"max":1},"elements":[]}"#)
    }

    @Test(arguments: [
        ("size=0", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("size=101", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("size=abc", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("size=-1", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("size=1.5", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("size=", #"{"error":"\"size\" must be an integer from 1 to 100."}"#),
        ("page=0", #"{"error":"\"page\" must be an integer of at least 1."}"#),
        ("page=-3", #"{"error":"\"page\" must be an integer of at least 1."}"#),
        ("page=99999999999999999999999", #"{"error":"\"page\" must be an integer of at least 1."}"#),
        ("page=%201", #"{"error":"\"page\" must be an integer of at least 1."}"#),
    ])
    func badPagingIs400NamingTheParameter(query: String, body: String) async throws {
        defer { cleanUp() }
        let response = try await app.send("GET", "/2026-02-01/webhooks.json?\(query)", key: key)
        #expect(response.status == 400)
        #expect(response.text == body)
    }

    @Test func typesListsTheCatalog() async throws {
        defer { cleanUp() }
        let response = try await app.send("GET", "/2026-02-01/webhooks/types.json", key: key)
        #expect(response.status == 200)
        #expect(response.text == #"["RecurringPayments.charge.failed","RecurringPayments.charge.paid"]"#)
    }

    @Test func deleteThenGoneEverywhere() async throws {
        defer { cleanUp() }
        let id = try #require(try await create()["id"] as? String)
        let deleted = try await app.send("DELETE", "/2026-02-01/webhooks/\(id).json", key: key)
        #expect(deleted.status == 200)
        #expect(deleted.text == #"{"id":"\#(id)","deleted":true}"#)

        let again = try await app.send("DELETE", "/2026-02-01/webhooks/\(id).json", key: key)
        #expect(again.status == 404)
        #expect(again.text == #"{"error":"Webhook not found. Unable to delete unknown resource"}"#)
        let shown = try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: key)
        #expect(shown.status == 404)
        #expect(shown.text == #"{"error":"Webhook not found."}"#)
    }

    @Test(arguments: [
        ("not json", 400, #"{"error":"The request body is not valid JSON."}"#),
        ("[]", 400, #"{"error":"The request body must be an object with a \"webhook\" object."}"#),
        (
            #"{"webhook":{"url":"https://x.example/","events":"a"}}"#, 400,
            #"{"error":"A valid \"name\" must be specified."}"#
        ),
        (
            #"{"webhook":{"name":"  ","url":"https://x.example/","events":"a"}}"#, 400,
            #"{"error":"A valid \"name\" must be specified."}"#
        ),
        (#"{"webhook":{"name":"n","events":"a"}}"#, 400, #"{"error":"A valid \"url\" must be specified."}"#),
        (
            #"{"webhook":{"name":"n","url":"https://x.example/"}}"#, 400,
            #"{"error":"A valid \"events\" must be specified."}"#
        ),
        (
            #"{"webhook":{"name":"n","url":"https://x.example/","events":[]}}"#, 400,
            #"{"error":"A valid \"events\" must be specified."}"#
        ),
        (
            #"{"webhook":{"name":"n","url":"https://x.example/","events":[1]}}"#, 422,
            #"{"error":"The \"events\" must be a string or an array of strings."}"#
        ),
        (
            #"{"webhook":{"name":"n","url":"http://x.example/","events":"RecurringPayments.charge.paid"}}"#, 422,
            #"{"error":"The \"url\" must be an absolute https URL."}"#
        ),
        (
            #"{"webhook":{"name":"n","url":"https://x.example/","events":["Nope.x","RecurringPayments.charge.paid"]}}"#,
            422, #"{"error":"Some events are not available","unavailable_events":["Nope.x"]}"#
        ),
    ])
    func invalidCreateBodies(body: String, status: Int, expected: String) async throws {
        defer { cleanUp() }
        let response = try await app.send("POST", "/2026-02-01/webhooks.json", key: key, body: body)
        #expect(response.status == status)
        #expect(response.text == expected)
        #expect(receiver.requests.isEmpty)
    }

    @Test func authenticationAndPermissions() async throws {
        defer { cleanUp() }
        let missing = try await app.send("GET", "/2026-02-01/webhooks.json")
        #expect(missing.status == 401)
        #expect(missing.text == #"{"error":"An API key is required: send \"Authorization: Bearer <key>\"."}"#)

        let unknown = try await app.send("GET", "/2026-02-01/webhooks.json", key: "dwk_unknown")
        #expect(unknown.status == 401)
        #expect(unknown.text == #"{"error":"The API key is unknown or revoked."}"#)

        let readOnly = try app.makeKey(company: "acme", permissions: [.webhooksRead])
        let forbidden = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: readOnly, body: createBody(url: url))
        #expect(forbidden.status == 403)
        #expect(forbidden.text == #"{"error":"This API key lacks the \"webhooks:write\" permission."}"#)
        let allowed = try await app.send("GET", "/2026-02-01/webhooks.json", key: readOnly)
        #expect(allowed.status == 200)

        let prefix = String(readOnly.prefix(APIKeyMaterial.prefixLength))
        #expect(try app.service.store.revokeAPIKey(prefix: prefix))
        let revoked = try await app.send("GET", "/2026-02-01/webhooks.json", key: readOnly)
        #expect(revoked.status == 401)
        #expect(revoked.text == #"{"error":"The API key is unknown or revoked."}"#)
    }

    @Test func unknownPathAndWrongMethod() async throws {
        defer { cleanUp() }
        let unknown = try await app.send("GET", "/2026-02-01/nothing.json", key: key)
        #expect(unknown.status == 404)
        #expect(unknown.text == #"{"error":"There is no such path: GET /2026-02-01/nothing.json."}"#)

        let wrong = try await app.send("PATCH", "/2026-02-01/webhooks/wh_x.json", key: key)
        #expect(wrong.status == 405)
        #expect(wrong.header("allow") == "GET, DELETE, HEAD")
        #expect(wrong.text == #"{"error":"This path does not support that method; use GET, DELETE, HEAD."}"#)
    }

    @Test func bodyOverTheLimitIs413() async throws {
        defer { cleanUp() }
        let big = #"{"webhook":{"name":""# + String(repeating: "x", count: 5000) + #""}}"#
        let response = try await app.send("POST", "/2026-02-01/webhooks.json", key: key, body: big)
        #expect(response.status == 413)
        #expect(response.text == #"{"error":"The request body is larger than the limit of 4096 bytes."}"#)
    }

    @Test func healthAndOpenAPIAreServedWithoutAKey() async throws {
        defer { cleanUp() }
        let health = try await app.send("GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.text == #"{"status":"ok"}"#)

        let document = try await app.send("GET", "/2026-02-01/openapi.json")
        #expect(document.status == 200)
        let object = try #require(document.json)
        #expect(object["openapi"] as? String == "3.1.0")
        let paths = try #require(object["paths"] as? [String: Any])
        #expect(
            paths.keys.sorted() == [
                "/2026-02-01/deliveries/{deliveryId}.json", "/2026-02-01/deliveries/{deliveryId}/retry.json",
                "/2026-02-01/events.json", "/2026-02-01/openapi.json", "/2026-02-01/webhooks.json",
                "/2026-02-01/webhooks/types.json", "/2026-02-01/webhooks/{webhookId}.json",
                "/2026-02-01/webhooks/{webhookId}/deliveries.json", "/2026-02-01/webhooks/{webhookId}/enable.json",
                "/2026-02-01/webhooks/{webhookId}/token.json", "/healthz", "/metrics",
            ])
    }
}

@Suite struct OpenAPIDocumentTests {
    @Test func servedDocumentIsTheOneInDocs() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let documented = try Data(contentsOf: repository.appendingPathComponent("docs/openapi.json"))
        let app = try TestService()
        defer { app.stop() }
        let served = try await app.send("GET", "/2026-02-01/openapi.json")
        #expect(served.status == 200)
        #expect(served.body == Array(documented))
    }
}
