import Foundation
import Logging
import Store
import TestSupport
import Testing
import WebhookAPI
import WebhookCore

/// Two services on one database stand for two `serve` processes behind a load balancer: a key's burst is split
/// between them, so together they admit what one process alone would.
@Suite(.serialized) struct SharedRateLimitTests {
    @Test func twoProcessesTogetherAdmitOneKeysBurstOnce() async throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        var configuration = ServiceConfiguration(listen: "127.0.0.1:0", database: database.url, threads: 1)
        configuration.masterKeyFile = database.masterKeyFile
        configuration.runsDispatcher = false
        configuration.rateLimit = 0.01
        configuration.rateBurst = 10
        configuration.heartbeatInterval = 0.2
        let logger = Logger(label: "test", level: .error)
        let first = try WebhookService(configuration: configuration, logger: logger)
        try first.start()
        defer { first.stop(gracePeriod: .seconds(1)) }
        let second = try WebhookService(configuration: configuration, logger: logger)
        try second.start()
        defer { second.stop(gracePeriod: .seconds(1)) }

        let company = try first.store.findOrCreateCompany(slug: "acme")
        let material = APIKeyMaterial.make()
        _ = try first.store.insertAPIKey(
            companyID: company.id, prefix: material.prefix, hash: material.hash, permissions: [.webhooksRead])
        // Both have beaten at least twice since the second started: each knows there are two.
        try await Task.sleep(for: .milliseconds(600))

        var admitted: [Int] = []
        for service in [first, second] {
            var statuses: [Int] = []
            for _ in 0..<20 {
                let response = try await HTTPClient.send(
                    "GET", "http://127.0.0.1:\(service.port)/2026-02-01/webhooks.json",
                    headers: ["Authorization": "Bearer \(material.key)"], body: nil)
                statuses.append(response.status)
            }
            #expect(Set(statuses).isSubset(of: [200, 429]), "\(statuses)")
            admitted.append(statuses.filter { $0 == 200 }.count)
        }
        // A burst of 10 split in two: 5 each, 10 in all, where two unaware processes would have admitted 20.
        #expect(admitted == [5, 5])
    }
}
