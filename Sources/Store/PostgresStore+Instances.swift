import Foundation
import WebhookCore

extension PostgresStore {
    /// Upserts this process's heartbeat, forgets silent ones and counts the living, in one transaction.
    public func heartbeat(instanceID: String, now: Date, staleAfter: TimeInterval) throws -> Int {
        guard Self.isStorable(instanceID) else { return 1 }
        return try withTransaction("heartbeat") { connection in
            // The database's clock, not this machine's: processes on machines whose clocks disagree still agree
            // on who is alive. `now` is used by SQLite, where every process shares one machine's clock.
            try connection.run(
                """
                INSERT INTO service_instances (id, heartbeat_at) VALUES ($1, now())
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
                """,
                [instanceID])
            try connection.run(
                "DELETE FROM service_instances WHERE heartbeat_at < now() - make_interval(secs => $1)",
                [staleAfter])
            return try connection.query("SELECT count(*) FROM service_instances").first { $0.int(at: 0) } ?? 1
        }
    }

    /// Deletes this process's heartbeat.
    public func removeInstance(instanceID: String) throws {
        guard Self.isStorable(instanceID) else { return }
        _ = try withTransaction("removeInstance") { connection in
            try connection.run("DELETE FROM service_instances WHERE id = $1", [instanceID])
        }
    }
}
