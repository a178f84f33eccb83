import Foundation
import WebhookCore

extension PostgresStore {
    public func insertWebhook(_ webhook: Webhook) throws {
        guard [webhook.id, webhook.name, webhook.url].allSatisfy(Self.isStorable),
            webhook.description.map(Self.isStorable) ?? true, webhook.events.allSatisfy(Self.isStorable)
        else {
            throw StoreError.conflict(operation: "insertWebhook", message: "a text value holds a NUL character")
        }
        let token = sealToken(webhook.token, webhookID: webhook.id)
        let previousToken = webhook.previousToken.map { sealToken($0, webhookID: webhook.id) }
        try withTransaction("insertWebhook") { connection in
            let seq = try connection.query(
                """
                INSERT INTO webhooks
                    (id, company_id, name, description, url, token, status, disabled_reason, created_at,
                     previous_token, previous_token_valid_until)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                RETURNING seq
                """,
                [
                    webhook.id, webhook.companyID, webhook.name, webhook.description, webhook.url, token,
                    webhook.status.rawValue, webhook.disabledReason, webhook.createdAt, previousToken,
                    webhook.previousTokenValidUntil,
                ]
            ).first { $0.int64(at: 0) }
            for (position, eventType) in webhook.events.enumerated() {
                try connection.run(
                    "INSERT INTO webhook_events (webhook_seq, position, event_type) VALUES ($1, $2, $3)",
                    [seq, position, eventType])
            }
        }
    }

    public func webhooks(companyID: Int64, offset: Int, limit: Int) throws -> [Webhook] {
        guard limit > 0 else { return [] }
        return try withConnection("webhooks") { connection in
            try readWebhooks(
                connection, from: "SELECT * FROM webhooks WHERE company_id = $1 ORDER BY seq LIMIT $2 OFFSET $3",
                [companyID, limit, max(0, offset)])
        }
    }

    public func countWebhooks(companyID: Int64) throws -> Int {
        try withConnection("countWebhooks") { connection in
            try connection.query("SELECT count(*) FROM webhooks WHERE company_id = $1", [companyID])
                .first { $0.int(at: 0) } ?? 0
        }
    }

    public func webhook(id: String, companyID: Int64) throws -> Webhook? {
        guard Self.isStorable(id) else { return nil }
        return try withConnection("webhook") { connection in
            try readWebhook(connection, id: id, companyID: companyID)
        }
    }

    /// Deletes the webhook; its subscriptions, deliveries and their attempts cascade.
    public func deleteWebhook(id: String, companyID: Int64) throws -> Bool {
        guard Self.isStorable(id) else { return false }
        return try withTransaction("deleteWebhook") { connection in
            let deleted = try connection.query(
                "DELETE FROM webhooks WHERE id = $1 AND company_id = $2 RETURNING seq", [id, companyID]
            ).map { $0.int64(at: 0) }
            for webhookSeq in deleted {
                try Self.announceStopped(webhookSeq, on: connection)
            }
            return !deleted.isEmpty
        }
    }

    public func enabledWebhooks(among webhookSeqs: Set<Int64>) throws -> Set<Int64> {
        guard !webhookSeqs.isEmpty else { return [] }
        // One bound parameter: the seqs as an array literal of integers, cast by the server.
        let array = "{" + webhookSeqs.sorted().map(String.init).joined(separator: ",") + "}"
        return try withConnection("enabledWebhooks") { connection in
            Set(
                try connection.query(
                    "SELECT seq FROM webhooks WHERE seq = ANY($1::bigint[]) AND status = 'enabled'", [array]
                ).map { $0.int64(at: 0) })
        }
    }

    public func webhookSeq(id: String, companyID: Int64) throws -> Int64? {
        guard Self.isStorable(id) else { return nil }
        return try withConnection("webhookSeq") { connection in
            try connection.query("SELECT seq FROM webhooks WHERE id = $1 AND company_id = $2", [id, companyID])
                .first { $0.int64(at: 0) }
        }
    }

    /// Enables a webhook, clearing its reason and failure streak. Deliveries cancelled when it was disabled stay
    /// cancelled. `now` is unused, as in SQLite.
    public func enableWebhook(id: String, companyID: Int64, now: Date) throws -> Webhook? {
        guard Self.isStorable(id) else { return nil }
        return try withTransaction("enableWebhook") { connection in
            let changed = try connection.run(
                """
                UPDATE webhooks SET status = 'enabled', disabled_reason = NULL, failing_since = NULL
                WHERE id = $1 AND company_id = $2
                """,
                [id, companyID])
            return changed > 0 ? try readWebhook(connection, id: id, companyID: companyID) : nil
        }
    }

    /// Makes `newToken` the signing secret; the old one keeps signing beside it until `previousValidUntil`
    /// (dropped at once when that is not after `now`).
    public func rotateToken(
        id: String, companyID: Int64, newToken: String, previousValidUntil: Date, now: Date
    ) throws -> Webhook? {
        guard Self.isStorable(id) else { return nil }
        let sealed = sealToken(newToken, webhookID: id)
        let keepsPrevious = previousValidUntil > now
        return try withTransaction("rotateToken") { connection in
            let changed = try connection.run(
                """
                UPDATE webhooks
                SET previous_token = CASE WHEN $1::boolean THEN token END, previous_token_valid_until = $2,
                    token = $3
                WHERE id = $4 AND company_id = $5
                """,
                [keepsPrevious, keepsPrevious ? previousValidUntil : nil, sealed, id, companyID])
            return changed > 0 ? try readWebhook(connection, id: id, companyID: companyID) : nil
        }
    }

    // MARK: Helpers

    func readWebhook(_ connection: PostgresConnection, id: String, companyID: Int64) throws -> Webhook? {
        try readWebhooks(
            connection, from: "SELECT * FROM webhooks WHERE id = $1 AND company_id = $2", [id, companyID]
        ).first
    }

    /// Reads the webhooks `selection` picks, with their events, in one statement (one consistent snapshot).
    ///
    /// `selection` is one of our constant queries selecting whole `webhooks` rows; it keeps its own order.
    private func readWebhooks(
        _ connection: PostgresConnection, from selection: String, _ values: [any PostgresBindable]
    ) throws -> [Webhook] {
        let rows = try connection.query(
            """
            SELECT w.seq, w.id, w.company_id, w.name, w.description, w.url, w.token, w.status,
                   w.disabled_reason, dw_ms(w.created_at), w.previous_token, dw_ms(w.previous_token_valid_until),
                   e.event_type
            FROM (\(selection)) w
            LEFT JOIN webhook_events e ON e.webhook_seq = w.seq
            ORDER BY w.seq, e.position
            """,
            values)
        var result: [Webhook] = []
        var lastSeq: Int64?
        for row in rows.rows {
            let seq = row.int64(at: 0)
            if seq != lastSeq {
                lastSeq = seq
                result.append(try readWebhook(row))
            }
            if let eventType = row.optionalString(at: 12) {
                result[result.count - 1].events.append(eventType)
            }
        }
        return result
    }

    /// Reads columns 1–11 of the joined row, without events, tokens opened.
    private func readWebhook(_ row: PostgresRow) throws -> Webhook {
        guard let status = Webhook.Status(rawValue: row.string(at: 7)) else {
            throw PostgresError(state: "XX000", message: "unknown webhook status in column 7")
        }
        let id = row.string(at: 1)
        return Webhook(
            id: id, companyID: row.int64(at: 2), name: row.string(at: 3), description: row.optionalString(at: 4),
            url: row.string(at: 5), events: [], token: try openToken(row.string(at: 6), webhookID: id),
            status: status, disabledReason: row.optionalString(at: 8), createdAt: Self.date(row, at: 9),
            previousToken: try row.optionalString(at: 10).map { try openToken($0, webhookID: id) },
            previousTokenValidUntil: row.optionalDate(at: 11))
    }
}
