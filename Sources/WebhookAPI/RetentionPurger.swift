import Dispatch
import Foundation
import Locking
import Logging
import Store
import WebhookCore

/// Deletes events, deliveries and attempts older than the retention in the background, a small batch at a time,
/// so the database stops growing under steady traffic.
///
/// It lives here, beside `WebhookService`, because it is service wiring: a thread and a timer around one store
/// call (`Store.purgeExpired`), whose rules are the store's. The store runs no threads of its own and the
/// delivery engine only sends.
///
/// One thread of its own runs the passes, since every store call blocks (never Swift's cooperative pool, never
/// an event loop). One `interval` after `start()`, and again one `interval` after each pass ends, a pass deletes
/// batches of `batchSize` events created before `now - retention` until a batch comes back short, pausing
/// `pause` between batches so that intake and delivery get the write lock in between. A store error ends the
/// pass with a warning; the next pass tries again. Several processes purging one database is safe (each batch is
/// a transaction) but redundant.
///
/// ```swift
/// let purger = RetentionPurger(store: store, configuration: .init(retention: 30 * 86_400), logger: logger)
/// purger.start()
/// // ...
/// purger.stop()
/// ```
public final class RetentionPurger: Sendable {
    /// How much is kept and how often, and how hard, it is purged.
    public struct Configuration: Sendable {
        /// Seconds an event (with its deliveries and attempts) is kept after it was accepted.
        public var retention: TimeInterval
        /// Seconds from the end of one pass to the start of the next (and from `start()` to the first).
        public var interval: TimeInterval
        /// Events deleted per transaction (at least 1 is used).
        public var batchSize: Int
        /// Seconds to wait between two batches of one pass.
        public var pause: TimeInterval

        public init(
            retention: TimeInterval, interval: TimeInterval = 60, batchSize: Int = 1000, pause: TimeInterval = 0.05
        ) {
            self.retention = retention
            self.interval = interval
            self.batchSize = batchSize
            self.pause = pause
        }
    }

    private enum State {
        case idle, running, stopped
    }

    public let configuration: Configuration
    private let store: any Store
    private let logger: Logger
    private let state = Locked(State.idle)
    /// Signalled by `stop()`: cuts a wait between passes or batches short.
    private let stopRequested = DispatchSemaphore(value: 0)
    /// Signalled by the thread when it has returned.
    private let finished = DispatchSemaphore(value: 0)

    /// Creates a purger; nothing is deleted before `start()`.
    public init(store: any Store, configuration: Configuration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts the purging thread; its first pass comes one `interval` later. Does nothing after the first call.
    public func start() {
        let starts = state.withLock { state in
            guard state == .idle else { return false }
            state = .running
            return true
        }
        guard starts else { return }
        let thread = Thread { [self] in
            while wait(configuration.interval) {
                runPass()
            }
            finished.signal()
        }
        thread.name = "retention"
        thread.start()
    }

    /// Stops the thread and returns once it has: at once between batches and passes, or after the batch in
    /// progress (one short transaction). Safe to call more than once, and before `start()`.
    public func stop() {
        let wasRunning = state.withLock { state in
            defer { state = .stopped }
            return state == .running
        }
        guard wasRunning else { return }
        stopRequested.signal()
        finished.wait()
    }

    /// One pass: batches until one comes back short, the purger is stopped, or the store fails.
    ///
    /// - Returns: what the pass deleted in all, whether or not it completed.
    @discardableResult
    func runPass(now: Date = Date()) -> PurgeResult {
        let cutoff = now.addingTimeInterval(-configuration.retention)
        let batchSize = max(configuration.batchSize, 1)
        let started = DispatchTime.now()
        var total = PurgeResult()
        var batches = 0
        var failure: (any Error)?
        repeat {
            do {
                let batch = try store.purgeExpired(before: cutoff, batchSize: batchSize)
                batches += 1
                total.events += batch.events
                total.deliveries += batch.deliveries
                total.attempts += batch.attempts
                guard batch.events >= batchSize else { break }
            } catch {
                failure = error
                break
            }
        } while wait(configuration.pause)

        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000
        let elapsed = String(format: "%.1f", milliseconds)
        if total.events > 0 {
            logger.info(
                "retention purge",
                [
                    "events": total.events, "deliveries": total.deliveries, "attempts": total.attempts,
                    "batches": batches, "cutoff": Timestamp.format(cutoff), "ms": elapsed,
                ])
        }
        if let failure {
            logger.warning(
                "retention purge failed; trying again next pass",
                ["error": String(describing: failure), "events_deleted": total.events, "ms": elapsed])
        }
        return total
    }

    /// Waits up to `seconds`; `false` when the purger was stopped (at once, not at the end of the wait).
    private func wait(_ seconds: TimeInterval) -> Bool {
        if stopRequested.wait(timeout: .now() + max(seconds, 0)) == .success {
            // Put the signal back, so every later wait also returns at once.
            stopRequested.signal()
            return false
        }
        return state.withLock { $0 != .stopped }
    }
}
