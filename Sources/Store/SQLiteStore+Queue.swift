import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// Leases up to `limit` due, unleased (or lease-expired) pending deliveries of enabled webhooks, oldest due
    /// first, until `leaseUntil`, in one write transaction, never giving a webhook more than `perWebhookLimit`
    /// unexpired leases; returns what is needed to attempt each.
    ///
    /// The secrets are the current token, then the previous one while `previousTokenValidUntil` is after `now`.
    public func claimDeliveries(
        now: Date, leaseUntil: Date, limit: Int, perWebhookLimit: Int
    ) throws -> DeliveryClaim {
        guard limit > 0, perWebhookLimit > 0 else { return DeliveryClaim(jobs: []) }
        let nowMilliseconds = Timestamp.milliseconds(now)
        let leaseMilliseconds = Timestamp.milliseconds(leaseUntil)
        return try withWriteTransaction("claimDueDeliveries") { connection in
            let window = Self.claimWindow(limit)
            // The oldest due candidates (`d.status = 'pending'` written out so the partial queue index serves),
            // ranked within their webhook; a candidate is taken while its rank plus the webhook's unexpired
            // leases stays within the cap.
            var picked = try connection.rows(
                """
                WITH candidates AS (
                    SELECT d.seq, d.webhook_seq, d.next_attempt_at FROM deliveries d
                    JOIN webhooks w ON w.seq = d.webhook_seq
                    WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                      AND (d.lease_until IS NULL OR d.lease_until <= ?1) AND w.status = 'enabled'
                    ORDER BY d.next_attempt_at, d.seq
                    LIMIT ?4
                ), ranked AS (
                    SELECT seq, webhook_seq, next_attempt_at,
                           ROW_NUMBER() OVER (PARTITION BY webhook_seq ORDER BY next_attempt_at, seq) AS rank
                    FROM candidates
                )
                SELECT r.seq, r.next_attempt_at FROM ranked r
                WHERE r.rank + (
                    SELECT COUNT(*) FROM deliveries x
                    WHERE x.webhook_seq = r.webhook_seq AND x.status = 'pending' AND x.lease_until > ?1
                ) <= ?3
                ORDER BY r.next_attempt_at, r.seq
                LIMIT ?2
                """,
                [nowMilliseconds, limit, perWebhookLimit, window]
            ) { (seq: $0.int64(at: 0), dueAt: $0.int64(at: 1)) }
            try lease(picked.map(\.seq), until: leaseMilliseconds, connection)

            // Fewer than asked while the window was full: webhooks at their cap may fill it, so the others are
            // looked up one by one instead of waiting behind them.
            let rest = limit - picked.count
            let held = rest > 0 ? fairPass.heldUntil(now) : nil
            if rest > 0, held == nil,
                try dueCount(connection, now: nowMilliseconds, atMost: window - picked.count)
                    == window - picked.count
            {
                let more = try pickPerWebhook(
                    connection, now: nowMilliseconds, limit: rest, perWebhookLimit: perWebhookLimit)
                fairPass.ran(found: !more.isEmpty, at: now)
                try lease(more.map(\.seq), until: leaseMilliseconds, connection)
                picked += more
            }
            picked.sort { ($0.dueAt, $0.seq) < ($1.dueAt, $1.seq) }
            let jobs = try picked.map { delivery in
                try connection.row(
                    """
                    SELECT d.seq, d.id, d.attempt_count, w.seq, w.id, w.company_id, w.url, w.token,
                           w.previous_token, w.previous_token_valid_until, e.id, e.type, e.payload
                    FROM deliveries d
                    JOIN webhooks w ON w.seq = d.webhook_seq
                    JOIN events e ON e.seq = d.event_seq
                    WHERE d.seq = ?
                    """,
                    [delivery.seq]
                ) { row in try readJob(row, now: now) }
            }.compactMap { $0 }
            return DeliveryClaim(jobs: jobs, passHeldUntil: held)
        }
    }

    /// Up to `limit` due, unleased deliveries taken webhook by webhook, oldest due first, each webhook's up to
    /// the room its unexpired leases leave under `perWebhookLimit`. The webhooks with pending deliveries are
    /// found by skipping through the (webhook, due time) index, one probe each, whatever their backlogs.
    private func pickPerWebhook(
        _ connection: SQLiteConnection, now: Int64, limit: Int, perWebhookLimit: Int
    ) throws -> [(seq: Int64, dueAt: Int64)] {
        let webhooks = try connection.rows(
            """
            WITH RECURSIVE hooks(webhook_seq) AS (
                SELECT (SELECT webhook_seq FROM deliveries WHERE status = 'pending' ORDER BY webhook_seq LIMIT 1)
                UNION ALL
                SELECT (
                    SELECT d.webhook_seq FROM deliveries d
                    WHERE d.status = 'pending' AND d.webhook_seq > h.webhook_seq
                    ORDER BY d.webhook_seq LIMIT 1
                ) FROM hooks h WHERE h.webhook_seq IS NOT NULL
            )
            SELECT h.webhook_seq, (
                SELECT COUNT(*) FROM deliveries x
                WHERE x.webhook_seq = h.webhook_seq AND x.status = 'pending' AND x.lease_until > ?1
            )
            FROM hooks h JOIN webhooks w ON w.seq = h.webhook_seq AND w.status = 'enabled'
            WHERE EXISTS (
                SELECT 1 FROM deliveries d
                WHERE d.webhook_seq = h.webhook_seq AND d.status = 'pending' AND d.next_attempt_at <= ?1
                  AND (d.lease_until IS NULL OR d.lease_until <= ?1)
            )
            """,
            [now]
        ) { (seq: $0.int64(at: 0), leases: $0.int(at: 1)) }
        var due: [(seq: Int64, dueAt: Int64)] = []
        for webhook in webhooks where webhook.leases < perWebhookLimit {
            due += try connection.rows(
                """
                SELECT seq, next_attempt_at FROM deliveries
                WHERE webhook_seq = ?1 AND status = 'pending' AND next_attempt_at <= ?2
                  AND (lease_until IS NULL OR lease_until <= ?2)
                ORDER BY next_attempt_at, seq
                LIMIT ?3
                """,
                [webhook.seq, now, min(perWebhookLimit - webhook.leases, limit)]
            ) { (seq: $0.int64(at: 0), dueAt: $0.int64(at: 1)) }
        }
        return Array(due.sorted { ($0.dueAt, $0.seq) < ($1.dueAt, $1.seq) }.prefix(limit))
    }

    /// How many due, unleased pending deliveries there are, counting no further than `atMost`.
    private func dueCount(_ connection: SQLiteConnection, now: Int64, atMost: Int) throws -> Int {
        try connection.row(
            """
            SELECT COUNT(*) FROM (
                SELECT 1 FROM deliveries
                WHERE status = 'pending' AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                ORDER BY next_attempt_at, seq LIMIT ?2
            )
            """,
            [now, atMost]
        ) { $0.int(at: 0) } ?? 0
    }

    private func lease(_ deliverySeqs: [Int64], until: Int64, _ connection: SQLiteConnection) throws {
        for seq in deliverySeqs {
            try connection.run("UPDATE deliveries SET lease_until = ? WHERE seq = ?", [until, seq])
        }
    }

    /// Records several attempts in one write transaction: all of them or, when it fails, none.
    public func recordAttempts(_ records: [AttemptRecord], disableAfter: TimeInterval) throws {
        guard !records.isEmpty else { return }
        let disabled = try withWriteTransaction("recordAttempts") { connection in
            try SQLiteAttemptSteps(connection: connection).record(records, disableAfter: disableAfter)
        }
        for webhook in disabled {
            logger.info("webhook disabled", ["webhook_seq": webhook.webhookSeq, "reason": webhook.reason])
        }
    }

    /// Gives a claimed delivery back without an attempt: still pending, unleased, due again at `dueAt`.
    public func releaseDelivery(deliverySeq: Int64, dueAt: Date) throws {
        try withWriteTransaction("releaseDelivery") { connection in
            _ = try connection.run(
                """
                UPDATE deliveries SET lease_until = NULL, next_attempt_at = ?
                WHERE seq = ? AND status = 'pending'
                """,
                [Timestamp.milliseconds(dueAt), deliverySeq]
            )
        }
    }

    /// When the earliest pending delivery of an enabled webhook is due (ignoring leases), or `nil` when none is.
    public func nextDueTime() throws -> Date? {
        try withConnection("nextDueTime") { connection in
            try connection.row(
                """
                SELECT d.next_attempt_at FROM deliveries d JOIN webhooks w ON w.seq = d.webhook_seq
                WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND w.status = 'enabled'
                ORDER BY d.next_attempt_at LIMIT 1
                """
            ) { Timestamp.date(milliseconds: $0.int64(at: 0)) }
        }
    }

    /// Three indexed reads in one connection: the count of the partial queue index, its first unleased due
    /// entry, and the count of the partial index of disabled webhooks. The statuses are written out (not bound)
    /// so the planner can use the partial indexes.
    public func queueStatistics(now: Date) throws -> QueueStatistics {
        let nowMilliseconds = Timestamp.milliseconds(now)
        return try withConnection("queueStatistics") { connection in
            let pending =
                try connection.row("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'") { $0.int(at: 0) } ?? 0
            let oldest = try connection.row(
                """
                SELECT next_attempt_at FROM deliveries
                WHERE status = 'pending' AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                ORDER BY next_attempt_at LIMIT 1
                """,
                [nowMilliseconds]
            ) { Timestamp.date(milliseconds: $0.int64(at: 0)) }
            let disabled =
                try connection.row("SELECT COUNT(*) FROM webhooks WHERE status = 'disabled'") { $0.int(at: 0) } ?? 0
            return QueueStatistics(pendingDeliveries: pending, oldestDueAt: oldest, disabledWebhooks: disabled)
        }
    }

    // MARK: Helpers

    /// Reads the claim query's row; the tokens are opened under the webhook id they were sealed with.
    private func readJob(_ row: Statement, now: Date) throws -> DeliveryJob {
        let webhookID = row.string(at: 4)
        var secrets = [try openToken(row.string(at: 7), webhookID: webhookID)]
        if let previous = row.optionalString(at: 8), let validUntil = try Self.optionalDate(row, at: 9),
            validUntil > now
        {
            secrets.append(try openToken(previous, webhookID: webhookID))
        }
        return DeliveryJob(
            deliverySeq: row.int64(at: 0), deliveryID: row.string(at: 1), webhookSeq: row.int64(at: 3),
            webhookID: webhookID, companyID: row.int64(at: 5), url: row.string(at: 6), secrets: secrets,
            eventID: row.string(at: 10), eventType: row.string(at: 11), payload: row.blob(at: 12),
            attemptNumber: row.int(at: 2) + 1
        )
    }
}

/// Recording an attempt in SQLite's SQL; the write transaction already holds the database.
private struct SQLiteAttemptSteps: AttemptSteps {
    let connection: SQLiteConnection

    func delivery(_ deliverySeq: Int64) throws -> (status: String, webhookSeq: Int64)? {
        try connection.row(
            "SELECT status, webhook_seq FROM deliveries WHERE seq = ?", [deliverySeq],
            { (status: $0.string(at: 0), webhookSeq: $0.int64(at: 1)) }
        )
    }

    func hasAttempt(_ attempt: DeliveryAttempt, deliverySeq: Int64) throws -> Bool {
        try connection.row(
            "SELECT 1 FROM attempts WHERE delivery_seq = ? AND number = ? AND attempted_at = ?",
            [deliverySeq, attempt.number, Timestamp.format(attempt.attemptedAt)], { _ in true }
        ) ?? false
    }

    func insertAttempt(_ attempt: DeliveryAttempt, headers: String?, deliverySeq: Int64, now: Date) throws {
        try connection.run(
            """
            INSERT INTO attempts (delivery_seq, number, attempted_at, status_code, error_kind, error_message,
                                  latency_ms, response_headers, response_body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                deliverySeq, attempt.number, Timestamp.format(attempt.attemptedAt), attempt.statusCode,
                attempt.errorKind, attempt.errorMessage, attempt.latencyMilliseconds, headers, attempt.responseBody,
            ]
        )
        try connection.run(
            "UPDATE deliveries SET attempt_count = attempt_count + 1, lease_until = NULL, updated_at = ? WHERE seq = ?",
            [Timestamp.format(now), deliverySeq]
        )
    }

    func markSucceeded(deliverySeq: Int64, webhookSeq: Int64, now: Date) throws {
        try connection.run(
            "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL WHERE seq = ?", [deliverySeq]
        )
        try connection.run(
            "UPDATE webhooks SET failing_since = NULL, last_success_at = ? WHERE seq = ?",
            [Timestamp.format(now), webhookSeq]
        )
    }

    func scheduleRetry(deliverySeq: Int64, at: Date) throws {
        try connection.run(
            "UPDATE deliveries SET next_attempt_at = ? WHERE seq = ?", [Timestamp.milliseconds(at), deliverySeq]
        )
    }

    func markFailed(deliverySeq: Int64) throws {
        try connection.run(
            "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL WHERE seq = ?", [deliverySeq]
        )
    }

    func disableWebhook(_ webhookSeq: Int64, reason: String, now: Date) throws {
        try connection.run(
            "UPDATE webhooks SET status = 'disabled', disabled_reason = ? WHERE seq = ?", [reason, webhookSeq]
        )
        try connection.run(
            """
            UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = ?
            WHERE webhook_seq = ? AND status = 'pending'
            """,
            [Timestamp.format(now), webhookSeq]
        )
    }

    @discardableResult
    func extendFailureStreak(_ webhookSeq: Int64, now: Date) throws -> Date? {
        try connection.run(
            "UPDATE webhooks SET failing_since = IFNULL(failing_since, ?) WHERE seq = ?",
            [Timestamp.format(now), webhookSeq]
        )
        return try connection.row(
            "SELECT failing_since FROM webhooks WHERE seq = ? AND status = 'enabled'", [webhookSeq]
        ) { try SQLiteStore.optionalDate($0, at: 0) } ?? nil
    }
}
