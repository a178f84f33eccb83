import Foundation
import WebhookCore

extension SQLiteStore {
    /// Upserts this process's heartbeat, forgets silent ones and counts the living, in one write transaction.
    public func heartbeat(instanceID: String, now: Date, staleAfter: TimeInterval) throws -> Int {
        let nowMilliseconds = Timestamp.milliseconds(now)
        let cutoff = Timestamp.milliseconds(now.addingTimeInterval(-staleAfter))
        return try withWriteTransaction("heartbeat") { connection in
            try connection.run(
                """
                INSERT INTO service_instances (id, heartbeat_at) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
                """,
                [instanceID, nowMilliseconds]
            )
            try connection.run("DELETE FROM service_instances WHERE heartbeat_at < ?", [cutoff])
            return try connection.row("SELECT COUNT(*) FROM service_instances") { $0.int(at: 0) } ?? 1
        }
    }

    /// Deletes this process's heartbeat.
    public func removeInstance(instanceID: String) throws {
        _ = try withWriteTransaction("removeInstance") { connection in
            try connection.run("DELETE FROM service_instances WHERE id = ?", [instanceID])
        }
    }
}
