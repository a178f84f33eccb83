import Foundation
import Logging
import WebhookCore

/// The scale-out store: one PostgreSQL database shared by every `serve` process, through a small pool of libpq
/// connections per process.
///
/// It keeps the same rows under the same rules as `SQLiteStore`; where SQLite serialises writers with one file
/// lock, this store takes row locks in one order (webhook before delivery), advisory locks for the two things that
/// must be decided by one process at a time (an idempotency key's first use, and handing out a webhook's share of
/// in-flight attempts), and `FOR UPDATE SKIP LOCKED` so claims never wait on rows another process is updating.
///
/// ```swift
/// let store = try PostgresStore(conninfo: "postgres://dw@127.0.0.1/dw", logger: logger, cipher: cipher)
/// ```
public final class PostgresStore: Store {
    // Sendable without @unchecked: mutable state sits in `ConnectionPool` behind its lock, and each connection is
    // lent to one thread at a time.

    /// The schema version after start-up migrations.
    public let schemaVersion: Int
    let pool: ConnectionPool<PostgresConnection>
    /// Refuses calls at once while the database keeps them waiting until they time out.
    let failFast = FailFast()
    /// Paces the claims' webhook-by-webhook pass.
    let fairPass = FairPassPacer()
    let logger: Logger
    let cipher: TokenCipher
    /// Where the database is, for the connection of `watchStoppedWebhooks` (outside the pool).
    let conninfo: String
    let statementTimeout: TimeInterval?

    /// Connects, applies migrations under an advisory lock, and checks that stored tokens open with `cipher`.
    /// - Parameters:
    ///   - conninfo: a `postgres://` / `postgresql://` URL or libpq's `key=value` form.
    ///   - poolSize: the most connections this process opens; at least 1.
    ///   - statementTimeout: the longest one statement waits for the server before its connection is given up and
    ///     the call fails as unavailable; `nil` waits forever. Start-up migrations wait as long as they take.
    public init(
        conninfo: String, poolSize: Int = 8, statementTimeout: TimeInterval? = 10, logger: Logger, cipher: TokenCipher
    ) throws {
        let first: PostgresConnection
        do {
            do {
                first = try PostgresConnection(conninfo: conninfo)
            } catch let error as PostgresError where error.state == PostgresError.invalidSetting {
                throw error.message.hasPrefix("not a valid PostgreSQL URL")
                    ? StoreError.invalidLocation(error.message) : StoreError.invalidSetting(error.message)
            }
            let encoding = try first.query("SHOW server_encoding").first { $0.string(at: 0) } ?? ""
            guard encoding == "UTF8" else {
                // Text the API accepts (any Unicode) must round-trip; another encoding would refuse or garble it.
                throw PostgresError(
                    state: "22021",
                    message: "the database's encoding is \(encoding), not UTF8; create it with ENCODING 'UTF8'")
            }
            schemaVersion = try PostgresMigration.migrate(first, logger: logger)
            try Self.checkTokens(first, cipher: cipher)
            try first.limitStatements(to: statementTimeout)
        } catch let error as PostgresError {
            throw error.storeError(operation: "open")
        }
        self.logger = logger
        self.cipher = cipher
        self.conninfo = conninfo
        self.statementTimeout = statementTimeout
        pool = ConnectionPool(capacity: max(1, poolSize), first: first, logger: logger) {
            do {
                return try PostgresConnection(conninfo: conninfo, statementTimeout: statementTimeout)
            } catch let error as PostgresError {
                throw error.storeError(operation: "connect")
            }
        }
        logger.info("store opened", ["engine": "postgresql", "schema_version": schemaVersion, "pool_size": poolSize])
    }

    /// Answers when the database is reachable; throws otherwise.
    public func ping() throws {
        _ = try withConnection("ping") { try $0.query("SELECT 1") }
    }

    /// Closes every connection. Calls after `close()` throw `StoreError.closed`.
    public func close() {
        pool.close()
    }

    // MARK: Helpers

    /// Runs `body` on a pooled connection, turning PostgreSQL failures into `StoreError`s that name `operation`.
    func withConnection<T>(_ operation: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        try withRetries(operation, transaction: false, body)
    }

    /// Runs `body` in a transaction on a pooled connection.
    func withTransaction<T>(_ operation: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        try withRetries(operation, transaction: true, body)
    }

    /// Runs `body` (in a transaction when asked) unless `failFast` refuses it, and tells `failFast` how it went.
    private func withRetries<T>(
        _ operation: String, transaction: Bool, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        let admission = failFast.admit()
        if case .refuse(let reason) = admission {
            throw StoreError.unavailable(operation: operation, message: reason)
        }
        let started = DispatchTime.now()
        func seconds() -> Double {
            Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        }
        do {
            let result = try retrying(operation, transaction: transaction, body)
            failFast.answered()
            return result
        } catch let error as PostgresError {
            if error.state == PostgresError.noAnswer || error.isConnectionLoss {
                failFast.failed(after: seconds(), message: error.message, admission: admission)
            } else {
                failFast.answered()  // the database answered, with an error of its own
            }
            throw error.storeError(operation: operation)
        } catch StoreError.unavailable(let failed, let message) {
            // From the pool: a connection that could not be opened means the server does not answer; all
            // connections busy (this process's own load) does not, and only ends a probe.
            failFast.failed(after: failed == "connect" ? seconds() : 0, message: message, admission: admission)
            throw StoreError.unavailable(operation: failed, message: message)
        } catch {
            failFast.answered()
            throw error
        }
    }

    /// Runs `body` (in a transaction when asked), again when that is certainly safe:
    ///
    /// - up to three times in all when the server rolled the transaction back for a deadlock or a serialization
    ///   failure, which leaves nothing behind;
    /// - once more on a fresh connection when a pooled one turned out dead on its first round trip (the server
    ///   restarted while it sat idle), since the server acted on nothing it sent.
    private func retrying<T>(
        _ operation: String, transaction: Bool, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        var attempt = 1
        var replacedDeadConnection = false
        while true {
            do {
                return try pool.withConnection(operation: operation) { connection in
                    do {
                        return transaction ? try connection.transaction { try body(connection) } : try body(connection)
                    } catch let error as PostgresError
                        where error.isConnectionLoss && connection.roundTripsSinceReuse == 1 && !replacedDeadConnection
                    {
                        throw DeadPooledConnection(underlying: error)
                    }
                }
            } catch is DeadPooledConnection {
                replacedDeadConnection = true
                logger.info("store connection found dead; trying a fresh one", ["operation": operation])
            } catch let error as PostgresError where error.isRetryable && attempt < 3 {
                attempt += 1
                logger.debug("transaction retried", ["operation": operation, "state": error.state])
            }
        }
    }

    /// A pooled connection that died while idle; the pool closes it when it comes back.
    private struct DeadPooledConnection: Error {
        var underlying: PostgresError
    }

    /// `false` when `text` cannot be a stored value (PostgreSQL text holds no NUL); lookups by it find nothing.
    static func isStorable(_ text: String) -> Bool {
        !text.utf8.contains(0)
    }

    /// The text stored for a webhook's token: sealed, bound to the webhook id so it cannot be moved to another row.
    func sealToken(_ token: String, webhookID: String) -> String {
        cipher.seal(token, associatedData: webhookID)
    }

    /// The token in clear from its stored text.
    func openToken(_ stored: String, webhookID: String) throws -> String {
        do {
            return try cipher.open(stored, associatedData: webhookID)
        } catch {
            throw PostgresError(state: "28000", message: "webhook token does not open with the configured key")
        }
    }

    /// Refuses to start on a database whose tokens were sealed with another key, rather than fail every delivery.
    private static func checkTokens(_ connection: PostgresConnection, cipher: TokenCipher) throws {
        let sample = try connection.query("SELECT id, token FROM webhooks ORDER BY seq LIMIT 1").first { row in
            (id: row.string(at: 0), token: row.string(at: 1))
        }
        if let sample, (try? cipher.open(sample.token, associatedData: sample.id)) == nil {
            throw StoreError.wrongMasterKey
        }
    }

    /// A required `dw_ms` column as a date.
    static func date(_ row: PostgresRow, at column: Int32) -> Date {
        Timestamp.date(milliseconds: row.int64(at: column))
    }
}

// MARK: Companies and API keys

extension PostgresStore {
    public func findOrCreateCompany(slug: String) throws -> Company {
        if let company = try company(slug: slug) {
            return company
        }
        guard Self.isStorable(slug) else {
            throw StoreError.conflict(operation: "findOrCreateCompany", message: "the slug holds a NUL character")
        }
        return try withTransaction("findOrCreateCompany") { connection in
            // Another process may have created it since the read above; DO NOTHING keeps theirs.
            try connection.run(
                "INSERT INTO companies (slug, created_at) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
                [slug, Date()])
            guard let company = try connection.query(Self.companyBySlug, [slug]).first(Self.readCompany) else {
                throw PostgresError(state: "XX000", message: "company vanished inside its transaction")
            }
            return company
        }
    }

    public func company(slug: String) throws -> Company? {
        guard Self.isStorable(slug) else { return nil }
        return try withConnection("company") { connection in
            try connection.query(Self.companyBySlug, [slug]).first(Self.readCompany)
        }
    }

    public func insertAPIKey(
        companyID: Int64, prefix: String, hash: String, permissions: Set<Permission>
    ) throws -> APIKey {
        let createdAt = Timestamp.rounded(Date())
        return try withTransaction("insertAPIKey") { connection in
            let id = try connection.query(
                """
                INSERT INTO api_keys (company_id, prefix, hash, permissions, created_at)
                VALUES ($1, $2, $3, $4, $5) RETURNING id
                """,
                [companyID, prefix, hash, Permission.storedList(permissions), createdAt]
            ).first { $0.int64(at: 0) }
            return APIKey(
                id: id ?? 0, companyID: companyID, prefix: prefix, hash: hash, permissions: permissions,
                createdAt: createdAt)
        }
    }

    public func apiKey(hash: String) throws -> (key: APIKey, company: Company)? {
        guard Self.isStorable(hash) else { return nil }
        return try withConnection("apiKey") { connection in
            try connection.query(
                """
                SELECT k.id, k.company_id, k.prefix, k.hash, k.permissions, dw_ms(k.created_at),
                       dw_ms(k.revoked_at), c.id, c.slug, dw_ms(c.created_at)
                FROM api_keys k JOIN companies c ON c.id = k.company_id
                WHERE k.hash = $1
                """,
                [hash]
            ).first { row in
                let company = Company(id: row.int64(at: 7), slug: row.string(at: 8), createdAt: Self.date(row, at: 9))
                return (Self.readAPIKey(row), company)
            }
        }
    }

    public func apiKeys(companyID: Int64) throws -> [APIKey] {
        try withConnection("apiKeys") { connection in
            try connection.query(
                """
                SELECT id, company_id, prefix, hash, permissions, dw_ms(created_at), dw_ms(revoked_at)
                FROM api_keys WHERE company_id = $1 ORDER BY id
                """,
                [companyID]
            ).map(Self.readAPIKey)
        }
    }

    public func revokeAPIKey(prefix: String) throws -> Bool {
        guard Self.isStorable(prefix) else { return false }
        return try withTransaction("revokeAPIKey") { connection in
            try connection.run(
                "UPDATE api_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL", [Date(), prefix]) > 0
        }
    }

    private static let companyBySlug = "SELECT id, slug, dw_ms(created_at) FROM companies WHERE slug = $1"

    private static func readCompany(_ row: PostgresRow) -> Company {
        Company(id: row.int64(at: 0), slug: row.string(at: 1), createdAt: date(row, at: 2))
    }

    /// Reads columns 0–6: id, company_id, prefix, hash, permissions, created_at, revoked_at.
    private static func readAPIKey(_ row: PostgresRow) -> APIKey {
        APIKey(
            id: row.int64(at: 0), companyID: row.int64(at: 1), prefix: row.string(at: 2), hash: row.string(at: 3),
            permissions: Permission.parseStoredList(row.string(at: 4)), createdAt: date(row, at: 5),
            revokedAt: row.optionalDate(at: 6))
    }
}

// MARK: Event types

extension PostgresStore {
    public func availableEventTypes(companyID: Int64) throws -> [String] {
        try withConnection("availableEventTypes") { connection in
            try connection.query(
                """
                SELECT DISTINCT name FROM event_types
                WHERE company_id IS NULL OR company_id = $1
                ORDER BY name
                """,
                [companyID]
            ).map { $0.string(at: 0) }
        }
    }

    public func allEventTypes() throws -> [EventType] {
        try withConnection("allEventTypes") { connection in
            // NULLS FIRST: global types before company ones, as SQLite orders NULL.
            try connection.query(
                """
                SELECT t.name, t.company_id, c.slug FROM event_types t LEFT JOIN companies c ON c.id = t.company_id
                ORDER BY t.name, t.company_id NULLS FIRST
                """
            )
            .map { row in
                EventType(
                    name: row.string(at: 0), companyID: row.isNull(at: 1) ? nil : row.int64(at: 1),
                    companySlug: row.optionalString(at: 2))
            }
        }
    }

    public func addEventType(name: String, companyID: Int64?) throws -> Bool {
        guard Self.isStorable(name) else {
            throw StoreError.conflict(operation: "addEventType", message: "the name holds a NUL character")
        }
        return try withTransaction("addEventType") { connection in
            try connection.run(
                "INSERT INTO event_types (name, company_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [name, companyID]) > 0
        }
    }
}
