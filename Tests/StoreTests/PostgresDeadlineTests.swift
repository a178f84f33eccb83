import Foundation
import TestSupport
import Testing

@testable import Store

/// What a statement that ran out of `statementTimeout` leaves behind on the server.
@Suite struct PostgresDeadlineTests {
    /// A statement waiting on a lock that another session holds: the client gives up at its deadline and closes the
    /// connection, and the server must not go on waiting for the lock in that session (PostgreSQL does not notice a
    /// closed client while a backend waits). Otherwise every request that times out behind one stuck transaction
    /// leaves a backend behind, until the server refuses every connection ("too many clients").
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only"))
    func aStatementThatRanOutStopsOnTheServerToo() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let holder = try PostgresConnection(conninfo: database.url)
        defer { holder.close() }
        try holder.execute("CREATE TABLE blocked (id integer)")
        try holder.execute("BEGIN; LOCK TABLE blocked IN ACCESS EXCLUSIVE MODE")
        defer { try? holder.execute("ROLLBACK") }

        let waiter = try PostgresConnection(conninfo: database.url, statementTimeout: 1)
        defer { waiter.close() }
        let name = "deadline-\(UUID().uuidString.prefix(8))"
        try waiter.execute("SET application_name = '\(name)'")
        let started = Date()
        #expect(throws: PostgresError.self) { try waiter.query("SELECT count(*) FROM blocked") }
        #expect(Date().timeIntervalSince(started) < 3)

        // The server may take a moment to notice, but not as long as the lock is held. (Read from outside the
        // holder's transaction, which keeps seeing its first snapshot of pg_stat_activity.)
        func left() throws -> String {
            try database.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(name)'")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let giveUp = Date().addingTimeInterval(5)
        while try left() != "0" && Date() < giveUp {
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(try left() == "0", "the session that ran out still waits on the server")
    }
}
