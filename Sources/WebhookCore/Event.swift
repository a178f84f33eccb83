import Foundation

/// A platform event a company emitted, as accepted: its envelope is serialised once and sent byte-identical on
/// every attempt.
public struct Event: Sendable, Equatable {
    /// `evt_` + 26 base32 characters; also the Standard Webhooks message id (`webhook-id`).
    public var id: String
    public var companyID: Int64
    /// The event type name, e.g. `RecurringPayments.charge.paid`.
    public var type: String
    public var createdAt: Date
    /// The serialised envelope `{"id","type","created_at","data"}`: the exact body of every attempt.
    public var payload: [UInt8]
    /// The caller's idempotency key, unique per company for 24 hours.
    public var idempotencyKey: String?

    public init(
        id: String, companyID: Int64, type: String, createdAt: Date, payload: [UInt8], idempotencyKey: String?
    ) {
        self.id = id
        self.companyID = companyID
        self.type = type
        self.createdAt = createdAt
        self.payload = payload
        self.idempotencyKey = idempotencyKey
    }
}

/// One event on its way to one webhook.
public struct Delivery: Sendable, Equatable {
    /// Where a delivery stands.
    public enum Status: String, Sendable, CaseIterable {
        /// Waiting for its next attempt (or in flight).
        case pending
        /// A 2xx arrived.
        case succeeded
        /// The retry schedule gave up.
        case failed
        /// The webhook was deleted or disabled before it succeeded.
        case cancelled
    }

    /// `dlv_` + 26 base32 characters.
    public var id: String
    public var eventID: String
    public var eventType: String
    public var webhookID: String
    public var status: Status
    /// Attempts made so far.
    public var attemptCount: Int
    /// When the next attempt is due; `nil` once finished.
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, eventID: String, eventType: String, webhookID: String, status: Status, attemptCount: Int,
        nextAttemptAt: Date?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.eventID = eventID
        self.eventType = eventType
        self.webhookID = webhookID
        self.status = status
        self.attemptCount = attemptCount
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The record of one attempt to deliver.
public struct DeliveryAttempt: Sendable, Equatable {
    /// 1 for the first attempt.
    public var number: Int
    public var attemptedAt: Date
    /// The receiver's status code, when one arrived.
    public var statusCode: Int?
    /// A short machine word when no status arrived or it was refused: `timeout`, `connect`, `tls`, `blocked`,
    /// `redirect`, ... (`nil` for a plain status answer).
    public var errorKind: String?
    /// One sentence for people.
    public var errorMessage: String?
    public var latencyMilliseconds: Int
    /// Response header fields of interest (`location`, `retry-after`, `content-type`), lower-case names.
    public var responseHeaders: [String: String]
    /// The first KiB of the response body.
    public var responseBody: [UInt8]

    public init(
        number: Int, attemptedAt: Date, statusCode: Int?, errorKind: String?, errorMessage: String?,
        latencyMilliseconds: Int, responseHeaders: [String: String], responseBody: [UInt8]
    ) {
        self.number = number
        self.attemptedAt = attemptedAt
        self.statusCode = statusCode
        self.errorKind = errorKind
        self.errorMessage = errorMessage
        self.latencyMilliseconds = latencyMilliseconds
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
    }
}

/// Everything the dispatcher needs for one attempt, as claimed from the store under a lease.
public struct DeliveryJob: Sendable, Equatable {
    /// The store's internal key of the delivery.
    public var deliverySeq: Int64
    public var deliveryID: String
    /// The store's internal key of the webhook: the unit of the per-endpoint in-flight cap.
    public var webhookSeq: Int64
    public var webhookID: String
    public var companyID: Int64
    public var url: String
    /// Signing secrets (`whsec_...`) in clear: the current one first, then a rotated one still valid.
    public var secrets: [String]
    public var eventID: String
    public var eventType: String
    public var payload: [UInt8]
    /// The number this attempt will have (attempts so far + 1).
    public var attemptNumber: Int

    public init(
        deliverySeq: Int64, deliveryID: String, webhookSeq: Int64, webhookID: String, companyID: Int64, url: String,
        secrets: [String], eventID: String, eventType: String, payload: [UInt8], attemptNumber: Int
    ) {
        self.deliverySeq = deliverySeq
        self.deliveryID = deliveryID
        self.webhookSeq = webhookSeq
        self.webhookID = webhookID
        self.companyID = companyID
        self.url = url
        self.secrets = secrets
        self.eventID = eventID
        self.eventType = eventType
        self.payload = payload
        self.attemptNumber = attemptNumber
    }
}

/// What follows an attempt, decided by `RetrySchedule` and applied by the store in one transaction.
public enum AttemptOutcome: Sendable, Equatable {
    /// The delivery succeeded; the webhook's failure streak ends.
    case succeeded
    /// Try again at this time.
    case retry(at: Date)
    /// The schedule gave up: the delivery is `failed`.
    case failed
    /// The receiver said 410 Gone (or failed too long): the webhook is disabled with this reason and its
    /// pending deliveries are cancelled, this one included.
    case disableWebhook(reason: String)
}
