import Foundation
import WebhookCore

extension PostgresStore {
    /// Deletes up to `batchSize` of the oldest events created before `cutoff` that have no pending delivery, with
    /// their deliveries and those deliveries' attempts, in one transaction.
    ///
    /// The candidate events are locked `SKIP LOCKED` (two processes purging at once take different batches), then
    /// their deliveries are locked and read again: a manual retry that made one pending in between keeps its
    /// event, and a retry that comes after the lock waits, then finds the delivery gone.
    public func purgeExpired(before cutoff: Date, batchSize: Int) throws -> PurgeResult {
        guard batchSize > 0 else { return PurgeResult() }
        return try withTransaction("purgeExpired") { connection in
            let candidates = try connection.query(
                """
                SELECT e.seq FROM events e
                WHERE e.created_at < $1
                  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')
                ORDER BY e.created_at, e.seq
                LIMIT $2
                FOR UPDATE OF e SKIP LOCKED
                """,
                [cutoff, batchSize]
            ).map { $0.int64(at: 0) }
            guard !candidates.isEmpty else { return PurgeResult() }

            let stillPending = Set(
                try connection.query(
                    "SELECT event_seq, status FROM deliveries WHERE event_seq = ANY($1::bigint[]) FOR UPDATE",
                    [Self.bigintArray(candidates)]
                ).map { row in (event: row.int64(at: 0), status: row.string(at: 1)) }
                    .filter { $0.status == Delivery.Status.pending.rawValue }.map(\.event))
            let expired = candidates.filter { !stillPending.contains($0) }
            guard !expired.isEmpty else { return PurgeResult() }

            let batch = Self.bigintArray(expired)
            let attempts = try connection.run(
                """
                DELETE FROM attempts WHERE delivery_seq IN (
                    SELECT seq FROM deliveries WHERE event_seq = ANY($1::bigint[]))
                """,
                [batch])
            let deliveries = try connection.run(
                "DELETE FROM deliveries WHERE event_seq = ANY($1::bigint[])", [batch])
            let events = try connection.run("DELETE FROM events WHERE seq = ANY($1::bigint[])", [batch])
            return PurgeResult(events: events, deliveries: deliveries, attempts: attempts)
        }
    }

    /// Integers in PostgreSQL's array syntax, bound as one parameter: `{1,2,3}`.
    static func bigintArray(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}
