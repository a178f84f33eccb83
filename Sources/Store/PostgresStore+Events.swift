import Foundation
import WebhookCore

extension PostgresStore {
    /// Accepts an event in one transaction: the idempotency lookup, the event, and one pending delivery (due at
    /// `event.createdAt`) per enabled webhook of the company subscribed to its exact type.
    ///
    /// With an idempotency key, a transaction-scoped advisory lock on (company, key) comes first: two processes
    /// accepting the same key at once are serialised there, so the second sees the first's event and replays it.
    public func acceptEvent(_ event: Event, idempotencyWindow: TimeInterval) throws -> EventIntake {
        guard [event.id, event.type].allSatisfy(Self.isStorable), event.idempotencyKey.map(Self.isStorable) ?? true
        else {
            throw StoreError.conflict(operation: "acceptEvent", message: "a text value holds a NUL character")
        }
        var stored = event
        stored.createdAt = Timestamp.rounded(event.createdAt)
        return try withTransaction("acceptEvent") { connection in
            if let key = event.idempotencyKey {
                try connection.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2::text, 0))",
                    [event.companyID, key])
                let earlier = try connection.query(
                    """
                    SELECT id, company_id, type, dw_ms(created_at), payload, idempotency_key, delivery_count
                    FROM events
                    WHERE company_id = $1 AND idempotency_key = $2 AND created_at > $3
                    ORDER BY created_at DESC, seq DESC LIMIT 1
                    """,
                    [event.companyID, key, stored.createdAt.addingTimeInterval(-idempotencyWindow)]
                ).first { row in (event: Self.readEvent(row), deliveryCount: row.int(at: 6)) }
                if let earlier {
                    return EventIntake(event: earlier.event, deliveryCount: earlier.deliveryCount, replayed: true)
                }
            }

            let webhookSeqs = try connection.query(
                """
                SELECT DISTINCT w.seq FROM webhook_events e JOIN webhooks w ON w.seq = e.webhook_seq
                WHERE e.event_type = $1 AND w.company_id = $2 AND w.status = 'enabled'
                ORDER BY w.seq
                """,
                [event.type, event.companyID]
            ).map { $0.int64(at: 0) }

            let eventSeq = try connection.query(
                """
                INSERT INTO events (id, company_id, type, payload, idempotency_key, delivery_count, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq
                """,
                [
                    event.id, event.companyID, event.type, event.payload, event.idempotencyKey, webhookSeqs.count,
                    stored.createdAt,
                ]
            ).first { $0.int64(at: 0) }

            if !webhookSeqs.isEmpty {
                // One statement for every delivery: two parallel arrays, unnested row by row. The arrays hold our
                // own identifiers and integers (letters, digits, '_'), which need no quoting in array syntax.
                let ids = webhookSeqs.map { _ in Identifier.make(prefix: "dlv") }
                try connection.run(
                    """
                    INSERT INTO deliveries (id, event_seq, webhook_seq, status, next_attempt_at, created_at, updated_at)
                    SELECT d.id, $1, d.webhook_seq, 'pending', $2, $2, $2
                    FROM unnest($3::text[], $4::bigint[]) AS d (id, webhook_seq)
                    """,
                    [
                        eventSeq, stored.createdAt, "{" + ids.joined(separator: ",") + "}",
                        Self.bigintArray(webhookSeqs),
                    ])
            }
            return EventIntake(event: stored, deliveryCount: webhookSeqs.count, replayed: false)
        }
    }

    /// Reads columns 0–5: id, company_id, type, created_at, payload, idempotency_key.
    private static func readEvent(_ row: PostgresRow) -> Event {
        Event(
            id: row.string(at: 0), companyID: row.int64(at: 1), type: row.string(at: 2), createdAt: date(row, at: 3),
            payload: row.bytes(at: 4), idempotencyKey: row.optionalString(at: 5))
    }
}

// MARK: Delivery listings and manual retries

extension PostgresStore {
    public func deliveries(
        webhookID: String, companyID: Int64, status: Delivery.Status?, offset: Int, limit: Int
    ) throws -> (total: Int, page: [Delivery])? {
        guard Self.isStorable(webhookID) else { return nil }
        // REPEATABLE READ: the count and the page come from one snapshot, as in SQLite's read transaction.
        return try withTransaction("deliveries") { connection in
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            guard
                let webhookSeq = try connection.query(
                    "SELECT seq FROM webhooks WHERE id = $1 AND company_id = $2", [webhookID, companyID]
                ).first({ $0.int64(at: 0) })
            else { return nil }

            let statusText = status?.rawValue
            let total =
                try connection.query(
                    "SELECT count(*) FROM deliveries WHERE webhook_seq = $1 AND ($2::text IS NULL OR status = $2)",
                    [webhookSeq, statusText]
                ).first { $0.int(at: 0) } ?? 0
            guard limit > 0 else { return (total, []) }

            let page = try connection.query(
                """
                \(Self.deliverySelection)
                WHERE d.webhook_seq = $1 AND ($2::text IS NULL OR d.status = $2)
                ORDER BY d.seq LIMIT $3 OFFSET $4
                """,
                [webhookSeq, statusText, limit, max(0, offset)]
            ).map(Self.readDelivery)
            return (total, page)
        }
    }

    public func delivery(id: String, companyID: Int64) throws -> (delivery: Delivery, attempts: [DeliveryAttempt])? {
        guard Self.isStorable(id) else { return nil }
        return try withTransaction("delivery") { connection in
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            guard let (seq, delivery) = try Self.readDelivery(connection, id: id, companyID: companyID) else {
                return nil
            }
            let attempts = try connection.query(
                """
                SELECT number, dw_ms(attempted_at), status_code, error_kind, error_message, latency_ms,
                       response_headers, response_body
                FROM attempts WHERE delivery_seq = $1 ORDER BY number, seq
                """,
                [seq]
            ).map(Self.readAttempt)
            return (delivery, attempts)
        }
    }

    /// Makes a delivery of the company pending, unleased and due at `now`, whatever its status.
    /// - Throws: `StoreError.conflict` when its webhook is disabled.
    public func retryDelivery(id: String, companyID: Int64, now: Date) throws -> Delivery? {
        guard Self.isStorable(id) else { return nil }
        return try withTransaction("retryDelivery") { connection in
            // The webhook row first (the store's lock order), so a concurrent disable cannot slip in between.
            guard
                let target = try connection.query(
                    """
                    SELECT d.seq, w.status FROM deliveries d JOIN webhooks w ON w.seq = d.webhook_seq
                    WHERE d.id = $1 AND w.company_id = $2
                    FOR NO KEY UPDATE OF w
                    """,
                    [id, companyID]
                ).first({ (seq: $0.int64(at: 0), webhookStatus: $0.string(at: 1)) })
            else { return nil }
            guard target.webhookStatus == Webhook.Status.enabled.rawValue else {
                throw StoreError.conflict(operation: "retryDelivery", message: "the webhook is disabled")
            }
            try connection.run(
                """
                UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, updated_at = $1
                WHERE seq = $2
                """,
                [now, target.seq])
            return try Self.readDelivery(connection, id: id, companyID: companyID)?.delivery
        }
    }

    // MARK: Helpers

    /// Whole deliveries with their event and webhook ids; callers add WHERE and ORDER BY on `d`, `e` and `w`.
    private static let deliverySelection = """
        SELECT d.id, e.id, e.type, w.id, d.status, d.attempt_count, dw_ms(d.next_attempt_at), dw_ms(d.created_at),
               dw_ms(d.updated_at), d.seq
        FROM deliveries d
        JOIN events e ON e.seq = d.event_seq
        JOIN webhooks w ON w.seq = d.webhook_seq
        """

    private static func readDelivery(
        _ connection: PostgresConnection, id: String, companyID: Int64
    ) throws -> (seq: Int64, delivery: Delivery)? {
        try connection.query("\(deliverySelection) WHERE d.id = $1 AND w.company_id = $2", [id, companyID])
            .first { row in (row.int64(at: 9), try readDelivery(row)) }
    }

    /// Reads columns 0–8 of `deliverySelection`.
    private static func readDelivery(_ row: PostgresRow) throws -> Delivery {
        guard let status = Delivery.Status(rawValue: row.string(at: 4)) else {
            throw PostgresError(state: "XX000", message: "unknown delivery status in column 4")
        }
        return Delivery(
            id: row.string(at: 0), eventID: row.string(at: 1), eventType: row.string(at: 2),
            webhookID: row.string(at: 3), status: status, attemptCount: row.int(at: 5),
            nextAttemptAt: row.optionalDate(at: 6), createdAt: date(row, at: 7), updatedAt: date(row, at: 8))
    }

    private static func readAttempt(_ row: PostgresRow) throws -> DeliveryAttempt {
        var headers: [String: String] = [:]
        if let text = row.optionalString(at: 6) {
            guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else {
                throw PostgresError(state: "XX000", message: "malformed response headers in column 6")
            }
            headers = decoded
        }
        return DeliveryAttempt(
            number: row.int(at: 0), attemptedAt: date(row, at: 1), statusCode: row.optionalInt(at: 2),
            errorKind: row.optionalString(at: 3), errorMessage: row.optionalString(at: 4),
            latencyMilliseconds: row.int(at: 5), responseHeaders: headers, responseBody: row.bytes(at: 7))
    }
}
