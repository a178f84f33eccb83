// Store: everything the service keeps, behind one protocol with an SQLite implementation (and PostgreSQL later).
//
// It owns the schema, its migrations and the SQL. It knows the domain values of WebhookCore but no HTTP, no JSON
// shapes of the API and no delivery logic. Every call blocks: callers run it on their own threads, never on an
// event loop or Swift's shared cooperative pool. Every value reaches SQL as a bound parameter.

import Foundation
import WebhookCore

/// Persistent state of the service. Implementations are safe to call from many threads at once.
public protocol Store: Sendable {
    /// The schema version after the migrations applied when the store was opened.
    var schemaVersion: Int { get }

    /// Answers when the database is reachable and usable; throws otherwise.
    func ping() throws

    /// Closes every connection. Calls after `close()` throw `StoreError.closed`.
    func close()

    // MARK: Companies and API keys

    /// The company with this slug, creating it when it does not exist yet.
    func findOrCreateCompany(slug: String) throws -> Company

    /// The company with this slug, or `nil`.
    func company(slug: String) throws -> Company?

    /// Stores a new key's hash and prefix. Throws `StoreError.conflict` if the prefix is taken.
    func insertAPIKey(companyID: Int64, prefix: String, hash: String, permissions: Set<Permission>) throws -> APIKey

    /// The key with this SHA-256 hash (revoked or not) and its company, or `nil`.
    func apiKey(hash: String) throws -> (key: APIKey, company: Company)?

    /// Every key of a company, oldest first, revoked ones included.
    func apiKeys(companyID: Int64) throws -> [APIKey]

    /// Marks the key with this prefix revoked. Returns `false` when no unrevoked key has it.
    func revokeAPIKey(prefix: String) throws -> Bool

    // MARK: Event types

    /// Names of the event types a company may subscribe to, sorted by name.
    func availableEventTypes(companyID: Int64) throws -> [String]

    /// Every event type with its scope, sorted by name then company.
    func allEventTypes() throws -> [EventType]

    /// Adds an event type for every company (`companyID == nil`) or for one. Returns `false` if it existed.
    func addEventType(name: String, companyID: Int64?) throws -> Bool

    // MARK: Webhooks

    /// Stores a new webhook. Throws `StoreError.conflict` if the id is taken.
    func insertWebhook(_ webhook: Webhook) throws

    /// One page of a company's webhooks in creation order.
    func webhooks(companyID: Int64, offset: Int, limit: Int) throws -> [Webhook]

    /// How many webhooks a company has.
    func countWebhooks(companyID: Int64) throws -> Int

    /// The webhook with this id if it belongs to this company, else `nil`.
    func webhook(id: String, companyID: Int64) throws -> Webhook?

    /// Deletes the webhook if it belongs to this company, with its deliveries. Returns `false` when there was
    /// none.
    func deleteWebhook(id: String, companyID: Int64) throws -> Bool

    /// The store's internal key of a company's webhook (the dispatcher's per-endpoint unit), or `nil`.
    func webhookSeq(id: String, companyID: Int64) throws -> Int64?

    /// Which of `webhookSeqs` are webhooks that exist and are enabled now: the dispatcher stops its attempts under
    /// way to the others (deleted or disabled, perhaps through another process).
    func enabledWebhooks(among webhookSeqs: Set<Int64>) throws -> Set<Int64>

    /// Calls `handler` with the internal key (`webhookSeq`) of every webhook deleted or disabled through any process
    /// sharing this database, this one included, soon after the change commits, on a thread of the store's, until
    /// the returned watch is stopped. `nil` when the store has no such feed (SQLite: one process owns the file).
    ///
    /// A hint, not a log: changes made while the feed is reconnecting are not replayed, so a caller that must not
    /// miss one also asks `enabledWebhooks(among:)` now and then.
    func watchStoppedWebhooks(_ handler: @escaping @Sendable (Int64) -> Void) -> (any StoreWatch)?

    /// Enables a disabled webhook (clearing its reason and failure streak). `nil` when not found.
    func enableWebhook(id: String, companyID: Int64, now: Date) throws -> Webhook?

    /// Makes `newToken` the signing secret; the old one keeps signing beside it until `previousValidUntil`.
    /// `nil` when not found.
    func rotateToken(id: String, companyID: Int64, newToken: String, previousValidUntil: Date, now: Date) throws
        -> Webhook?

    // MARK: Events and deliveries

    /// Accepts an event in one transaction. When the company used `event.idempotencyKey` within
    /// `idempotencyWindow` seconds before `event.createdAt`, nothing is stored and the earlier event comes back
    /// with `replayed == true`. Otherwise the event is stored with one pending delivery, due at once, for each
    /// enabled webhook of the company subscribed to its type.
    func acceptEvent(_ event: Event, idempotencyWindow: TimeInterval) throws -> EventIntake

    /// Leases up to `limit` pending deliveries that are due at `now` and not leased (or whose lease expired),
    /// oldest due first, until `leaseUntil`; returns what is needed to attempt each.
    ///
    /// A webhook never holds more than `perWebhookLimit` unexpired leases at once, counting those of every
    /// process: claims are decided one at a time (SQLite's write lock, PostgreSQL's advisory lock), so the cap is
    /// exact. Candidates are first the oldest `claimWindow(limit)` due deliveries (one walk of the queue index);
    /// when that window is full and yields fewer than `limit` (webhooks at their cap fill it), the rest are looked
    /// for webhook by webhook, so one webhook's backlog never holds back the others. That pass is paced (see
    /// `FairPassPacer`); a claim it was held back from says when to come again.
    func claimDeliveries(now: Date, leaseUntil: Date, limit: Int, perWebhookLimit: Int) throws -> DeliveryClaim

    /// Records several finished attempts in one transaction, each under the same rules as `recordAttempt`: all or,
    /// when it throws, none. The dispatcher records in batches so that a busy process pays one commit for many
    /// attempts.
    func recordAttempts(_ records: [AttemptRecord], disableAfter: TimeInterval) throws

    /// Gives a claimed delivery back without an attempt; it is due again at `dueAt`.
    func releaseDelivery(deliverySeq: Int64, dueAt: Date) throws

    /// When the earliest pending delivery is due (ignoring leases), or `nil` when none is pending.
    func nextDueTime() throws -> Date?

    /// The numbers an operator watches, read with cheap indexed queries: pending deliveries, when the oldest one
    /// that is due at `now` and not leased was due, and how many webhooks are disabled.
    func queueStatistics(now: Date) throws -> QueueStatistics

    // MARK: Processes sharing the database

    /// Records that the serving process `instanceID` is alive at `now`, forgets processes silent for longer than
    /// `staleAfter` seconds, and returns how many are alive, this one included.
    func heartbeat(instanceID: String, now: Date, staleAfter: TimeInterval) throws -> Int

    /// Forgets a process that is stopping, so the others take up its share at their next heartbeat.
    func removeInstance(instanceID: String) throws

    // MARK: Delivery history

    /// One page of a company's webhook's deliveries in creation order, optionally of one status; `nil` when the
    /// webhook is not the company's.
    func deliveries(webhookID: String, companyID: Int64, status: Delivery.Status?, offset: Int, limit: Int) throws
        -> (total: Int, page: [Delivery])?

    /// A delivery of the company with its attempts in order, or `nil`.
    func delivery(id: String, companyID: Int64) throws -> (delivery: Delivery, attempts: [DeliveryAttempt])?

    /// Makes a delivery of the company pending and due at `now`, whatever its status (unless its webhook is
    /// disabled: then it throws `StoreError.conflict`). `nil` when not found.
    func retryDelivery(id: String, companyID: Int64, now: Date) throws -> Delivery?

    // MARK: Retention

    /// Deletes one batch of expired events with their deliveries and those deliveries' attempts, in one short
    /// write transaction, and says how many rows of each went.
    ///
    /// - An event is expired when its `createdAt` (as stored, to the millisecond) is strictly before `cutoff`
    ///   and none of its deliveries is `pending`. Deliveries in any other status (`succeeded`, `failed`,
    ///   `cancelled`) do not hold an event back, however recently they changed; an event with no delivery at
    ///   all is expired on age alone. An event with a pending delivery is never deleted, so an accepted event is
    ///   still attempted at least once; it expires once that delivery ends.
    /// - The batch is the `batchSize` oldest expired events, by `createdAt` then insertion order. With each
    ///   event go all of its deliveries and all of their attempts; nothing else changes (webhooks, their health,
    ///   companies and keys stay). A purged event's idempotency key is forgotten with it.
    /// - `batchSize` below 1 deletes nothing and returns zeros.
    /// - The selection and the deletes are one transaction: a delivery made pending again at the same time
    ///   (`retryDelivery`) either keeps its event or finds it gone, never half of it.
    ///
    /// Fewer than `batchSize` events in the result means nothing else was expired at that moment: a caller
    /// deleting a backlog calls again until a batch comes back short.
    func purgeExpired(before cutoff: Date, batchSize: Int) throws -> PurgeResult
}

/// What one `purgeExpired` call deleted: rows of each table.
public struct PurgeResult: Sendable, Equatable {
    /// Events deleted; fewer than the batch size when no more were expired.
    public var events: Int
    /// Deliveries of those events deleted with them.
    public var deliveries: Int
    /// Attempts of those deliveries deleted with them.
    public var attempts: Int

    public init(events: Int = 0, deliveries: Int = 0, attempts: Int = 0) {
        self.events = events
        self.deliveries = deliveries
        self.attempts = attempts
    }
}

/// A running `Store.watchStoppedWebhooks` feed.
public protocol StoreWatch: Sendable {
    /// Stops the feed: `handler` is not called once this returns.
    func stop()
}

extension Store {
    /// Records one attempt and applies its outcome in one transaction, clearing the lease. If the delivery is no
    /// longer pending (cancelled meanwhile) the attempt is recorded and its status kept. `disableAfter`: a webhook
    /// whose failure streak (attempts without a success) is older than this many seconds is disabled.
    public func recordAttempt(
        deliverySeq: Int64, attempt: DeliveryAttempt, outcome: AttemptOutcome, disableAfter: TimeInterval, now: Date
    ) throws {
        let record = AttemptRecord(
            deliverySeq: deliverySeq, webhookSeq: 0, attempt: attempt, outcome: outcome, finishedAt: now)
        try recordAttempts([record], disableAfter: disableAfter)
    }

    /// The deliveries `claimDeliveries` leased, without when to claim again.
    public func claimDueDeliveries(
        now: Date, leaseUntil: Date, limit: Int, perWebhookLimit: Int
    ) throws -> [DeliveryJob] {
        try claimDeliveries(now: now, leaseUntil: leaseUntil, limit: limit, perWebhookLimit: perWebhookLimit).jobs
    }

    /// Leases due deliveries with no cap per webhook (tests and tools).
    public func claimDueDeliveries(now: Date, leaseUntil: Date, limit: Int) throws -> [DeliveryJob] {
        try claimDueDeliveries(now: now, leaseUntil: leaseUntil, limit: limit, perWebhookLimit: Int(Int32.max))
    }

    /// How many of the oldest due deliveries a claim of `limit` considers before it looks webhook by webhook.
    static func claimWindow(_ limit: Int) -> Int {
        max(10 * limit, 100)
    }
}

/// What a claim leased, and when to claim again for work it did not look for.
public struct DeliveryClaim: Sendable, Equatable {
    /// The deliveries leased, oldest due first.
    public var jobs: [DeliveryJob]
    /// Set when the claim got fewer than asked while its webhook-by-webhook pass was held back, because a pass
    /// that found nothing ran less than `FairPassPacer.pause` ago (whether or not this claim's window was full,
    /// which is not counted while the pass is held): a claim at this time may run it. Work behind other webhooks'
    /// capped backlogs (a new event of a quiet webhook, say) is found then, not at the next poll.
    public var passHeldUntil: Date?

    public init(jobs: [DeliveryJob], passHeldUntil: Date? = nil) {
        self.jobs = jobs
        self.passHeldUntil = passHeldUntil
    }
}

/// What `queueStatistics` read.
public struct QueueStatistics: Sendable, Equatable {
    /// Deliveries still `pending`, due or scheduled for a later retry, leased or not.
    public var pendingDeliveries: Int
    /// When the longest-waiting delivery that is due and not being attempted was due; `nil` when none waits.
    public var oldestDueAt: Date?
    /// Webhooks that are `disabled`.
    public var disabledWebhooks: Int

    public init(pendingDeliveries: Int, oldestDueAt: Date?, disabledWebhooks: Int) {
        self.pendingDeliveries = pendingDeliveries
        self.oldestDueAt = oldestDueAt
        self.disabledWebhooks = disabledWebhooks
    }
}

/// What `acceptEvent` did.
public struct EventIntake: Sendable, Equatable {
    /// The stored event (the earlier one when replayed).
    public var event: Event
    /// Deliveries queued for it (when replayed: those queued the first time).
    public var deliveryCount: Int
    /// `true` when the idempotency key matched an earlier event and nothing new was stored.
    public var replayed: Bool

    public init(event: Event, deliveryCount: Int, replayed: Bool) {
        self.event = event
        self.deliveryCount = deliveryCount
        self.replayed = replayed
    }
}

/// What went wrong in the store. Descriptions never include SQL parameters or secrets.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The database could not be reached or is locked beyond the busy timeout; worth retrying later.
    case unavailable(operation: String, message: String)
    /// A uniqueness or foreign-key rule refused the write.
    case conflict(operation: String, message: String)
    /// The database answered with an error that retrying will not fix.
    case failed(operation: String, code: Int32, message: String)
    /// The `--database` value is not one the service understands.
    case invalidLocation(String)
    /// A database setting in `--database` that the database's client library refused (e.g. an unknown `sslmode`).
    case invalidSetting(String)
    /// The database's webhook tokens were sealed with another master key.
    case wrongMasterKey
    /// The database's schema was migrated by a later release than this build (`known` is this build's latest).
    case schemaTooNew(version: Int, known: Int)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .unavailable(let operation, let message): "store unavailable during \(operation): \(message)"
        case .conflict(let operation, let message): "store conflict during \(operation): \(message)"
        case .failed(let operation, let code, let message): "store error \(code) during \(operation): \(message)"
        case .invalidLocation(let text): "unsupported database location: \(text)"
        case .invalidSetting(let text): "invalid database setting in --database: \(text)"
        case .wrongMasterKey:
            "stored webhook tokens do not open with the configured key: start with the --master-key-file this "
                + "database was first used with (every process of a deployment needs the same one)"
        case .schemaTooNew(let version, let known):
            "the database's schema is at version \(version), newer than this build knows (\(known)): a later release "
                + "migrated it, and migrations are not undone; run that release or a later one"
        case .closed: "store is closed"
        }
    }
}
