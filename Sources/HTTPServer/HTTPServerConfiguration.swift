/// How an `HTTPServer` listens and what it tolerates from clients.
public struct HTTPServerConfiguration: Sendable {
    /// Host to bind, e.g. `127.0.0.1`, `::1` or `0.0.0.0`.
    public var host: String
    /// Port to bind; 0 picks a free one (see `HTTPServer.port`).
    public var port: Int
    /// Event loop threads; each accepts and serves its own connections.
    public var threads: Int
    /// Largest request body accepted; bigger ones get 413.
    public var maxBodySize: Int
    /// Largest request head (request line and header fields) accepted.
    public var maxHeadersSize: Int
    /// Seconds a connection may sit without sending or receiving before it is closed.
    public var ioTimeoutSeconds: Int
    /// Body of the JSON 413 answer.
    public var bodyTooLargeMessage: String
    /// When set, every connection speaks HTTPS with this certificate; plain HTTP otherwise.
    public var tls: TLSFiles?

    /// A server certificate chain and its private key, as PEM files.
    public struct TLSFiles: Sendable {
        public var certificateFile: String
        public var keyFile: String

        public init(certificateFile: String, keyFile: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// Creates a configuration; the defaults suit one machine.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, threads: Int = 2, maxBodySize: Int = 1 << 20,
        maxHeadersSize: Int = 64 << 10, ioTimeoutSeconds: Int = 30,
        bodyTooLargeMessage: String = "The request body is larger than the limit.", tls: TLSFiles? = nil
    ) {
        self.host = host
        self.port = port
        self.threads = threads
        self.maxBodySize = maxBodySize
        self.maxHeadersSize = maxHeadersSize
        self.ioTimeoutSeconds = ioTimeoutSeconds
        self.bodyTooLargeMessage = bodyTooLargeMessage
        self.tls = tls
    }
}

/// Why the server could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
    public var operation: String
    public var message: String

    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
