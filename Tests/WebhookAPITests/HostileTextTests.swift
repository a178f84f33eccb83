import Foundation
import Store
import TestSupport
import Testing
import WebhookCore

/// Text that would break SQL pasted together from strings is stored and returned byte for byte: every value
/// reaches the database as a bound parameter, on SQLite and on PostgreSQL alike.
@Suite(.serialized) struct HostileTextTests {
    /// Quotes and comments, placeholders of both stores, PostgreSQL array and escape syntax, JSON, HTML, and
    /// Unicode whose bytes differ from look-alikes (decomposed accents, right-to-left override, astral planes).
    static let hostile: [String] = [
        "Robert'); DROP TABLE webhooks;--",
        "' OR '1'='1",
        "\" OR \"\"=\"",
        "$1 $2 ?1 ?2 :name @p %s %d %n",
        #"\' \" \\ \x00 \0 E'\n'"#,
        "{a,b} {\"c\"} ARRAY[1] ::text",
        #"{"webhook":{"name":"x"}}"#,
        "</script><script>alert(1)</script>",
        "e\u{301} versus \u{e9}",
        "\u{202E}txt.exe",
        "😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{FEFF}bom",
        "tab\there\u{1}\u{1F}\u{7F}",
        String(repeating: "'", count: 255),
    ]

    @Test func hostileNamesAndDescriptionsComeBackByteForByte() async throws {
        let ca = try TestCertificateAuthority()
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        let caFile = ca.caFile
        let app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
        }
        defer {
            app.stop()
            receiver.stop()
            ca.remove()
        }
        let key = try app.makeFullKey(company: "acme'; --")
        let url = "https://localhost:\(receiver.port)/hooks?q='x'&r=%27"

        var ids: [String] = []
        for text in Self.hostile {
            let body = try JSONSerialization.data(withJSONObject: [
                "webhook": [
                    "name": text, "description": text, "url": url, "events": ["RecurringPayments.charge.paid"],
                ]
            ])
            let created = try await app.send(
                "POST", "/2026-02-01/webhooks.json", key: key, body: String(decoding: body, as: UTF8.self))
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(created.json?["id"] as? String)
            ids.append(id)

            let shown = try #require(try await app.send("GET", "/2026-02-01/webhooks/\(id).json", key: key).json)
            #expect(Array((shown["name"] as? String ?? "").utf8) == Array(text.utf8))
            #expect(Array((shown["description"] as? String ?? "").utf8) == Array(text.utf8))
            #expect(shown["url"] as? String == url)
        }

        // The list returns every one in creation order, and the store row holds exactly the bytes sent.
        let list = try await app.send("GET", "/2026-02-01/webhooks.json", key: key)
        let elements = try #require(list.json?["elements"] as? [[String: Any]])
        #expect(elements.map { Array(($0["name"] as? String ?? "").utf8) } == Self.hostile.map { Array($0.utf8) })
        let company = try #require(try app.service.store.company(slug: "acme'; --"))
        for (id, text) in zip(ids, Self.hostile) {
            let stored = try #require(try app.service.store.webhook(id: id, companyID: company.id))
            #expect(Array(stored.name.utf8) == Array(text.utf8))
            #expect(Array((stored.description ?? "").utf8) == Array(text.utf8))
        }
    }

    @Test func hostileIdempotencyKeysAndLookupsAreOnlyValues() async throws {
        let app = try TestService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")

        for idempotencyKey in ["'; DELETE FROM events; --", "$1", "?1", "{1,2}", "e\u{301}"] {
            let body = try JSONSerialization.data(withJSONObject: [
                "event": ["type": "RecurringPayments.charge.paid", "data": ["n": 1], "idempotency_key": idempotencyKey]
            ])
            let text = String(decoding: body, as: UTF8.self)
            let first = try await app.send("POST", "/2026-02-01/events.json", key: key, body: text)
            #expect(first.status == 202)
            let again = try await app.send("POST", "/2026-02-01/events.json", key: key, body: text)
            #expect(again.status == 200)
            #expect(again.text == first.text)
        }
        // A precomposed é is another key than e + combining accent: another event.
        let precomposed = #"{"event":{"type":"RecurringPayments.charge.paid","data":{},"idempotency_key":"\#u{e9}"}}"#
        #expect(try await app.send("POST", "/2026-02-01/events.json", key: key, body: precomposed).status == 202)

        // Ids from the path are values too: quotes and percent-encoded NUL find nothing, and nothing breaks.
        for path in ["webhooks/'%20OR%20'1'='1.json", "webhooks/%00.json", "deliveries/dlv_x'%3B--.json"] {
            let response = try await app.send("GET", "/2026-02-01/\(path)", key: key)
            #expect(response.status == 404, "\(path): \(response.status) \(response.text)")
        }
        let unknownNUL = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key,
            body:
                #"{"webhook":{"name":"a\u0000b","url":"https://example.com/h","events":["RecurringPayments.charge.paid"]}}"#
        )
        #expect(unknownNUL.status == 422)
        #expect(unknownNUL.text == #"{"error":"The \"name\" must not contain the NUL character (U+0000)."}"#)
    }
}
