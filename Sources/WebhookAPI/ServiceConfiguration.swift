import Delivery
import Foundation
import WebhookCore

/// Every setting of `serve`, with the defaults a single machine needs.
public struct ServiceConfiguration: Sendable {
    /// `HOST:PORT` to listen on; `[::1]:8080` for IPv6.
    public var listen: String
    /// `sqlite:PATH` (default `sqlite:donutwork.db`) or `postgres://...`.
    public var database: String
    /// Seconds between this process's heartbeats in the database; processes sharing it split each key's rate
    /// limit among those that beat within the last three intervals.
    public var heartbeatInterval: TimeInterval = 5
    /// The most database connections this process opens (the API's store threads, the dispatcher and the
    /// background work share them).
    public var databasePoolSize: Int
    /// Seconds one PostgreSQL statement may wait for the server's answer before its connection is given up and
    /// the request answered 503: a server that stops answering without closing connections holds nothing longer.
    public var databaseTimeout: TimeInterval = 10
    /// Event loop threads.
    public var threads: Int
    /// Extra trusted CA certificates (PEM) for endpoint checks.
    public var caFile: String?
    /// Lets webhooks point at loopback and private networks; for development and tests.
    public var allowPrivateTargets: Bool
    /// Seconds a new endpoint has to complete its TLS handshake.
    public var tlsCheckTimeout: Double
    /// Largest request body in bytes.
    public var maxBodySize: Int
    /// Sustained requests per second per API key (0 turns it off).
    public var rateLimit: Double
    /// Burst size per API key.
    public var rateBurst: Double
    /// Where the key that encrypts webhook tokens lives; generated beside the SQLite file when `nil`.
    public var masterKeyFile: String?
    /// Seconds a rotated-out token keeps signing beside the new one.
    public var tokenRotationOverlap: TimeInterval
    /// The delivery engine's settings (timeouts, caps, retry schedule); `allowPrivateTargets` and `caFile`
    /// above override its own.
    public var delivery: Dispatcher.Configuration
    /// Whether this process sends deliveries (an API-only process leaves them to others).
    public var runsDispatcher: Bool
    /// `HOST:PORT` of a server of its own for `GET /metrics`; `nil` serves them on `listen`.
    public var metricsListen: String?
    /// Seconds events, their deliveries and attempts are kept before they are purged; `nil` keeps them forever.
    /// Events with a pending delivery are kept until it ends, whatever their age.
    public var retention: TimeInterval?
    /// Seconds from start to the first purge pass, and from the end of each pass to the next.
    public var retentionInterval: TimeInterval

    public init(
        listen: String = "127.0.0.1:8080", database: String = "sqlite:donutwork.db",
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, caFile: String? = nil,
        allowPrivateTargets: Bool = false, tlsCheckTimeout: Double = 10, maxBodySize: Int = 1 << 20,
        rateLimit: Double = 100, rateBurst: Double = 200, masterKeyFile: String? = nil,
        tokenRotationOverlap: TimeInterval = 86_400, delivery: Dispatcher.Configuration = .init(),
        runsDispatcher: Bool = true, metricsListen: String? = nil, retention: TimeInterval? = 30 * 86_400,
        retentionInterval: TimeInterval = 60
    ) {
        self.listen = listen
        self.database = database
        self.threads = threads
        self.databasePoolSize = 10
        self.caFile = caFile
        self.allowPrivateTargets = allowPrivateTargets
        self.tlsCheckTimeout = tlsCheckTimeout
        self.maxBodySize = maxBodySize
        self.rateLimit = rateLimit
        self.rateBurst = rateBurst
        self.masterKeyFile = masterKeyFile
        self.tokenRotationOverlap = tokenRotationOverlap
        self.delivery = delivery
        self.runsDispatcher = runsDispatcher
        self.metricsListen = metricsListen
        self.retention = retention
        self.retentionInterval = retentionInterval
    }

    /// Splits `HOST:PORT` (or `[IPV6]:PORT`); `nil` when malformed.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    /// Reads a `--retention` value: a whole number with one unit, `s`, `m`, `h` or `d` (`90m`, `12h`, `30d`), at
    /// most 100 years, or `0` or `off` (any case) to keep everything.
    ///
    /// A bare number other than 0 is refused rather than read as seconds: `--retention 30` meant as days would
    /// otherwise delete everything older than half a minute.
    /// - Returns: the retention in seconds, or `nil` for `0`, `off` or a zero duration such as `0d`.
    /// - Throws: `ConfigurationError` with a one-line message for anything else.
    public static func parseRetention(_ text: String) throws -> TimeInterval? {
        if text == "0" || text.lowercased() == "off" { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }) else { throw retentionError(text) }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let count = Int(digits) else {
            throw retentionError(text)
        }
        let seconds = Double(count) * unit
        guard seconds <= 36_500 * 86_400 else { throw retentionError(text) }
        return seconds == 0 ? nil : seconds
    }

    private static func retentionError(_ text: String) -> ConfigurationError {
        ConfigurationError(
            "--retention must be a whole number of s, m, h or d up to 36500d (e.g. 90m, 12h, 30d), or 0 or off, "
                + "not \"\(text)\""
        )
    }
}
