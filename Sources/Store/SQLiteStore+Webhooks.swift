import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// Stores a new webhook and its event subscriptions. Throws `StoreError.conflict` if the id is taken.
    public func insertWebhook(_ webhook: Webhook) throws {
        try withWriteTransaction("insertWebhook") { connection in
            try connection.run(
                """
                INSERT INTO webhooks
                    (id, company_id, name, description, url, token, status, disabled_reason, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    webhook.id, webhook.companyID, webhook.name, webhook.description, webhook.url, webhook.token,
                    webhook.status.rawValue, webhook.disabledReason, SQLiteTimestamp.format(webhook.createdAt),
                ]
            )
            let seq = connection.lastInsertedRowID
            for (position, eventType) in webhook.events.enumerated() {
                try connection.run(
                    "INSERT INTO webhook_events (webhook_seq, position, event_type) VALUES (?, ?, ?)",
                    [seq, position, eventType]
                )
            }
        }
    }

    /// One page of a company's webhooks in creation order.
    public func webhooks(companyID: Int64, offset: Int, limit: Int) throws -> [Webhook] {
        guard limit > 0 else { return [] }
        return try withConnection("webhooks") { connection in
            try Self.readWebhooks(
                connection,
                from: "SELECT * FROM webhooks WHERE company_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                [companyID, limit, max(0, offset)]
            )
        }
    }

    /// How many webhooks a company has.
    public func countWebhooks(companyID: Int64) throws -> Int {
        try withConnection("countWebhooks") { connection in
            try connection.row("SELECT COUNT(*) FROM webhooks WHERE company_id = ?", [companyID]) {
                $0.int(at: 0)
            } ?? 0
        }
    }

    /// The webhook with this id if it belongs to this company, else `nil`.
    public func webhook(id: String, companyID: Int64) throws -> Webhook? {
        try withConnection("webhook") { connection in
            try Self.readWebhooks(
                connection,
                from: "SELECT * FROM webhooks WHERE id = ? AND company_id = ?",
                [id, companyID]
            ).first
        }
    }

    /// Deletes the webhook (its subscriptions cascade) if it belongs to this company. Returns `false` if none.
    public func deleteWebhook(id: String, companyID: Int64) throws -> Bool {
        try withWriteTransaction("deleteWebhook") { connection in
            try connection.run("DELETE FROM webhooks WHERE id = ? AND company_id = ?", [id, companyID]) > 0
        }
    }

    // MARK: Helpers

    /// Reads the webhooks `selection` picks, with their events, in one statement (so one consistent snapshot).
    ///
    /// `selection` is one of our constant queries selecting whole `webhooks` rows; it keeps its own order.
    private static func readWebhooks(
        _ connection: SQLiteConnection, from selection: String, _ values: [any SQLiteBindable]
    ) throws -> [Webhook] {
        let sql = """
            SELECT w.seq, w.id, w.company_id, w.name, w.description, w.url, w.token, w.status,
                   w.disabled_reason, w.created_at, e.event_type
            FROM (\(selection)) w
            LEFT JOIN webhook_events e ON e.webhook_seq = w.seq
            ORDER BY w.seq, e.position
            """
        var result: [Webhook] = []
        var lastSeq: Int64?
        try connection.withStatement(sql, values) { row in
            while try row.step() {
                let seq = row.int64(at: 0)
                if seq != lastSeq {
                    lastSeq = seq
                    result.append(try readWebhook(row))
                }
                if !row.isNull(at: 10) {
                    result[result.count - 1].events.append(row.string(at: 10))
                }
            }
        }
        return result
    }

    /// Reads columns 1–9 of the joined row, without events.
    private static func readWebhook(_ row: Statement) throws -> Webhook {
        let statusText = row.string(at: 7)
        guard let status = Webhook.Status(rawValue: statusText) else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "unknown webhook status in column 7")
        }
        return Webhook(
            id: row.string(at: 1), companyID: row.int64(at: 2), name: row.string(at: 3),
            description: row.optionalString(at: 4), url: row.string(at: 5), events: [], token: row.string(at: 6),
            status: status, disabledReason: row.optionalString(at: 8), createdAt: try date(row, at: 9)
        )
    }
}
