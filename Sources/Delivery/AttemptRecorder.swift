import Dispatch
import Foundation
import Locking
import Logging
import Store
import WebhookCore

/// Records finished attempts on a thread of its own, up to `batchLimit` per transaction, so the delivery thread
/// never waits on the store and a busy process pays one commit for many attempts.
///
/// An attempt waiting here still holds its delivery's lease, so no process sends it again meanwhile; if the
/// process dies first, the lease expires and the delivery is tried again (at least once, as always).
final class AttemptRecorder: Sendable {
    /// A finished attempt, with what its log line and the metrics need once it is recorded.
    struct Finished: Sendable {
        var record: AttemptRecord
        var deliveryID: String
        /// The `attempt` log line's fields after `delivery_id`.
        var logFields: [(String, String)]
        /// How long the attempt took, for the latency histogram.
        var seconds: Double
    }

    /// Told after each transaction (or its failure) with the attempts it held, on the recorder's thread.
    typealias Observer = @Sendable (_ recorded: [Finished]) -> Void

    /// The most attempts in one transaction.
    static let batchLimit = 200

    private struct State {
        var pending: [Finished] = []
        var stopping = false
    }

    private let store: any Store
    private let disableAfter: TimeInterval
    private let logger: Logger
    private let state = Locked(State())
    /// Signalled for each attempt added and at stop; the thread drains everything pending when it wakes.
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(store: any Store, disableAfter: TimeInterval, logger: Logger) {
        self.store = store
        self.disableAfter = disableAfter
        self.logger = logger
    }

    /// Attempts finished but not yet recorded; the dispatcher counts them against its in-flight limit.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Starts the recording thread; `onRecorded` hears of every batch.
    func start(onRecorded: @escaping Observer) {
        let thread = Thread { [self] in
            run(onRecorded)
            finished.signal()
        }
        thread.name = "attempt-recorder"
        thread.start()
    }

    /// Queues one finished attempt.
    func add(_ attempt: Finished) {
        state.withLock { $0.pending.append(attempt) }
        ready.signal()
    }

    /// Records what is pending, then returns.
    func stop() {
        state.withLock { $0.stopping = true }
        ready.signal()
        finished.wait()
    }

    private func run(_ onRecorded: Observer) {
        while true {
            ready.wait()
            let (batch, more, stopping) = state.withLock { state in
                let batch = Array(state.pending.prefix(Self.batchLimit))
                state.pending.removeFirst(batch.count)
                return (batch, !state.pending.isEmpty, state.stopping)
            }
            if !batch.isEmpty {
                record(batch)
                onRecorded(batch)
            }
            if more {
                ready.signal()
            } else if stopping {
                return
            }
        }
    }

    private func record(_ batch: [Finished]) {
        do {
            try store.recordAttempts(batch.map(\.record), disableAfter: disableAfter)
        } catch StoreError.unavailable(let operation, let message) {
            // The others would meet the same outage one by one; their leases expire and they go again.
            let error = StoreError.unavailable(operation: operation, message: message)
            batch.forEach { reportFailure($0, error) }
        } catch {
            // One bad attempt must not cost the others: record them one at a time.
            for attempt in batch {
                do {
                    try store.recordAttempts([attempt.record], disableAfter: disableAfter)
                } catch {
                    reportFailure(attempt, error)
                }
            }
        }
        for attempt in batch {
            logger.log(.info, "attempt", fields: [("delivery_id", attempt.deliveryID)] + attempt.logFields)
        }
    }

    private func reportFailure(_ attempt: Finished, _ error: any Error) {
        logger.error(
            "recording an attempt failed; the lease will expire and the delivery be tried again",
            ["delivery_id": attempt.deliveryID, "error": String(describing: error)])
    }
}
