import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// Stores a new webhook and its event subscriptions, tokens sealed. Throws `StoreError.conflict` if the id
    /// is taken.
    public func insertWebhook(_ webhook: Webhook) throws {
        let token = sealToken(webhook.token, webhookID: webhook.id)
        let previousToken = webhook.previousToken.map { sealToken($0, webhookID: webhook.id) }
        try withWriteTransaction("insertWebhook") { connection in
            try connection.run(
                """
                INSERT INTO webhooks
                    (id, company_id, name, description, url, token, status, disabled_reason, created_at,
                     previous_token, previous_token_valid_until)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    webhook.id, webhook.companyID, webhook.name, webhook.description, webhook.url, token,
                    webhook.status.rawValue, webhook.disabledReason, Timestamp.format(webhook.createdAt),
                    previousToken, webhook.previousTokenValidUntil.map(Timestamp.format),
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
            try readWebhooks(
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
            try readWebhook(connection, id: id, companyID: companyID)
        }
    }

    /// Deletes the webhook if it belongs to this company; its subscriptions, deliveries and their attempts
    /// cascade. Returns `false` if none.
    public func deleteWebhook(id: String, companyID: Int64) throws -> Bool {
        try withWriteTransaction("deleteWebhook") { connection in
            try connection.run("DELETE FROM webhooks WHERE id = ? AND company_id = ?", [id, companyID]) > 0
        }
    }

    /// None: an SQLite file is for one `serve` process, whose own deletes and disables reach its dispatcher directly.
    public func watchStoppedWebhooks(_ handler: @escaping @Sendable (Int64) -> Void) -> (any StoreWatch)? {
        nil
    }

    public func enabledWebhooks(among webhookSeqs: Set<Int64>) throws -> Set<Int64> {
        guard !webhookSeqs.isEmpty else { return [] }
        return try withConnection("enabledWebhooks") { connection in
            try Set(
                webhookSeqs.filter { seq in
                    try connection.row("SELECT 1 FROM webhooks WHERE seq = ? AND status = 'enabled'", [seq]) { _ in true
                    }
                        ?? false
                })
        }
    }

    /// The store's internal key of a company's webhook (the dispatcher's per-endpoint unit), or `nil`.
    public func webhookSeq(id: String, companyID: Int64) throws -> Int64? {
        try withConnection("webhookSeq") { connection in
            try connection.row("SELECT seq FROM webhooks WHERE id = ? AND company_id = ?", [id, companyID]) {
                $0.int64(at: 0)
            }
        }
    }

    /// Enables a webhook, clearing its reason and failure streak. Deliveries cancelled when it was disabled stay
    /// cancelled (retry them one by one). `nil` when not found. SQLite keeps no enable time, so `now` is unused.
    public func enableWebhook(id: String, companyID: Int64, now: Date) throws -> Webhook? {
        try withWriteTransaction("enableWebhook") { connection in
            let changed = try connection.run(
                """
                UPDATE webhooks SET status = 'enabled', disabled_reason = NULL, failing_since = NULL
                WHERE id = ? AND company_id = ?
                """,
                [id, companyID]
            )
            return changed > 0 ? try readWebhook(connection, id: id, companyID: companyID) : nil
        }
    }

    /// Makes `newToken` the signing secret; the old one keeps signing beside it until `previousValidUntil`
    /// (dropped at once when that is not after `now`). A token rotated out earlier is forgotten. `nil` when not
    /// found.
    public func rotateToken(
        id: String, companyID: Int64, newToken: String, previousValidUntil: Date, now: Date
    ) throws -> Webhook? {
        let sealed = sealToken(newToken, webhookID: id)
        let keepsPrevious = previousValidUntil > now
        return try withWriteTransaction("rotateToken") { connection in
            // The current token is already sealed under this webhook's id, so it moves over as stored.
            let changed = try connection.run(
                """
                UPDATE webhooks
                SET previous_token = CASE WHEN ? THEN token END, previous_token_valid_until = ?, token = ?
                WHERE id = ? AND company_id = ?
                """,
                [
                    keepsPrevious ? 1 : 0, keepsPrevious ? Timestamp.format(previousValidUntil) : nil, sealed,
                    id, companyID,
                ]
            )
            return changed > 0 ? try readWebhook(connection, id: id, companyID: companyID) : nil
        }
    }

    // MARK: Helpers

    /// The company's webhook with this id, read on `connection` (inside the caller's transaction if any).
    func readWebhook(_ connection: SQLiteConnection, id: String, companyID: Int64) throws -> Webhook? {
        try readWebhooks(connection, from: "SELECT * FROM webhooks WHERE id = ? AND company_id = ?", [id, companyID])
            .first
    }

    /// Reads the webhooks `selection` picks, with their events, in one statement (so one consistent snapshot).
    ///
    /// `selection` is one of our constant queries selecting whole `webhooks` rows; it keeps its own order.
    private func readWebhooks(
        _ connection: SQLiteConnection, from selection: String, _ values: [any SQLiteBindable]
    ) throws -> [Webhook] {
        let sql = """
            SELECT w.seq, w.id, w.company_id, w.name, w.description, w.url, w.token, w.status,
                   w.disabled_reason, w.created_at, w.previous_token, w.previous_token_valid_until, e.event_type
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
                if !row.isNull(at: 12) {
                    result[result.count - 1].events.append(row.string(at: 12))
                }
            }
        }
        return result
    }

    /// Reads columns 1–11 of the joined row, without events, tokens opened.
    private func readWebhook(_ row: Statement) throws -> Webhook {
        let statusText = row.string(at: 7)
        guard let status = Webhook.Status(rawValue: statusText) else {
            throw SQLiteError(code: SQLITE_MISMATCH, message: "unknown webhook status in column 7")
        }
        let id = row.string(at: 1)
        return Webhook(
            id: id, companyID: row.int64(at: 2), name: row.string(at: 3), description: row.optionalString(at: 4),
            url: row.string(at: 5), events: [], token: try openToken(row.string(at: 6), webhookID: id),
            status: status, disabledReason: row.optionalString(at: 8), createdAt: try Self.date(row, at: 9),
            previousToken: try row.optionalString(at: 10).map { try openToken($0, webhookID: id) },
            previousTokenValidUntil: try Self.optionalDate(row, at: 11)
        )
    }
}
