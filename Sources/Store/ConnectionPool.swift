import Dispatch
import Foundation
import Locking
import Logging

/// A bounded set of connections to one database file, each lent to one caller at a time.
///
/// Connections open lazily up to `capacity`; when all are out, a caller waits (up to `checkoutTimeout`) for one
/// to come back. A counting semaphore holds the free slots and a mutex guards the idle list, so a waiting
/// thread sleeps in the kernel instead of spinning.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection] = []
        var opened = 0
        var isClosed = false
    }

    /// What a checkout found under the lock; the slow work (opening a file) happens after it is released.
    private enum Pick {
        case idle(SQLiteConnection)
        case open
        case closed
    }

    /// How long a caller waits for a free connection before the store reports itself unavailable.
    static let checkoutTimeout: DispatchTimeInterval = .seconds(10)

    /// The database file every connection opens.
    let path: String
    /// The most connections open at once.
    let capacity: Int
    private let state: Locked<State>
    private let slots: DispatchSemaphore
    private let logger: Logger

    /// Creates a pool that starts with `first`, already open and migrated, as its one idle connection.
    init(path: String, capacity: Int, first: SQLiteConnection, logger: Logger) {
        precondition(capacity >= 1, "a connection pool needs at least one connection")
        self.path = path
        self.capacity = capacity
        self.state = Locked(State(idle: [first], opened: 1))
        self.slots = DispatchSemaphore(value: capacity)
        self.logger = logger
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever `body` does.
    func withConnection<T>(operation: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
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

    private func checkOut(operation: String) throws -> SQLiteConnection {
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
            return connection
        case .closed:
            slots.signal()
            throw StoreError.closed
        case .open:
            do {
                let connection = try SQLiteConnection(path: path)
                logger.debug("store connection opened", ["pool_size": capacity])
                return connection
            } catch let error as SQLiteError {
                release(nil)
                throw error.storeError(operation: operation)
            } catch {
                release(nil)
                throw error
            }
        }
    }

    /// Returns a connection; one left inside a transaction it cannot leave is dropped rather than reused.
    private func checkIn(_ connection: SQLiteConnection) {
        if connection.isInTransaction {
            try? connection.execute("ROLLBACK")
        }
        guard !connection.isInTransaction else {
            logger.warning("store connection dropped: stuck in a transaction")
            connection.close()
            release(nil)
            return
        }
        release(connection)
    }

    /// Gives back a slot, with the connection that filled it or `nil` when that connection is gone.
    private func release(_ connection: SQLiteConnection?) {
        let toClose = state.withLock { state -> SQLiteConnection? in
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
