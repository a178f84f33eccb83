import Foundation
import Locking
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

    /// PostgreSQL only: the queue index of v2 is built `CONCURRENTLY`. A plain build waits for the writers already
    /// at work on `deliveries` and holds up every writer after it until it is done, which on a large table is
    /// minutes of intake answered 503; built concurrently, writers go on while it waits and builds.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only"))
    func theQueueIndexIsBuiltWithoutHoldingUpWrites() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let migrator = try PostgresConnection(conninfo: database.url)
        defer { migrator.close() }
        #expect(try PostgresMigration.migrate(migrator, logger: quietLogger, upTo: 1) == 1)

        // A transaction that is writing to deliveries and has not ended: any index build waits for it.
        let holder = try PostgresConnection(conninfo: database.url)
        defer { holder.close() }
        try holder.execute("BEGIN; LOCK TABLE deliveries IN ROW EXCLUSIVE MODE")
        nonisolated(unsafe) let migrating = migrator
        let migration = Background { try PostgresMigration.migrate(migrating, logger: quietLogger) }
        func buildsWaiting() throws -> String {
            try database.psql(
                """
                SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                  AND query LIKE 'CREATE INDEX%deliveries_pending_webhook%'
                """
            ).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let giveUp = Date().addingTimeInterval(10)
        while try buildsWaiting() != "1" && Date() < giveUp {
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(try buildsWaiting() == "1", "the index build never waited for the open transaction")

        // Another writer meanwhile is answered at once, not queued behind the build (2 s and it gives up).
        let writer = try PostgresConnection(conninfo: database.url, statementTimeout: 2)
        defer { writer.close() }
        #expect(try writer.run("UPDATE deliveries SET lease_until = NULL WHERE seq < 0") == 0)

        try holder.execute("COMMIT")
        #expect(try migration.wait(seconds: 10)?.get() == PostgresMigration.latestVersion)
        let valid = try database.psql(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'deliveries_pending_webhook'::regclass")
        #expect(valid.trimmingCharacters(in: .whitespacesAndNewlines) == "t")
        let versions = try database.psql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "1,2")
    }

    /// Four processes starting at once on a new database: each step is applied once, the catalog seeded once,
    /// and every process opens the store at the latest version.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only"))
    func processesStartingTogetherApplyEachStepOnce() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let opened = Locked<[Result<Int, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let result = Result { try Self.openedVersion(database.url) }
            opened.withLock { $0.append(result) }
        }
        let versions = try opened.withLock { $0 }.map { try $0.get() }
        #expect(versions == Array(repeating: PostgresMigration.latestVersion, count: 4))
        let recorded = try database.psql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")
        #expect(recorded.trimmingCharacters(in: .whitespacesAndNewlines) == "1,2")
        let global = try database.psql("SELECT count(*) FROM event_types WHERE company_id IS NULL")
        #expect(global.trimmingCharacters(in: .whitespacesAndNewlines) == String(EventType.defaultCatalog.count))
    }

    /// PostgreSQL only: start-up migrations "wait as long as they take", whatever the database or role says
    /// (`ALTER DATABASE ... SET statement_timeout`, `lock_timeout`, common in production). The v2 build waits for
    /// the transactions already running, so with a server-side limit a start-up during any longer transaction was
    /// cancelled, left an INVALID index behind, and failed again at every start ("store unavailable during open:
    /// canceling statement due to statement timeout").
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only"))
    func startUpMigrationsIgnoreTheServersStatementAndLockTimeouts() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        do {
            let setup = try PostgresConnection(conninfo: database.url)
            defer { setup.close() }
            #expect(try PostgresMigration.migrate(setup, logger: quietLogger, upTo: 1) == 1)
        }
        _ = try database.psql(
            """
            DO $$ BEGIN
              EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '1s');
              EXECUTE format('ALTER DATABASE %I SET lock_timeout = %L', current_database(), '1s');
            END $$
            """
        )

        // A transaction writing to deliveries that lasts longer than those limits: the concurrent build waits.
        let holder = try PostgresConnection(conninfo: database.url)
        defer { holder.close() }
        try holder.execute("BEGIN; LOCK TABLE deliveries IN ROW EXCLUSIVE MODE")
        let start = Background { try Self.openedVersion(database.url) }
        Thread.sleep(forTimeInterval: 2.5)
        try holder.execute("COMMIT")
        let result = start.wait(seconds: 15)
        #expect(
            (try? result?.get()) == PostgresMigration.latestVersion,
            "start-up ended with \(String(describing: result))")
        let index = try database.psql(
            "SELECT coalesce((SELECT indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                + "WHERE c.relname = 'deliveries_pending_webhook'), 'missing')")
        #expect(index.trimmingCharacters(in: .whitespacesAndNewlines) == "true")
    }

    /// PostgreSQL only: a process whose role may read and write rows but not create (what the README asks of a
    /// migrated database) starting while an administrator's `migrate` holds the lock. It waits for the lock, as it
    /// should, but then ran `CREATE TABLE IF NOT EXISTS` on a database that was up to date by then and failed with
    /// "permission denied for schema public". A concurrent index build makes that wait minutes long on a large
    /// `deliveries`, so every process started during an upgrade failed.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only"))
    func aRoleWithoutCreateRightsOpensTheStoreOnceAnotherProcessMigrated() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        do {
            let setup = try PostgresConnection(conninfo: database.url)
            defer { setup.close() }
            #expect(try PostgresMigration.migrate(setup, logger: quietLogger) == PostgresMigration.latestVersion)
        }
        let role = "dw_rows_only_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        _ = try database.psql(
            """
            CREATE ROLE \(role) LOGIN;
            REVOKE CREATE ON SCHEMA public FROM PUBLIC;
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role);
            """
        )
        defer { _ = try? database.psql("DROP OWNED BY \(role); DROP ROLE \(role)") }
        var components = try #require(URLComponents(string: database.url))
        components.user = role
        let rowsOnlyURL = try #require(components.string)

        // An administrator's migration is under way: it holds the lock, the last step not yet recorded.
        _ = try database.psql("DELETE FROM schema_migrations WHERE version = \(PostgresMigration.latestVersion)")
        let administrator = try PostgresConnection(conninfo: database.url)
        defer { administrator.close() }
        try administrator.query("SELECT pg_advisory_lock($1)", [PostgresMigration.lockKey])

        let start = Background { try Self.openedVersion(rowsOnlyURL) }
        Thread.sleep(forTimeInterval: 1)
        #expect(start.result == nil, "the process did not wait for the migration under way")
        _ = try administrator.run(
            "INSERT INTO schema_migrations (version) VALUES ($1)", [PostgresMigration.latestVersion])
        try administrator.query("SELECT pg_advisory_unlock($1)", [PostgresMigration.lockKey])

        let result = start.wait(seconds: 10)
        #expect(
            (try? result?.get()) == PostgresMigration.latestVersion,
            "start-up ended with \(String(describing: result))")
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

extension MigrationTests {
    /// Opens a PostgreSQL store on `url` as `serve` does at start (migrations first) and returns its schema version.
    static func openedVersion(_ url: String) throws -> Int {
        let store = try PostgresStore(conninfo: url, logger: quietLogger, cipher: testCipher)
        defer { store.close() }
        return store.schemaVersion
    }
}

/// Work on a thread of its own (a start-up or a migration) while the test holds up the database.
private final class Background: Sendable {
    private let outcome = Locked<Result<Int, any Error>?>(nil)

    init(_ body: @escaping @Sendable () throws -> Int) {
        let outcome = outcome
        Thread {
            let result = Result { try body() }
            outcome.withLock { $0 = result }
        }.start()
    }

    /// How it ended, or nil while it runs.
    var result: Result<Int, any Error>? { outcome.withLock { $0 } }

    /// How it ended, waiting up to `seconds` for it; nil when it still runs.
    func wait(seconds: Double) -> Result<Int, any Error>? {
        let giveUp = Date().addingTimeInterval(seconds)
        while result == nil && Date() < giveUp {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return result
    }
}
