import Foundation
import Testing
import WebhookCore

@testable import Store

@Suite struct QueueStatisticsTests {
    @Test func countsPendingTheOldestUnleasedDueAndDisabledWebhooks() throws {
        try withTemporaryStore { store, _ in
            let empty = try store.queueStatistics(now: startTime)
            #expect(empty == QueueStatistics(pendingDeliveries: 0, oldestDueAt: nil, disabledWebhooks: 0))

            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id, createdAtMillis: 1))
            for (index, id) in ["evt_1", "evt_2", "evt_3"].enumerated() {
                _ = try store.acceptEvent(
                    makeEvent(id, companyID: acme.id, at: startTime.addingTimeInterval(Double(index * 10))),
                    idempotencyWindow: 86_400)
            }
            // Two webhooks, three events: six pending, due at 0 s, 10 s and 20 s.
            let now = startTime.addingTimeInterval(15)
            var statistics = try store.queueStatistics(now: now)
            #expect(statistics == QueueStatistics(pendingDeliveries: 6, oldestDueAt: startTime, disabledWebhooks: 0))

            // Leased deliveries are being attempted: the oldest waiting one is the next.
            let claimed = try store.claimDueDeliveries(now: now, leaseUntil: now.addingTimeInterval(60), limit: 2)
            #expect(claimed.count == 2)
            statistics = try store.queueStatistics(now: now)
            #expect(statistics.pendingDeliveries == 6)
            #expect(statistics.oldestDueAt == startTime.addingTimeInterval(10))

            // Not yet due counts as pending but not as waiting.
            #expect(try store.queueStatistics(now: startTime.addingTimeInterval(-1)).oldestDueAt == nil)

            // A 410 disables the webhook and cancels its pending deliveries.
            let job = try #require(claimed.first)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: now, statusCode: 410),
                outcome: .disableWebhook(reason: "gone"), disableAfter: 86_400, now: now)
            statistics = try store.queueStatistics(now: now)
            #expect(statistics.disabledWebhooks == 1)
            #expect(statistics.pendingDeliveries == 3)
        }
    }

    // SQLite only: these are SQLite's query plans for its own indexes.
    @Test func everyQueryUsesAnIndex() throws {
        try withTemporarySQLiteStore { store, _ in
            let plans = try store.withConnection("test") { connection in
                let queries: [(String, [any SQLiteBindable])] = [
                    ("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'", []),
                    (
                        """
                        SELECT next_attempt_at FROM deliveries
                        WHERE status = 'pending' AND next_attempt_at <= ?1
                          AND (lease_until IS NULL OR lease_until <= ?1)
                        ORDER BY next_attempt_at LIMIT 1
                        """, [Int64(0)]
                    ),
                    ("SELECT COUNT(*) FROM webhooks WHERE status = 'disabled'", []),
                ]
                return try queries.map { sql, values in
                    try connection.rows("EXPLAIN QUERY PLAN " + sql, values) { $0.string(at: 3) }
                        .joined(separator: "; ")
                }
            }
            #expect(plans[0].contains("deliveries_due"), "\(plans[0])")
            #expect(plans[1].contains("deliveries_due") && !plans[1].contains("TEMP B-TREE"), "\(plans[1])")
            #expect(plans[2].contains("webhooks_disabled"), "\(plans[2])")
        }
    }
}
