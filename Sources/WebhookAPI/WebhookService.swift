import Delivery
import Foundation
import HTTPServer
import Logging
import Store
import WebhookCore

/// Everything `serve` runs, wired together: the store, the API and the HTTP server.
///
/// ```swift
/// let service = try WebhookService(configuration: .init(listen: "127.0.0.1:0"), logger: logger)
/// try service.start()
/// // ... requests on service.port ...
/// service.stop()
/// ```
public final class WebhookService: Sendable {
    public let configuration: ServiceConfiguration
    public let store: any Store
    public let metrics: ServiceMetrics
    private let api: WebhookAPI
    private let server: HTTPServer
    /// The server of `--metrics-listen`, when the metrics have an address of their own.
    private let metricsServer: HTTPServer?
    private let dispatcher: Dispatcher?
    private let heartbeat: InstanceHeartbeat
    /// Deletes expired events in the background; `nil` when the retention is off.
    private let purger: RetentionPurger?
    private let logger: Logger
    private let location: DatabaseLocation

    /// Opens the store (applying migrations) and prepares the server; nothing listens until `start()`.
    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        guard let address = ServiceConfiguration.parseListen(configuration.listen) else {
            throw ConfigurationError(
                "--listen must look like HOST:PORT, e.g. 127.0.0.1:8080, not \"\(configuration.listen)\"")
        }
        let metricsAddress = try configuration.metricsListen.map { text in
            guard let address = ServiceConfiguration.parseListen(text) else {
                throw ConfigurationError(
                    "--metrics-listen must look like HOST:PORT, e.g. 127.0.0.1:9090, not \"\(text)\"")
            }
            return address
        }
        self.configuration = configuration
        self.logger = logger
        let metrics = ServiceMetrics()
        self.metrics = metrics
        location = try DatabaseLocation(parsing: configuration.database)
        let cipher = try MasterKey.load(path: configuration.masterKeyFile, database: location, logger: logger)
        store = try openStore(
            location, poolSize: configuration.databasePoolSize, statementTimeout: configuration.databaseTimeout,
            logger: logger.labelled("store"), cipher: cipher)

        var delivery = configuration.delivery
        delivery.allowPrivateTargets = configuration.allowPrivateTargets
        delivery.caFile = configuration.caFile
        dispatcher =
            configuration.runsDispatcher
            ? Dispatcher(
                store: store, configuration: delivery, logger: logger.labelled("dispatcher"),
                onAttempt: { outcome, seconds in metrics.record(attempt: outcome, seconds: seconds) }) : nil

        if let retention = configuration.retention {
            purger = RetentionPurger(
                store: store, configuration: .init(retention: retention, interval: configuration.retentionInterval),
                logger: logger.labelled("retention"))
        } else {
            purger = nil
        }

        let checker = EndpointChecker(
            configuration: .init(
                allowPrivateTargets: configuration.allowPrivateTargets, caFile: configuration.caFile,
                timeoutSeconds: configuration.tlsCheckTimeout),
            logger: logger.labelled("endpoint-check"))
        api = WebhookAPI(
            store: store, checker: checker, dispatcher: dispatcher,
            configuration: .init(
                allowPrivateTargets: configuration.allowPrivateTargets, rateLimit: configuration.rateLimit,
                rateBurst: configuration.rateBurst, previousTokenLifetime: configuration.tokenRotationOverlap,
                servesMetrics: metricsAddress == nil),
            logger: logger.labelled("api"), metrics: metrics)

        let limiter = api.rateLimiter
        heartbeat = InstanceHeartbeat(
            store: store, interval: configuration.heartbeatInterval, logger: logger.labelled("heartbeat")
        ) { count in
            limiter.share(among: count)
        }

        let httpConfiguration = HTTPServerConfiguration(
            host: address.host, port: address.port, threads: configuration.threads,
            maxBodySize: configuration.maxBodySize,
            bodyTooLargeMessage: "The request body is larger than the limit of \(configuration.maxBodySize) bytes.")
        let api = api
        let countResponse: HTTPResponseObserver = { exchange in metrics.record(exchange) }
        server = HTTPServer(
            configuration: httpConfiguration, logger: logger.labelled("http"), onResponse: countResponse
        ) { request in
            await api.handle(request)
        }
        metricsServer = metricsAddress.map { address in
            HTTPServer(
                configuration: HTTPServerConfiguration(
                    host: address.host, port: address.port, threads: 1, maxBodySize: 1024),
                logger: logger.labelled("metrics-http"), onResponse: countResponse
            ) { request in
                await WebhookService.answerMetricsServer(request, api: api)
            }
        }
    }

    /// The metrics server answers `GET /metrics` (and `HEAD`) and nothing else.
    private static func answerMetricsServer(_ request: HTTPRequest, api: WebhookAPI) async -> HTTPResponse {
        var response: HTTPResponse
        if request.path != "/metrics" {
            response = APIError.notFound(method: request.method, path: request.path).response
        } else if request.method != "GET" && request.method != "HEAD" {
            response = APIError.methodNotAllowed(["GET", "HEAD"]).response
            response.route = "/metrics"
        } else {
            response = await api.metricsResponse()
            response.route = "/metrics"
        }
        return response
    }

    /// The port the server listens on, known after `start()`.
    public var port: Int { server.port }

    /// The port of the `--metrics-listen` server, known after `start()`; `nil` without one.
    public var metricsPort: Int? { metricsServer?.port }

    /// Starts listening.
    public func start() throws {
        try server.start()
        do {
            try metricsServer?.start()
        } catch {
            server.shutdown(gracePeriod: .zero)
            throw error
        }
        heartbeat.start()
        dispatcher?.start()
        purger?.start()
        if let retention = configuration.retention, retention < WebhookAPI.idempotencyWindow {
            logger.warning(
                "the retention is shorter than the idempotency window: a key is forgotten with its event",
                [
                    "retention_s": String(format: "%.0f", retention),
                    "idempotency_window_s": String(format: "%.0f", WebhookAPI.idempotencyWindow),
                ])
        }
        logger.info(
            "listening",
            [
                "address": "\(ServiceConfiguration.parseListen(configuration.listen)?.host ?? "?"):\(server.port)",
                "database": location.description,
                "threads": configuration.threads, "allow_private_targets": configuration.allowPrivateTargets,
                "metrics": metricsServer.map { _ in
                    let host = ServiceConfiguration.parseListen(configuration.metricsListen ?? "")?.host ?? "?"
                    return "\(host):\(metricsPort ?? 0)"
                } ?? "/metrics",
                "retention_s": configuration.retention.map { String(format: "%.0f", $0) } ?? "off",
            ])
    }

    /// Finishes in-flight requests (up to `gracePeriod`), then closes the server and the store.
    public func stop(gracePeriod: Duration = .seconds(10)) {
        server.shutdown(gracePeriod: gracePeriod)
        metricsServer?.shutdown(gracePeriod: .seconds(1))
        purger?.stop()
        dispatcher?.stop()
        heartbeat.stop()
        api.stop()
        store.close()
        logger.info("stopped")
    }
}

/// A setting the service cannot start with.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Opens the store the way `serve` does (same master key rules), for the administration commands.
public func openServiceStore(
    database: String, masterKeyFile: String?, statementTimeout: TimeInterval? = 10, logger: Logger
) throws -> any Store {
    let location = try DatabaseLocation(parsing: database)
    let cipher = try MasterKey.load(path: masterKeyFile, database: location, logger: logger)
    return try openStore(location, statementTimeout: statementTimeout, logger: logger, cipher: cipher)
}

/// Accepts an event outside HTTP (the `emit` command): the same validation, envelope and transaction as
/// `POST events.json`.
public func emitEvent(
    store: any Store, companyID: Int64, body: [UInt8]
) throws -> Result<EventIntake, ValidationError> {
    let available = Set(try store.availableEventTypes(companyID: companyID))
    switch EventEnvelope.parseIntake(body: body, availableTypes: available) {
    case .failure(let error):
        return .failure(error)
    case .success(let draft):
        let id = Identifier.make(prefix: "evt")
        let createdAt = Date()
        let event = Event(
            id: id, companyID: companyID, type: draft.type, createdAt: createdAt,
            payload: EventEnvelope.serialize(id: id, type: draft.type, createdAt: createdAt, data: draft.data),
            idempotencyKey: draft.idempotencyKey)
        return .success(try store.acceptEvent(event, idempotencyWindow: WebhookAPI.idempotencyWindow))
    }
}
