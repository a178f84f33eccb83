import Foundation
import Testing

@testable import Store

@Suite struct DatabaseLocationTests {
    @Test(arguments: [
        ("sqlite:donutwork.db", "donutwork.db"),
        ("sqlite:/var/lib/donutwork/data.sqlite", "/var/lib/donutwork/data.sqlite"),
        ("sqlite:./data/x", "./data/x"),
        ("sqlite://relative.db", "relative.db"),
        ("sqlite:///absolute/path.db", "/absolute/path.db"),
        ("SQLite:caps.db", "caps.db"),
        ("donutwork.db", "donutwork.db"),
        ("/tmp/some dir/x.db", "/tmp/some dir/x.db"),
    ])
    func sqliteLocationsParse(text: String, path: String) throws {
        #expect(try DatabaseLocation(parsing: text) == .sqlite(path: path))
    }

    @Test(arguments: ["postgres://u:p@db/webhooks", "postgresql://db.internal:5432/webhooks?sslmode=require"])
    func postgresLocationsParse(text: String) throws {
        #expect(try DatabaseLocation(parsing: text) == .postgres(text))
    }

    @Test(arguments: [
        "", "sqlite:", "sqlite://", "sqlite::memory:", "donutwork.sqlite", "mysql://x/y.db", "http://a.db",
    ])
    func otherLocationsAreInvalid(text: String) {
        #expect(throws: StoreError.self) { try DatabaseLocation(parsing: text) }
    }

    @Test func invalidLocationsHidePasswords() {
        let error = #expect(throws: StoreError.self) { try DatabaseLocation(parsing: "mysql://admin:hunter2@db/x") }
        #expect(error == .invalidLocation("mysql://***@db/x"))
        #expect(DatabaseLocation.postgres("postgres://u:secret@db/w").description == "postgres://***@db/w")
    }

    @Test func openStoreOpensSQLiteAndRefusesPostgres() throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(.sqlite(path: directory.databasePath), logger: quietLogger, cipher: testCipher)
        defer { store.close() }
        try store.ping()

        #expect(throws: StoreError.invalidLocation("PostgreSQL support is not available in this build")) {
            try openStore(.postgres("postgres://db/w"), logger: quietLogger, cipher: testCipher)
        }
    }
}
