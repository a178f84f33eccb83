// WebhookCore: the domain of Donutwork Webhooks as plain values and pure rules.
//
// It owns what a webhook, an event type, a company, an API key and a permission are, and the rules that judge
// them (URL policy, paging, rate limiting, identifiers, signing). It does no I/O: no sockets, no files, no
// database. Resolution of host names and TLS checks live in `Delivery`; storage lives in `Store`.

import Foundation

/// A company's subscription: where to send which events.
public struct Webhook: Sendable, Equatable {
    /// Whether deliveries are attempted.
    public enum Status: String, Sendable, Equatable {
        case enabled
        case disabled
    }

    /// Public identifier, `wh_` followed by 26 base32 characters.
    public var id: String
    /// Internal id of the owning company.
    public var companyID: Int64
    public var name: String
    public var description: String?
    /// The normalised endpoint URL.
    public var url: String
    /// Subscribed event type names, in the order they were first given.
    public var events: [String]
    /// The signing secret, `whsec_` + base64 of 32 random bytes.
    public var token: String
    public var status: Status
    public var disabledReason: String?
    public var createdAt: Date
    /// The secret before the last rotation, still signing beside `token` until `previousTokenValidUntil`.
    public var previousToken: String?
    public var previousTokenValidUntil: Date?

    public init(
        id: String, companyID: Int64, name: String, description: String?, url: String, events: [String],
        token: String, status: Status = .enabled, disabledReason: String? = nil, createdAt: Date,
        previousToken: String? = nil, previousTokenValidUntil: Date? = nil
    ) {
        self.id = id
        self.companyID = companyID
        self.name = name
        self.description = description
        self.url = url
        self.events = events
        self.token = token
        self.status = status
        self.disabledReason = disabledReason
        self.createdAt = createdAt
        self.previousToken = previousToken
        self.previousTokenValidUntil = previousTokenValidUntil
    }
}

/// A tenant of the service. Every webhook, key and event belongs to exactly one company.
public struct Company: Sendable, Equatable {
    public var id: Int64
    /// Operator-chosen short name, e.g. `acme`.
    public var slug: String
    public var createdAt: Date

    public init(id: Int64, slug: String, createdAt: Date) {
        self.id = id
        self.slug = slug
        self.createdAt = createdAt
    }
}

/// What an API key may do.
public enum Permission: String, Sendable, CaseIterable, Hashable {
    case webhooksRead = "webhooks:read"
    case webhooksWrite = "webhooks:write"
    case eventsWrite = "events:write"

    /// Parses a comma-separated list such as `webhooks:read,webhooks:write`.
    /// - Returns: the permissions, or `nil` when a name is unknown or the list is empty.
    public static func parseList(_ text: String) -> Set<Permission>? {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { return nil }
        var result = Set<Permission>()
        for name in names {
            guard let permission = Permission(rawValue: name) else { return nil }
            result.insert(permission)
        }
        return result
    }
}

/// An API key as stored: never the key itself, only its hash and a display prefix.
public struct APIKey: Sendable, Equatable {
    public var id: Int64
    public var companyID: Int64
    /// The first characters of the key, shown in listings and used to revoke it.
    public var prefix: String
    /// Lower-case hex SHA-256 of the whole key.
    public var hash: String
    public var permissions: Set<Permission>
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: Int64, companyID: Int64, prefix: String, hash: String, permissions: Set<Permission>,
        createdAt: Date, revokedAt: Date? = nil
    ) {
        self.id = id
        self.companyID = companyID
        self.prefix = prefix
        self.hash = hash
        self.permissions = permissions
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A kind of platform event, e.g. `RecurringPayments.charge.paid`.
public struct EventType: Sendable, Equatable {
    public var name: String
    /// `nil` when available to every company; otherwise the one company that may subscribe to it.
    public var companyID: Int64?
    /// That company's slug, when the type is limited to one and the store read it (`allEventTypes`).
    public var companySlug: String?

    public init(name: String, companyID: Int64? = nil, companySlug: String? = nil) {
        self.name = name
        self.companyID = companyID
        self.companySlug = companySlug
    }

    /// The catalog every new store starts with, available to every company.
    public static let defaultCatalog = ["RecurringPayments.charge.paid", "RecurringPayments.charge.failed"]
}
