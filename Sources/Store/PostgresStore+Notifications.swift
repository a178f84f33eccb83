import Foundation
import Locking
import Logging

extension PostgresStore {
    /// The channel on which deletes and disables are announced, with the webhook's seq as the payload.
    static let stoppedWebhookChannel = "donutwork_webhook_stopped"

    /// Announces that `webhookSeq` takes no more deliveries; PostgreSQL sends it to every listener when the
    /// caller's transaction commits, and drops it when that rolls back.
    static func announceStopped(_ webhookSeq: Int64, on connection: PostgresConnection) throws {
        try connection.query("SELECT pg_notify($1, $2)", [stoppedWebhookChannel, String(webhookSeq)])
    }

    /// Listens on a connection of its own, outside the pool, so that a busy pool never holds up the news.
    public func watchStoppedWebhooks(_ handler: @escaping @Sendable (Int64) -> Void) -> (any StoreWatch)? {
        let feed = StoppedWebhookFeed(
            conninfo: conninfo, statementTimeout: statementTimeout, logger: logger, handler: handler)
        feed.start()
        return feed
    }
}

/// `LISTEN`s to `PostgresStore.stoppedWebhookChannel` on a thread of its own and hands each webhook seq to its
/// handler; when the session is lost it says so once and connects again every second until it is back.
final class StoppedWebhookFeed: StoreWatch {
    /// How often the thread looks at `stopping` while no notification comes.
    static let pollSeconds: TimeInterval = 0.2
    static let reconnectDelay: TimeInterval = 1

    private let conninfo: String
    private let statementTimeout: TimeInterval?
    private let logger: Logger
    private let handler: @Sendable (Int64) -> Void
    /// Set by `stop()`; the handler runs under this lock, so no call can begin once `stop()` has set it.
    private let stopping = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    init(
        conninfo: String, statementTimeout: TimeInterval?, logger: Logger,
        handler: @escaping @Sendable (Int64) -> Void
    ) {
        self.conninfo = conninfo
        self.statementTimeout = statementTimeout
        self.logger = logger
        self.handler = handler
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "webhook-feed"
        thread.start()
    }

    func stop() {
        let first = stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        // The thread sees the flag within `pollSeconds`, or after libpq's connect timeout while it reconnects; the
        // handler is not called again either way, so the wait is only to leave no thread behind in the common case.
        _ = finished.wait(timeout: .now() + 2 * Self.pollSeconds)
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    private func run() {
        var lost = false
        var everUp = false
        while !isStopping {
            do {
                let connection = try PostgresConnection(conninfo: conninfo, statementTimeout: statementTimeout)
                defer { connection.close() }
                try connection.execute("LISTEN \(PostgresStore.stoppedWebhookChannel)")
                if isStopping { return }
                if lost {
                    logger.info("webhook change feed is back")
                    lost = false
                }
                everUp = true
                while true {
                    for payload in try connection.notifications(waitingUpTo: Self.pollSeconds) {
                        guard let webhookSeq = Int64(payload) else { continue }
                        let handed = stopping.withLock { stopping in
                            if !stopping {
                                handler(webhookSeq)
                            }
                            return !stopping
                        }
                        guard handed else { return }
                    }
                    if isStopping { return }
                }
            } catch {
                if !lost && !isStopping {
                    logger.warning(
                        (everUp ? "webhook change feed lost" : "webhook change feed could not start")
                            + "; deletes and disables made through other processes reach this one within a second "
                            + "meanwhile", ["error": String(describing: error)])
                    lost = true
                }
                let resume = Date().addingTimeInterval(Self.reconnectDelay)
                while !isStopping && Date() < resume {
                    Thread.sleep(forTimeInterval: Self.pollSeconds)
                }
            }
        }
    }
}
