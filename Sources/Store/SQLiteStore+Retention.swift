import Foundation
import WebhookCore

extension SQLiteStore {
    /// Deletes the `batchSize` oldest expired events (created strictly before `cutoff`, no `pending` delivery)
    /// with their deliveries and those deliveries' attempts, in one `BEGIN IMMEDIATE` transaction.
    ///
    /// Four indexed statements: the selection walks `events_created` from the oldest event and checks each one's
    /// deliveries in `deliveries_event`; the three deletes take the chosen events as one bound parameter (a JSON
    /// array of their keys, read with `json_each`), so the statements stay the same whatever the batch size.
    /// Attempts are deleted explicitly before their deliveries (rather than left to the cascade) so that they are
    /// counted. Old events held back by a pending delivery are stepped over on every call; there are at most as
    /// many of them as the delivery queue is long.
    public func purgeExpired(before cutoff: Date, batchSize: Int) throws -> PurgeResult {
        guard batchSize > 0 else { return PurgeResult() }
        let cutoffText = Timestamp.format(cutoff)
        return try withWriteTransaction("purgeExpired") { connection in
            let eventSeqs = try connection.rows(Self.expiredEventsSQL, [cutoffText, batchSize]) { $0.int64(at: 0) }
            guard !eventSeqs.isEmpty else { return PurgeResult() }

            let batch = "[" + eventSeqs.map(String.init).joined(separator: ",") + "]"
            let attempts = try connection.run(Self.purgeAttemptsSQL, [batch])
            let deliveries = try connection.run(Self.purgeDeliveriesSQL, [batch])
            let events = try connection.run(Self.purgeEventsSQL, [batch])
            return PurgeResult(events: events, deliveries: deliveries, attempts: attempts)
        }
    }

    // MARK: Statements

    /// `?1` the cutoff as stored text, `?2` the batch size: the keys of the oldest expired events.
    /// `d.status = 'pending'` is written out (not bound), as everywhere else the queue is read.
    static let expiredEventsSQL = """
        SELECT e.seq FROM events e
        WHERE e.created_at < ?1
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')
        ORDER BY e.created_at, e.seq
        LIMIT ?2
        """

    /// `?1` a JSON array of event keys: deletes the attempts of their deliveries.
    static let purgeAttemptsSQL = """
        DELETE FROM attempts WHERE delivery_seq IN (
            SELECT d.seq FROM deliveries d WHERE d.event_seq IN (SELECT value FROM json_each(?1))
        )
        """

    /// `?1` a JSON array of event keys: deletes their deliveries.
    static let purgeDeliveriesSQL = "DELETE FROM deliveries WHERE event_seq IN (SELECT value FROM json_each(?1))"

    /// `?1` a JSON array of event keys: deletes the events.
    static let purgeEventsSQL = "DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?1))"
}
