import Foundation
import Logging
import WebhookCore

/// The PostgreSQL schema's history. Versions only grow; an applied step is never edited.
///
/// The schema holds the same rows as SQLite's with PostgreSQL's own types: `bigint` identities, `timestamptz` for
/// every time (read back through `dw_ms`, integer milliseconds) and `bytea` for payloads and response bodies.
struct PostgresMigration: Sendable {
    /// Position in the history, from 1, recorded in `schema_migrations` once applied.
    let version: Int
    /// What the step does, for the log.
    let summary: String
    /// The step's SQL, run in one transaction with the record of its version.
    var sql = ""
    /// Statements run one at a time outside any transaction, then the version recorded: for what cannot run inside
    /// one, such as `CREATE INDEX CONCURRENTLY`, which builds an index on a live table without holding up writes to
    /// it. A step that failed part way is run again from its first statement, so each must be safe to repeat.
    var outsideTransaction: [String] = []

    /// Every step, oldest first.
    static let all: [PostgresMigration] = [v1, v2]

    /// The highest version this build knows.
    static var latestVersion: Int { all.last?.version ?? 0 }

    /// The key of the session-wide advisory lock that serialises migrations between processes.
    static let lockKey: Int64 = 0x6477_6d69_6772_6174  // "dwmigrat"

    /// How long a process waits between tries for the migration lock another process holds.
    static let lockPollInterval: TimeInterval = 0.2

    /// Brings the database up to `latestVersion` (or `target`) under an advisory lock, so processes starting at
    /// once apply each step exactly once: the others wait, then find nothing left to do. Each step is applied and
    /// recorded in a transaction of its own (or, for `outsideTransaction`, recorded once its statements ran).
    /// - Returns: the schema version afterwards.
    @discardableResult
    static func migrate(
        _ connection: PostgresConnection, logger: Logger, upTo target: Int = latestVersion
    ) throws -> Int {
        // Already up to date: no lock and no DDL, so a role without CREATE rights can run a migrated database.
        if let done = try finished(connection, target: target) {
            return done
        }
        // Migrations wait as long as they take, whatever limits the database or role sets for everyday sessions: a
        // concurrent index build cut off part way leaves an invalid index and a store that never opens.
        try connection.execute("SET statement_timeout = 0; SET lock_timeout = 0")
        defer { try? connection.execute("RESET statement_timeout; RESET lock_timeout") }
        // A session lock taken by polling, not by waiting in `pg_advisory_lock`: a session waiting there holds a
        // snapshot, which `CREATE INDEX CONCURRENTLY` in the session holding the lock would wait for in turn.
        let waitStarted = Date()
        var nextWaitLog = waitStarted
        while try connection.query("SELECT pg_try_advisory_lock($1)", [lockKey]).first({ $0.string(at: 0) }) != "t" {
            if Date() >= nextWaitLog {
                // Once at first and every 10 s after: a build that takes minutes should not look like a hang.
                logger.info(
                    "waiting for another process's schema migration to finish",
                    ["waited_s": Int(Date().timeIntervalSince(waitStarted))])
                nextWaitLog = nextWaitLog.addingTimeInterval(10)
            }
            Thread.sleep(forTimeInterval: lockPollInterval)
        }
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [lockKey]) }
        // Another process may have finished the work while this one waited: then no DDL at all, so that a role
        // without CREATE rights opens the store (and a newer schema is refused as such).
        if let done = try finished(connection, target: target) {
            return done
        }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        let current = try appliedVersion(connection) ?? 0
        for migration in all where migration.version > current && migration.version <= target {
            if migration.outsideTransaction.isEmpty {
                try connection.transaction {
                    try connection.execute(migration.sql)
                    if migration.version == 1 {
                        for name in EventType.defaultCatalog {
                            try connection.run("INSERT INTO event_types (name, company_id) VALUES ($1, NULL)", [name])
                        }
                    }
                    try connection.run("INSERT INTO schema_migrations (version) VALUES ($1)", [migration.version])
                }
            } else {
                for statement in migration.outsideTransaction {
                    try connection.execute(statement)
                }
                try connection.run("INSERT INTO schema_migrations (version) VALUES ($1)", [migration.version])
            }
            logger.info("schema migration applied", ["version": migration.version, "summary": migration.summary])
        }
        return max(current, min(target, latestVersion))
    }

    /// The version applied when it is `target` or later, which leaves nothing to do; `nil` when steps remain.
    /// - Throws: `StoreError.schemaTooNew` when a later release migrated the database.
    private static func finished(_ connection: PostgresConnection, target: Int) throws -> Int? {
        guard let applied = try appliedVersion(connection), applied >= target else { return nil }
        guard applied <= latestVersion else {
            throw StoreError.schemaTooNew(version: applied, known: latestVersion)
        }
        return applied
    }

    /// The highest version recorded in `schema_migrations`, 0 when it is empty, `nil` when it does not exist yet.
    private static func appliedVersion(_ connection: PostgresConnection) throws -> Int? {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL").first {
            $0.string(at: 0) == "t"
        }
        guard exists == true else { return nil }
        return try connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations").first { $0.int(at: 0) }
    }
}

extension PostgresMigration {
    /// The whole schema as SQLite's v1–v4 left it, plus what the shared queue and retention need.
    static let v1 = PostgresMigration(
        version: 1, summary: "companies, keys, event types, webhooks, events, deliveries, attempts, service_instances",
        sql: """
            -- Integer milliseconds since the epoch: how every time is read back, exactly as it was written.
            CREATE FUNCTION dw_ms(t timestamptz) RETURNS bigint
                LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                AS 'SELECT (extract(epoch FROM t) * 1000)::bigint';

            CREATE TABLE companies (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                slug text UNIQUE NOT NULL,
                created_at timestamptz NOT NULL
            );

            CREATE TABLE api_keys (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                company_id bigint NOT NULL REFERENCES companies (id),
                prefix text UNIQUE NOT NULL,
                hash text UNIQUE NOT NULL,
                permissions text NOT NULL, -- comma-separated permission names
                created_at timestamptz NOT NULL,
                revoked_at timestamptz
            );
            CREATE INDEX api_keys_company ON api_keys (company_id, id);

            -- company_id NULL means every company; coalesce folds it to 0, which no identity takes, so a global
            -- name is unique too.
            CREATE TABLE event_types (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL,
                company_id bigint REFERENCES companies (id)
            );
            CREATE UNIQUE INDEX event_types_name_scope ON event_types (name, coalesce(company_id, 0));
            CREATE INDEX event_types_company ON event_types (company_id, name);

            -- seq is the creation order that listings page by. Tokens are sealed by the store before they get here.
            CREATE TABLE webhooks (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id text UNIQUE NOT NULL,
                company_id bigint NOT NULL REFERENCES companies (id),
                name text NOT NULL,
                description text,
                url text NOT NULL,
                token text NOT NULL,
                previous_token text,
                previous_token_valid_until timestamptz,
                status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
                disabled_reason text,
                failing_since timestamptz, -- start of the current failure streak; NULL after a success
                last_success_at timestamptz,
                created_at timestamptz NOT NULL
            );
            CREATE INDEX webhooks_company ON webhooks (company_id, seq);
            CREATE INDEX webhooks_disabled ON webhooks (seq) WHERE status = 'disabled';

            CREATE TABLE webhook_events (
                webhook_seq bigint NOT NULL REFERENCES webhooks (seq) ON DELETE CASCADE,
                position integer NOT NULL,
                event_type text NOT NULL,
                PRIMARY KEY (webhook_seq, position)
            );
            CREATE INDEX webhook_events_type ON webhook_events (event_type, webhook_seq);

            -- delivery_count keeps what the first acceptance queued, so an idempotent replay reports the same number.
            CREATE TABLE events (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id text UNIQUE NOT NULL,
                company_id bigint NOT NULL REFERENCES companies (id),
                type text NOT NULL,
                payload bytea NOT NULL,
                idempotency_key text,
                delivery_count integer NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL
            );
            CREATE INDEX events_idempotency ON events (company_id, idempotency_key, created_at)
                WHERE idempotency_key IS NOT NULL;
            CREATE INDEX events_created ON events (created_at);

            -- The queue is the partial index of pending rows; leased rows are indexed apart so that counting a
            -- webhook's attempts in flight (its cap, shared by every process) reads only those.
            CREATE TABLE deliveries (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id text UNIQUE NOT NULL,
                event_seq bigint NOT NULL REFERENCES events (seq),
                webhook_seq bigint NOT NULL REFERENCES webhooks (seq) ON DELETE CASCADE,
                status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
                attempt_count integer NOT NULL DEFAULT 0,
                next_attempt_at timestamptz,
                lease_until timestamptz,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE status = 'pending';
            CREATE INDEX deliveries_leased ON deliveries (webhook_seq, lease_until)
                WHERE status = 'pending' AND lease_until IS NOT NULL;
            CREATE INDEX deliveries_webhook ON deliveries (webhook_seq, seq);
            CREATE INDEX deliveries_event ON deliveries (event_seq);

            CREATE TABLE attempts (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                delivery_seq bigint NOT NULL REFERENCES deliveries (seq) ON DELETE CASCADE,
                number integer NOT NULL,
                attempted_at timestamptz NOT NULL,
                status_code integer,
                error_kind text,
                error_message text,
                latency_ms integer NOT NULL,
                response_headers text, -- JSON object of lower-case names to values; NULL when none
                response_body bytea
            );
            CREATE INDEX attempts_delivery ON attempts (delivery_seq, number);

            -- Every serving process says it is alive here; the per-key rate limit is shared out among the living.
            CREATE TABLE service_instances (
                id text PRIMARY KEY,
                heartbeat_at timestamptz NOT NULL
            );
            """
    )

    /// The queue by webhook, in due order: a claim whose window is filled by webhooks at their cap finds the
    /// others' due deliveries one webhook at a time, whatever the backlogs ahead of them.
    ///
    /// Built `CONCURRENTLY`: a plain `CREATE INDEX` would hold up every write to `deliveries` (intake, claims,
    /// attempt records) for as long as it reads the table, which on a large one is minutes of 503s. An index left
    /// invalid by a build that failed part way is dropped and built again.
    static let v2 = PostgresMigration(
        version: 2, summary: "pending deliveries by webhook and due time",
        outsideTransaction: [
            "DROP INDEX CONCURRENTLY IF EXISTS deliveries_pending_webhook",
            """
            CREATE INDEX CONCURRENTLY deliveries_pending_webhook ON deliveries (webhook_seq, next_attempt_at, seq)
                WHERE status = 'pending'
            """,
        ]
    )
}
