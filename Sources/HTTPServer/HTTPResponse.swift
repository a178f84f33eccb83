/// What a handler answers: status, header fields and body bytes.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Extra key=value pairs for this request's access log line (e.g. the company); never secrets.
    public var logMetadata: [(key: String, value: String)]
    /// The route pattern that answered (e.g. `/items/{id}.json`), for metrics with bounded labels; `nil` when
    /// no route matched.
    public var route: String?

    public init(status: Int, headers: HTTPHeaders = .init(), body: [UInt8] = [], logMetadata: [(String, String)] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        self.logMetadata = logMetadata.map { (key: $0.0, value: $0.1) }
    }

    /// The standard reason phrase for a status code.
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status \(status)"
        }
    }
}

/// One answered request, as the server's `onResponse` hook sees it after the answer was sent.
public struct HTTPExchange: Sendable {
    public var method: String
    /// The raw path (unbounded: not for metric labels).
    public var path: String
    /// The handler's `HTTPResponse.route`; `nil` for no match or an answer the server gave itself (413, 400).
    public var route: String?
    public var status: Int
    /// From reading the request to handing the answer to the connection.
    public var seconds: Double
}
