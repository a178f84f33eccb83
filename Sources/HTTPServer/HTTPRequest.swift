// HTTPServer: HTTP/1.1 over libevent's evhttp, one event loop per thread, plus a small path router.
//
// It owns sockets, connections, request parsing (by libevent), body limits, timeouts, request ids, the access log
// line and graceful shutdown. It knows nothing of webhooks: handlers receive an `HTTPRequest` and return an
// `HTTPResponse`, and run off the event loops so a slow handler never stalls other connections.

/// One request as the handler sees it: parsed, with its whole body read.
public struct HTTPRequest: Sendable {
    /// The method in upper case, e.g. `GET`.
    public var method: String
    /// The path part of the request target, still percent-encoded.
    public var path: String
    /// The decoded query parameters in the order given.
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The peer's address without the port.
    public var remoteAddress: String
    /// The caller's `X-Request-Id` when it was usable, otherwise one made for this request.
    public var requestID: String

    /// Creates a request; the server does this, and tests may too.
    public init(
        method: String, path: String, query: [(name: String, value: String)] = [], headers: HTTPHeaders = .init(),
        body: [UInt8] = [], remoteAddress: String = "127.0.0.1", requestID: String = "test"
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.requestID = requestID
    }

    /// The first value of a query parameter, or `nil`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }
}

/// Header fields in arrival order, looked up without regard to case.
public struct HTTPHeaders: Sendable, Sequence {
    private var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of the named field, or `nil`.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public mutating func add(name: String, value: String) {
        fields.append((name, value))
    }

    /// Replaces every field of this name with one value.
    public mutating func set(name: String, value: String) {
        fields.removeAll { $0.name.caseInsensitiveEquals(name) }
        fields.append((name, value))
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

extension String {
    /// ASCII case-insensitive comparison, as header names need.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let left = utf8
        let right = other.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { lhs, rhs in
            lhs == rhs || (lhs | 0x20 == rhs | 0x20 && (lhs | 0x20) >= 0x61 && (lhs | 0x20) <= 0x7A)
        }
    }
}
