import CSQLite

/// A failed SQLite call: the result code and the message SQLite gave right after it.
///
/// Connections and statements throw this; `SQLiteStore` turns it into a `StoreError` that names the store
/// operation, so the code that knows the operation is the only place that maps codes to cases.
struct SQLiteError: Error, CustomStringConvertible {
    /// The (possibly extended) result code returned by the failing call.
    var code: Int32
    /// `sqlite3_errmsg` read immediately after the failing call, or our own sentence.
    var message: String

    var description: String { "sqlite error \(code): \(message)" }

    /// Reads the message of the last failed call on `handle`; call it before anything else touches `handle`.
    init(code: Int32, handle: OpaquePointer?) {
        self.code = code
        if let handle, let text = sqlite3_errmsg(handle) {
            self.message = String(cString: text)
        } else {
            self.message = String(cString: sqlite3_errstr(code))
        }
    }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The store error for this failure: busy and locked are worth retrying, constraints are conflicts.
    func storeError(operation: String) -> StoreError {
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED:
            .unavailable(operation: operation, message: message)
        case SQLITE_CONSTRAINT:
            .conflict(operation: operation, message: message)
        default:
            .failed(operation: operation, code: code, message: message)
        }
    }
}
