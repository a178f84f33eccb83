import Foundation
import HTTPServer
import Store
import WebhookCore

extension WebhookAPI {
    /// `GET webhooks.json?size=&page=`: one page of the caller's webhooks in creation order.
    func listWebhooks(_ caller: Caller, request: HTTPRequest) async throws -> HTTPResponse {
        let paging: Paging
        switch Paging.parse(size: request.queryValue("size"), page: request.queryValue("page")) {
        case .success(let parsed): paging = parsed
        case .failure(let error): throw APIError(status: 400, message: error.message)
        }

        let companyID = caller.company.id
        let (count, webhooks) = try await withStore { store in
            (
                try store.countWebhooks(companyID: companyID),
                try store.webhooks(companyID: companyID, offset: paging.offset, limit: paging.size)
            )
        }
        return .json(
            200,
            .object([
                ("entities", .string("Webhook")),
                ("count", .int(count)),
                ("per_page", .int(paging.size)),
                ("pages", .object([("current", .int(paging.page)), ("max", .int(paging.maxPage(count: count)))])),
                ("elements", .array(webhooks.map { WebhookAPI.json($0, revealToken: false) })),
            ]))
    }

    /// `POST webhooks.json`: validates, checks the endpoint, stores, and shows the token once.
    func createWebhook(_ caller: Caller, request: HTTPRequest) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let available = Set(try await withStore { try $0.availableEventTypes(companyID: companyID) })

        let draft: WebhookDraft
        switch WebhookDraft.parse(
            body: request.body, availableEvents: available, allowPrivate: configuration.allowPrivateTargets)
        {
        case .success(let parsed):
            draft = parsed
        case .failure(let error):
            throw APIError(error)
        }

        if let failure = await checker.check(draft.endpoint, companyID: companyID) {
            switch failure {
            case .privateAddress: throw APIError(status: 422, message: failure.message)
            case .busy: throw APIError(status: 503, message: failure.message, headers: [("Retry-After", "5")])
            case .unresolvable, .unreachable: throw APIError(status: 400, message: failure.message)
            }
        }

        let webhook = Webhook(
            id: Identifier.make(prefix: "wh"), companyID: companyID, name: draft.name, description: draft.description,
            url: draft.endpoint.url, events: draft.events, token: WebhookToken.make(), createdAt: Date())
        try await withStore { try $0.insertWebhook(webhook) }
        logger.info("webhook created", ["company": caller.company.slug, "webhook_id": webhook.id])
        return .json(201, WebhookAPI.json(webhook, revealToken: true))
    }

    /// `GET webhooks/types.json`: event names the caller's company may subscribe to.
    func eventTypes(_ caller: Caller) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let names = try await withStore { try $0.availableEventTypes(companyID: companyID) }
        return .json(200, .array(names.map { .string($0) }))
    }

    /// `GET webhooks/{id}.json`: one webhook of the caller's company, token redacted.
    func showWebhook(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        guard let webhook = try await withStore({ try $0.webhook(id: id, companyID: companyID) }) else {
            throw APIError.webhookNotFound
        }
        return .json(200, WebhookAPI.json(webhook, revealToken: false))
    }

    /// `DELETE webhooks/{id}.json`: removes one webhook of the caller's company.
    func deleteWebhook(_ caller: Caller, id: String) async throws -> HTTPResponse {
        let companyID = caller.company.id
        let dispatcher = dispatcher
        let deleted = try await withStore { store -> Bool in
            guard let seq = try store.webhookSeq(id: id, companyID: companyID),
                try store.deleteWebhook(id: id, companyID: companyID)
            else { return false }
            // Nothing may be sent to it once this call has been answered.
            dispatcher?.cancel(webhookSeq: seq)
            return true
        }
        guard deleted else { throw APIError.webhookNotFoundForDelete }
        logger.info("webhook deleted", ["company": caller.company.slug, "webhook_id": id])
        return .json(200, .object([("id", .string(id)), ("deleted", .bool(true))]))
    }

    /// A webhook in the seed page's shape and order.
    static func json(_ webhook: Webhook, revealToken: Bool) -> JSONValue {
        .object([
            ("id", .string(webhook.id)),
            ("name", .string(webhook.name)),
            ("description", .string(webhook.description)),
            ("url", .string(webhook.url)),
            ("events", .array(webhook.events.map { .string($0) })),
            ("token", .string(revealToken ? webhook.token : "redacted")),
            ("status", .string(webhook.status.rawValue)),
            ("disabled_reason", .string(webhook.disabledReason)),
            ("created_at", .string(Timestamp.format(webhook.createdAt))),
        ])
    }
}
