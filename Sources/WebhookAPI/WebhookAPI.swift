import Delivery
import Foundation
import HTTPServer
import Locking
import Logging
import Metrics
import Store
import WebhookCore

/// The REST API of version 2026-02-01: one handler for every request the HTTP server reads.
public final class WebhookAPI: Sendable {
    /// The path prefix every versioned call shares.
    public static let version = "2026-02-01"

    /// Operator settings the handlers need.
    public struct Configuration: Sendable {
        public var allowPrivateTargets: Bool
        /// Sustained requests per second per API key; 0 turns the limit off.
        public var rateLimit: Double
        /// Requests a quiet key may send at once.
        public var rateBurst: Double
        /// Threads for blocking store calls.
        public var storeThreads: Int
        /// Seconds a rotated-out token keeps signing beside the new one.
        public var previousTokenLifetime: TimeInterval
        /// Whether `GET /metrics` is answered here (not when the metrics have an address of their own).
        public var servesMetrics: Bool

        public init(
            allowPrivateTargets: Bool = false, rateLimit: Double = 100, rateBurst: Double = 200, storeThreads: Int = 8,
            previousTokenLifetime: TimeInterval = 86_400, servesMetrics: Bool = true
        ) {
            self.allowPrivateTargets = allowPrivateTargets
            self.rateLimit = rateLimit
            self.rateBurst = rateBurst
            self.storeThreads = storeThreads
            self.previousTokenLifetime = previousTokenLifetime
            self.servesMetrics = servesMetrics
        }
    }

    /// The calls the API answers.
    enum Route: Sendable {
        case health
        case metrics
        case openAPI
        case dashboardRedirect
        case dashboard
        case listWebhooks
        case createWebhook
        case eventTypes
        case showWebhook
        case deleteWebhook
        case createEvent
        case listDeliveries
        case showDelivery
        case retryDelivery
        case enableWebhook
        case rotateToken

        /// What a key needs for the call; `nil` for calls without authentication.
        var permission: Permission? {
            switch self {
            case .health, .metrics, .openAPI, .dashboardRedirect, .dashboard: nil
            case .listWebhooks, .eventTypes, .showWebhook, .listDeliveries, .showDelivery: .webhooksRead
            case .createWebhook, .deleteWebhook, .retryDelivery, .enableWebhook, .rotateToken: .webhooksWrite
            case .createEvent: .eventsWrite
            }
        }
    }

    /// A route and the pattern it was registered under (the `route` label of the request metrics).
    struct Endpoint: Sendable {
        var route: Route
        var pattern: String
    }

    /// Who is calling, once the key checked out.
    struct Caller: Sendable {
        var key: APIKey
        var company: Company
    }

    let store: any Store
    let checker: EndpointChecker
    /// The delivery engine of this process, woken after intake; `nil` when this process only serves the API.
    let dispatcher: Dispatcher?
    let configuration: Configuration
    let logger: Logger
    let pool: BlockingPool
    let metrics: ServiceMetrics
    private let router: Router<Endpoint>
    let rateLimiter: RateLimiter
    private let unavailableLog = OncePerSecond()

    /// Creates the API over a store and an endpoint checker.
    public init(
        store: any Store, checker: EndpointChecker, dispatcher: Dispatcher?, configuration: Configuration,
        logger: Logger, metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.metrics = metrics
        self.store = store
        self.checker = checker
        self.dispatcher = dispatcher
        self.configuration = configuration
        self.logger = logger
        pool = BlockingPool(threads: configuration.storeThreads, name: "store")
        rateLimiter = RateLimiter(requestsPerSecond: configuration.rateLimit, burst: configuration.rateBurst)

        let prefix = "/\(WebhookAPI.version)"
        var router = Router<Endpoint>()
        func add(_ method: String, _ pattern: String, _ route: Route) {
            router.add(method, pattern, Endpoint(route: route, pattern: pattern))
        }
        add("GET", "/healthz", .health)
        if configuration.servesMetrics {
            add("GET", "/metrics", .metrics)
        }
        add("GET", "\(prefix)/openapi.json", .openAPI)
        add("GET", "/dashboard", .dashboardRedirect)
        add("GET", "/dashboard/", .dashboard)
        add("GET", "/dashboard/{file}", .dashboard)
        add("GET", "\(prefix)/webhooks.json", .listWebhooks)
        add("POST", "\(prefix)/webhooks.json", .createWebhook)
        add("GET", "\(prefix)/webhooks/types.json", .eventTypes)
        add("GET", "\(prefix)/webhooks/{id}.json", .showWebhook)
        add("DELETE", "\(prefix)/webhooks/{id}.json", .deleteWebhook)
        add("POST", "\(prefix)/events.json", .createEvent)
        add("GET", "\(prefix)/webhooks/{id}/deliveries.json", .listDeliveries)
        add("GET", "\(prefix)/deliveries/{id}.json", .showDelivery)
        add("POST", "\(prefix)/deliveries/{id}/retry.json", .retryDelivery)
        add("POST", "\(prefix)/webhooks/{id}/enable.json", .enableWebhook)
        add("POST", "\(prefix)/webhooks/{id}/token.json", .rotateToken)
        self.router = router
    }

    /// Stops the store threads once the HTTP server has stopped.
    public func stop() {
        pool.stop()
    }

    /// Answers one request; never throws, never leaks internals.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            return APIError.notFound(method: request.method, path: request.path).response
        case .methodNotAllowed(let allowed):
            var response = APIError.methodNotAllowed(allowed).response
            response.route = router.pattern(matching: request.path)
            return response
        case .matched(let endpoint, let parameters):
            let route = endpoint.route
            var caller: Caller?
            var response: HTTPResponse
            do {
                if let permission = route.permission {
                    caller = try await authenticate(request, needing: permission)
                }
                response = try await dispatch(route, parameters: parameters, caller: caller, request: request)
            } catch let error as APIError {
                response = error.response
            } catch let error as StoreError {
                response = storeFailure(error, request: request)
            } catch {
                logger.error("request failed", ["request_id": request.requestID, "error": String(describing: error)])
                response = APIError.internalError.response
            }
            if let caller {
                response.logMetadata.append((key: "company", value: caller.company.slug))
            }
            response.route = endpoint.pattern
            return response
        }
    }

    private func dispatch(
        _ route: Route, parameters: [String: String], caller: Caller?, request: HTTPRequest
    ) async throws -> HTTPResponse {
        switch route {
        case .health:
            return await health()
        case .metrics:
            return await metricsResponse()
        case .openAPI:
            return OpenAPIDocument.response
        case .dashboardRedirect:
            return DashboardAssets.redirect
        case .dashboard:
            guard let response = DashboardAssets.response(file: parameters["file"] ?? "") else {
                throw APIError.notFound(method: request.method, path: request.path)
            }
            return response
        case .listWebhooks:
            return try await listWebhooks(try required(caller), request: request)
        case .createWebhook:
            return try await createWebhook(try required(caller), request: request)
        case .eventTypes:
            return try await eventTypes(try required(caller))
        case .showWebhook:
            return try await showWebhook(try required(caller), id: parameters["id"] ?? "")
        case .deleteWebhook:
            return try await deleteWebhook(try required(caller), id: parameters["id"] ?? "")
        case .createEvent:
            return try await createEvent(try required(caller), request: request)
        case .listDeliveries:
            return try await listDeliveries(try required(caller), webhookID: parameters["id"] ?? "", request: request)
        case .showDelivery:
            return try await showDelivery(try required(caller), id: parameters["id"] ?? "")
        case .retryDelivery:
            return try await retryDelivery(try required(caller), id: parameters["id"] ?? "")
        case .enableWebhook:
            return try await enableWebhook(try required(caller), id: parameters["id"] ?? "")
        case .rotateToken:
            return try await rotateToken(try required(caller), id: parameters["id"] ?? "")
        }
    }

    private func required(_ caller: Caller?) throws -> Caller {
        guard let caller else { throw APIError.missingKey }
        return caller
    }

    /// Runs a store call on the store threads.
    func withStore<T: Sendable>(_ body: @escaping @Sendable (any Store) throws -> T) async throws -> T {
        let store = store
        return try await pool.run { try body(store) }
    }

    private func health() async -> HTTPResponse {
        do {
            try await withStore { try $0.ping() }
            return .json(200, .object([("status", .string("ok"))]))
        } catch {
            logger.warning("health check failed", ["error": String(describing: error)])
            return APIError(status: 503, message: "The store is not answering.").response
        }
    }

    /// The metrics in the text format, with the store's gauges read now on the store threads.
    public func metricsResponse() async -> HTTPResponse {
        let now = Date()
        var statistics: QueueStatistics?
        do {
            statistics = try await withStore { try $0.queueStatistics(now: now) }
        } catch {
            logger.warning("reading queue statistics for metrics failed", ["error": String(describing: error)])
        }
        metrics.update(statistics: statistics, attemptsInFlight: dispatcher?.attemptsInFlight, now: now)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: MetricsRegistry.contentType)
        return HTTPResponse(status: 200, headers: headers, body: Array(metrics.registry.render().utf8))
    }

    private func storeFailure(_ error: StoreError, request: HTTPRequest) -> HTTPResponse {
        if case .unavailable = error {
            // Every such request has its own request line (status=503); the reason is logged once a second with
            // how many requests met it meanwhile, so an outage does not bury the log in copies of one line.
            if let suppressed = unavailableLog.admit(now: Date()) {
                logger.warning(
                    "store unavailable",
                    ["request_id": request.requestID, "error": error.description, "also_failed": suppressed])
            }
            var response = APIError.storeUnavailable.response
            response.headers.add(name: "Retry-After", value: "1")
            return response
        }
        logger.error("store failure", ["request_id": request.requestID, "error": error.description])
        return APIError.internalError.response
    }
}
