import Foundation
import WebhookCore

/// One finished attempt, as `Store.recordAttempts` takes it.
public struct AttemptRecord: Sendable, Equatable {
    public var deliverySeq: Int64
    /// The delivery's webhook. A batch is applied in webhook order, the order in which every writer locks webhooks,
    /// so two processes recording at once never wait on each other in a cycle. A lone record may pass 0.
    public var webhookSeq: Int64
    public var attempt: DeliveryAttempt
    public var outcome: AttemptOutcome
    /// When the attempt finished: the time its outcome is applied at.
    public var finishedAt: Date
    /// An earlier call to record it failed without saying whether it committed (the database stopped answering):
    /// if the attempt is already there, it is skipped instead of counted twice.
    public var mayBeRecorded = false
    /// The attempt's own record was given up (too late: another process may have taken the delivery since), but the
    /// webhook disable its 410 asked for is still to be made; only that is done.
    public var disableOnly = false

    public init(
        deliverySeq: Int64, webhookSeq: Int64, attempt: DeliveryAttempt, outcome: AttemptOutcome, finishedAt: Date
    ) {
        self.deliverySeq = deliverySeq
        self.webhookSeq = webhookSeq
        self.attempt = attempt
        self.outcome = outcome
        self.finishedAt = finishedAt
    }
}

/// A webhook that recording an attempt disabled, for the store's log line.
struct DisabledWebhook {
    var webhookSeq: Int64
    var reason: String
}

/// The statements that recording one attempt is made of, each in a store's own SQL, run inside a transaction the
/// store opened. `record(_:disableAfter:)` below holds the rules that decide which of them run, once for every
/// store.
protocol AttemptSteps {
    /// The delivery's status and its webhook, with whatever the store locks before writing them (PostgreSQL locks
    /// the webhook row first); `nil` when the delivery is gone (its webhook was deleted).
    func delivery(_ deliverySeq: Int64) throws -> (status: String, webhookSeq: Int64)?

    /// Whether the delivery already has this attempt (same number, same start).
    func hasAttempt(_ attempt: DeliveryAttempt, deliverySeq: Int64) throws -> Bool

    /// Stores the attempt and counts it on its delivery, whose lease ends.
    func insertAttempt(_ attempt: DeliveryAttempt, headers: String?, deliverySeq: Int64, now: Date) throws

    /// The delivery succeeded: it is done, and its webhook's failure streak ends.
    func markSucceeded(deliverySeq: Int64, webhookSeq: Int64, now: Date) throws

    /// The delivery is due again at `at`.
    func scheduleRetry(deliverySeq: Int64, at: Date) throws

    /// The schedule gave up on the delivery.
    func markFailed(deliverySeq: Int64) throws

    /// Disables the webhook with `reason` and cancels its pending deliveries.
    func disableWebhook(_ webhookSeq: Int64, reason: String, now: Date) throws

    /// Starts the webhook's failure streak at `now` unless one is running; returns when the streak began, or `nil`
    /// when the webhook is already disabled (it cannot be disabled twice).
    @discardableResult
    func extendFailureStreak(_ webhookSeq: Int64, now: Date) throws -> Date?
}

extension AttemptSteps {
    /// Records one attempt and applies its outcome.
    ///
    /// Every attempt counts. When the delivery is no longer pending (cancelled meanwhile) only the attempt is
    /// recorded: neither its status nor the webhook's health changes. When it is gone there is nothing to record
    /// against. A failure extends the webhook's streak, and a streak older than `disableAfter` seconds disables it.
    /// - Returns: the webhook and why, when this attempt disabled it.
    func record(_ record: AttemptRecord, disableAfter: TimeInterval) throws -> DisabledWebhook? {
        let now = record.finishedAt
        guard let delivery = try delivery(record.deliverySeq) else { return nil }
        if record.disableOnly {
            guard case .disableWebhook(let reason) = record.outcome else { return nil }
            try disableWebhook(delivery.webhookSeq, reason: reason, now: now)
            return DisabledWebhook(webhookSeq: delivery.webhookSeq, reason: reason)
        }
        if record.mayBeRecorded, try hasAttempt(record.attempt, deliverySeq: record.deliverySeq) {
            return nil
        }
        try insertAttempt(
            record.attempt, headers: try AttemptText.encodeHeaders(record.attempt.responseHeaders),
            deliverySeq: record.deliverySeq, now: now)
        guard delivery.status == Delivery.Status.pending.rawValue else { return nil }

        switch record.outcome {
        case .succeeded:
            try markSucceeded(deliverySeq: record.deliverySeq, webhookSeq: delivery.webhookSeq, now: now)
            return nil
        case .retry(let at):
            try scheduleRetry(deliverySeq: record.deliverySeq, at: at)
        case .failed:
            try markFailed(deliverySeq: record.deliverySeq)
        case .disableWebhook(let reason):
            try disableWebhook(delivery.webhookSeq, reason: reason, now: now)
            try extendFailureStreak(delivery.webhookSeq, now: now)
            return DisabledWebhook(webhookSeq: delivery.webhookSeq, reason: reason)
        }

        guard let since = try extendFailureStreak(delivery.webhookSeq, now: now),
            since < now.addingTimeInterval(-disableAfter)
        else { return nil }
        let reason = AttemptText.disabledReason(failingFor: disableAfter)
        try disableWebhook(delivery.webhookSeq, reason: reason, now: now)
        return DisabledWebhook(webhookSeq: delivery.webhookSeq, reason: reason)
    }

    /// Records `records` one after another, in webhook order; returns the webhooks they disabled.
    func record(_ records: [AttemptRecord], disableAfter: TimeInterval) throws -> [DisabledWebhook] {
        let ordered = records.enumerated().sorted {
            ($0.element.webhookSeq, $0.offset) < ($1.element.webhookSeq, $1.offset)
        }
        return try ordered.compactMap { try record($0.element, disableAfter: disableAfter) }
    }
}
