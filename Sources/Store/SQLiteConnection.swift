import CSQLite
import Foundation

/// One open SQLite database connection with its cache of prepared statements.
///
/// - Important: Opened with `SQLITE_OPEN_NOMUTEX`, so SQLite does not serialise calls on it; a connection must be
///   used by one thread at a time. `ConnectionPool` guarantees that by handing each connection to one caller.
final class SQLiteConnection: PooledConnection, @unchecked Sendable {
    // @unchecked Sendable: the pool moves a connection between threads, but only ever lends it to one caller at a
    // time (checked out under the pool's mutex, returned before anyone else may take it), so its mutable state
    // and the C handle are never touched concurrently.

    /// How long a call waits for another connection's lock before failing with `SQLITE_BUSY`.
    static let busyTimeoutMilliseconds: Int32 = 5000

    /// The database file, as given.
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]

    /// Opens (creating if needed) the database at `path` and applies the connection settings.
    ///
    /// Flags: read-write and create; `NOMUTEX` because the pool already gives each connection to one thread at a
    /// time, so SQLite's per-connection mutex would only cost; no `URI`, so a path is always a file name and a
    /// `--database` value cannot smuggle in `?mode=memory`, `vfs=` or other URI parameters.
    init(path: String) throws {
        self.path = path
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            let error = SQLiteError(code: code, handle: opened)
            sqlite3_close_v2(opened)
            throw error
        }
        handle = opened
        sqlite3_extended_result_codes(opened, 1)

        do {
            // The busy timeout comes first so that switching a fresh file to WAL waits for a concurrent opener.
            try check(sqlite3_busy_timeout(opened, Self.busyTimeoutMilliseconds))
            let journalMode = try pragma("journal_mode=WAL")
            guard journalMode.lowercased() == "wal" || path == ":memory:" else {
                throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode is \(journalMode), WAL unavailable")
            }
            _ = try pragma("synchronous=NORMAL")
            _ = try pragma("foreign_keys=ON")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Leaves any transaction a failed caller left open; `false` when even `ROLLBACK` cannot leave it.
    func prepareForReuse() -> Bool {
        if isInTransaction {
            try? execute("ROLLBACK")
        }
        return !isInTransaction
    }

    /// Finalizes every cached statement and closes the database. Safe to call more than once.
    func close() {
        for statement in statements.values {
            statement.finalize()
        }
        statements = [:]
        sqlite3_close_v2(handle)
        handle = nil
    }

    /// Whether the connection is inside a transaction (not in autocommit mode).
    var isInTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// The rowid of the last row inserted on this connection.
    var lastInsertedRowID: Int64 {
        sqlite3_last_insert_rowid(handle)
    }

    /// How many rows the last INSERT, UPDATE or DELETE on this connection changed.
    var changes: Int {
        Int(sqlite3_changes64(handle))
    }

    // MARK: Running SQL

    /// Runs `body` with the cached statement for `sql`, bound to `values`, and resets it afterwards.
    ///
    /// Statements are prepared once per connection and SQL text. A nested use of the same SQL gets a fresh
    /// statement of its own, finalized when done.
    func withStatement<T>(
        _ sql: String, _ values: [any SQLiteBindable] = [], _ body: (Statement) throws -> T
    ) throws -> T {
        let statement = try cachedStatement(sql)
        statement.isInUse = true
        defer {
            statement.reset()
            statement.isInUse = false
        }
        try statement.bind(values)
        return try body(statement)
    }

    /// Runs one statement that returns no rows we need; returns how many rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int {
        try withStatement(sql, values) { statement in
            while try statement.step() {}
        }
        return changes
    }

    /// Runs one or more statements without parameters and without caching them (schema changes, `BEGIN`).
    func execute(_ sql: String) throws {
        let handle = try live()
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        guard code != SQLITE_OK else { return }
        let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
        sqlite3_free(message)
        throw SQLiteError(code: code, message: text)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` ... `COMMIT`, rolling back when it throws.
    ///
    /// `IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then writes can fail
    /// with `SQLITE_BUSY` on the upgrade, which the busy timeout cannot wait out.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` inside a deferred `BEGIN` ... `COMMIT`, so its reads see one snapshot of the database.
    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN", body)
    }

    /// Runs `body` between `begin` and `COMMIT`, rolling back when it throws.
    private func transaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if isInTransaction {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Runs a pragma and returns the first column of its first row, or `""` when it returns none.
    @discardableResult
    func pragma(_ text: String) throws -> String {
        try rows("PRAGMA \(text)") { $0.string(at: 0) }.first ?? ""
    }

    /// Every row of `sql`, each read by `read`.
    func rows<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ read: (Statement) throws -> T) throws -> [T] {
        try withStatement(sql, values) { statement in
            var result: [T] = []
            while try statement.step() {
                result.append(try read(statement))
            }
            return result
        }
    }

    /// The first row of `sql` read by `read`, or `nil` when there is none.
    func row<T>(_ sql: String, _ values: [any SQLiteBindable] = [], _ read: (Statement) throws -> T) throws -> T? {
        try withStatement(sql, values) { statement in
            try statement.step() ? try read(statement) : nil
        }
    }

    // MARK: Helpers

    private func cachedStatement(_ sql: String) throws -> Statement {
        if let statement = statements[sql], !statement.isInUse {
            return statement
        }
        let statement = try Statement(sql: sql, connection: try live())
        if statements[sql] == nil {
            statements[sql] = statement
        }
        return statement
    }

    private func live() throws -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "connection is closed") }
        return handle
    }

    private func check(_ code: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw SQLiteError(code: code, handle: handle)
    }
}
