import Dispatch
import Foundation
import Locking
import Logging
import Store
import WebhookCore

/// The dispatcher's store calls, on a thread of their own so that the delivery thread never waits on the database:
/// finished attempts are recorded in batches (one transaction for up to `batchLimit`), claims are made when the
/// delivery thread asks for one, and jobs it cannot hold are given back.
///
/// Each turn records first, then gives back, then claims: a claim made right after a batch of records finds the
/// slots those attempts freed. An attempt waiting here still holds its delivery's lease, so no process sends it
/// again meanwhile; if the process dies first, the lease expires and the delivery is tried again.
final class StoreWorker: Sendable {
    /// A finished attempt, with what its log line and the metrics need once it is recorded.
    struct Finished: Sendable {
        var record: AttemptRecord
        var deliveryID: String
        /// The `attempt` log line's fields after `delivery_id`.
        var logFields: [(String, String)]
        /// How long the attempt took, for the latency histogram.
        var seconds: Double
        /// Whether the store has the record: false for one the store refused, or gave up on while unavailable.
        var committed = false
    }

    /// What a claim asked for and what it got.
    struct ClaimAnswer: Sendable {
        /// When the claim was made (its leases run from then).
        var claimedAt: Date
        /// The same moment on the monotonic clock, for ordering against other events of this process.
        var startedAt: DispatchTime
        var limit: Int
        var claim: Result<DeliveryClaim, StoreError>
    }

    /// Which of the webhooks the dispatcher asked about are no longer enabled (deleted or disabled).
    struct CheckAnswer: Sendable {
        /// When the store was asked, on the monotonic clock.
        var startedAt: DispatchTime
        /// The webhooks asked about that are deleted or disabled; empty when the store could not be asked.
        var stopped: Set<Int64>
    }

    /// What the worker tells the dispatcher, on the worker's thread: attempts recorded (or that failed to be), the
    /// answer to a claim, and the answer to a check of webhooks.
    struct Observers: Sendable {
        var recorded: @Sendable (_ batch: [Finished]) -> Void
        var claimed: @Sendable (_ answer: ClaimAnswer) -> Void
        var checked: @Sendable (_ answer: CheckAnswer) -> Void
    }

    /// The most attempts in one transaction.
    static let batchLimit = 200
    /// How long after a failed record (the database unavailable) the worker tries again.
    static let retryDelay: TimeInterval = 1

    private struct Release: Sendable {
        var deliverySeq: Int64
        var deliveryID: String
        var dueAt: Date
    }

    private struct State {
        var pending: [Finished] = []
        /// Attempts whose record met an unavailable database, tried again at `retryAt`.
        var retrying: [Finished] = []
        var retryAt = DispatchTime.now()
        var releases: [Release] = []
        var claimLimit: Int?
        var check: Set<Int64>?
        var stopping = false
    }

    private let store: any Store
    private let configuration: Dispatcher.Configuration
    private let logger: Logger
    private let state = Locked(State())
    /// Signalled for each piece of work added and at stop; the thread takes everything queued when it wakes.
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let retryLog = OncePerSecond()
    private let checkLog = OncePerSecond()

    init(store: any Store, configuration: Dispatcher.Configuration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Attempts finished but not yet recorded; the dispatcher counts them against its in-flight limit.
    var pendingCount: Int { state.withLock { $0.pending.count + $0.retrying.count } }

    /// Starts the worker's thread.
    func start(_ observers: Observers) {
        let thread = Thread { [self] in
            run(observers)
            finished.signal()
        }
        thread.name = "dispatcher-store"
        thread.start()
    }

    /// Queues one finished attempt for recording.
    func record(_ attempt: Finished) {
        state.withLock { $0.pending.append(attempt) }
        ready.signal()
    }

    /// Asks for a claim of up to `limit` due deliveries; `Observers.claimed` gets the answer.
    func claim(limit: Int) {
        state.withLock { $0.claimLimit = limit }
        ready.signal()
    }

    /// Asks which of `webhookSeqs` are no longer enabled; `Observers.checked` gets the answer.
    func check(_ webhookSeqs: Set<Int64>) {
        state.withLock { $0.check = webhookSeqs }
        ready.signal()
    }

    /// Gives a claimed delivery back without an attempt, due again at `dueAt`.
    func release(_ job: DeliveryJob, dueAt: Date) {
        state.withLock {
            $0.releases.append(Release(deliverySeq: job.deliverySeq, deliveryID: job.deliveryID, dueAt: dueAt))
        }
        ready.signal()
    }

    /// Does what is queued, then returns. Claims asked for after this are not made.
    func stop() {
        state.withLock { $0.stopping = true }
        ready.signal()
        finished.wait()
    }

    private func run(_ observers: Observers) {
        while true {
            if let retryAt = state.withLock({ $0.retrying.isEmpty ? nil : $0.retryAt }) {
                _ = ready.wait(timeout: retryAt)
            } else {
                ready.wait()
            }
            let (batch, releases, claimLimit, check, more, stopping) = state.withLock { state in
                if !state.retrying.isEmpty && (DispatchTime.now() >= state.retryAt || state.stopping) {
                    state.pending = state.retrying + state.pending
                    state.retrying = []
                }
                let batch = Array(state.pending.prefix(Self.batchLimit))
                state.pending.removeFirst(batch.count)
                let releases = state.releases
                state.releases = []
                let claimLimit = state.stopping ? nil : state.claimLimit
                state.claimLimit = nil
                let check = state.stopping ? nil : state.check
                state.check = nil
                return (batch, releases, claimLimit, check, !state.pending.isEmpty, state.stopping)
            }
            if !batch.isEmpty {
                let again = recordBatch(batch, stopping: stopping)
                if !again.deliveries.isEmpty {
                    state.withLock { state in
                        state.retrying += again.deliveries
                        state.retryAt = DispatchTime.now() + Self.retryDelay
                    }
                }
                let retried = Set(again.deliveries.map(\.record.deliverySeq))
                observers.recorded(
                    batch.filter { !retried.contains($0.record.deliverySeq) }.map { attempt in
                        var told = attempt
                        told.committed = !again.lost.contains(attempt.record.deliverySeq)
                        return told
                    })
            }
            for release in releases {
                give(release)
            }
            if let claimLimit {
                observers.claimed(claim(limit: claimLimit))
            }
            if let check {
                observers.checked(self.check(webhooks: check))
            }
            if more {
                ready.signal()
            } else if stopping {
                return
            }
        }
    }

    /// Records `batch` and logs each attempt's line; returns the attempts to record again later (`deliveries`):
    /// those the database was unavailable for, while their leases still have half their time (a later record must
    /// not race another process that took the delivery after the lease) and the worker is not stopping, and after
    /// that a 410's disable alone; and the delivery seqs of those that will never be recorded (`lost`).
    private func recordBatch(_ batch: [Finished], stopping: Bool) -> (deliveries: [Finished], lost: Set<Int64>) {
        var unrecorded: [Finished] = []
        var lost: Set<Int64> = []
        var lastError: (any Error)?
        do {
            try store.recordAttempts(batch.map(\.record), disableAfter: configuration.disableAfter)
        } catch StoreError.unavailable(let operation, let message) {
            unrecorded = batch
            lastError = StoreError.unavailable(operation: operation, message: message)
        } catch {
            // One bad attempt must not cost the others: record them one at a time.
            for attempt in batch {
                do {
                    try store.recordAttempts([attempt.record], disableAfter: configuration.disableAfter)
                } catch StoreError.unavailable(let operation, let message) {
                    unrecorded.append(attempt)
                    lastError = StoreError.unavailable(operation: operation, message: message)
                } catch {
                    reportFailure(attempt, error)
                    lost.insert(attempt.record.deliverySeq)
                }
            }
        }

        let now = Date()
        var again: [Finished] = []
        var dropped: [Finished] = []
        for var attempt in unrecorded {
            if !stopping && now < attempt.record.finishedAt.addingTimeInterval(configuration.lease / 2) {
                // The failed call may have committed before the database stopped answering.
                attempt.record.mayBeRecorded = true
                again.append(attempt)
            } else if !stopping, case .disableWebhook = attempt.record.outcome {
                // A 410: the record is given up, not the disable, which is tried until the database answers (doing
                // it twice changes nothing).
                attempt.record.disableOnly = true
                again.append(attempt)
            } else {
                dropped.append(attempt)
                lost.insert(attempt.record.deliverySeq)
            }
        }
        let error = lastError.map { String(describing: $0) } ?? "-"
        if !again.isEmpty, let held = retryLog.admit(now: now) {
            logger.warning(
                "recording attempts failed; trying again shortly",
                ["attempts": again.count, "error": error, "also_failed": held])
        }
        if let first = dropped.first {
            logger.error(
                "recording attempts failed; their leases will expire and the deliveries be tried again",
                ["attempts": dropped.count, "first_delivery_id": first.deliveryID, "error": error])
        }
        let retried = Set(again.map(\.record.deliverySeq))
        for attempt in batch where !retried.contains(attempt.record.deliverySeq) {
            logger.log(.info, "attempt", fields: [("delivery_id", attempt.deliveryID)] + attempt.logFields)
        }
        return (again, lost)
    }

    private func reportFailure(_ attempt: Finished, _ error: any Error) {
        logger.error(
            "recording an attempt failed; the lease will expire and the delivery be tried again",
            ["delivery_id": attempt.deliveryID, "error": String(describing: error)])
    }

    private func give(_ release: Release) {
        do {
            try store.releaseDelivery(deliverySeq: release.deliverySeq, dueAt: release.dueAt)
        } catch {
            logger.warning("release failed; the lease will expire", ["delivery_id": release.deliveryID])
        }
    }

    private func check(webhooks: Set<Int64>) -> CheckAnswer {
        let startedAt = DispatchTime.now()
        do {
            return CheckAnswer(
                startedAt: startedAt, stopped: webhooks.subtracting(try store.enabledWebhooks(among: webhooks)))
        } catch StoreError.unavailable(_, _) {
            // Nothing is stopped on a guess; the store being away is in the log already (claims fail too).
            return CheckAnswer(startedAt: startedAt, stopped: [])
        } catch {
            if let held = checkLog.admit(now: Date()) {
                logger.warning("checking webhooks failed", ["error": String(describing: error), "also_failed": held])
            }
            return CheckAnswer(startedAt: startedAt, stopped: [])
        }
    }

    private func claim(limit: Int) -> ClaimAnswer {
        let now = Date()
        let startedAt = DispatchTime.now()
        do {
            // The store holds each webhook to its cap across every process sharing the database.
            let claim = try store.claimDeliveries(
                now: now, leaseUntil: now.addingTimeInterval(configuration.lease), limit: limit,
                perWebhookLimit: configuration.maxInFlightPerEndpoint)
            return ClaimAnswer(claimedAt: now, startedAt: startedAt, limit: limit, claim: .success(claim))
        } catch let error as StoreError {
            return ClaimAnswer(claimedAt: now, startedAt: startedAt, limit: limit, claim: .failure(error))
        } catch {
            return ClaimAnswer(
                claimedAt: now, startedAt: startedAt, limit: limit,
                claim: .failure(.failed(operation: "claimDueDeliveries", code: -1, message: "\(error)")))
        }
    }
}
