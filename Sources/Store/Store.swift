// Store: everything the service keeps, behind one protocol with an SQLite implementation (and PostgreSQL later).
//
// It owns the schema, its migrations and the SQL. It knows the domain values of WebhookCore but no HTTP, no JSON
// shapes of the API and no delivery logic. Every call blocks: callers run it on their own threads, never on an
// event loop or Swift's shared cooperative pool. Every value reaches SQL as a bound parameter.

import Foundation
import WebhookCore

/// Persistent state of the service. Implementations are safe to call from many threads at once.
public protocol Store: Sendable {
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

    /// Deletes the webhook if it belongs to this company. Returns `false` when there was none.
    func deleteWebhook(id: String, companyID: Int64) throws -> Bool
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
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .unavailable(let operation, let message): "store unavailable during \(operation): \(message)"
        case .conflict(let operation, let message): "store conflict during \(operation): \(message)"
        case .failed(let operation, let code, let message): "store error \(code) during \(operation): \(message)"
        case .invalidLocation(let text): "unsupported database location: \(text)"
        case .closed: "store is closed"
        }
    }
}
