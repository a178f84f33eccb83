import CLibEvent
import Dispatch
import Foundation
import Logging
import Synchronization

/// Handles one request; runs off the event loops and may take its time.
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// Called on the loop thread after each answer is sent; keep it short (e.g. count it).
public typealias HTTPResponseObserver = @Sendable (HTTPExchange) -> Void

/// An HTTP/1.1 server on libevent: `threads` event loops sharing one listening socket; HTTPS when the
/// configuration names a certificate (`tls`).
///
/// ```swift
/// let server = try HTTPServer(configuration: .init(port: 0), logger: logger) { request in
///     HTTPResponse(status: 200, body: Array("hello".utf8))
/// }
/// try server.start()
/// print(server.port)
/// server.shutdown()
/// ```
public final class HTTPServer: Sendable {
    /// What the loops share: configuration, handler, counters and the access log.
    final class SharedState: Sendable {
        let configuration: HTTPServerConfiguration
        let handler: HTTPHandler
        let onResponse: HTTPResponseObserver?
        let logger: Logger
        let inFlight = Atomic<Int>(0)
        let shuttingDown = Atomic<Bool>(false)

        init(
            configuration: HTTPServerConfiguration, handler: @escaping HTTPHandler,
            onResponse: HTTPResponseObserver?, logger: Logger
        ) {
            self.configuration = configuration
            self.handler = handler
            self.onResponse = onResponse
            self.logger = logger
        }

        func accessLog(
            _ summary: EventLoop.RequestSummary, _ status: Int, _ milliseconds: Double,
            _ extra: [(key: String, value: String)]
        ) {
            guard logger.level <= .info else { return }
            var metadata: [(String, String)] = [
                ("request_id", summary.requestID), ("method", summary.method), ("path", summary.path),
                ("status", String(status)), ("ms", String(format: "%.2f", milliseconds)),
            ]
            metadata += extra.map { ($0.key, $0.value) }
            logger.log(.info, "request", fields: metadata)
        }
    }

    private let shared: SharedState
    private let loops: Mutex<[EventLoop]>
    private let boundPort = Atomic<Int>(0)

    /// Every method evhttp knows, so unknown routes get our JSON 404/405 rather than libevent's HTML.
    static let allMethods: UInt16 = 0x1FF

    /// Creates a server; nothing listens until `start()`.
    /// - Parameters:
    ///   - configuration: address, threads and limits.
    ///   - logger: receives one `request` line per request at info.
    ///   - onResponse: told of every answer once it is sent, including the server's own (for metrics).
    ///   - handler: answers every request that passed the body limit.
    public init(
        configuration: HTTPServerConfiguration, logger: Logger, onResponse: HTTPResponseObserver? = nil,
        handler: @escaping HTTPHandler
    ) {
        shared = SharedState(configuration: configuration, handler: handler, onResponse: onResponse, logger: logger)
        loops = Mutex([])
        HTTPServer.enableThreads
    }

    /// The port actually bound, known after `start()`.
    public var port: Int { boundPort.load(ordering: .relaxed) }

    /// Requests read but not yet answered.
    public var requestsInFlight: Int { shared.inFlight.load(ordering: .relaxed) }

    /// Binds the sockets and starts the event loop threads.
    public func start() throws {
        let configuration = shared.configuration
        let tls = try configuration.tls.map(TLSContext.init)
        let socket = try ListeningSocket.open(host: configuration.host, port: configuration.port)
        var started: [EventLoop] = []
        do {
            for index in 0..<max(1, configuration.threads) {
                // Each loop owns (and closes) its own descriptor of the one shared socket.
                let fd = index == 0 ? socket.fd : dup(socket.fd)
                let loop = try EventLoop(listeningSocket: fd, shared: shared, tls: tls)
                loop.start(name: "http-loop-\(index)")
                started.append(loop)
            }
        } catch {
            started.forEach { $0.stopAndWait() }
            throw error
        }
        boundPort.store(socket.port, ordering: .relaxed)
        loops.withLock { $0 = started }
    }

    /// Stops accepting, lets in-flight requests finish for up to `gracePeriod`, then closes every connection.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        shared.shuttingDown.store(true, ordering: .relaxed)
        let running = loops.withLock { loops in
            let taken = loops
            loops.removeAll()
            return taken
        }
        running.forEach { $0.stopAccepting() }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: gracePeriod)
        while shared.inFlight.load(ordering: .relaxed) > 0 && clock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        running.forEach { $0.stopAndWait() }
    }

    /// A JSON `{"error": ...}` response, for the few answers the server gives itself.
    static func errorResponse(_ status: Int, _ message: String) -> HTTPResponse {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": message])) ?? Data()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array(body))
    }

    /// The body size above which libevent itself refuses a request (with its own HTML page): a little above
    /// ours, so the usual oversized body gets our JSON 413 while memory per connection stays bounded.
    static func hardBodyCap(_ limit: Int) -> Int {
        let (sum, overflow) = limit.addingReportingOverflow(64 << 10)
        return overflow ? Int.max : sum
    }

    /// libevent must be told once, before any event base exists, that several threads will use it; its own
    /// messages go to our logger at debug level, so an error it repeats (e.g. per failed accept) cannot flood.
    ///
    /// - Important: it also ignores SIGPIPE for the process: libevent writes answers with `writev`, and a client
    ///   that hung up would otherwise kill the server with the first write after it left
    ///   (OpenSSL's `write` too, e.g. session tickets to a client that closed right after the handshake).
    private static let enableThreads: Void = {
        signal(SIGPIPE, SIG_IGN)
        evthread_use_pthreads()
        event_set_log_callback(libeventLog)
    }()
}

/// The logger libevent's own messages and accept pauses are written to.
let libeventLogger = Logger(label: "libevent", level: .debug)

/// libevent's log callback: its messages at debug, its errors at error.
private func libeventLog(_ severity: Int32, _ message: UnsafePointer<CChar>?) {
    guard let message else { return }
    let level: Logger.Level = severity >= EVENT_LOG_ERR ? .error : .debug
    if level == .error || ProcessInfo.processInfo.environment["DONUTWORK_LIBEVENT_DEBUG"] != nil {
        libeventLogger.log(level, String(cString: message), [:])
    }
}
