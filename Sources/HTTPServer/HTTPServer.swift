import CLibEvent
import Dispatch
import Foundation
import Logging
import Synchronization

/// Handles one request; runs off the event loops and may take its time.
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// An HTTP/1.1 server on libevent: `threads` event loops, each with its own listening socket on the same port.
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
        let logger: Logger
        let inFlight = Atomic<Int>(0)
        let shuttingDown = Atomic<Bool>(false)

        init(configuration: HTTPServerConfiguration, handler: @escaping HTTPHandler, logger: Logger) {
            self.configuration = configuration
            self.handler = handler
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
    ///   - handler: answers every request that passed the body limit.
    public init(configuration: HTTPServerConfiguration, logger: Logger, handler: @escaping HTTPHandler) {
        shared = SharedState(configuration: configuration, handler: handler, logger: logger)
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
        var port = configuration.port
        var started: [EventLoop] = []
        do {
            for index in 0..<max(1, configuration.threads) {
                let socket = try ListeningSocket.open(host: configuration.host, port: port)
                port = socket.port
                let loop = try EventLoop(listeningSocket: socket.fd, shared: shared)
                loop.start(name: "http-loop-\(index)")
                started.append(loop)
            }
        } catch {
            started.forEach { $0.stopAndWait() }
            throw error
        }
        boundPort.store(port, ordering: .relaxed)
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

    /// The body size above which libevent itself refuses a request (with its own HTML page).
    static func hardBodyCap(_ limit: Int) -> Int {
        let (product, overflow) = limit.multipliedReportingOverflow(by: 4)
        return overflow ? Int.max : max(product, limit + (1 << 20))
    }

    /// libevent must be told once, before any event base exists, that several threads will use it.
    private static let enableThreads: Void = {
        evthread_use_pthreads()
    }()
}
