import Dispatch
import Foundation
import Locking
import Logging

/// A database connection the pool can lend out: used by one thread at a time, checked before reuse.
protocol PooledConnection: AnyObject, Sendable {
    /// Brings the connection back to a clean state after a caller (leaving any open transaction); `false` when it
    /// cannot be used again (stuck in a transaction, or its server went away) and must be closed.
    func prepareForReuse() -> Bool

    /// Whether a connection that sat idle in the pool can still be lent out, checked without a round trip: false
    /// when its server ended the session meanwhile (a restart cuts every session).
    func isUsableAfterIdle() -> Bool

    /// Releases the connection. Safe to call more than once.
    func close()
}

extension PooledConnection {
    /// A connection that cannot lose its server (an SQLite file) is always usable.
    func isUsableAfterIdle() -> Bool { true }
}

/// A bounded set of connections to one database, each lent to one caller at a time.
///
/// Connections open lazily up to `capacity`; when all are out, a caller waits (up to `checkoutTimeout`) for one
/// to come back. A counting semaphore holds the free slots and a mutex guards the idle list, so a waiting
/// thread sleeps in the kernel instead of spinning. A connection that comes back unusable is closed and its slot
/// freed, and an idle one whose server ended its session is replaced at checkout, so the pool recovers from a
/// database restart without failing a caller once the database answers again.
final class ConnectionPool<Connection: PooledConnection>: Sendable {
    private struct State {
        var idle: [Connection] = []
        var opened = 0
        var isClosed = false
    }

    /// What a checkout found under the lock; the slow work (opening a file) happens after it is released.
    private enum Pick {
        case idle(Connection)
        case open
        case closed
    }

    /// How long a caller waits for a free connection before the store reports itself unavailable.
    static var checkoutTimeout: DispatchTimeInterval { .seconds(10) }

    /// The most connections open at once.
    let capacity: Int
    private let state: Locked<State>
    private let slots: DispatchSemaphore
    private let logger: Logger
    /// Opens one more connection; throws a `StoreError` naming what failed.
    private let open: @Sendable () throws -> Connection

    /// Creates a pool that starts with `first` (already open and migrated) as its one idle connection, if given.
    init(capacity: Int, first: Connection?, logger: Logger, open: @escaping @Sendable () throws -> Connection) {
        precondition(capacity >= 1, "a connection pool needs at least one connection")
        self.capacity = capacity
        self.state = Locked(State(idle: first.map { [$0] } ?? [], opened: first == nil ? 0 : 1))
        self.slots = DispatchSemaphore(value: capacity)
        self.logger = logger
        self.open = open
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    func withConnection<T>(operation: String, _ body: (Connection) throws -> T) throws -> T {
        let connection = try checkOut(operation: operation)
        defer { checkIn(connection) }
        return try body(connection)
    }

    /// Closes idle connections now and the others as they come back; later checkouts throw `StoreError.closed`.
    func close() {
        let idle = state.withLock { state in
            state.isClosed = true
            state.opened -= state.idle.count
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle {
            connection.close()
        }
    }

    // MARK: Helpers

    private func checkOut(operation: String) throws -> Connection {
        guard slots.wait(timeout: .now() + Self.checkoutTimeout) == .success else {
            throw StoreError.unavailable(operation: operation, message: "all \(capacity) connections are busy")
        }

        let pick = state.withLock { state -> Pick in
            if state.isClosed { return .closed }
            if let connection = state.idle.popLast() { return .idle(connection) }
            state.opened += 1
            return .open
        }

        switch pick {
        case .idle(let connection):
            if connection.isUsableAfterIdle() {
                return connection
            }
            // Its server went away while it sat here (e.g. restarted): open a fresh one in its place rather than
            // fail this caller.
            logger.warning("store connection dropped: the server ended its session while it was idle")
            connection.close()
            return try openInSlot()
        case .closed:
            slots.signal()
            throw StoreError.closed
        case .open:
            return try openInSlot()
        }
    }

    /// Opens a connection for a slot already taken and counted in `opened`; gives both back when that fails.
    private func openInSlot() throws -> Connection {
        do {
            let connection = try open()
            logger.debug("store connection opened", ["pool_size": capacity])
            return connection
        } catch {
            release(nil)
            throw error
        }
    }

    /// Returns a connection; one that cannot be reused is closed rather than handed out again.
    private func checkIn(_ connection: Connection) {
        guard connection.prepareForReuse() else {
            // Info, not a warning: what made it unusable (a lost session, a deadline) is reported where it happened.
            logger.info("store connection dropped: it cannot be reused")
            connection.close()
            release(nil)
            return
        }
        release(connection)
    }

    /// Gives back a slot, with the connection that filled it or `nil` when that connection is gone.
    private func release(_ connection: Connection?) {
        let toClose = state.withLock { state -> Connection? in
            guard let connection else {
                state.opened -= 1
                return nil
            }
            if state.isClosed {
                state.opened -= 1
                return connection
            }
            state.idle.append(connection)
            return nil
        }
        toClose?.close()
        slots.signal()
    }
}
