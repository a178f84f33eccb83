import Foundation
import Logging
import TestSupport
import WebhookCore

@testable import Store

/// A fresh directory for one test, removed when the test is done.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// The path of the test database inside the directory.
    var databasePath: String { url.appendingPathComponent("test.db").path }
}

/// A logger that keeps tests quiet.
let quietLogger = Logger(label: "store-tests", level: .error, sink: { _ in })

/// The token key every test store is opened with.
let testCipher = try! TokenCipher(key: [UInt8](repeating: 0x5a, count: 32))

/// Runs `body` with a store on a fresh database of the store this run uses (an SQLite file, or a PostgreSQL database
/// when `DONUTWORK_TEST_POSTGRES` is set), opened from its `--database` text as the service opens it; the store is
/// closed and the database dropped afterwards.
func withTemporaryStore<T>(_ body: (any Store, TestDatabase) throws -> T) throws -> T {
    let database = try TestDatabase.make()
    defer { database.drop() }
    let store = try openStore(DatabaseLocation(parsing: database.url), logger: quietLogger, cipher: testCipher)
    defer { store.close() }
    return try body(store, database)
}

/// Runs `body` with an SQLite store on a fresh file in its own directory, closed and removed afterwards: for tests
/// of SQLite itself (its pool, its pragmas, its files), whatever store the run uses.
func withTemporarySQLiteStore<T>(poolSize: Int = 8, _ body: (SQLiteStore, String) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    let store = try SQLiteStore(
        path: directory.databasePath, poolSize: poolSize, logger: quietLogger, cipher: testCipher
    )
    defer { store.close() }
    return try body(store, directory.databasePath)
}

/// A webhook with plausible values; `createdAt` is on a whole millisecond so it round-trips exactly.
func makeWebhook(
    id: String, companyID: Int64, events: [String] = ["RecurringPayments.charge.paid"], createdAtMillis: Int64 = 0
) -> Webhook {
    Webhook(
        id: id, companyID: companyID, name: "hook \(id)", description: "for \(id)", url: "https://example.com/\(id)",
        events: events, token: "whsec_dG9rZW4=",
        createdAt: Date(timeIntervalSince1970: Double(1_767_225_600_123 + createdAtMillis) / 1000)
    )
}

extension TestDatabase {
    /// The first column of the first row of `sql` as text (`nil` for NULL or no row), read beside the store: on a
    /// connection of its own to the SQLite file, or with `psql`. SQL text only: test constants, never input.
    func queryText(_ sql: String) throws -> String? {
        switch kind {
        case .sqlite:
            let connection = try SQLiteConnection(path: sqlitePath ?? "")
            defer { connection.close() }
            return try connection.row(sql) { $0.optionalString(at: 0) } ?? nil
        case .postgres:
            let firstLine = try psql(sql).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            return firstLine.isEmpty || firstLine == "\\N" ? nil : String(firstLine)
        }
    }

    /// An instant the store wrote, read back with `queryText`: on SQLite its exact text form
    /// (`2026-01-01T00:00:02.500Z`), on PostgreSQL also a `timestamptz` as `psql` prints it in UTC
    /// (`2026-01-01 00:00:02.5+00`).
    func queryDate(_ sql: String) throws -> Date? {
        guard let text = try queryText(sql) else { return nil }
        if let date = Timestamp.parse(text) {
            return date
        }
        if kind == .postgres, let match = text.wholeMatch(of: /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00/) {
            let fraction = String(((match.3 ?? "") + "000").prefix(3))
            if let date = Timestamp.parse("\(match.1)T\(match.2).\(fraction)Z") {
                return date
            }
        }
        throw StoreError.failed(operation: "test read of a time", code: -1, message: "unreadable time: \(text)")
    }

    /// Runs SQL that changes test data behind the store's back, e.g. to set up a state no API call makes.
    func execute(_ sql: String) throws {
        switch kind {
        case .sqlite:
            let connection = try SQLiteConnection(path: sqlitePath ?? "")
            defer { connection.close() }
            try connection.execute(sql)
        case .postgres:
            _ = try psql(sql)
        }
    }

    /// Counts the rows of `FROM` text: a table name, maybe with a condition; test constants, never input.
    func countRows(_ sqlFrom: String) throws -> Int {
        Int(try queryText("SELECT COUNT(*) FROM \(sqlFrom)") ?? "") ?? -1
    }
}

/// Counts rows of a table through an SQLite store's own pool; table names are test constants, never input.
func countRows(_ store: SQLiteStore, _ sqlFrom: String, _ values: [any SQLiteBindable] = []) throws -> Int {
    try store.withConnection("test") { connection in
        try connection.row("SELECT COUNT(*) FROM \(sqlFrom)", values) { $0.int(at: 0) } ?? -1
    }
}
