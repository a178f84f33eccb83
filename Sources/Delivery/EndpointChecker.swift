// Delivery: everything that talks to receivers: checking a new endpoint (resolution, address policy, TLS),
// and (soon) the dispatcher that sends signed deliveries with libcurl. It knows WebhookCore's rules and
// values, but no HTTP server, no API shapes and no SQL.

import CCurl
import Foundation
import Logging
import Synchronization
import WebhookCore

/// Decides whether a new webhook URL can be used: every address of its host is public (unless private targets
/// are allowed) and a TLS handshake verifies the certificate chain and host name in time.
///
/// Each check runs on a thread of its own, so a silent endpoint holds up nothing but its own request.
public final class EndpointChecker: Sendable {
    /// How a check failed, with the sentence a client sees.
    public enum Failure: Error, Equatable, Sendable {
        /// The host has an address that is not public: the URL is refused (422).
        case privateAddress
        /// The host does not resolve (400).
        case unresolvable
        /// The handshake or connection failed; the message says what failed (400).
        case unreachable(String)
        /// Too many checks are running already (503).
        case busy

        public var message: String {
            switch self {
            case .privateAddress: URLRejection.privateAddress.message
            case .unresolvable: "The \"url\" host could not be resolved."
            case .unreachable(let message): message
            case .busy: "Too many endpoint checks are in progress; try again shortly."
            }
        }
    }

    /// Settings an operator controls.
    public struct Configuration: Sendable {
        public var allowPrivateTargets: Bool
        /// Extra trusted certificate authorities (PEM), on top of the system bundle.
        public var caFile: String?
        public var timeoutSeconds: Double
        /// How many checks may run at once in all.
        public var maxConcurrentChecks: Int
        /// How many of them one company may hold, so one tenant's stalling endpoints cannot block the others.
        public var maxConcurrentChecksPerCompany: Int

        public init(
            allowPrivateTargets: Bool = false, caFile: String? = nil, timeoutSeconds: Double = 10,
            maxConcurrentChecks: Int = 64, maxConcurrentChecksPerCompany: Int = 8
        ) {
            self.allowPrivateTargets = allowPrivateTargets
            self.caFile = caFile
            self.timeoutSeconds = timeoutSeconds
            self.maxConcurrentChecks = maxConcurrentChecks
            self.maxConcurrentChecksPerCompany = maxConcurrentChecksPerCompany
        }
    }

    /// The directory of the system's trusted certificates, used beside `caFile`.
    public static let systemCertificateDirectory = "/etc/ssl/certs"

    private let configuration: Configuration
    private let logger: Logger
    /// Checks running, in all and per company.
    private let running = Mutex<(total: Int, perCompany: [Int64: Int])>((0, [:]))

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        CurlGlobal.initialize
    }

    /// Checks an endpoint for a company; returns `nil` when it is usable.
    public func check(_ endpoint: EndpointURL, companyID: Int64) async -> Failure? {
        let configuration = configuration
        let admitted = running.withLock { running -> Bool in
            let mine = running.perCompany[companyID, default: 0]
            guard running.total < configuration.maxConcurrentChecks,
                mine < configuration.maxConcurrentChecksPerCompany
            else { return false }
            running.total += 1
            running.perCompany[companyID] = mine + 1
            return true
        }
        guard admitted else { return .busy }
        defer {
            running.withLock { running in
                running.total -= 1
                let mine = running.perCompany[companyID, default: 1] - 1
                running.perCompany[companyID] = mine > 0 ? mine : nil
            }
        }
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: EndpointChecker.checkBlocking(endpoint, configuration))
            }
            thread.name = "endpoint-check"
            thread.start()
        }
    }

    private static func checkBlocking(_ endpoint: EndpointURL, _ configuration: Configuration) -> Failure? {
        switch HostResolver.resolve(host: endpoint.host, port: endpoint.port) {
        case .failure:
            return .unresolvable
        case .success(let addresses):
            if !configuration.allowPrivateTargets && !addresses.allSatisfy(\.isPublic) {
                return .privateAddress
            }
        }
        return TLSHandshake.perform(endpoint: endpoint, configuration: configuration)
    }
}

/// libcurl's process-wide set-up, done once before the first handle.
enum CurlGlobal {
    static let initialize: Void = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
    }()
}
