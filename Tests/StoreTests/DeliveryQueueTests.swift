import Foundation
import Synchronization
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct DeliveryQueueTests {
    static let day: TimeInterval = 86_400

    /// A store with company `acme` and its webhook `wh_a` subscribed to `paidType`, and its database.
    func withQueue<T>(_ body: (any Store, Company, TestDatabase) throws -> T) throws -> T {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            return try body(store, acme, database)
        }
    }

    func accept(_ store: any Store, _ id: String, companyID: Int64, at: Date = startTime) throws {
        _ = try store.acceptEvent(makeEvent(id, companyID: companyID, at: at), idempotencyWindow: Self.day)
    }

    func status(_ store: any Store, _ deliveryID: String, companyID: Int64) throws -> Delivery? {
        try store.delivery(id: deliveryID, companyID: companyID)?.delivery
    }

    @Test func claimsDueDeliveriesOldestFirstWithEverythingNeeded() throws {
        try withQueue { store, acme, _ in
            for (index, id) in ["evt_3", "evt_1", "evt_2"].enumerated() {
                try accept(store, id, companyID: acme.id, at: startTime.addingTimeInterval(Double([2, 0, 1][index])))
            }

            #expect(try claimAll(store, at: startTime.addingTimeInterval(-1)).isEmpty)
            let jobs = try claimAll(store, at: startTime.addingTimeInterval(5), limit: 2)

            #expect(jobs.map(\.eventID) == ["evt_1", "evt_2"])
            let job = try #require(jobs.first)
            #expect(job.webhookID == "wh_a")
            #expect(job.webhookSeq == (try store.webhookSeq(id: "wh_a", companyID: acme.id)))
            #expect(job.companyID == acme.id)
            #expect(job.url == "https://example.com/wh_a")
            #expect(job.secrets == ["whsec_dG9rZW4="])
            #expect(job.eventType == paidType)
            #expect(job.payload == makeEvent("evt_1", companyID: acme.id).payload)
            #expect(job.attemptNumber == 1)
            #expect(Identifier.isWellFormed(job.deliveryID, prefix: "dlv"))
        }
    }

    @Test func aBacklogAtItsCapDoesNotHoldBackOtherWebhooks() throws {
        try withTemporaryStore { store, _ in
            // One company's webhook has 300 deliveries due first, three times the window a claim of 10 scans;
            // another company's webhook has five due after them.
            let flood = try store.findOrCreateCompany(slug: "flood")
            let calm = try store.findOrCreateCompany(slug: "calm")
            try store.insertWebhook(makeWebhook(id: "wh_flood", companyID: flood.id))
            try store.insertWebhook(makeWebhook(id: "wh_calm", companyID: calm.id, createdAtMillis: 1))
            for index in 0..<300 {
                try accept(store, "evt_f\(index)", companyID: flood.id, at: startTime + Double(index) / 1000)
            }
            for index in 0..<5 {
                try accept(store, "evt_c\(index)", companyID: calm.id, at: startTime + 10 + Double(index))
            }
            let now = startTime + 60
            func claim(at time: Date) throws -> [DeliveryJob] {
                try store.claimDueDeliveries(now: time, leaseUntil: now + 60, limit: 10, perWebhookLimit: 3)
            }

            // Each webhook gets up to its cap, oldest due first.
            let first = try claim(at: now)
            #expect(first.map(\.eventID) == ["evt_f0", "evt_f1", "evt_f2", "evt_c0", "evt_c1", "evt_c2"])
            #expect(try claim(at: now) == [])

            // A slot freed on the quiet webhook is filled although the flood still fills the window.
            let calmJob = try #require(first.first { $0.eventID == "evt_c0" })
            try store.recordAttempt(
                deliverySeq: calmJob.deliverySeq, attempt: makeAttempt(number: 1, at: now, statusCode: 204),
                outcome: .succeeded, disableAfter: Self.day, now: now)
            // A pass that found nothing is not repeated within FairPassPacer.pause; the claim held back says when
            // it may run, and a claim then finds the freed slot.
            let held = try store.claimDeliveries(now: now, leaseUntil: now + 60, limit: 10, perWebhookLimit: 3)
            #expect(held == DeliveryClaim(jobs: [], passHeldUntil: now + FairPassPacer.pause))
            #expect(try claim(at: now + FairPassPacer.pause).map(\.eventID) == ["evt_c3"])
        }
    }

    @Test func aLeaseKeepsOthersOffUntilItExpires() throws {
        try withQueue { store, acme, _ in
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id, at: startTime.addingTimeInterval(1))
            let now = startTime.addingTimeInterval(10)
            let leaseEnd = now.addingTimeInterval(30)

            let first = try store.claimDueDeliveries(now: now, leaseUntil: leaseEnd, limit: 1)
            #expect(first.map(\.eventID) == ["evt_1"])
            let second = try store.claimDueDeliveries(now: now, leaseUntil: leaseEnd, limit: 10)
            #expect(second.map(\.eventID) == ["evt_2"])
            #expect(try claimAll(store, at: leaseEnd.addingTimeInterval(-0.001)).isEmpty)

            let expired = try claimAll(store, at: leaseEnd)
            #expect(expired.map(\.eventID) == ["evt_1", "evt_2"])
            #expect(expired.map(\.attemptNumber) == [1, 1])
        }
    }

    @Test func concurrentClaimersNeverShareADelivery() throws {
        try withQueue { store, acme, _ in
            for index in 0..<60 {
                try accept(store, "evt_\(index)", companyID: acme.id)
            }
            let claimed = Mutex<[Int64]>([])
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                while true {
                    do {
                        let jobs = try claimAll(store, at: startTime.addingTimeInterval(1), limit: 4)
                        if jobs.isEmpty { return }
                        claimed.withLock { $0.append(contentsOf: jobs.map(\.deliverySeq)) }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                        return
                    }
                }
            }
            let seqs = claimed.withLock { $0 }
            #expect(failures.withLock { $0 } == [])
            #expect(seqs.count == 60)
            #expect(Set(seqs).count == 60)
        }
    }

    @Test func deliveriesOfADisabledWebhookAreNeverClaimed() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            // A state no call makes on its own (disabling cancels): a pending delivery of a disabled webhook.
            try database.execute("UPDATE webhooks SET status = 'disabled' WHERE id = 'wh_a'")

            #expect(try claimAll(store, at: startTime.addingTimeInterval(1)).isEmpty)
            #expect(try store.nextDueTime() == nil)
        }
    }

    @Test func aRotatedTokenSignsBesideTheNewOneUntilItExpires() throws {
        try withQueue { store, acme, _ in
            let validUntil = startTime.addingTimeInterval(3_600)
            let rotated = try #require(
                try store.rotateToken(
                    id: "wh_a", companyID: acme.id, newToken: "whsec_bmV3", previousValidUntil: validUntil,
                    now: startTime
                )
            )
            #expect(rotated.token == "whsec_bmV3")
            #expect(rotated.previousToken == "whsec_dG9rZW4=")
            #expect(rotated.previousTokenValidUntil == validUntil)
            #expect(
                try store.rotateToken(
                    id: "wh_a", companyID: 999, newToken: "x", previousValidUntil: validUntil, now: startTime
                ) == nil)

            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime.addingTimeInterval(1)).first)
            #expect(job.secrets == ["whsec_bmV3", "whsec_dG9rZW4="])

            try store.releaseDelivery(deliverySeq: job.deliverySeq, dueAt: startTime)
            let later = try #require(try claimAll(store, at: validUntil).first)
            #expect(later.secrets == ["whsec_bmV3"])
        }
    }

    @Test func successEndsTheDeliveryAndTheFailureStreak() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id)
            let jobs = try claimAll(store, at: startTime)
            try store.recordAttempt(
                deliverySeq: jobs[0].deliverySeq, attempt: makeAttempt(number: 1, at: startTime),
                outcome: .retry(at: startTime.addingTimeInterval(60)), disableAfter: 5 * Self.day, now: startTime
            )
            #expect(try database.queryDate("SELECT failing_since FROM webhooks") == startTime)

            let now = startTime.addingTimeInterval(2)
            var attempt = makeAttempt(number: 1, at: now, statusCode: 204)
            attempt.responseHeaders = [:]
            attempt.responseBody = []
            try store.recordAttempt(
                deliverySeq: jobs[1].deliverySeq, attempt: attempt, outcome: .succeeded, disableAfter: 5 * Self.day,
                now: now
            )

            let (delivery, attempts) = try #require(try store.delivery(id: jobs[1].deliveryID, companyID: acme.id))
            #expect(delivery.status == .succeeded)
            #expect(delivery.nextAttemptAt == nil)
            #expect(delivery.attemptCount == 1)
            #expect(delivery.updatedAt == now)
            #expect(attempts == [attempt])
            #expect(try database.queryDate("SELECT failing_since FROM webhooks") == nil)
            #expect(try database.queryDate("SELECT last_success_at FROM webhooks") == now)
            #expect(
                try database.queryDate("SELECT lease_until FROM deliveries WHERE id = '\(jobs[1].deliveryID)'") == nil)
        }
    }

    @Test func retryStaysPendingDueAtTheGivenTimeWithoutALease() throws {
        try withQueue { store, acme, _ in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            let retryAt = startTime.addingTimeInterval(5)
            let attempt = DeliveryAttempt(
                number: 1, attemptedAt: startTime, statusCode: nil, errorKind: "timeout",
                errorMessage: "no answer within 15 s", latencyMilliseconds: 15_000,
                responseHeaders: ["retry-after": "5", "content-type": "text/plain; charset=\"utf-8\""],
                responseBody: [0, 1, 2, 255]
            )
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: attempt, outcome: .retry(at: retryAt),
                disableAfter: 5 * Self.day, now: startTime
            )

            let (delivery, attempts) = try #require(try store.delivery(id: job.deliveryID, companyID: acme.id))
            #expect(delivery.status == .pending)
            #expect(delivery.nextAttemptAt == retryAt)
            #expect(delivery.attemptCount == 1)
            #expect(attempts == [attempt])
            #expect(try store.nextDueTime() == retryAt)

            // The lease (one minute) is gone: it is claimable as soon as it is due.
            #expect(try claimAll(store, at: retryAt.addingTimeInterval(-0.001)).isEmpty)
            let again = try #require(try claimAll(store, at: retryAt).first)
            #expect(again.attemptNumber == 2)
        }
    }

    @Test func failedEndsTheDeliveryButKeepsTheWebhook() throws {
        try withQueue { store, acme, _ in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime), outcome: .failed,
                disableAfter: 5 * Self.day, now: startTime
            )

            let delivery = try #require(try status(store, job.deliveryID, companyID: acme.id))
            #expect(delivery.status == .failed)
            #expect(delivery.nextAttemptAt == nil)
            #expect(try store.webhook(id: "wh_a", companyID: acme.id)?.status == .enabled)
            #expect(try store.nextDueTime() == nil)
            #expect(try claimAll(store, at: startTime.addingTimeInterval(3_600)).isEmpty)
        }
    }

    @Test func goneDisablesTheWebhookAndCancelsItsPendingDeliveries() throws {
        try withQueue { store, acme, _ in
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id))
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id, at: startTime.addingTimeInterval(1))
            let jobs = try claimAll(store, at: startTime, limit: 1)
            let job = try #require(jobs.first { $0.webhookID == "wh_a" } ?? jobs.first)

            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 410),
                outcome: .disableWebhook(reason: "the endpoint answered 410 Gone"), disableAfter: 5 * Self.day,
                now: startTime
            )

            let webhook = try #require(try store.webhook(id: job.webhookID, companyID: acme.id))
            #expect(webhook.status == .disabled)
            #expect(webhook.disabledReason == "the endpoint answered 410 Gone")
            let own = try #require(
                try store.deliveries(webhookID: job.webhookID, companyID: acme.id, status: nil, offset: 0, limit: 9)
            )
            #expect(own.page.map(\.status) == [.cancelled, .cancelled])
            #expect(own.page.allSatisfy { $0.nextAttemptAt == nil })

            let otherID = job.webhookID == "wh_a" ? "wh_b" : "wh_a"
            let other = try #require(
                try store.deliveries(webhookID: otherID, companyID: acme.id, status: .pending, offset: 0, limit: 9)
            )
            #expect(other.total == 2)
            #expect(try claimAll(store, at: startTime.addingTimeInterval(2)).map(\.webhookID) == [otherID, otherID])
        }
    }

    @Test func enablingKeepsCancelledDeliveriesCancelled() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 410),
                outcome: .disableWebhook(reason: "gone"), disableAfter: 5 * Self.day, now: startTime
            )

            let enabled = try #require(try store.enableWebhook(id: "wh_a", companyID: acme.id, now: startTime))
            #expect(enabled.status == .enabled)
            #expect(enabled.disabledReason == nil)
            #expect(try database.queryDate("SELECT failing_since FROM webhooks") == nil)
            #expect(try status(store, job.deliveryID, companyID: acme.id)?.status == .cancelled)
            #expect(try claimAll(store, at: startTime.addingTimeInterval(1)).isEmpty)
            #expect(try store.enableWebhook(id: "wh_a", companyID: 999, now: startTime) == nil)
        }
    }

    @Test func aFailureStreakLongerThanTheLimitDisablesTheWebhook() throws {
        try withQueue { store, acme, _ in
            let limit = 5 * Self.day
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id)
            var now = startTime
            var job = try #require(try claimAll(store, at: now, limit: 1).first)

            for (number, offset) in [(1, 0), (2, 4 * Self.day), (3, limit)] {
                now = startTime.addingTimeInterval(offset)
                try store.recordAttempt(
                    deliverySeq: job.deliverySeq, attempt: makeAttempt(number: number, at: now),
                    outcome: .retry(at: now.addingTimeInterval(1)), disableAfter: limit, now: now
                )
                #expect(try store.webhook(id: "wh_a", companyID: acme.id)?.status == .enabled)
                job = try #require(
                    try claimAll(store, at: now.addingTimeInterval(1)).first { $0.deliverySeq == job.deliverySeq })
            }

            now = startTime.addingTimeInterval(limit + 1)
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 4, at: now),
                outcome: .retry(at: now.addingTimeInterval(1)), disableAfter: limit, now: now
            )
            let webhook = try #require(try store.webhook(id: "wh_a", companyID: acme.id))
            #expect(webhook.status == .disabled)
            #expect(webhook.disabledReason == "failing for more than 5 days without a success")
            let page = try #require(
                try store.deliveries(webhookID: "wh_a", companyID: acme.id, status: nil, offset: 0, limit: 9)
            ).page
            #expect(page.map(\.status) == [.cancelled, .cancelled])
            #expect(page.map(\.attemptCount) == [4, 0])
        }
    }

    @Test func aSuccessRestartsTheFailureStreak() throws {
        try withQueue { store, acme, database in
            let limit = 5 * Self.day
            for index in 0..<3 {
                try accept(store, "evt_\(index)", companyID: acme.id)
            }
            let jobs = try claimAll(store, at: startTime)
            let outcomes: [(Int, AttemptOutcome, TimeInterval)] = [
                (0, .failed, 0), (1, .succeeded, 4 * Self.day), (2, .failed, 6 * Self.day),
            ]
            for (index, outcome, offset) in outcomes {
                let now = startTime.addingTimeInterval(offset)
                try store.recordAttempt(
                    deliverySeq: jobs[index].deliverySeq, attempt: makeAttempt(number: 1, at: now), outcome: outcome,
                    disableAfter: limit, now: now
                )
            }
            #expect(try store.webhook(id: "wh_a", companyID: acme.id)?.status == .enabled)
            #expect(
                try database.queryDate("SELECT failing_since FROM webhooks")
                    == startTime.addingTimeInterval(6 * Self.day))
        }
    }

    @Test func anAttemptOnACancelledDeliveryIsOnlyRecorded() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id)
            let jobs = try claimAll(store, at: startTime)
            try store.recordAttempt(
                deliverySeq: jobs[0].deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 410),
                outcome: .disableWebhook(reason: "gone"), disableAfter: Self.day, now: startTime
            )

            // The second attempt was in flight when the webhook was disabled; it succeeds afterwards.
            let late = makeAttempt(number: 1, at: startTime, statusCode: 200)
            try store.recordAttempt(
                deliverySeq: jobs[1].deliverySeq, attempt: late, outcome: .succeeded, disableAfter: Self.day,
                now: startTime.addingTimeInterval(1)
            )
            let (delivery, attempts) = try #require(try store.delivery(id: jobs[1].deliveryID, companyID: acme.id))
            #expect(delivery.status == .cancelled)
            #expect(delivery.attemptCount == 1)
            #expect(attempts == [late])
            #expect(try database.queryDate("SELECT last_success_at FROM webhooks") == nil)
            #expect(try store.webhook(id: "wh_a", companyID: acme.id)?.status == .disabled)
        }
    }

    @Test func anAttemptForADeletedWebhookIsIgnored() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            #expect(try store.deleteWebhook(id: "wh_a", companyID: acme.id))
            try store.recordAttempt(
                deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime), outcome: .succeeded,
                disableAfter: Self.day, now: startTime
            )
            #expect(try database.countRows("attempts") == 0)
        }
    }

    /// A batch is one transaction applying each attempt under the same rules as alone: a success, a retry, a 410
    /// that disables its webhook (cancelling that webhook's other delivery in the same batch, whose attempt is then
    /// only recorded), and an attempt of a deleted webhook, which is ignored.
    @Test func aBatchAppliesEachAttemptsRules() throws {
        try withQueue { store, acme, database in
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id, createdAtMillis: 1))
            try store.insertWebhook(makeWebhook(id: "wh_c", companyID: acme.id, createdAtMillis: 2))
            try accept(store, "evt_1", companyID: acme.id)
            try accept(store, "evt_2", companyID: acme.id, at: startTime.addingTimeInterval(1))
            let jobs = try claimAll(store, at: startTime.addingTimeInterval(2))
            #expect(jobs.count == 6)
            func job(_ webhook: String, _ event: String) throws -> DeliveryJob {
                try #require(jobs.first { $0.webhookID == webhook && $0.eventID == event })
            }
            #expect(try store.deleteWebhook(id: "wh_c", companyID: acme.id))
            let now = startTime.addingTimeInterval(3)
            let retryAt = now.addingTimeInterval(60)
            func record(_ job: DeliveryJob, status: Int, _ outcome: AttemptOutcome) -> AttemptRecord {
                AttemptRecord(
                    deliverySeq: job.deliverySeq, webhookSeq: job.webhookSeq,
                    attempt: makeAttempt(number: 1, at: now, statusCode: status), outcome: outcome, finishedAt: now)
            }
            // wh_b's 410 comes before its other attempt in the batch, which then finds its delivery cancelled.
            try store.recordAttempts(
                [
                    record(try job("wh_a", "evt_1"), status: 204, .succeeded),
                    record(try job("wh_b", "evt_1"), status: 410, .disableWebhook(reason: "the endpoint answered 410")),
                    record(try job("wh_a", "evt_2"), status: 500, .retry(at: retryAt)),
                    record(try job("wh_c", "evt_1"), status: 204, .succeeded),
                    record(try job("wh_b", "evt_2"), status: 204, .succeeded),
                ],
                disableAfter: 5 * Self.day)

            func delivery(_ webhook: String, _ event: String) throws -> Delivery? {
                try status(store, try job(webhook, event).deliveryID, companyID: acme.id)
            }
            #expect(try delivery("wh_a", "evt_1")?.status == .succeeded)
            #expect(try delivery("wh_a", "evt_2")?.status == .pending)
            #expect(try delivery("wh_a", "evt_2")?.nextAttemptAt == retryAt)
            #expect(try delivery("wh_b", "evt_1")?.status == .cancelled)
            #expect(try delivery("wh_b", "evt_2")?.status == .cancelled)
            #expect(try delivery("wh_b", "evt_2")?.attemptCount == 1)
            let disabled = try #require(try store.webhook(id: "wh_b", companyID: acme.id))
            #expect(disabled.status == .disabled)
            #expect(disabled.disabledReason == "the endpoint answered 410")
            #expect(try database.queryText("SELECT count(*) FROM attempts") == "4")
            #expect(try database.queryText("SELECT count(*) FROM deliveries WHERE lease_until IS NOT NULL") == "0")
        }
    }

    /// A record sent again after a call whose outcome was unknown is skipped when the attempt is already there.
    @Test func anAttemptThatMayBeRecordedIsNotCountedTwice() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            let now = startTime.addingTimeInterval(1)
            var record = AttemptRecord(
                deliverySeq: job.deliverySeq, webhookSeq: job.webhookSeq,
                attempt: makeAttempt(number: 1, at: now), outcome: .retry(at: now.addingTimeInterval(5)),
                finishedAt: now)
            try store.recordAttempts([record], disableAfter: 5 * Self.day)
            record.mayBeRecorded = true
            try store.recordAttempts([record], disableAfter: 5 * Self.day)
            #expect(try database.queryText("SELECT count(*) FROM attempts") == "1")
            #expect(try status(store, job.deliveryID, companyID: acme.id)?.attemptCount == 1)

            // Another attempt (a later one) is recorded even so.
            record.attempt = makeAttempt(number: 2, at: now.addingTimeInterval(6))
            record.outcome = .succeeded
            try store.recordAttempts([record], disableAfter: 5 * Self.day)
            #expect(try database.queryText("SELECT count(*) FROM attempts") == "2")
            #expect(try status(store, job.deliveryID, companyID: acme.id)?.status == .succeeded)
        }
    }

    @Test func releaseGivesTheDeliveryBackDueLater() throws {
        try withQueue { store, acme, database in
            try accept(store, "evt_1", companyID: acme.id)
            let job = try #require(try claimAll(store, at: startTime).first)
            let dueAt = startTime.addingTimeInterval(10)
            try store.releaseDelivery(deliverySeq: job.deliverySeq, dueAt: dueAt)

            #expect(try store.nextDueTime() == dueAt)
            #expect(try claimAll(store, at: startTime.addingTimeInterval(5)).isEmpty)
            let again = try #require(try claimAll(store, at: dueAt).first)
            #expect(again.deliverySeq == job.deliverySeq)
            #expect(again.attemptNumber == 1)
            #expect(try database.countRows("attempts") == 0)
        }
    }

    @Test func nextDueTimeIsTheEarliestPendingIgnoringLeases() throws {
        try withQueue { store, acme, _ in
            #expect(try store.nextDueTime() == nil)
            try accept(store, "evt_1", companyID: acme.id, at: startTime.addingTimeInterval(3))
            try accept(store, "evt_2", companyID: acme.id, at: startTime.addingTimeInterval(1))
            #expect(try store.nextDueTime() == startTime.addingTimeInterval(1))

            let jobs = try claimAll(store, at: startTime.addingTimeInterval(5))
            #expect(try store.nextDueTime() == startTime.addingTimeInterval(1))
            for job in jobs {
                try store.recordAttempt(
                    deliverySeq: job.deliverySeq, attempt: makeAttempt(number: 1, at: startTime, statusCode: 200),
                    outcome: .succeeded, disableAfter: Self.day, now: startTime.addingTimeInterval(5)
                )
            }
            #expect(try store.nextDueTime() == nil)
        }
    }

    @Test func durationsReadNaturally() {
        #expect(AttemptText.describeDuration(5 * Self.day) == "5 days")
        #expect(AttemptText.describeDuration(Self.day) == "1 day")
        #expect(AttemptText.describeDuration(1.5 * Self.day) == "1.5 days")
        #expect(AttemptText.describeDuration(7_200) == "2 hours")
        #expect(AttemptText.describeDuration(90) == "1.5 minutes")
        #expect(AttemptText.describeDuration(1) == "1 second")
    }
}
