import Foundation
import HTTPServer
import Store
import WebhookCore

extension WebhookAPI {
    /// How long an idempotency key stays bound to its first event.
    static let idempotencyWindow: TimeInterval = 24 * 3600

    /// `POST events.json`: accepts an event once it and its deliveries are committed.
    func createEvent(_ caller: Caller, request: HTTPRequest) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let body = request.body
        let intake: EventIntake
        switch try await withStore({ try emitEvent(store: $0, companyID: companyID, body: body) }) {
        case .success(let accepted): intake = accepted
        case .failure(let error): throw APIError(error)
        }
        if !intake.replayed && intake.deliveryCount > 0 {
            dispatcher?.wake()
        }
        logger.info(
            intake.replayed ? "event replayed" : "event accepted",
            [
                "company": caller.company.slug, "event_id": intake.event.id, "type": intake.event.type,
                "deliveries": intake.deliveryCount,
            ])
        return .json(
            intake.replayed ? 200 : 202,
            .object([
                ("id", .string(intake.event.id)),
                ("type", .string(intake.event.type)),
                ("created_at", .string(Timestamp.format(intake.event.createdAt))),
                ("deliveries", .int(intake.deliveryCount)),
            ]))
    }

    /// `GET webhooks/{id}/deliveries.json?status=&size=&page=`.
    func listDeliveries(_ caller: Caller, webhookID: String, request: HTTPRequest) async throws -> HTTPResponse {
        let paging: Paging
        switch Paging.parse(size: request.queryValue("size"), page: request.queryValue("page")) {
        case .success(let parsed): paging = parsed
        case .failure(let error): throw APIError(status: 400, message: error.message)
        }
        var status: Delivery.Status?
        if let text = request.queryValue("status") {
            guard let parsed = Delivery.Status(rawValue: text) else {
                let names = Delivery.Status.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError(status: 400, message: "\"status\" must be one of \(names).")
            }
            status = parsed
        }

        let companyID = caller.company.id
        let filter = status
        guard
            let result = try await withStore({ store in
                try store.deliveries(
                    webhookID: webhookID, companyID: companyID, status: filter, offset: paging.offset,
                    limit: paging.size)
            })
        else { throw APIError.webhookNotFound }
        return .json(
            200,
            .object([
                ("entities", .string("Delivery")),
                ("count", .int(result.total)),
                ("per_page", .int(paging.size)),
                (
                    "pages",
                    .object([("current", .int(paging.page)), ("max", .int(paging.maxPage(count: result.total)))])
                ),
                ("elements", .array(result.page.map { WebhookAPI.json($0) })),
            ]))
    }

    /// `GET deliveries/{id}.json`: one delivery with every attempt.
    func showDelivery(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        guard let found = try await withStore({ try $0.delivery(id: id, companyID: companyID) }) else {
            throw APIError.deliveryNotFound
        }
        var members = WebhookAPI.members(found.delivery)
        members.append(("attempts", .array(found.attempts.map { WebhookAPI.json($0) })))
        return .json(200, .object(members))
    }

    /// `POST deliveries/{id}/retry.json`: sends a delivery again now, whatever its status.
    func retryDelivery(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let delivery: Delivery?
        do {
            delivery = try await withStore { try $0.retryDelivery(id: id, companyID: companyID, now: Date()) }
        } catch StoreError.conflict {
            throw APIError(status: 409, message: "The webhook of this delivery is disabled; enable it first.")
        }
        guard let delivery else { throw APIError.deliveryNotFound }
        dispatcher?.wake()
        logger.info("delivery retried", ["company": caller.company.slug, "delivery_id": id])
        return .json(202, WebhookAPI.json(delivery))
    }

    /// `POST webhooks/{id}/enable.json`.
    func enableWebhook(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let dispatcher = dispatcher
        guard
            let webhook = try await withStore({ store -> Webhook? in
                guard let webhook = try store.enableWebhook(id: id, companyID: companyID, now: Date()) else {
                    return nil
                }
                // The dispatcher stopped sending to it when it was disabled; it may send again.
                if let seq = try store.webhookSeq(id: id, companyID: companyID) {
                    dispatcher?.resume(webhookSeq: seq)
                }
                return webhook
            })
        else { throw APIError.webhookNotFound }
        logger.info("webhook enabled", ["company": caller.company.slug, "webhook_id": id])
        return .json(200, WebhookAPI.json(webhook, revealToken: false))
    }

    /// `POST webhooks/{id}/token.json`: a new signing secret; the old one keeps signing for a while.
    func rotateToken(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let now = Date()
        let validUntil = now.addingTimeInterval(configuration.previousTokenLifetime)
        let token = WebhookToken.make()
        guard
            let webhook = try await withStore({ store in
                try store.rotateToken(
                    id: id, companyID: companyID, newToken: token, previousValidUntil: validUntil, now: now)
            })
        else { throw APIError.webhookNotFound }
        logger.info("webhook token rotated", ["company": caller.company.slug, "webhook_id": id])
        return .json(201, WebhookAPI.json(webhook, revealToken: true))
    }

    static func members(_ delivery: Delivery) -> [(String, JSONValue)] {
        [
            ("id", .string(delivery.id)),
            ("event_id", .string(delivery.eventID)),
            ("event_type", .string(delivery.eventType)),
            ("webhook_id", .string(delivery.webhookID)),
            ("status", .string(delivery.status.rawValue)),
            ("attempts_count", .int(delivery.attemptCount)),
            ("next_attempt_at", .string(delivery.nextAttemptAt.map(Timestamp.format))),
            ("created_at", .string(Timestamp.format(delivery.createdAt))),
            ("updated_at", .string(Timestamp.format(delivery.updatedAt))),
        ]
    }

    static func json(_ delivery: Delivery) -> JSONValue {
        .object(members(delivery))
    }

    static func json(_ attempt: DeliveryAttempt) -> JSONValue {
        .object([
            ("number", .int(attempt.number)),
            ("attempted_at", .string(Timestamp.format(attempt.attemptedAt))),
            ("status_code", attempt.statusCode.map { .int($0) } ?? .null),
            ("error_kind", .string(attempt.errorKind)),
            ("error", .string(attempt.errorMessage)),
            ("latency_ms", .int(attempt.latencyMilliseconds)),
            (
                "response_headers",
                .object(attempt.responseHeaders.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
            ),
            ("response_body", .string(String(decoding: attempt.responseBody, as: UTF8.self))),
        ])
    }
}
