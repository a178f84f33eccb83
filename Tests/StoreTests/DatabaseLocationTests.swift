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

    @Test(arguments: [
        "postgres://u:p@db/webhooks", "postgresql://db.internal:5432/webhooks?sslmode=require",
        "host=db1 port=5432 dbname=webhooks user=dw", "dbname=webhooks", " host=/run/postgresql dbname=w",
    ])
    func postgresLocationsParse(text: String) throws {
        #expect(try DatabaseLocation(parsing: text) == .postgres(text))
    }

    @Test(arguments: [
        "", "sqlite:", "sqlite://", "sqlite::memory:", "donutwork.sqlite", "mysql://x/y.db", "http://a.db",
        "=dbname",
    ])
    func otherLocationsAreInvalid(text: String) {
        #expect(throws: StoreError.self) { try DatabaseLocation(parsing: text) }
    }

    @Test func invalidLocationsHidePasswords() {
        let error = #expect(throws: StoreError.self) { try DatabaseLocation(parsing: "mysql://admin:hunter2@db/x") }
        #expect(error == .invalidLocation("mysql://***@db/x"))
        #expect(DatabaseLocation.postgres("postgres://u:secret@db/w").description == "postgres://***@db/w")
    }

    @Test(arguments: [
        ("host=db user=dw password=hunter2 dbname=w", "host=db user=dw password=*** dbname=w"),
        ("host=db password = hunter2 dbname=w", "host=db password = *** dbname=w"),
        ("host=db\tpassword=hunter2\tdbname=w", "host=db\tpassword=***\tdbname=w"),
        ("host=db password='hunter 2\\' x' dbname=w", "host=db password=*** dbname=w"),
        ("application_name=x PASSWORD=hunter2 host=db", "application_name=x PASSWORD=*** host=db"),
        ("postgresql://dw@db/w?password=hunter2&sslmode=require", "postgresql://***@db/w?password=***&sslmode=require"),
        ("postgres://dw:hunter2@db/w", "postgres://***@db/w"),
    ])
    func passwordsAreHiddenInEveryForm(text: String, shown: String) throws {
        let location = try DatabaseLocation(parsing: text)
        #expect(location == .postgres(text))
        #expect(location.description == shown)
        #expect(!location.description.contains("hunter"))
    }

    @Test func aMalformedConnectionStringIsRefusedWithoutQuotingIt() {
        let error = #expect(throws: StoreError.self) {
            try openStore(
                .postgres("postgresql://dw:Secret%zzLeak@127.0.0.1:1/w"), logger: quietLogger, cipher: testCipher)
        }
        #expect(!String(describing: error).contains("Leak"), "\(String(describing: error))")
    }

    @Test func openStoreOpensSQLiteAndReportsAnUnreachablePostgresAsUnavailable() throws {
        let directory = try TemporaryDirectory()
        let store = try openStore(.sqlite(path: directory.databasePath), logger: quietLogger, cipher: testCipher)
        defer { store.close() }
        try store.ping()

        // Port 1 on loopback refuses at once: the store says "unavailable" (503 to callers), not "failed".
        let error = #expect(throws: StoreError.self) {
            try openStore(.postgres("postgresql://dw@127.0.0.1:1/w"), logger: quietLogger, cipher: testCipher)
        }
        guard case .unavailable(let operation, let message) = error else {
            Issue.record("expected .unavailable, got \(String(describing: error))")
            return
        }
        #expect(operation == "open")
        #expect(message.contains("127.0.0.1"))
    }
}
