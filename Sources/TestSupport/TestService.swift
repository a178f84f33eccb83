import Foundation
import Logging
import Store
import WebhookAPI
import WebhookCore

/// The real service, started in this process on `127.0.0.1:0` with a fresh database, for one test: an SQLite file
/// in the test's directory, or a database of its own on the PostgreSQL server of `DONUTWORK_TEST_POSTGRES` when the
/// run uses PostgreSQL (see `TestDatabase`).
public final class TestService: Sendable {
    public let service: WebhookService
    /// The test's own directory, removed by `stop()`.
    public let directory: String
    /// The service's database, dropped by `stop()`.
    public let database: TestDatabase

    /// Starts the service; `configure` may change the configuration first.
    /// - Parameter store: the engine; by default the one this run uses. Pass `.sqlite` for a test about the SQLite
    ///   file itself, and say why beside it.
    public init(store: TestStoreKind = .current, _ configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dw-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            database = try TestDatabase.make(store, in: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }

        do {
            var configuration = ServiceConfiguration(listen: "127.0.0.1:0", database: database.url, threads: 2)
            configuration.masterKeyFile = database.masterKeyFile
            configuration.tlsCheckTimeout = 5
            configure(&configuration)
            let level = ProcessInfo.processInfo.environment["DONUTWORK_TEST_LOG_LEVEL"].flatMap(
                Logger.Level.init(name:))
            service = try WebhookService(
                configuration: configuration, logger: Logger(label: "test", level: level ?? .error))
            try service.start()
        } catch {
            database.drop()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// The SQLite file of a service started with `store: .sqlite`.
    public var databasePath: String {
        guard let path = database.sqlitePath else {
            preconditionFailure("databasePath is SQLite's; start this test's service with TestService(store: .sqlite)")
        }
        return path
    }

    public var baseURL: String { "http://127.0.0.1:\(service.port)" }

    /// Creates a company (if new) and a key with these permissions; returns the key in clear.
    public func makeKey(company: String, permissions: Set<Permission>) throws -> String {
        let owner = try service.store.findOrCreateCompany(slug: company)
        let material = APIKeyMaterial.make()
        _ = try service.store.insertAPIKey(
            companyID: owner.id, prefix: material.prefix, hash: material.hash, permissions: permissions)
        return material.key
    }

    /// A key with every permission.
    public func makeFullKey(company: String) throws -> String {
        try makeKey(company: company, permissions: Set(Permission.allCases))
    }

    /// Sends a request to the service with an optional bearer key.
    public func send(
        _ method: String, _ path: String, key: String? = nil, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> ClientResponse {
        var fields = headers
        if let key {
            fields["Authorization"] = "Bearer \(key)"
        }
        if body != nil && fields["Content-Type"] == nil {
            fields["Content-Type"] = "application/json"
        }
        return try await HTTPClient.send(method, baseURL + path, headers: fields, body: body.map { Array($0.utf8) })
    }

    /// Stops the service, drops its database and removes its files.
    public func stop() {
        service.stop(gracePeriod: .seconds(2))
        database.drop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A create request body, the way the seed page shows it.
public func createBody(
    name: String = "Billing Events", url: String, events: String = #"["RecurringPayments.charge.paid"]"#
)
    -> String
{
    #"{"webhook":{"name":"\#(name)","description":"Receive invoice and payment updates","#
        + #""url":"\#(url)","events":\#(events)}}"#
}
