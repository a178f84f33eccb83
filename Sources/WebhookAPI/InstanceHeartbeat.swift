import Dispatch
import Foundation
import Locking
import Logging
import Store
import WebhookCore

/// Tells the database every few seconds that this process is alive, and gives the rate limiter the number of
/// processes alive, so that several `serve` processes on one database share each API key's limit.
///
/// It runs on a thread of its own: a heartbeat is a blocking store call, and it must keep its rhythm whatever the
/// event loops and the store threads are doing.
final class InstanceHeartbeat: Sendable {
    /// Seconds between heartbeats (5 in production).
    let interval: TimeInterval
    /// Seconds of silence after which a process counts as gone: three missed heartbeats.
    var staleAfter: TimeInterval { 3 * interval }

    /// This process's name in `service_instances`: random, so a restart is a new instance.
    let instanceID = Identifier.make(prefix: "ins")
    private let store: any Store
    private let onCount: @Sendable (Int) -> Void
    private let logger: Logger
    private let stopping = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Locked(false)

    /// - Parameter onCount: told the number of processes alive after every successful heartbeat.
    init(store: any Store, interval: TimeInterval, logger: Logger, onCount: @escaping @Sendable (Int) -> Void) {
        self.store = store
        self.interval = max(0.05, interval)
        self.logger = logger
        self.onCount = onCount
    }

    /// Beats once now (so the first share is right before the first request), then every `interval` on a thread.
    func start() {
        started.withLock { $0 = true }
        beat()
        let thread = Thread { [self] in
            while stopping.wait(timeout: .now() + interval) == .timedOut {
                beat()
            }
            finished.signal()
        }
        thread.name = "heartbeat"
        thread.start()
    }

    /// Stops beating and removes this process from the table, so the others take up its share at once.
    func stop() {
        guard started.withLock({ $0 }) else { return }
        stopping.signal()
        finished.wait()
        do {
            try store.removeInstance(instanceID: instanceID)
        } catch {
            logger.warning("could not remove this instance's heartbeat", ["error": String(describing: error)])
        }
    }

    private func beat() {
        do {
            let count = try store.heartbeat(instanceID: instanceID, now: Date(), staleAfter: staleAfter)
            onCount(count)
        } catch {
            // Keep the last share: the store being away is no reason to lift or tighten the limits.
            logger.warning("heartbeat failed", ["error": String(describing: error)])
        }
    }
}
