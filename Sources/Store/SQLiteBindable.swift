import CSQLite

/// A Swift value that can be bound to a statement parameter.
protocol SQLiteBindable {
    /// Binds `self` to the 1-based parameter `index` of `statement`.
    func bind(to statement: Statement, at index: Int32) throws
}

extension Int64: SQLiteBindable {
    func bind(to statement: Statement, at index: Int32) throws {
        try statement.bind(self, at: index)
    }
}

extension Int: SQLiteBindable {
    func bind(to statement: Statement, at index: Int32) throws {
        try statement.bind(Int64(self), at: index)
    }
}

extension Double: SQLiteBindable {
    func bind(to statement: Statement, at index: Int32) throws {
        try statement.bind(self, at: index)
    }
}

extension String: SQLiteBindable {
    func bind(to statement: Statement, at index: Int32) throws {
        try statement.bind(self, at: index)
    }
}

extension Array: SQLiteBindable where Element == UInt8 {
    func bind(to statement: Statement, at index: Int32) throws {
        try statement.bind(self, at: index)
    }
}

extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    func bind(to statement: Statement, at index: Int32) throws {
        switch self {
        case .some(let value): try value.bind(to: statement, at: index)
        case .none: try statement.bindNull(at: index)
        }
    }
}
