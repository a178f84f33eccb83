import Delivery
import Foundation
import HTTPServer
import Logging
import Store

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
    private let api: WebhookAPI
    private let server: HTTPServer
    private let logger: Logger
    private let location: DatabaseLocation

    /// Opens the store (applying migrations) and prepares the server; nothing listens until `start()`.
    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        guard let address = ServiceConfiguration.parseListen(configuration.listen) else {
            throw ConfigurationError(
                "--listen must look like HOST:PORT, e.g. 127.0.0.1:8080, not \"\(configuration.listen)\"")
        }
        self.configuration = configuration
        self.logger = logger
        location = try DatabaseLocation(parsing: configuration.database)
        store = try openStore(location, logger: logger.labelled("store"))

        let checker = EndpointChecker(
            configuration: .init(
                allowPrivateTargets: configuration.allowPrivateTargets, caFile: configuration.caFile,
                timeoutSeconds: configuration.tlsCheckTimeout),
            logger: logger.labelled("endpoint-check"))
        api = WebhookAPI(
            store: store, checker: checker,
            configuration: .init(
                allowPrivateTargets: configuration.allowPrivateTargets, rateLimit: configuration.rateLimit,
                rateBurst: configuration.rateBurst),
            logger: logger.labelled("api"))

        let httpConfiguration = HTTPServerConfiguration(
            host: address.host, port: address.port, threads: configuration.threads,
            maxBodySize: configuration.maxBodySize,
            bodyTooLargeMessage: "The request body is larger than the limit of \(configuration.maxBodySize) bytes.")
        let api = api
        server = HTTPServer(configuration: httpConfiguration, logger: logger.labelled("http")) { request in
            await api.handle(request)
        }
    }

    /// The port the server listens on, known after `start()`.
    public var port: Int { server.port }

    /// Starts listening.
    public func start() throws {
        try server.start()
        logger.info(
            "listening",
            [
                "address": "\(ServiceConfiguration.parseListen(configuration.listen)?.host ?? "?"):\(server.port)",
                "database": location.description,
                "threads": configuration.threads, "allow_private_targets": configuration.allowPrivateTargets,
            ])
    }

    /// Finishes in-flight requests (up to `gracePeriod`), then closes the server and the store.
    public func stop(gracePeriod: Duration = .seconds(10)) {
        server.shutdown(gracePeriod: gracePeriod)
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
