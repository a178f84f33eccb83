import CSQLite
import Foundation
import Logging
import WebhookCore

/// The embedded store: one SQLite file in WAL mode, shared by a small pool of connections.
///
/// ```swift
/// let store = try SQLiteStore(path: "donutwork.db", logger: logger, cipher: cipher)
/// let company = try store.findOrCreateCompany(slug: "acme")
/// ```
public final class SQLiteStore: Store {
    // Sendable without @unchecked: all mutable state sits in `ConnectionPool` behind its mutex, and each
    // connection is lent to one thread at a time.

    /// The database file.
    public let path: String
    /// The schema version after start-up migrations.
    public let schemaVersion: Int
    let pool: ConnectionPool<SQLiteConnection>
    let logger: Logger
    /// Paces the claims' webhook-by-webhook pass.
    let fairPass = FairPassPacer()
    /// Seals webhook tokens on the way in and opens them on the way out; nothing above the store sees them sealed.
    let cipher: TokenCipher

    /// Opens (creating if needed) the database file and brings its schema up to date.
    /// - Parameters:
    ///   - path: a file path, relative to the working directory or absolute.
    ///   - poolSize: the most connections open at once; at least 1.
    ///   - logger: where start-up and migration lines go.
    ///   - cipher: the key webhook tokens are sealed with at rest. Tokens left in clear by an older schema are
    ///     sealed at open; opening a database whose tokens were sealed with another key throws.
    public init(path: String, poolSize: Int = 8, logger: Logger, cipher: TokenCipher) throws {
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
            try Self.sealPlaintextTokens(first, cipher: cipher, logger: logger)
        } catch let error as SQLiteError {
            first.close()
            throw error.storeError(operation: "migrate")
        } catch {
            first.close()
            throw error
        }

        self.path = path
        self.logger = logger
        self.cipher = cipher
        self.pool = ConnectionPool(capacity: poolSize, first: first, logger: logger) {
            do {
                return try SQLiteConnection(path: path)
            } catch let error as SQLiteError {
                throw error.storeError(operation: "open")
            }
        }
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

    /// Runs `body` in a read transaction on a pooled connection, so its statements see one snapshot.
    func withReadTransaction<T>(_ operation: String, _ body: (SQLiteConnection) throws -> T) throws -> T {
        try withConnection(operation) { connection in
            try connection.readTransaction { try body(connection) }
        }
    }

    /// Reads a timestamp column, failing loudly on text that is not in the stored format.
    static func date(_ statement: Statement, at column: Int32) throws -> Date {
        let text = statement.string(at: column)
        guard let date = Timestamp.parse(text) else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "malformed timestamp in column \(column)")
        }
        return date
    }

    /// Reads a nullable timestamp column.
    static func optionalDate(_ statement: Statement, at column: Int32) throws -> Date? {
        statement.isNull(at: column) ? nil : try date(statement, at: column)
    }

    /// Reads a nullable integer milliseconds column (`next_attempt_at`, `lease_until`) as a date.
    static func optionalMillisecondsDate(_ statement: Statement, at column: Int32) -> Date? {
        statement.isNull(at: column) ? nil : Timestamp.date(milliseconds: statement.int64(at: column))
    }
}
