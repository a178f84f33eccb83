import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// One page of a company's webhook's deliveries in creation order, optionally of one status, with the total
    /// for paging, both from one snapshot; `nil` when the webhook is not the company's.
    public func deliveries(
        webhookID: String, companyID: Int64, status: Delivery.Status?, offset: Int, limit: Int
    ) throws -> (total: Int, page: [Delivery])? {
        try withReadTransaction("deliveries") { connection in
            guard
                let webhookSeq = try connection.row(
                    "SELECT seq FROM webhooks WHERE id = ? AND company_id = ?", [webhookID, companyID],
                    { $0.int64(at: 0) }
                )
            else { return nil }

            let statusText = status?.rawValue
            let total =
                try connection.row(
                    "SELECT COUNT(*) FROM deliveries WHERE webhook_seq = ?1 AND (?2 IS NULL OR status = ?2)",
                    [webhookSeq, statusText]
                ) { $0.int(at: 0) } ?? 0
            guard limit > 0 else { return (total, []) }

            let page = try connection.rows(
                """
                \(Self.deliverySelection)
                WHERE d.webhook_seq = ?1 AND (?2 IS NULL OR d.status = ?2)
                ORDER BY d.seq LIMIT ?3 OFFSET ?4
                """,
                [webhookSeq, statusText, limit, max(0, offset)],
                Self.readDelivery
            )
            return (total, page)
        }
    }

    /// A delivery of the company with its attempts in order, or `nil` (also for another company's delivery).
    public func delivery(id: String, companyID: Int64) throws -> (delivery: Delivery, attempts: [DeliveryAttempt])? {
        try withReadTransaction("delivery") { connection in
            guard let (seq, delivery) = try Self.readDelivery(connection, id: id, companyID: companyID) else {
                return nil
            }
            let attempts = try connection.rows(
                """
                SELECT number, attempted_at, status_code, error_kind, error_message, latency_ms, response_headers,
                       response_body
                FROM attempts WHERE delivery_seq = ? ORDER BY number, seq
                """,
                [seq],
                Self.readAttempt
            )
            return (delivery, attempts)
        }
    }

    /// Makes a delivery of the company pending, unleased and due at `now`, whatever its status. `nil` when not
    /// found.
    ///
    /// - Throws: `StoreError.conflict` when its webhook is disabled (enable the webhook first).
    /// - Important: clearing the lease of a delivery in flight lets it be claimed again beside that attempt; a
    ///   receiver may then see the event twice, which at-least-once delivery allows.
    public func retryDelivery(id: String, companyID: Int64, now: Date) throws -> Delivery? {
        try withWriteTransaction("retryDelivery") { connection in
            guard
                let target = try connection.row(
                    """
                    SELECT d.seq, w.status FROM deliveries d JOIN webhooks w ON w.seq = d.webhook_seq
                    WHERE d.id = ? AND w.company_id = ?
                    """,
                    [id, companyID],
                    { (seq: $0.int64(at: 0), webhookStatus: $0.string(at: 1)) }
                )
            else { return nil }
            guard target.webhookStatus == Webhook.Status.enabled.rawValue else {
                throw StoreError.conflict(operation: "retryDelivery", message: "the webhook is disabled")
            }

            try connection.run(
                """
                UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL, updated_at = ?
                WHERE seq = ?
                """,
                [Timestamp.milliseconds(now), Timestamp.format(now), target.seq]
            )
            return try Self.readDelivery(connection, id: id, companyID: companyID)?.delivery
        }
    }

    // MARK: Helpers

    /// Whole deliveries with their event and webhook ids; callers add WHERE and ORDER BY on `d`, `e` and `w`.
    private static let deliverySelection = """
        SELECT d.id, e.id, e.type, w.id, d.status, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at,
               d.seq
        FROM deliveries d
        JOIN events e ON e.seq = d.event_seq
        JOIN webhooks w ON w.seq = d.webhook_seq
        """

    /// The company's delivery with this id and its internal key.
    private static func readDelivery(
        _ connection: SQLiteConnection, id: String, companyID: Int64
    ) throws -> (seq: Int64, delivery: Delivery)? {
        try connection.row("\(deliverySelection) WHERE d.id = ? AND w.company_id = ?", [id, companyID]) { row in
            (row.int64(at: 9), try readDelivery(row))
        }
    }

    /// Reads columns 0–8 of `deliverySelection`.
    private static func readDelivery(_ row: Statement) throws -> Delivery {
        guard let status = Delivery.Status(rawValue: row.string(at: 4)) else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "unknown delivery status in column 4")
        }
        return Delivery(
            id: row.string(at: 0), eventID: row.string(at: 1), eventType: row.string(at: 2),
            webhookID: row.string(at: 3), status: status, attemptCount: row.int(at: 5),
            nextAttemptAt: optionalMillisecondsDate(row, at: 6), createdAt: try date(row, at: 7),
            updatedAt: try date(row, at: 8)
        )
    }

    /// Reads the attempt columns in the order `delivery(id:companyID:)` selects them.
    private static func readAttempt(_ row: Statement) throws -> DeliveryAttempt {
        var headers: [String: String] = [:]
        if !row.isNull(at: 6) {
            guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(row.string(at: 6).utf8))
            else { throw SQLiteError(code: SQLITE_MISMATCH, message: "malformed response headers in column 6") }
            headers = decoded
        }
        return DeliveryAttempt(
            number: row.int(at: 0), attemptedAt: try date(row, at: 1),
            statusCode: row.isNull(at: 2) ? nil : row.int(at: 2), errorKind: row.optionalString(at: 3),
            errorMessage: row.optionalString(at: 4), latencyMilliseconds: row.int(at: 5), responseHeaders: headers,
            responseBody: row.blob(at: 7)
        )
    }
}
