/// A webhook endpoint URL after `URLPolicy.normalize`: absolute https with a normalised host.
public struct EndpointURL: Sendable, Equatable, Hashable {
    /// The normalised absolute URL, as stored and shown, e.g. `https://xn--bcher-kva.example/hook`.
    public var url: String
    /// The normalised host without brackets: lower-case ASCII name, dotted-quad IPv4, or canonical IPv6.
    public var host: String
    /// The TCP port, 443 unless the URL names another.
    public var port: Int
    /// Whether `host` is an IP address rather than a name.
    public var ipLiteral: Bool

    /// Creates a value from parts already normalised by `URLPolicy`.
    ///
    /// - Parameters:
    ///   - url: the normalised absolute URL.
    ///   - host: the normalised host without brackets.
    ///   - port: the TCP port.
    ///   - ipLiteral: whether the host is an IP address.
    public init(url: String, host: String, port: Int, ipLiteral: Bool) {
        self.url = url
        self.host = host
        self.port = port
        self.ipLiteral = ipLiteral
    }
}
