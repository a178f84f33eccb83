import CSQLite

/// One prepared SQL statement: typed parameter binding, stepping and typed column reads.
///
/// A statement belongs to the connection that prepared it and is used by one thread at a time, like that
/// connection. Parameter and column indexes follow SQLite: parameters from 1, columns from 0.
final class Statement {
    /// The SQL text, without any values: every value is a bound parameter.
    let sql: String
    /// Set while a caller is using a cached statement, so a nested use of the same SQL prepares its own.
    var isInUse = false
    private var handle: OpaquePointer?

    /// Prepares `sql` on `connection`.
    init(sql: String, connection: OpaquePointer) throws {
        self.sql = sql
        var prepared: OpaquePointer?
        let code = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard code == SQLITE_OK, let prepared else {
            let error = SQLiteError(code: code, handle: connection)
            sqlite3_finalize(prepared)
            throw error
        }
        self.handle = prepared
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Releases the statement; later calls fail with `SQLITE_MISUSE`.
    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Makes the statement ready to run again and forgets its bindings.
    func reset() {
        guard let handle else { return }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Binding

    /// Binds `values` to parameters 1, 2, ... in order.
    func bind(_ values: [any SQLiteBindable]) throws {
        for (offset, value) in values.enumerated() {
            try value.bind(to: self, at: Int32(offset + 1))
        }
    }

    func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(try live(), index, value))
    }

    func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(try live(), index, value))
    }

    /// Binds the exact UTF-8 bytes of `value`; SQLite copies them.
    func bind(_ value: String, at index: Int32) throws {
        let handle = try live()
        var text = value
        let code = text.withUTF8 { bytes in
            sqlite3_bind_text64(
                handle, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                sqlite3_uint64(bytes.count), dw_sqlite_transient(), UInt8(SQLITE_UTF8)
            )
        }
        try check(code)
    }

    /// Binds the bytes as a blob; SQLite copies them. An empty array binds an empty blob, not NULL.
    func bind(_ value: [UInt8], at index: Int32) throws {
        let handle = try live()
        let code = value.withUnsafeBytes { bytes in
            guard let start = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            return sqlite3_bind_blob64(handle, index, start, sqlite3_uint64(bytes.count), dw_sqlite_transient())
        }
        try check(code)
    }

    func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(try live(), index))
    }

    // MARK: Stepping

    /// Runs the statement to its next row. Returns `true` when a row is ready to read, `false` when done.
    @discardableResult
    func step() throws -> Bool {
        let handle = try live()
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError(code: code, handle: sqlite3_db_handle(handle))
        }
    }

    // MARK: Columns

    func isNull(at column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    func int64(at column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    func int(at column: Int32) -> Int {
        Int(sqlite3_column_int64(handle, column))
    }

    func double(at column: Int32) -> Double {
        sqlite3_column_double(handle, column)
    }

    /// The column as text, byte for byte; NULL reads as the empty string.
    func string(at column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column as text, or `nil` when it is NULL.
    func optionalString(at column: Int32) -> String? {
        isNull(at: column) ? nil : string(at: column)
    }

    /// The column as bytes; NULL reads as no bytes.
    func blob(at column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    // MARK: Helpers

    private func live() throws -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "statement is finalized") }
        return handle
    }

    private func check(_ code: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw SQLiteError(code: code, handle: handle.flatMap { sqlite3_db_handle($0) })
    }
}
