import Foundation
import WebhookCore

extension PostgresStore {
    /// The key of the transaction-scoped advisory lock that makes claims one at a time across processes.
    static let claimLockKey: Int64 = 0x6477_636c_6169_6d73  // "dwclaims"

    /// Leases up to `limit` due deliveries of enabled webhooks, oldest due first, until `leaseUntil`, never giving a
    /// webhook more than `perWebhookLimit` unexpired leases counting every process's; returns what is needed to
    /// attempt each.
    ///
    /// Claims take a transaction-scoped advisory lock first, so two processes never count a webhook's leases at
    /// the same moment: the cap is exact. The rows handed out are locked `FOR UPDATE SKIP LOCKED`, so a claim never
    /// waits on a delivery another transaction is changing; it leaves it for the next claim.
    public func claimDeliveries(
        now: Date, leaseUntil: Date, limit: Int, perWebhookLimit: Int
    ) throws -> DeliveryClaim {
        guard limit > 0, perWebhookLimit > 0 else { return DeliveryClaim(jobs: []) }
        return try withTransaction("claimDueDeliveries") { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1)", [Self.claimLockKey])
            let window = Self.claimWindow(limit)
            var jobs = try connection.query(
                """
                WITH candidates AS (
                    -- The queue index alone, in its own order: whatever the planner knows of the tables, this is
                    -- a walk of the partial index that stops after the window, never a sort of the backlog.
                    SELECT d.seq, d.webhook_seq, d.next_attempt_at FROM deliveries d
                    WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                      AND (d.lease_until IS NULL OR d.lease_until <= $1)
                    ORDER BY d.next_attempt_at, d.seq
                    LIMIT $5
                ), leased AS (
                    -- Each candidate webhook's unexpired leases, counted once per webhook, not per candidate row.
                    SELECT x.webhook_seq, count(*) AS leases FROM deliveries x
                    WHERE x.webhook_seq IN (SELECT webhook_seq FROM candidates)
                      AND x.status = 'pending' AND x.lease_until > $1
                    GROUP BY x.webhook_seq
                ), ranked AS (
                    SELECT c.seq, c.next_attempt_at,
                           row_number() OVER (PARTITION BY c.webhook_seq ORDER BY c.next_attempt_at, c.seq)
                           + coalesce(l.leases, 0) AS slot
                    FROM candidates c
                    JOIN webhooks w ON w.seq = c.webhook_seq AND w.status = 'enabled'
                    LEFT JOIN leased l ON l.webhook_seq = c.webhook_seq
                ), picked AS (
                    SELECT seq FROM ranked WHERE slot <= $4 ORDER BY next_attempt_at, seq LIMIT $3
                ), \(Self.leasePicked)
                """,
                [now, leaseUntil, limit, perWebhookLimit, window]
            ).map { row in (job: try readJob(row, now: now), dueAt: row.int64(at: 13)) }

            // Fewer than asked while the window was full: webhooks at their cap may fill it, so the others are
            // looked up one by one instead of waiting behind them.
            let rest = limit - jobs.count
            let held = rest > 0 ? fairPass.heldUntil(now) : nil
            if rest > 0, held == nil,
                try dueCount(connection, now: now, atMost: window - jobs.count) == window - jobs.count
            {
                let more = try connection.query(
                    """
                    WITH RECURSIVE hooks(webhook_seq) AS (
                        -- Each webhook with pending deliveries, one index probe apiece, whatever its backlog.
                        SELECT (SELECT webhook_seq FROM deliveries WHERE status = 'pending'
                                ORDER BY webhook_seq LIMIT 1)
                        UNION ALL
                        SELECT (
                            SELECT d.webhook_seq FROM deliveries d
                            WHERE d.status = 'pending' AND d.webhook_seq > h.webhook_seq
                            ORDER BY d.webhook_seq LIMIT 1
                        ) FROM hooks h WHERE h.webhook_seq IS NOT NULL
                    ), room AS (
                        SELECT h.webhook_seq, $4 - (
                            SELECT count(*) FROM deliveries x
                            WHERE x.webhook_seq = h.webhook_seq AND x.status = 'pending' AND x.lease_until > $1
                        ) AS slots
                        FROM hooks h JOIN webhooks w ON w.seq = h.webhook_seq AND w.status = 'enabled'
                    ), picked AS (
                        SELECT due.seq FROM room r
                        CROSS JOIN LATERAL (
                            SELECT d.seq, d.next_attempt_at FROM deliveries d
                            WHERE d.webhook_seq = r.webhook_seq AND d.status = 'pending' AND d.next_attempt_at <= $1
                              AND (d.lease_until IS NULL OR d.lease_until <= $1)
                            ORDER BY d.next_attempt_at, d.seq
                            LIMIT greatest(r.slots, 0)
                        ) due
                        ORDER BY due.next_attempt_at, due.seq
                        LIMIT $3
                    ), \(Self.leasePicked)
                    """,
                    [now, leaseUntil, rest, perWebhookLimit]
                ).map { row in (job: try readJob(row, now: now), dueAt: row.int64(at: 13)) }
                fairPass.ran(found: !more.isEmpty, at: now)
                jobs += more
            }
            // RETURNING keeps no order; hand jobs out oldest due first, as SQLite does.
            let sorted = jobs.sorted { ($0.dueAt, $0.job.deliverySeq) < ($1.dueAt, $1.job.deliverySeq) }
            return DeliveryClaim(jobs: sorted.map(\.job), passHeldUntil: held)
        }
    }

    /// The end of both claim queries: leases the deliveries of the `picked` CTE until `$2` and returns what is
    /// needed to attempt each, and its due time. Only the rows handed out are locked, and any another transaction
    /// holds (a manual retry, a delete) is skipped rather than waited for; the conditions are checked again under
    /// the lock.
    private static let leasePicked = """
        chosen AS (
            SELECT d.seq FROM deliveries d
            WHERE d.seq IN (SELECT seq FROM picked) AND d.status = 'pending'
              AND (d.lease_until IS NULL OR d.lease_until <= $1)
            FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE deliveries d SET lease_until = $2
        FROM chosen, webhooks w, events e
        WHERE d.seq = chosen.seq AND w.seq = d.webhook_seq AND e.seq = d.event_seq
        RETURNING d.seq, d.id, d.attempt_count, w.seq, w.id, w.company_id, w.url, w.token, w.previous_token,
                  dw_ms(w.previous_token_valid_until), e.id, e.type, e.payload, dw_ms(d.next_attempt_at)
        """

    /// How many due, unleased pending deliveries there are, counting no further than `atMost`.
    private func dueCount(_ connection: PostgresConnection, now: Date, atMost: Int) throws -> Int {
        try connection.query(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM deliveries
                WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                ORDER BY next_attempt_at, seq LIMIT $2
            ) due
            """,
            [now, atMost]
        ).first { $0.int(at: 0) } ?? 0
    }

    /// Records several attempts in one transaction (one commit for the batch): all of them or, when it fails, none.
    /// Each locks its webhook row before its delivery, in webhook order across the batch.
    public func recordAttempts(_ records: [AttemptRecord], disableAfter: TimeInterval) throws {
        guard !records.isEmpty else { return }
        let disabled = try withTransaction("recordAttempts") { connection in
            try PostgresAttemptSteps(connection: connection).record(records, disableAfter: disableAfter)
        }
        for webhook in disabled {
            logger.info("webhook disabled", ["webhook_seq": webhook.webhookSeq, "reason": webhook.reason])
        }
    }

    /// Gives a claimed delivery back without an attempt: still pending, unleased, due again at `dueAt`.
    public func releaseDelivery(deliverySeq: Int64, dueAt: Date) throws {
        _ = try withTransaction("releaseDelivery") { connection in
            try connection.run(
                """
                UPDATE deliveries SET lease_until = NULL, next_attempt_at = $1
                WHERE seq = $2 AND status = 'pending'
                """,
                [dueAt, deliverySeq])
        }
    }

    /// When the earliest pending delivery of an enabled webhook is due (ignoring leases), or `nil` when none is.
    public func nextDueTime() throws -> Date? {
        try withConnection("nextDueTime") { connection in
            try connection.query(
                """
                SELECT dw_ms(d.next_attempt_at) FROM deliveries d JOIN webhooks w ON w.seq = d.webhook_seq
                WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND w.status = 'enabled'
                ORDER BY d.next_attempt_at LIMIT 1
                """
            ).first { Self.date($0, at: 0) }
        }
    }

    /// Pending deliveries, the oldest unleased due one, and disabled webhooks, from the partial indexes.
    public func queueStatistics(now: Date) throws -> QueueStatistics {
        try withConnection("queueStatistics") { connection in
            try connection.query(
                """
                SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending'),
                       (SELECT dw_ms(next_attempt_at) FROM deliveries
                        WHERE status = 'pending' AND next_attempt_at <= $1
                          AND (lease_until IS NULL OR lease_until <= $1)
                        ORDER BY next_attempt_at LIMIT 1),
                       (SELECT count(*) FROM webhooks WHERE status = 'disabled')
                """,
                [now]
            ).first { row in
                QueueStatistics(
                    pendingDeliveries: row.int(at: 0), oldestDueAt: row.optionalDate(at: 1),
                    disabledWebhooks: row.int(at: 2))
            } ?? QueueStatistics(pendingDeliveries: 0, oldestDueAt: nil, disabledWebhooks: 0)
        }
    }

    // MARK: Helpers

    /// Reads the claim's row; the tokens are opened under the webhook id they were sealed with.
    private func readJob(_ row: PostgresRow, now: Date) throws -> DeliveryJob {
        let webhookID = row.string(at: 4)
        var secrets = [try openToken(row.string(at: 7), webhookID: webhookID)]
        if let previous = row.optionalString(at: 8), let validUntil = row.optionalDate(at: 9), validUntil > now {
            secrets.append(try openToken(previous, webhookID: webhookID))
        }
        return DeliveryJob(
            deliverySeq: row.int64(at: 0), deliveryID: row.string(at: 1), webhookSeq: row.int64(at: 3),
            webhookID: webhookID, companyID: row.int64(at: 5), url: row.string(at: 6), secrets: secrets,
            eventID: row.string(at: 10), eventType: row.string(at: 11), payload: row.bytes(at: 12),
            attemptNumber: row.int(at: 2) + 1)
    }
}

/// Recording an attempt in PostgreSQL's SQL, inside the caller's transaction.
private struct PostgresAttemptSteps: AttemptSteps {
    let connection: PostgresConnection

    func delivery(_ deliverySeq: Int64) throws -> (status: String, webhookSeq: Int64)? {
        // The webhook row first: every writer that changes a webhook and its deliveries locks in that order.
        try connection.query(
            """
            SELECT d.status, w.seq FROM webhooks w JOIN deliveries d ON d.webhook_seq = w.seq
            WHERE d.seq = $1
            FOR NO KEY UPDATE OF w
            """,
            [deliverySeq]
        ).first({ (status: $0.string(at: 0), webhookSeq: $0.int64(at: 1)) })
    }

    func hasAttempt(_ attempt: DeliveryAttempt, deliverySeq: Int64) throws -> Bool {
        try connection.query(
            "SELECT 1 FROM attempts WHERE delivery_seq = $1 AND number = $2 AND attempted_at = $3",
            [deliverySeq, attempt.number, attempt.attemptedAt]
        ).first { _ in true } ?? false
    }

    func insertAttempt(_ attempt: DeliveryAttempt, headers: String?, deliverySeq: Int64, now: Date) throws {
        try connection.run(
            """
            INSERT INTO attempts (delivery_seq, number, attempted_at, status_code, error_kind, error_message,
                                  latency_ms, response_headers, response_body)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            [
                deliverySeq, attempt.number, attempt.attemptedAt, attempt.statusCode, attempt.errorKind,
                attempt.errorMessage, attempt.latencyMilliseconds, headers, attempt.responseBody,
            ])
        try connection.run(
            """
            UPDATE deliveries SET attempt_count = attempt_count + 1, lease_until = NULL, updated_at = $1
            WHERE seq = $2
            """,
            [now, deliverySeq])
    }

    func markSucceeded(deliverySeq: Int64, webhookSeq: Int64, now: Date) throws {
        try connection.run(
            "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL WHERE seq = $1", [deliverySeq])
        try connection.run(
            "UPDATE webhooks SET failing_since = NULL, last_success_at = $1 WHERE seq = $2", [now, webhookSeq])
    }

    func scheduleRetry(deliverySeq: Int64, at: Date) throws {
        try connection.run("UPDATE deliveries SET next_attempt_at = $1 WHERE seq = $2", [at, deliverySeq])
    }

    func markFailed(deliverySeq: Int64) throws {
        try connection.run(
            "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL WHERE seq = $1", [deliverySeq])
    }

    func disableWebhook(_ webhookSeq: Int64, reason: String, now: Date) throws {
        try connection.run(
            "UPDATE webhooks SET status = 'disabled', disabled_reason = $1 WHERE seq = $2", [reason, webhookSeq])
        try PostgresStore.announceStopped(webhookSeq, on: connection)
        try connection.run(
            """
            UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL, updated_at = $1
            WHERE webhook_seq = $2 AND status = 'pending'
            """,
            [now, webhookSeq])
    }

    @discardableResult
    func extendFailureStreak(_ webhookSeq: Int64, now: Date) throws -> Date? {
        try connection.query(
            """
            UPDATE webhooks SET failing_since = coalesce(failing_since, $1) WHERE seq = $2
            RETURNING dw_ms(failing_since), status
            """,
            [now, webhookSeq]
        ).first { row in row.string(at: 1) == Webhook.Status.enabled.rawValue ? row.optionalDate(at: 0) : nil }
            ?? nil
    }
}
