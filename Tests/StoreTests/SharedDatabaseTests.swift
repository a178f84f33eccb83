import Foundation
import Locking
import Logging
import TestSupport
import Testing
import WebhookCore

@testable import Store

/// Two stores opened on one database stand for two `serve` processes: what one does, the other must respect.
@Suite struct SharedDatabaseTests {
    /// Opens a second store on the same database, as another process would.
    func secondStore(_ database: TestDatabase) throws -> any Store {
        try openStore(DatabaseLocation(parsing: database.url), logger: quietLogger, cipher: testCipher)
    }

    @Test func thePerWebhookCapCountsEveryProcesssLeases() throws {
        try withTemporaryStore { first, database in
            let second = try secondStore(database)
            defer { second.close() }
            let acme = try first.findOrCreateCompany(slug: "acme")
            try first.insertWebhook(makeWebhook(id: "wh_busy", companyID: acme.id))
            try first.insertWebhook(makeWebhook(id: "wh_calm", companyID: acme.id, createdAtMillis: 1))
            for index in 0..<10 {
                _ = try first.acceptEvent(
                    makeEvent("evt_\(index)", companyID: acme.id, at: startTime + Double(index) / 1000),
                    idempotencyWindow: 60)
            }
            let now = startTime + 60
            let lease = now + 60
            // Cap 3 per webhook: the first process takes 3 of each; the second finds both webhooks full.
            let taken = try first.claimDueDeliveries(now: now, leaseUntil: lease, limit: 100, perWebhookLimit: 3)
            #expect(taken.count == 6)
            #expect(Dictionary(grouping: taken, by: \.webhookID).mapValues(\.count) == ["wh_busy": 3, "wh_calm": 3])
            #expect(try second.claimDueDeliveries(now: now, leaseUntil: lease, limit: 100, perWebhookLimit: 3) == [])

            // One attempt recorded frees one slot of its webhook, for whichever process claims next.
            let done = try #require(taken.first { $0.webhookID == "wh_busy" })
            try first.recordAttempt(
                deliverySeq: done.deliverySeq, attempt: makeAttempt(number: 1, at: now, statusCode: 204),
                outcome: .succeeded, disableAfter: 86_400, now: now)
            let refill = try second.claimDueDeliveries(now: now, leaseUntil: lease, limit: 100, perWebhookLimit: 3)
            #expect(refill.map(\.webhookID) == ["wh_busy"])
            #expect(Set(refill.map(\.deliveryID)).isDisjoint(with: taken.map(\.deliveryID)))

            // Expired leases (a process that died) no longer count.
            let later = lease + 1
            let afterExpiry = try second.claimDueDeliveries(
                now: later, leaseUntil: later + 60, limit: 100, perWebhookLimit: 3)
            #expect(afterExpiry.count == 6)
        }
    }

    @Test func claimsFromTwoProcessesAtOnceNeverOverlapNorExceedTheCap() throws {
        try withTemporaryStore { first, database in
            let second = try secondStore(database)
            defer { second.close() }
            let acme = try first.findOrCreateCompany(slug: "acme")
            for hook in 0..<4 {
                try first.insertWebhook(makeWebhook(id: "wh_\(hook)", companyID: acme.id, createdAtMillis: Int64(hook)))
            }
            for index in 0..<50 {
                _ = try first.acceptEvent(
                    makeEvent("evt_\(index)", companyID: acme.id, at: startTime), idempotencyWindow: 60)
            }
            let now = startTime + 60
            // Both processes claim in a tight loop on two threads at once, 7 at a time, cap 5 per webhook.
            let stores = [first, second]
            let claimed = Locked<[DeliveryJob]>([])
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                for _ in 0..<20 {
                    do {
                        let jobs = try stores[index].claimDueDeliveries(
                            now: now, leaseUntil: now + 60, limit: 7, perWebhookLimit: 5)
                        claimed.withLock { $0 += jobs }
                    } catch {
                        failures.withLock { $0.append(String(describing: error)) }
                    }
                }
            }
            let all = claimed.withLock { $0 }
            #expect(failures.withLock { $0 }.isEmpty)
            #expect(Set(all.map(\.deliveryID)).count == all.count, "a delivery was claimed twice")
            #expect(
                Dictionary(grouping: all, by: \.webhookID).mapValues(\.count) == [
                    "wh_0": 5, "wh_1": 5, "wh_2": 5, "wh_3": 5,
                ])
        }
    }

    @Test func heartbeatsCountTheLivingAndForgetTheSilent() throws {
        // Real time: PostgreSQL stamps heartbeats with the database's clock, so silence has to pass for real.
        try withTemporaryStore { first, database in
            let second = try secondStore(database)
            defer { second.close() }
            #expect(try first.heartbeat(instanceID: "ins_a", now: Date(), staleAfter: 1) == 1)
            #expect(try second.heartbeat(instanceID: "ins_b", now: Date(), staleAfter: 1) == 2)
            #expect(try first.heartbeat(instanceID: "ins_a", now: Date(), staleAfter: 1) == 2)
            // b falls silent: a second after its last beat it no longer counts, and its row is gone.
            Thread.sleep(forTimeInterval: 1.3)
            #expect(try first.heartbeat(instanceID: "ins_a", now: Date(), staleAfter: 1) == 1)
            #expect(try database.countRows("service_instances") == 1)
            // A stopping process removes itself at once.
            #expect(try second.heartbeat(instanceID: "ins_b", now: Date(), staleAfter: 1) == 2)
            try second.removeInstance(instanceID: "ins_b")
            #expect(try first.heartbeat(instanceID: "ins_a", now: Date(), staleAfter: 1) == 1)
        }
    }

    /// Deletes and inserts again the webhook `wh_probe` until `heard` holds something: the feed's session is up once
    /// a change made after it is heard. Then waits for the feed to be quiet for half a second (the later probes'
    /// notifications may still be on their way) and empties `heard`. False when nothing was heard in 5 s.
    func waitUntilHeard(through store: any Store, companyID: Int64, heard: Locked<[Int64]>) throws -> Bool {
        var probed = false
        for _ in 0..<50 where !probed {
            _ = try store.deleteWebhook(id: "wh_probe", companyID: companyID)
            try store.insertWebhook(makeWebhook(id: "wh_probe", companyID: companyID))
            Thread.sleep(forTimeInterval: 0.1)
            probed = heard.withLock { !$0.isEmpty }
        }
        var count = -1
        while count != heard.withLock({ $0.count }) {
            count = heard.withLock { $0.count }
            Thread.sleep(forTimeInterval: 0.5)
        }
        heard.withLock { $0.removeAll() }
        return probed
    }

    /// Every process hears at once of a webhook deleted or disabled through another: a delete and a 410's disable, in
    /// the order they committed, nothing for a delete that found no webhook, and nothing once the watch stopped.
    @Test func deletesAndDisablesAreAnnouncedToEveryProcess() throws {
        try withTemporaryStore { first, database in
            let second = try secondStore(database)
            defer { second.close() }
            let heard = Locked<[Int64]>([])
            guard let watch = second.watchStoppedWebhooks({ seq in heard.withLock { $0.append(seq) } }) else {
                #expect(database.kind == .sqlite, "only SQLite has no feed")
                return
            }
            defer { watch.stop() }
            let acme = try first.findOrCreateCompany(slug: "acme")
            try first.insertWebhook(makeWebhook(id: "wh_probe", companyID: acme.id))
            #expect(try waitUntilHeard(through: first, companyID: acme.id, heard: heard))

            try first.insertWebhook(makeWebhook(id: "wh_deleted", companyID: acme.id, createdAtMillis: 1))
            try first.insertWebhook(makeWebhook(id: "wh_gone", companyID: acme.id, createdAtMillis: 2))
            let deleted = try #require(try first.webhookSeq(id: "wh_deleted", companyID: acme.id))
            let gone = try #require(try first.webhookSeq(id: "wh_gone", companyID: acme.id))
            _ = try first.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: 60)
            let now = startTime + 60
            let jobs = try first.claimDueDeliveries(now: now, leaseUntil: now + 60, limit: 10)
            let goneJob = try #require(jobs.first { $0.webhookSeq == gone })

            #expect(try first.deleteWebhook(id: "wh_deleted", companyID: acme.id))
            #expect(try !first.deleteWebhook(id: "wh_nothing", companyID: acme.id))
            try first.recordAttempt(
                deliverySeq: goneJob.deliverySeq, attempt: makeAttempt(number: 1, at: now, statusCode: 410),
                outcome: .disableWebhook(reason: "the endpoint answered 410 Gone"), disableAfter: 86_400, now: now)
            let expected: [Int64] = [deleted, gone]
            for _ in 0..<50 where heard.withLock({ $0 }) != expected {
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(heard.withLock { $0 } == expected)
            // After `stop()` nothing more arrives.
            watch.stop()
            _ = try first.deleteWebhook(id: "wh_probe", companyID: acme.id)
            Thread.sleep(forTimeInterval: 0.5)
            #expect(heard.withLock { $0 } == expected)
        }
    }

    /// A feed whose session ends (here the server ends it, as a restart or a failover would) says so once in the log,
    /// connects again within about a second, says it is back, and hears what is deleted afterwards.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only: SQLite has no feed of changes"))
    func theFeedConnectsAgainAfterItsSessionIsEnded() throws {
        try withTemporaryStore { first, database in
            let lines = Locked<[String]>([])
            let logger = Logger(label: "store", level: .info) { line in lines.withLock { $0.append(line) } }
            let second = try openStore(DatabaseLocation(parsing: database.url), logger: logger, cipher: testCipher)
            defer { second.close() }
            let heard = Locked<[Int64]>([])
            let watch = try #require(second.watchStoppedWebhooks { seq in heard.withLock { $0.append(seq) } })
            defer { watch.stop() }
            let acme = try first.findOrCreateCompany(slug: "acme")
            try first.insertWebhook(makeWebhook(id: "wh_probe", companyID: acme.id))
            #expect(try waitUntilHeard(through: first, companyID: acme.id, heard: heard))

            let ended = try database.psql(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND query = 'LISTEN donutwork_webhook_stopped'
                """)
            #expect(ended.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
            #expect(try waitUntilHeard(through: first, companyID: acme.id, heard: heard))
            try first.insertWebhook(makeWebhook(id: "wh_later", companyID: acme.id, createdAtMillis: 1))
            let later = try #require(try first.webhookSeq(id: "wh_later", companyID: acme.id))
            #expect(try first.deleteWebhook(id: "wh_later", companyID: acme.id))
            for _ in 0..<50 where heard.withLock({ $0 }) != [later] {
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(heard.withLock { $0 } == [later])

            let feedLines = lines.withLock { $0 }.filter { $0.contains("webhook change feed") }
            #expect(feedLines.count == 2, "\(feedLines)")
            #expect(feedLines.first?.contains("level=warning") == true)
            #expect(feedLines.first?.contains("msg=\"webhook change feed lost;") == true)
            #expect(feedLines.last?.contains("level=info") == true)
            #expect(feedLines.last?.contains("msg=\"webhook change feed is back\"") == true)
        }
    }
}
