import CSQLite
import Foundation
import Logging
import WebhookCore

/// One step of the schema's history. Versions only grow; an applied migration is never edited.
struct Migration: Sendable {
    /// Position in the history, from 1, recorded in `schema_migrations` once applied.
    let version: Int
    /// What the step does, for the log.
    let summary: String
    /// Applies the step on a connection already inside the migration transaction.
    let apply: @Sendable (SQLiteConnection) throws -> Void

    /// Every migration, oldest first.
    static let all: [Migration] = [v1, v2, v3, v4, v5, v6]

    /// The highest version this build knows.
    static var latestVersion: Int { all.last?.version ?? 0 }

    /// Brings the database on `connection` up to `latestVersion`, each step in order, all in one transaction.
    ///
    /// The whole run holds the write lock, so two processes starting at once apply each step exactly once.
    /// - Returns: the schema version afterwards.
    @discardableResult
    static func migrate(_ connection: SQLiteConnection, logger: Logger) throws -> Int {
        try connection.writeTransaction {
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at TEXT NOT NULL
                )
                """
            )
            let current =
                try connection.row("SELECT IFNULL(MAX(version), 0) FROM schema_migrations") {
                    $0.int(at: 0)
                } ?? 0
            guard current <= latestVersion else {
                throw StoreError.schemaTooNew(version: current, known: latestVersion)
            }

            for migration in all where migration.version > current {
                try migration.apply(connection)
                try connection.run(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [migration.version, Timestamp.format(Date())]
                )
                logger.info("schema migration applied", ["version": migration.version, "summary": migration.summary])
            }
            return latestVersion
        }
    }
}

extension Migration {
    /// Companies, API keys, event types with the default catalog, webhooks and their subscriptions.
    static let v1 = Migration(version: 1, summary: "companies, api keys, event types, webhooks") { connection in
        try connection.execute(
            """
            CREATE TABLE companies (
                id INTEGER PRIMARY KEY,
                slug TEXT UNIQUE NOT NULL,
                created_at TEXT NOT NULL
            );

            CREATE TABLE api_keys (
                id INTEGER PRIMARY KEY,
                company_id INTEGER NOT NULL REFERENCES companies(id),
                prefix TEXT UNIQUE NOT NULL,
                hash TEXT UNIQUE NOT NULL,
                permissions TEXT NOT NULL, -- comma-separated permission names
                created_at TEXT NOT NULL,
                revoked_at TEXT
            );
            CREATE INDEX api_keys_company ON api_keys (company_id, id);

            -- company_id NULL means every company; IFNULL folds it to 0, which no rowid takes, so a global
            -- name is unique too (NULLs are otherwise distinct in a unique index).
            CREATE TABLE event_types (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                company_id INTEGER REFERENCES companies(id)
            );
            CREATE UNIQUE INDEX event_types_name_scope ON event_types (name, IFNULL(company_id, 0));
            CREATE INDEX event_types_company ON event_types (company_id, name);

            -- seq is the creation order that listings page by; AUTOINCREMENT never reuses a deleted one.
            CREATE TABLE webhooks (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT UNIQUE NOT NULL,
                company_id INTEGER NOT NULL REFERENCES companies(id),
                name TEXT NOT NULL,
                description TEXT,
                url TEXT NOT NULL,
                token TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'enabled',
                disabled_reason TEXT,
                created_at TEXT NOT NULL
            );
            CREATE INDEX webhooks_company ON webhooks (company_id, seq);

            -- One row per subscribed event type, in the order given. The second index answers "webhooks
            -- subscribed to type T" for fan-out; the webhook's company and status are then one rowid lookup.
            CREATE TABLE webhook_events (
                webhook_seq INTEGER NOT NULL REFERENCES webhooks(seq) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                event_type TEXT NOT NULL,
                PRIMARY KEY (webhook_seq, position)
            ) WITHOUT ROWID;
            CREATE INDEX webhook_events_type ON webhook_events (event_type, webhook_seq);
            """
        )
        for name in EventType.defaultCatalog {
            try connection.run("INSERT INTO event_types (name, company_id) VALUES (?, NULL)", [name])
        }
    }
}

extension Migration {
    /// Webhook health and rotated tokens; events, their deliveries and the attempts of each.
    ///
    /// Tokens written by v1 are still in clear after this step: `SQLiteStore` seals them right after migrating,
    /// because the key is configuration, not schema.
    static let v2 = Migration(version: 2, summary: "events, deliveries, attempts, webhook health") { connection in
        try connection.execute(
            """
            ALTER TABLE webhooks ADD COLUMN previous_token TEXT;
            ALTER TABLE webhooks ADD COLUMN previous_token_valid_until TEXT;
            -- Start of the current failure streak; NULL after a success or before any failure.
            ALTER TABLE webhooks ADD COLUMN failing_since TEXT;
            ALTER TABLE webhooks ADD COLUMN last_success_at TEXT;

            -- delivery_count keeps what the first acceptance queued, so an idempotent replay reports the same
            -- number after a webhook (and its deliveries) was deleted.
            CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT UNIQUE NOT NULL,
                company_id INTEGER NOT NULL REFERENCES companies(id),
                type TEXT NOT NULL,
                payload BLOB NOT NULL,
                idempotency_key TEXT,
                delivery_count INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL
            );
            CREATE INDEX events_idempotency ON events (company_id, idempotency_key, created_at);

            -- next_attempt_at and lease_until are integer milliseconds since the epoch: the queue compares
            -- them on every claim. The partial index holds only the queue itself.
            CREATE TABLE deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT UNIQUE NOT NULL,
                event_seq INTEGER NOT NULL REFERENCES events(seq),
                webhook_seq INTEGER NOT NULL REFERENCES webhooks(seq) ON DELETE CASCADE,
                status TEXT NOT NULL,
                attempt_count INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER,
                lease_until INTEGER,
                created_at TEXT,
                updated_at TEXT
            );
            CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
            CREATE INDEX deliveries_webhook ON deliveries (webhook_seq, seq);

            CREATE TABLE attempts (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                delivery_seq INTEGER NOT NULL REFERENCES deliveries(seq) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                attempted_at TEXT NOT NULL,
                status_code INTEGER,
                error_kind TEXT,
                error_message TEXT,
                latency_ms INTEGER NOT NULL,
                response_headers TEXT, -- JSON object of lower-case names to values; NULL when none
                response_body BLOB
            );
            CREATE INDEX attempts_delivery ON attempts (delivery_seq, number);
            """
        )
    }

    /// A partial index of disabled webhooks, so the metrics scrape counts them without reading the table.
    static let v3 = Migration(version: 3, summary: "index of disabled webhooks") { connection in
        try connection.execute("CREATE INDEX webhooks_disabled ON webhooks (seq) WHERE status = 'disabled';")
    }

    /// The indexes retention purges by: events by age, and deliveries by event.
    ///
    /// `events_created` gives the oldest events first without a sort. `deliveries_event` finds an event's
    /// deliveries, to see whether one is still pending and to delete them, and serves the foreign-key check of
    /// `deliveries.event_seq` when an event is deleted, which would otherwise scan the whole deliveries table for
    /// every event. It holds `event_seq` alone on purpose: with `status` in it too, it would cover
    /// `COUNT(*) ... WHERE status = 'pending'` and the planner would prefer scanning it (every delivery) to the
    /// partial queue index (pending ones only).
    static let v4 = Migration(version: 4, summary: "indexes for retention") { connection in
        try connection.execute(
            """
            CREATE INDEX events_created ON events (created_at);
            CREATE INDEX deliveries_event ON deliveries (event_seq);
            """
        )
    }

    /// The leased part of the queue by webhook (claims count each webhook's attempts in flight to hold its cap),
    /// and the serving processes' heartbeats (they share each key's rate limit among the living).
    static let v5 = Migration(version: 5, summary: "leased deliveries by webhook, service instances") { connection in
        try connection.execute(
            """
            CREATE INDEX deliveries_leased ON deliveries (webhook_seq, lease_until)
            WHERE status = 'pending' AND lease_until IS NOT NULL;

            -- heartbeat_at is integer milliseconds since the epoch, like the queue's times.
            CREATE TABLE service_instances (
                id TEXT PRIMARY KEY,
                heartbeat_at INTEGER NOT NULL
            );
            """
        )
    }

    /// The queue by webhook, in due order: a claim whose window is filled by webhooks at their cap finds the
    /// others' due deliveries one webhook at a time, whatever the backlogs ahead of them.
    static let v6 = Migration(version: 6, summary: "pending deliveries by webhook and due time") { connection in
        try connection.execute(
            """
            CREATE INDEX deliveries_pending_webhook ON deliveries (webhook_seq, next_attempt_at)
            WHERE status = 'pending';
            """
        )
    }
}
