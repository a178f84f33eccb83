import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct RetentionTests {
    static let day: TimeInterval = 86_400
    /// Everything created before this is old enough to purge.
    static let cutoff = startTime.addingTimeInterval(10 * day)
    static let failedType = "RecurringPayments.charge.failed"
    static let ordersType = "Orders.created"

    func accept(_ store: any Store, _ id: String, companyID: Int64, type: String = paidType, at: Date) throws {
        _ = try store.acceptEvent(makeEvent(id, companyID: companyID, type: type, at: at), idempotencyWindow: Self.day)
    }

    /// Records attempt `number` of `job` answered with `status`, followed by `outcome`.
    func record(
        _ store: any Store, _ job: DeliveryJob, number: Int, status: Int, _ outcome: AttemptOutcome, at now: Date
    ) throws {
        try store.recordAttempt(
            deliverySeq: job.deliverySeq, attempt: makeAttempt(number: number, at: now, statusCode: status),
            outcome: outcome, disableAfter: 365 * Self.day, now: now)
    }

    func job(_ jobs: [DeliveryJob], _ eventID: String, _ webhookID: String) throws -> DeliveryJob {
        try #require(jobs.first { $0.eventID == eventID && $0.webhookID == webhookID }, "\(eventID) to \(webhookID)")
    }

    /// Event ids left, oldest first, read beside the store.
    func eventsLeft(_ database: TestDatabase) throws -> [String] {
        let sql =
            database.kind == .postgres
            ? "SELECT string_agg(id, ',' ORDER BY created_at, seq) FROM events"
            : "SELECT group_concat(id, ',') FROM (SELECT id FROM events ORDER BY created_at, seq)"
        return (try database.queryText(sql) ?? "").split(separator: ",").map(String.init)
    }

    /// Deliveries and attempts left for an event (`event` is a test constant, never input).
    func rowsLeft(_ database: TestDatabase, event: String) throws -> (deliveries: Int, attempts: Int) {
        let deliveries = try database.countRows(
            "deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.id = '\(event)'")
        let attempts = try database.countRows(
            "attempts a JOIN deliveries d ON d.seq = a.delivery_seq JOIN events e ON e.seq = d.event_seq "
                + "WHERE e.id = '\(event)'")
        return (deliveries, attempts)
    }

    @Test func purgesOldFinishedEventsOldestFirstAndKeepsPendingAndRecentOnes() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id, createdAtMillis: 1))
            try store.insertWebhook(makeWebhook(id: "wh_c", companyID: acme.id, events: [Self.ordersType]))
            let t = startTime
            // Accepted out of age order: the purge goes by creation time, not by insertion.
            try accept(store, "evt_quiet", companyID: acme.id, type: Self.failedType, at: t + 1)  // no subscriber
            try accept(store, "evt_done", companyID: acme.id, at: t)
            try accept(store, "evt_waiting", companyID: acme.id, at: t + 2)
            try accept(store, "evt_gone", companyID: acme.id, type: Self.ordersType, at: t + 3)
            try accept(store, "evt_edge", companyID: acme.id, at: Self.cutoff)  // not strictly before the cutoff
            try accept(store, "evt_recent", companyID: acme.id, at: Self.cutoff + Self.day)

            // The old events' deliveries end every way there is, but one stays pending.
            let first = t + 9 * Self.day
            let old = try claimAll(store, at: first)
            #expect(old.count == 5)
            try record(
                store, try job(old, "evt_done", "wh_a"), number: 1, status: 500, .retry(at: first + 1), at: first)
            try record(store, try job(old, "evt_done", "wh_b"), number: 1, status: 500, .failed, at: first)
            try record(store, try job(old, "evt_waiting", "wh_a"), number: 1, status: 204, .succeeded, at: first)
            let waiting = try job(old, "evt_waiting", "wh_b")
            try record(store, waiting, number: 1, status: 503, .retry(at: Self.cutoff + 30 * Self.day), at: first)
            try record(
                store, try job(old, "evt_gone", "wh_c"), number: 1, status: 410, .disableWebhook(reason: "gone"),
                at: first)
            let retried = try claimAll(store, at: first + 2)
            #expect(retried.map(\.eventID) == ["evt_done"])
            try record(store, try job(retried, "evt_done", "wh_a"), number: 2, status: 204, .succeeded, at: first + 2)

            let later = Self.cutoff + Self.day + 1
            let recent = try claimAll(store, at: later)
            #expect(recent.count == 4)
            for recentJob in recent {
                try record(store, recentJob, number: 1, status: 204, .succeeded, at: later)
            }

            let doneDeliveries = old.filter { $0.eventID == "evt_done" }.map(\.deliveryID)
            let keptDeliveries = (old.filter { $0.eventID == "evt_waiting" } + recent).map(\.deliveryID)
            #expect(try rowsLeft(database, event: "evt_done") == (2, 3))
            #expect(try rowsLeft(database, event: "evt_gone") == (1, 1))
            #expect(try store.purgeExpired(before: Self.cutoff, batchSize: 0) == PurgeResult())

            // One event per call, oldest first; the one with a pending delivery is stepped over.
            #expect(
                try store.purgeExpired(before: Self.cutoff, batchSize: 1)
                    == .init(events: 1, deliveries: 2, attempts: 3))
            #expect(try eventsLeft(database) == ["evt_quiet", "evt_waiting", "evt_gone", "evt_edge", "evt_recent"])
            #expect(
                try store.purgeExpired(before: Self.cutoff, batchSize: 1)
                    == .init(events: 1, deliveries: 0, attempts: 0))
            #expect(
                try store.purgeExpired(before: Self.cutoff, batchSize: 1)
                    == .init(events: 1, deliveries: 1, attempts: 1))
            #expect(try store.purgeExpired(before: Self.cutoff, batchSize: 1) == PurgeResult())
            #expect(try store.purgeExpired(before: Self.cutoff, batchSize: 100) == PurgeResult())

            #expect(try eventsLeft(database) == ["evt_waiting", "evt_edge", "evt_recent"])
            #expect(try rowsLeft(database, event: "evt_waiting") == (2, 2))
            #expect(try rowsLeft(database, event: "evt_edge") == (2, 2))
            #expect(try rowsLeft(database, event: "evt_recent") == (2, 2))
            #expect(try database.countRows("deliveries") == 6)
            #expect(try database.countRows("attempts") == 6)
            for id in doneDeliveries {
                #expect(try store.delivery(id: id, companyID: acme.id) == nil)
            }
            for id in keptDeliveries {
                #expect(try store.delivery(id: id, companyID: acme.id) != nil)
            }
            #expect(try store.delivery(id: waiting.deliveryID, companyID: acme.id)?.delivery.status == .pending)

            // Once its last delivery ends, the held-back event goes too, with both deliveries and their attempts.
            let end = Self.cutoff + 30 * Self.day
            let last = try claimAll(store, at: end)
            #expect(last.map(\.deliveryID) == [waiting.deliveryID])
            try record(store, try job(last, "evt_waiting", "wh_b"), number: 2, status: 204, .succeeded, at: end)
            #expect(
                try store.purgeExpired(before: Self.cutoff, batchSize: 1)
                    == .init(events: 1, deliveries: 2, attempts: 3))
            #expect(try store.purgeExpired(before: Self.cutoff, batchSize: 1) == PurgeResult())

            // A later cutoff takes the rest; a short batch says nothing else is expired.
            #expect(
                try store.purgeExpired(before: end, batchSize: 10) == .init(events: 2, deliveries: 4, attempts: 4))
            #expect(try eventsLeft(database) == [])
            #expect(try database.countRows("deliveries") == 0)
            #expect(try database.countRows("attempts") == 0)
            #expect(try database.countRows("webhooks") == 3)
            if let sqlite = store as? SQLiteStore {
                #expect(try sqlite.integrityCheck() == "ok")
                let orphans = try sqlite.withConnection("test") { connection in
                    try connection.rows("PRAGMA foreign_key_check") { $0.string(at: 0) }
                }
                #expect(orphans.isEmpty)
            }
        }
    }

    @Test func aPurgedIdempotencyKeyIsForgotten() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let first = makeEvent("evt_1", companyID: acme.id, at: startTime, key: "order-1")
            _ = try store.acceptEvent(first, idempotencyWindow: Self.day)
            #expect(try store.purgeExpired(before: startTime + 1, batchSize: 10) == .init(events: 1))

            let again = makeEvent("evt_2", companyID: acme.id, at: startTime + 2, key: "order-1")
            let intake = try store.acceptEvent(again, idempotencyWindow: Self.day)
            #expect(!intake.replayed)
            #expect(intake.event.id == "evt_2")
        }
    }

    @Test func everyPurgeStatementUsesAnIndex() throws {
        // SQLite's plans; PostgreSQL plans by statistics, which a test database this small does not have.
        try withTemporarySQLiteStore { store, _ in
            let plans = try store.withConnection("test") { connection in
                let statements: [(String, [any SQLiteBindable])] = [
                    (SQLiteStore.expiredEventsSQL, [Timestamp.format(startTime), 1000]),
                    (SQLiteStore.purgeAttemptsSQL, ["[1,2]"]),
                    (SQLiteStore.purgeDeliveriesSQL, ["[1,2]"]),
                    (SQLiteStore.purgeEventsSQL, ["[1,2]"]),
                ]
                return try statements.map { sql, values in
                    try connection.rows("EXPLAIN QUERY PLAN " + sql, values) { $0.string(at: 3) }
                        .joined(separator: "; ")
                }
            }
            for plan in plans {
                // The only scan is of the bound list itself; no table scan and no sort.
                let scans = plan.components(separatedBy: "; ").filter { $0.hasPrefix("SCAN") }
                #expect(scans.allSatisfy { $0.contains("json_each") }, "\(plan)")
                #expect(!plan.contains("TEMP B-TREE"), "\(plan)")
            }
            #expect(plans[0].contains("events_created") && plans[0].contains("deliveries_event"), "\(plans[0])")
            #expect(plans[1].contains("deliveries_event") && plans[1].contains("attempts_delivery"), "\(plans[1])")
            #expect(plans[2].contains("deliveries_event"), "\(plans[2])")
            // Deleting an event checks `deliveries.event_seq` for references: through the index, not a scan.
            #expect(plans[3].contains("deliveries_event"), "\(plans[3])")
        }
    }
}
