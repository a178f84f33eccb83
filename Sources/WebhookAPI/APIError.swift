import HTTPServer
import WebhookCore

/// A failure as the client sees it: a status code and one sentence, sent as `{"error": "..."}`.
struct APIError: Error, Sendable {
    var status: Int
    var message: String
    /// Extra members after `error`, e.g. the unavailable event names.
    var extra: [(String, JSONValue)] = []
    /// Extra header fields, e.g. `Allow` or `Retry-After`.
    var headers: [(String, String)] = []

    static let webhookNotFound = APIError(status: 404, message: "Webhook not found.")
    static let webhookNotFoundForDelete = APIError(
        status: 404, message: "Webhook not found. Unable to delete unknown resource")
    static let deliveryNotFound = APIError(status: 404, message: "Delivery not found.")
    static let missingKey = APIError(
        status: 401, message: "An API key is required: send \"Authorization: Bearer <key>\".")
    static let invalidKey = APIError(status: 401, message: "The API key is unknown or revoked.")
    static let storeUnavailable = APIError(
        status: 503, message: "The service cannot reach its database right now; try again shortly.")
    static let internalError = APIError(status: 500, message: "Something went wrong on our side; it has been logged.")

    static func missingPermission(_ permission: String) -> APIError {
        APIError(status: 403, message: "This API key lacks the \"\(permission)\" permission.")
    }

    static func notFound(method: String, path: String) -> APIError {
        APIError(status: 404, message: "There is no such path: \(method) \(path).")
    }

    static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(
            status: 405, message: "This path does not support that method; use \(allowed.joined(separator: ", ")).",
            headers: [("Allow", allowed.joined(separator: ", "))])
    }

    static func rateLimited(retryAfter: Int) -> APIError {
        APIError(
            status: 429, message: "Too many requests for this API key; retry after \(retryAfter) seconds.",
            headers: [("Retry-After", String(retryAfter))])
    }

    /// The response carrying this error.
    var response: HTTPResponse {
        var response = HTTPResponse.json(status, .object([("error", .string(message))] + extra))
        for (name, value) in headers {
            response.headers.add(name: name, value: value)
        }
        return response
    }
}

extension APIError {
    /// A request the domain rules refused, naming unavailable events when there are any.
    init(_ validation: ValidationError) {
        var extra: [(String, JSONValue)] = []
        if let unavailable = validation.unavailableEvents, !unavailable.isEmpty {
            extra.append(("unavailable_events", .array(unavailable.map { .string($0) })))
        }
        self.init(status: validation.status, message: validation.message, extra: extra)
    }
}

extension HTTPResponse {
    /// A JSON response with the API's content type.
    static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: value.serialized())
    }
}
