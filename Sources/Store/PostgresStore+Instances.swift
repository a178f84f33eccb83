import Foundation
import WebhookCore

extension PostgresStore {
    /// Upserts this process's heartbeat, forgets silent ones and counts the living, in one transaction.
    public func heartbeat(instanceID: String, now: Date, staleAfter: TimeInterval) throws -> Int {
        guard Self.isStorable(instanceID) else { return 1 }
        return try withTransaction("heartbeat") { connection in
            try connection.run(
                """
                INSERT INTO service_instances (id, heartbeat_at) VALUES ($1, $2)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
                """,
                [instanceID, now])
            try connection.run(
                "DELETE FROM service_instances WHERE heartbeat_at < $1", [now.addingTimeInterval(-staleAfter)])
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
