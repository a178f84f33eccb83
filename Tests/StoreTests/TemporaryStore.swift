import Foundation
import Logging
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

/// Runs `body` with a store on a fresh file in its own directory, closed and removed afterwards.
func withTemporaryStore<T>(poolSize: Int = 8, _ body: (SQLiteStore, String) throws -> T) throws -> T {
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

/// Counts rows of a table through the store's own pool; table names are test constants, never input.
func countRows(_ store: SQLiteStore, _ sqlFrom: String, _ values: [any SQLiteBindable] = []) throws -> Int {
    try store.withConnection("test") { connection in
        try connection.row("SELECT COUNT(*) FROM \(sqlFrom)", values) { $0.int(at: 0) } ?? -1
    }
}
