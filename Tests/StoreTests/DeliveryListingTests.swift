import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct DeliveryListingTests {
    static let day: TimeInterval = 86_400

    @Test func pagesFollowCreationOrderWithStatusFilterAndTotal() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            // Later events are due earlier, so only creation order (seq) gives the expected order.
            for index in 0..<7 {
                let event = makeEvent(
                    "evt_\(index)", companyID: acme.id, at: startTime.addingTimeInterval(-Double(index)))
                _ = try store.acceptEvent(event, idempotencyWindow: Self.day)
            }
            let jobs = try claimAll(store, at: startTime, limit: 2)
            for job in jobs {
                try store.recordAttempt(
                    deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime), outcome: .failed,
                    disableAfter: Self.day, now: startTime
                )
            }

            let pages = try (0..<3).map {
                try #require(
                    try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: nil, offset: $0 * 3, limit: 3)
                )
            }
            #expect(pages.map(\.total) == [7, 7, 7])
            #expect(pages.flatMap(\.page).map(\.eventID) == (0..<7).map { "evt_\($0)" })

            let failed = try #require(
                try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: .failed, offset: 0, limit: 10)
            )
            #expect(failed.total == 2)
            #expect(failed.page.map(\.eventID) == ["evt_5", "evt_6"])
            let pending = try #require(
                try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: .pending, offset: 4, limit: 10)
            )
            #expect(pending.total == 5)
            #expect(pending.page.map(\.eventID) == ["evt_4"])
            let counted = try #require(
                try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: .succeeded, offset: 0, limit: 0)
            )
            #expect(counted.total == 0)
            #expect(counted.page.isEmpty)
        }
    }

    @Test func anotherCompanysDeliveriesAreInvisible() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            let deliveryID = try #require(
                try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: nil, offset: 0, limit: 1)?.page
                    .first?.id
            )

            #expect(
                try store.deliveries(webhookID: "wh_a", companyID: globex.id, status: nil, offset: 0, limit: 9) == nil)
            #expect(
                try store.deliveries(webhookID: "wh_none", companyID: acme.id, status: nil, offset: 0, limit: 9) == nil)
            #expect(try store.delivery(id: deliveryID, companyID: globex.id) == nil)
            #expect(try store.delivery(id: "dlv_none", companyID: acme.id) == nil)
            #expect(try store.retryDelivery(id: deliveryID, companyID: globex.id, now: startTime) == nil)
            #expect(try store.webhookSeq(id: "wh_a", companyID: globex.id) == nil)
            #expect(try store.delivery(id: deliveryID, companyID: acme.id)?.delivery.webhookID == "wh_a")
        }
    }

    @Test func retryMakesAnyDeliveryPendingAndDueNow() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            let job = try #require(try claimAll(store, at: startTime).first)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 200),
                outcome: .succeeded, disableAfter: Self.day, now: startTime
            )

            let now = startTime.addingTimeInterval(3_600)
            let retried = try #require(try store.retryDelivery(id: job.deliveryID, companyID: acme.id, now: now))
            #expect(retried.status == .pending)
            #expect(retried.nextAttemptAt == now)
            #expect(retried.updatedAt == now)
            #expect(retried.attemptCount == 1)
            let again = try #require(try claimAll(store, at: now).first)
            #expect(again.deliveryID == job.deliveryID)
            #expect(again.attemptNumber == 2)

            // Retrying while leased clears the lease: it is claimable at once.
            _ = try store.retryDelivery(id: job.deliveryID, companyID: acme.id, now: now)
            #expect(try claimAll(store, at: now).map(\.deliveryID) == [job.deliveryID])
        }
    }

    @Test func retryOnADisabledWebhookIsAConflict() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            let job = try #require(try claimAll(store, at: startTime).first)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 410),
                outcome: .disableWebhook(reason: "gone"), disableAfter: Self.day, now: startTime
            )

            let error = #expect(throws: StoreError.self) {
                try store.retryDelivery(id: job.deliveryID, companyID: acme.id, now: startTime)
            }
            #expect(error.map(isConflict) == true)
            #expect(try store.delivery(id: job.deliveryID, companyID: acme.id)?.delivery.status == .cancelled)
        }
    }

    @Test func deletingAWebhookRemovesItsDeliveriesAndAttempts() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id))
            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            for job in try claimAll(store, at: startTime) {
                try store.recordAttempt(
                    deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime),
                    outcome: .retry(at: startTime.addingTimeInterval(60)), disableAfter: Self.day, now: startTime
                )
            }
            #expect(try database.countRows("attempts") == 2)

            #expect(try store.deleteWebhook(id: "wh_a", companyID: acme.id))
            #expect(try database.countRows("deliveries") == 1)
            #expect(try database.countRows("attempts") == 1)
            #expect(try database.countRows("events") == 1)
            if let sqlite = store as? SQLiteStore {
                // SQLite checks its foreign keys only when asked; PostgreSQL enforces them on every write.
                #expect(try sqlite.integrityCheck() == "ok")
                #expect(
                    try sqlite.withConnection("test") { try $0.rows("PRAGMA foreign_key_check") { _ in 1 } }.isEmpty)
            }
        }
    }
}
