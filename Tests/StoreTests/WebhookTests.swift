import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct WebhookTests {
    @Test func webhookRoundTripsWithEventsInStoredOrder() throws {
        try withTemporaryStore { store, _ in
            let company = try store.findOrCreateCompany(slug: "acme")
            var webhook = makeWebhook(id: "wh_one", companyID: company.id, events: ["c.z", "a.y", "b.x"])
            webhook.description = nil
            webhook.status = .disabled
            webhook.disabledReason = "410 Gone"
            try store.insertWebhook(webhook)

            #expect(try store.webhook(id: "wh_one", companyID: company.id) == webhook)
        }
    }

    @Test func pagesFollowCreationOrder() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            var expected: [Webhook] = []
            for index in 0..<25 {
                // Ids sort against creation order, so only `seq` can produce the expected order.
                let webhook = makeWebhook(id: "wh_\(1000 - index)", companyID: acme.id, createdAtMillis: Int64(index))
                try store.insertWebhook(webhook)
                expected.append(webhook)
                try store.insertWebhook(makeWebhook(id: "wh_g\(index)", companyID: globex.id))
            }

            let pages = try (0..<4).map { try store.webhooks(companyID: acme.id, offset: $0 * 10, limit: 10) }
            #expect(pages.map(\.count) == [10, 10, 5, 0])
            #expect(pages.joined().map(\.id) == expected.map(\.id))
            #expect(Array(pages.joined()) == expected)
            #expect(try store.countWebhooks(companyID: acme.id) == 25)
            #expect(try store.countWebhooks(companyID: globex.id) == 25)
            #expect(try store.countWebhooks(companyID: 999) == 0)
            #expect(try store.webhooks(companyID: acme.id, offset: 0, limit: 0).isEmpty)
        }
    }

    @Test func anotherCompanysWebhookIsInvisible() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            try store.insertWebhook(makeWebhook(id: "wh_acme", companyID: acme.id))

            #expect(try store.webhook(id: "wh_acme", companyID: globex.id) == nil)
            #expect(try !store.deleteWebhook(id: "wh_acme", companyID: globex.id))
            #expect(try store.webhook(id: "wh_acme", companyID: acme.id) != nil)
            #expect(try !store.deleteWebhook(id: "wh_missing", companyID: acme.id))
        }
    }

    @Test func deleteRemovesTheWebhookAndItsEvents() throws {
        try withTemporaryStore { store, database in
            let company = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_gone", companyID: company.id, events: ["a", "b", "c"]))
            try store.insertWebhook(makeWebhook(id: "wh_stays", companyID: company.id, events: ["a"]))
            #expect(try database.countRows("webhook_events") == 4)

            #expect(try store.deleteWebhook(id: "wh_gone", companyID: company.id))
            #expect(try !store.deleteWebhook(id: "wh_gone", companyID: company.id))
            #expect(try store.webhook(id: "wh_gone", companyID: company.id) == nil)
            #expect(try database.countRows("webhook_events") == 1)
            #expect(try store.countWebhooks(companyID: company.id) == 1)
        }
    }

    @Test func takenIdIsAConflictAndLeavesNoEvents() throws {
        try withTemporaryStore { store, database in
            let company = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_dup", companyID: company.id, events: ["a"]))
            let error = #expect(throws: StoreError.self) {
                try store.insertWebhook(makeWebhook(id: "wh_dup", companyID: company.id, events: ["x", "y"]))
            }
            #expect(error.map(isConflict) == true)
            #expect(try database.countRows("webhook_events") == 1)
        }
    }

    @Test func hostileStringsAreStoredByteForByte() throws {
        let hostile = [
            "it's \"quoted\" `back` \\slash",
            "'); DROP TABLE webhooks;--",
            "Ünïcödé — 日本語 — ﻿zero-width‍joiner",
            "emoji 🍩🧑🏽‍💻🇫🇷",
            "line\u{2028}separator\u{2029}paragraph\r\n\t",
            "%s %n ? ?1 :name @name $name",
        ]
        try withTemporaryStore { store, database in
            for (index, text) in hostile.enumerated() {
                let company = try store.findOrCreateCompany(slug: text)
                #expect(Array(company.slug.utf8) == Array(text.utf8))

                var webhook = makeWebhook(id: "wh_\(index)\(text)", companyID: company.id, events: [text, "x\(text)"])
                webhook.name = text
                webhook.description = text
                webhook.url = "https://example.com/?q=\(text)"
                webhook.disabledReason = text
                try store.insertWebhook(webhook)

                let read = try #require(try store.webhook(id: webhook.id, companyID: company.id))
                #expect(read == webhook)
                #expect(Array(read.name.utf8) == Array(text.utf8))
                #expect(read.events.map { Array($0.utf8) } == [Array(text.utf8), Array("x\(text)".utf8)])

                #expect(try store.addEventType(name: text, companyID: company.id))
                #expect(try store.availableEventTypes(companyID: company.id).contains(text))
            }
            if let sqlite = store as? SQLiteStore {
                // The file stays sound after every hostile string; PostgreSQL has no such check to ask for.
                #expect(try sqlite.integrityCheck() == "ok")
            }
            #expect(try database.countRows("webhooks") == hostile.count)
        }
    }
}
