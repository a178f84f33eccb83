import Foundation
import Store
import TestSupport
import Testing
import WebhookCore

/// Two companies on one service see nothing of each other, and API keys are stored only as hashes.
@Suite(.serialized) struct IsolationTests {
    let ca: TestCertificateAuthority
    let receiver: HTTPSReceiver
    let app: TestService
    let keyA: String
    let keyB: String
    let url: String

    init() throws {
        ca = try TestCertificateAuthority()
        receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        let caFile = ca.caFile
        app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
        }
        keyA = try app.makeFullKey(company: "company-a")
        keyB = try app.makeFullKey(company: "company-b")
        url = "https://localhost:\(receiver.port)/webhooks/billing"
    }

    private func cleanUp() {
        app.stop()
        receiver.stop()
        ca.remove()
    }

    private func create(key: String, events: String = #"["RecurringPayments.charge.paid"]"#) async throws -> String {
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: url, events: events))
        #expect(response.status == 201)
        let created = try #require(response.json)
        return try #require(created["id"] as? String)
    }

    @Test func anotherCompanysWebhookIsNotFound() async throws {
        defer { cleanUp() }
        let id = try await create(key: keyA)
        let createdAt = try #require(
            try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: keyA).json?["created_at"] as? String)
        let shownToA =
            #"{"id":"\#(id)","name":"Billing Events","description":"Receive invoice and payment updates","url":"\#(url)","events":["RecurringPayments.charge.paid"],"token":"redacted","status":"enabled","disabled_reason":null,"created_at":"\#(createdAt)"}"#

        let shown = try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: keyB)
        #expect(shown.status == 404)
        #expect(shown.text == #"{"error":"Webhook not found."}"#)

        let deleted = try await app.send("DELETE", "/2026-02-01/webhooks/\(id).json", key: keyB)
        #expect(deleted.status == 404)
        #expect(deleted.text == #"{"error":"Webhook not found. Unable to delete unknown resource"}"#)

        let stillThere = try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: keyA)
        #expect(stillThere.status == 200)
        #expect(stillThere.text == shownToA)
    }

    @Test func listsShowOnlyTheCallersWebhooks() async throws {
        defer { cleanUp() }
        let id = try await create(key: keyA)
        let createdAt = try #require(
            try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: keyA).json?["created_at"] as? String)

        let listB = try await app.send("GET", "/2026-02-01/webhooks.json", key: keyB)
        #expect(listB.status == 200)
        #expect(
            listB.text
                == #"{"entities":"Webhook","count":0,"per_page":100,"pages":{"current":1,"max":1},"elements":[]}"#)

        let listA = try await app.send("GET", "/2026-02-01/webhooks.json", key: keyA)
        #expect(listA.status == 200)
        #expect(
            listA.text
                == #"{"entities":"Webhook","count":1,"per_page":100,"pages":{"current":1,"max":1},"elements":[{"id":"\#(id)","name":"Billing Events","description":"Receive invoice and payment updates","url":"\#(url)","events":["RecurringPayments.charge.paid"],"token":"redacted","status":"enabled","disabled_reason":null,"created_at":"\#(createdAt)"}]}"#
        )
    }

    @Test func aCompanyOnlyEventTypeIsInvisibleToOthers() async throws {
        defer { cleanUp() }
        let companyA = try #require(try app.service.store.company(slug: "company-a"))
        #expect(try app.service.store.addEventType(name: "CompanyA.ledger.closed", companyID: companyA.id))

        let typesA = try await app.send("GET", "/2026-02-01/webhooks/types.json", key: keyA)
        #expect(typesA.status == 200)
        #expect(
            typesA.text
                == #"["CompanyA.ledger.closed","RecurringPayments.charge.failed","RecurringPayments.charge.paid"]"#)

        let typesB = try await app.send("GET", "/2026-02-01/webhooks/types.json", key: keyB)
        #expect(typesB.status == 200)
        #expect(typesB.text == #"["RecurringPayments.charge.failed","RecurringPayments.charge.paid"]"#)

        let refused = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: keyB,
            body: createBody(url: url, events: #"["CompanyA.ledger.closed","RecurringPayments.charge.paid"]"#))
        #expect(refused.status == 422)
        #expect(
            refused.text
                == #"{"error":"Some events are not available","unavailable_events":["CompanyA.ledger.closed"]}"#)

        _ = try await create(key: keyA, events: #"["CompanyA.ledger.closed"]"#)
        let listB = try await app.send("GET", "/2026-02-01/webhooks.json", key: keyB)
        #expect(listB.json?["count"] as? Int == 0)
    }

    @Test func keysAreStoredOnlyAsHashes() async throws {
        var serviceStopped = false
        defer {
            if !serviceStopped {
                app.service.stop(gracePeriod: .seconds(2))
            }
            app.database.drop()
            try? FileManager.default.removeItem(atPath: app.directory)
            receiver.stop()
            ca.remove()
        }
        let readOnly = try app.makeKey(company: "company-a", permissions: [.webhooksRead])
        _ = try await create(key: keyA)
        for key in [keyA, keyB, readOnly] {
            let list = try await app.send("GET", "/2026-02-01/webhooks.json", key: key)
            #expect(list.status == 200)
        }

        // Stop the server and close the store, but keep the database to read all of it: the SQLite file with its
        // write-ahead log, or a dump of the PostgreSQL database.
        app.service.stop(gracePeriod: .seconds(2))
        serviceStopped = true
        let stored = try app.database.contents()

        for key in [keyA, keyB, readOnly] {
            let secret = String(key.dropFirst(APIKeyMaterial.prefixLength))
            #expect(stored.range(of: Data(key.utf8)) == nil, "the whole key is stored")
            #expect(stored.range(of: Data(secret.utf8)) == nil, "the part after the prefix is stored")
            #expect(stored.range(of: Data(APIKeyMaterial.hash(of: key).utf8)) != nil, "the key's hash is missing")
        }
    }
}
