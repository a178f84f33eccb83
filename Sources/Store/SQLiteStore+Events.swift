import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// Accepts an event in one `BEGIN IMMEDIATE` transaction: the idempotency lookup, the event and one pending
    /// delivery (due at `event.createdAt`) per enabled webhook of the company subscribed to its exact type.
    ///
    /// A key the company used within `idempotencyWindow` seconds before `event.createdAt` stores nothing and
    /// returns the earlier event with the delivery count it had then. The returned event's `createdAt` is rounded
    /// to the stored millisecond, so a first answer and its replays carry the same value.
    public func acceptEvent(_ event: Event, idempotencyWindow: TimeInterval) throws -> EventIntake {
        try withWriteTransaction("acceptEvent") { connection in
            try Self.acceptEvent(event, idempotencyWindow: idempotencyWindow, on: connection)
        }
    }

    // MARK: Helpers

    /// The body of `acceptEvent` on a connection already inside a write transaction (tests abort it midway).
    static func acceptEvent(
        _ event: Event, idempotencyWindow: TimeInterval, on connection: SQLiteConnection
    ) throws -> EventIntake {
        if let key = event.idempotencyKey {
            let windowStart = Timestamp.format(event.createdAt.addingTimeInterval(-idempotencyWindow))
            let earlier = try connection.row(
                """
                SELECT id, company_id, type, created_at, payload, idempotency_key, delivery_count FROM events
                WHERE company_id = ? AND idempotency_key = ? AND created_at > ?
                ORDER BY created_at DESC, seq DESC LIMIT 1
                """,
                [event.companyID, key, windowStart]
            ) { row in (event: try readEvent(row), deliveryCount: row.int(at: 6)) }
            if let earlier {
                return EventIntake(event: earlier.event, deliveryCount: earlier.deliveryCount, replayed: true)
            }
        }

        // Exact type names; the subscription index finds the webhooks, the rowid join checks company and status.
        let webhookSeqs = try connection.rows(
            """
            SELECT DISTINCT w.seq FROM webhook_events e JOIN webhooks w ON w.seq = e.webhook_seq
            WHERE e.event_type = ? AND w.company_id = ? AND w.status = 'enabled'
            ORDER BY w.seq
            """,
            [event.type, event.companyID]
        ) { $0.int64(at: 0) }

        var stored = event
        stored.createdAt = Timestamp.rounded(event.createdAt)
        let createdAt = Timestamp.format(stored.createdAt)
        try connection.run(
            """
            INSERT INTO events (id, company_id, type, payload, idempotency_key, delivery_count, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [event.id, event.companyID, event.type, event.payload, event.idempotencyKey, webhookSeqs.count, createdAt]
        )
        let eventSeq = connection.lastInsertedRowID

        let dueAt = Timestamp.milliseconds(stored.createdAt)
        for webhookSeq in webhookSeqs {
            try connection.run(
                """
                INSERT INTO deliveries (id, event_seq, webhook_seq, status, next_attempt_at, created_at, updated_at)
                VALUES (?, ?, ?, 'pending', ?, ?, ?)
                """,
                [Identifier.make(prefix: "dlv"), eventSeq, webhookSeq, dueAt, createdAt, createdAt]
            )
        }
        return EventIntake(event: stored, deliveryCount: webhookSeqs.count, replayed: false)
    }

    /// Reads columns 0–5: id, company_id, type, created_at, payload, idempotency_key.
    private static func readEvent(_ row: Statement) throws -> Event {
        Event(
            id: row.string(at: 0), companyID: row.int64(at: 1), type: row.string(at: 2),
            createdAt: try date(row, at: 3), payload: row.blob(at: 4), idempotencyKey: row.optionalString(at: 5)
        )
    }
}
