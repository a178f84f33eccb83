import CSQLite
import Foundation
import Logging
import WebhookCore

/// The embedded store: one SQLite file in WAL mode, shared by a small pool of connections.
///
/// ```swift
/// let store = try SQLiteStore(path: "donutwork.db", logger: logger)
/// let company = try store.findOrCreateCompany(slug: "acme")
/// ```
public final class SQLiteStore: Store {
    // Sendable without @unchecked: all mutable state sits in `ConnectionPool` behind its mutex, and each
    // connection is lent to one thread at a time.

    /// The database file.
    public let path: String
    /// The schema version after start-up migrations.
    public let schemaVersion: Int
    let pool: ConnectionPool
    let logger: Logger

    /// Opens (creating if needed) the database file and brings its schema up to date.
    /// - Parameters:
    ///   - path: a file path, relative to the working directory or absolute.
    ///   - poolSize: the most connections open at once; at least 1.
    ///   - logger: where start-up and migration lines go.
    public init(path: String, poolSize: Int = 8, logger: Logger) throws {
        guard !path.isEmpty, path != ":memory:" else {
            // Every pooled connection would get its own private database.
            throw StoreError.invalidLocation("SQLite needs a file path, not \"\(path)\"")
        }
        guard sqlite3_threadsafe() != 0 else {
            throw StoreError.failed(operation: "open", code: SQLITE_MISUSE, message: "SQLite built without threads")
        }

        let first: SQLiteConnection
        do {
            first = try SQLiteConnection(path: path)
        } catch let error as SQLiteError {
            throw error.storeError(operation: "open")
        }
        do {
            self.schemaVersion = try Migration.migrate(first, logger: logger)
        } catch let error as SQLiteError {
            first.close()
            throw error.storeError(operation: "migrate")
        }

        self.path = path
        self.logger = logger
        self.pool = ConnectionPool(path: path, capacity: poolSize, first: first, logger: logger)
        logger.info("store opened", ["path": path, "schema_version": schemaVersion, "pool_size": poolSize])
    }

    /// Answers when the database is reachable and usable; throws otherwise.
    public func ping() throws {
        try withConnection("ping") { connection in
            _ = try connection.row("SELECT 1") { $0.int(at: 0) }
        }
    }

    /// Closes every connection. Calls after `close()` throw `StoreError.closed`.
    public func close() {
        pool.close()
    }

    /// The result of `PRAGMA integrity_check`: `"ok"`, or one problem per line.
    public func integrityCheck() throws -> String {
        try withConnection("integrityCheck") { connection in
            try connection.rows("PRAGMA integrity_check") { $0.string(at: 0) }.joined(separator: "\n")
        }
    }

    // MARK: Helpers

    /// Runs `body` on a pooled connection, turning SQLite failures into `StoreError`s that name `operation`.
    func withConnection<T>(_ operation: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
        do {
            return try pool.withConnection(operation: operation, body)
        } catch let error as SQLiteError {
            throw error.storeError(operation: operation)
        }
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`) on a pooled connection; rolls back when it throws.
    func withWriteTransaction<T>(_ operation: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
        try withConnection(operation) { connection in
            try connection.writeTransaction { try body(connection) }
        }
    }

    /// Reads a timestamp column, failing loudly on text that is not in the stored format.
    static func date(_ statement: Statement, at column: Int32) throws -> Date {
        let text = statement.string(at: column)
        guard let date = SQLiteTimestamp.parse(text) else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "malformed timestamp in column \(column)")
        }
        return date
    }

    /// Reads a nullable timestamp column.
    static func optionalDate(_ statement: Statement, at column: Int32) throws -> Date? {
        statement.isNull(at: column) ? nil : try date(statement, at: column)
    }
}
