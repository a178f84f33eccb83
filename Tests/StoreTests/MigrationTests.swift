import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct MigrationTests {
    // SQLite only: its migrations, applied to one file opened twice.
    @Test func migrationRunsTwiceAndRecordsEachVersion() throws {
        let directory = try TemporaryDirectory()
        for _ in 0..<2 {
            let store = try SQLiteStore(path: directory.databasePath, logger: quietLogger, cipher: testCipher)
            defer { store.close() }
            #expect(store.schemaVersion == 6)

            let versions = try store.withConnection("test") { connection in
                try connection.rows("SELECT version FROM schema_migrations ORDER BY version") { $0.int(at: 0) }
            }
            #expect(versions == [1, 2, 3, 4, 5, 6])
        }
    }

    @Test func defaultCatalogIsSeededAsGlobalTypes() throws {
        try withTemporaryStore { store, _ in
            let all = try store.allEventTypes()
            #expect(all == EventType.defaultCatalog.sorted().map { EventType(name: $0, companyID: nil) })
        }
    }

    // SQLite only: its pragmas.
    @Test func connectionSettingsAreApplied() throws {
        try withTemporarySQLiteStore { store, _ in
            let settings = try store.withConnection("test") { connection in
                [
                    try connection.pragma("journal_mode"), try connection.pragma("synchronous"),
                    try connection.pragma("foreign_keys"), try connection.pragma("busy_timeout"),
                ]
            }
            #expect(settings == ["wal", "1", "1", "5000"])
        }
    }

    // SQLite only: its file check.
    @Test func integrityCheckSaysOK() throws {
        try withTemporarySQLiteStore { store, _ in
            let result = try store.integrityCheck()
            #expect(result == "ok")
        }
    }

    @Test func reopeningTheDatabaseKeepsData() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let first = try openStore(database.location, logger: quietLogger, cipher: testCipher)
        let company = try first.findOrCreateCompany(slug: "acme")
        try first.insertWebhook(makeWebhook(id: "wh_keep", companyID: company.id, events: ["b", "a"]))
        first.close()

        let second = try openStore(database.location, logger: quietLogger, cipher: testCipher)
        defer { second.close() }
        #expect(try second.company(slug: "acme") == company)
        #expect(try second.webhook(id: "wh_keep", companyID: company.id)?.events == ["b", "a"])
    }

    @Test func closedStoreThrowsClosed() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let store = try openStore(database.location, logger: quietLogger, cipher: testCipher)
        store.close()
        #expect(throws: StoreError.closed) { try store.ping() }
    }

    @Test func timestampsRoundTripToTheMillisecond() throws {
        let date = Date(timeIntervalSince1970: 1_767_225_600.987_654)
        let text = Timestamp.format(date)
        #expect(text == "2026-01-01T00:00:00.988Z")
        #expect(Timestamp.parse(text) == Timestamp.rounded(date))
        #expect(Timestamp.parse("2026-01-01 00:00:00.988Z") == nil)
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }
}
