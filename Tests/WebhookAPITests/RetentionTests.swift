import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
import WebhookCore

@testable import Store
@testable import WebhookAPI

/// Lines a logger wrote, kept for a test to read.
final class CollectedLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func logger(level: Logger.Level = .info) -> Logger {
        Logger(label: "retention", level: level) { line in self.lines.withLock { $0.append(line) } }
    }
}

/// The first column of the first row of a query on an SQLite store's own connections.
private func count(_ store: any Store, _ sql: String, _ values: [any SQLiteBindable] = []) throws -> Int {
    let sqlite = try #require(store as? SQLiteStore)
    return try sqlite.withConnection("test") { connection in
        try connection.row(sql, values) { $0.int(at: 0) } ?? -1
    }
}

/// `SELECT COUNT(*) FROM <from>` on a test service's database, whichever store it runs on. `from` is a test
/// constant with ids the store made (letters, digits and `_`), never input.
private func count(_ app: TestService, from: String) throws -> Int {
    switch app.database.kind {
    case .sqlite:
        return try count(app.service.store, "SELECT COUNT(*) FROM \(from)")
    case .postgres:
        return Int(try app.database.psql("SELECT COUNT(*) FROM \(from)").split(separator: "\n").first ?? "") ?? -1
    }
}

/// The purging thread on a real SQLite store: batches, logs, errors, stopping.
@Suite(.timeLimit(.minutes(1))) struct RetentionPurgerTests {
    static let day: TimeInterval = 86_400
    let directory: ScratchDirectory

    init() throws {
        directory = try ScratchDirectory("dw-purger")
    }

    func openStore() throws -> SQLiteStore {
        try SQLiteStore(
            path: directory.databasePath, logger: Logger(label: "test", level: .error),
            cipher: try TokenCipher(key: [UInt8](repeating: 7, count: 32)))
    }

    /// `count` events of acme (no webhooks, so no deliveries) created `age` seconds before `now`.
    func acceptEvents(_ store: SQLiteStore, count: Int, age: TimeInterval, now: Date) throws {
        let acme = try store.findOrCreateCompany(slug: "acme")
        for _ in 0..<count {
            let id = Identifier.make(prefix: "evt")
            let event = Event(
                id: id, companyID: acme.id, type: "RecurringPayments.charge.paid", createdAt: now - age,
                payload: Array("{}".utf8), idempotencyKey: nil)
            _ = try store.acceptEvent(event, idempotencyWindow: Self.day)
        }
    }

    @Test func aPassDeletesBatchesUntilOneComesBackShortAndLogsOneLine() throws {
        defer { directory.remove() }
        let store = try openStore()
        defer { store.close() }
        let now = Date()
        try acceptEvents(store, count: 5, age: 2 * Self.day, now: now)
        try acceptEvents(store, count: 2, age: 60, now: now)
        let lines = CollectedLines()
        let purger = RetentionPurger(
            store: store, configuration: .init(retention: Self.day, batchSize: 2, pause: 0.001),
            logger: lines.logger())

        #expect(purger.runPass(now: now) == PurgeResult(events: 5))
        #expect(try count(store, "SELECT COUNT(*) FROM events") == 2)
        #expect(lines.all.count == 1, "\(lines.all)")
        let line = try #require(lines.all.first)
        #expect(line.contains("level=info") && line.contains(#"msg="retention purge""#), "\(line)")
        for field in ["events=5 ", "deliveries=0 ", "attempts=0 ", "batches=3 ", "ms="] {
            #expect(line.contains(field), "\(field) missing from \(line)")
        }

        // Nothing left to delete: no line.
        #expect(purger.runPass(now: now) == PurgeResult())
        #expect(lines.all.count == 1, "\(lines.all)")
    }

    @Test func aStoreErrorIsAWarningAndTheNextPassTriesAgain() async throws {
        defer { directory.remove() }
        let store = try openStore()
        try acceptEvents(store, count: 1, age: 2 * Self.day, now: Date())
        store.close()
        let lines = CollectedLines()
        let purger = RetentionPurger(
            store: store, configuration: .init(retention: Self.day, interval: 0.05), logger: lines.logger())
        purger.start()
        defer { purger.stop() }

        #expect(await eventually(timeoutSeconds: 5) { lines.all.count >= 2 })
        let warnings = lines.all.filter { $0.contains("level=warning") }
        #expect(warnings.count == lines.all.count, "\(lines.all)")
        #expect(warnings.first?.contains("error=\"store is closed\"") == true, "\(lines.all)")
    }

    @Test func stopReturnsAtOnceInTheMiddleOfAWaitAndIsSafeToRepeat() throws {
        defer { directory.remove() }
        let store = try openStore()
        defer { store.close() }
        let idle = RetentionPurger(
            store: store, configuration: .init(retention: Self.day), logger: CollectedLines().logger())
        idle.stop()  // never started
        idle.start()  // a stopped purger does not start again

        let purger = RetentionPurger(
            store: store, configuration: .init(retention: Self.day, interval: 3_600), logger: CollectedLines().logger())
        purger.start()
        purger.start()
        Thread.sleep(forTimeInterval: 0.1)
        let started = Date()
        purger.stop()
        #expect(Date().timeIntervalSince(started) < 0.5)
        purger.stop()
    }
}

/// The real service with a short retention: what it delivered goes away, what is pending or new stays.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RetentionEndToEndTests {
    let ca: TestCertificateAuthority

    init() throws {
        ca = try TestCertificateAuthority()
    }

    @Test func deliveredEventsArePurgedAfterTheRetentionAndNewOnesStay() async throws {
        defer { ca.remove() }
        let caFile = ca.caFile
        let retention: TimeInterval = 3
        let app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.delivery.retrySchedule = RetrySchedule(delays: [60], jitter: 0)
            configuration.delivery.pollInterval = 0.1
            configuration.retention = retention
            configuration.retentionInterval = 0.5
        }
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let healthy = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, statuses: [204])
        let failing = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, statuses: [500])
        defer { [healthy, failing].forEach { $0.stop() } }
        let paid = try await createWebhook(app, key: key, port: healthy.port, events: "RecurringPayments.charge.paid")
        let failed = try await createWebhook(
            app, key: key, port: failing.port, events: "RecurringPayments.charge.failed")

        // Two events delivered at once, one whose delivery failed and waits a minute for its retry: pending.
        let old = [
            try await emit(app, key: key, type: "RecurringPayments.charge.paid"),
            try await emit(app, key: key, type: "RecurringPayments.charge.paid"),
        ]
        let waiting = try await emit(app, key: key, type: "RecurringPayments.charge.failed")
        #expect(await eventually(timeoutSeconds: 10) { healthy.requests.count == 2 && failing.requests.count == 1 })
        let oldDeliveries = try await deliveryIDs(app, key: key, webhookID: paid)
        #expect(oldDeliveries.count == 2)
        let pendingDelivery = try #require(try await deliveryIDs(app, key: key, webhookID: failed).first)
        for id in oldDeliveries + [pendingDelivery] {
            #expect(try await app.send("GET", "/2026-02-01/deliveries/\(id).json", key: key).status == 200)
        }
        #expect(try count(app, from: "events") == 3)

        // Past the retention and one purge period, the delivered ones are gone from the API and the store.
        #expect(
            await eventually(timeoutSeconds: 10) {
                (try? await deliveryIDs(app, key: key, webhookID: paid).isEmpty) == true
            })
        for id in oldDeliveries {
            let gone = try await app.send("GET", "/2026-02-01/deliveries/\(id).json", key: key)
            #expect(gone.status == 404)
            #expect(gone.text == #"{"error":"Delivery not found."}"#)
        }
        for id in old {
            #expect(try count(app, from: "events WHERE id = '\(id)'") == 0)
        }
        #expect(try count(app, from: "deliveries") == 1)
        #expect(try count(app, from: "attempts") == 1)

        // The event with a pending delivery is older than the retention too, and stays with its attempt.
        #expect(try count(app, from: "events WHERE id = '\(waiting)'") == 1)
        let detail = try #require(
            try await app.send("GET", "/2026-02-01/deliveries/\(pendingDelivery).json", key: key).json)
        #expect(detail["status"] as? String == "pending")
        #expect((detail["attempts"] as? [[String: Any]])?.count == 1)

        // Events accepted after the purge are delivered and kept (they are younger than the retention).
        let fresh = try await emit(app, key: key, type: "RecurringPayments.charge.paid")
        #expect(await eventually(timeoutSeconds: 10) { healthy.requests.count == 3 })
        let freshDeliveries = try await deliveryIDs(app, key: key, webhookID: paid)
        #expect(freshDeliveries.count == 1)
        for id in freshDeliveries {
            #expect(try await app.send("GET", "/2026-02-01/deliveries/\(id).json", key: key).status == 200)
        }
        #expect(try count(app, from: "events WHERE id = '\(fresh)'") == 1)
        #expect(try count(app, from: "events") == 2)
    }

    private func createWebhook(_ app: TestService, key: String, port: Int, events: String) async throws -> String {
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key,
            body: createBody(url: "https://localhost:\(port)/hook", events: "\"\(events)\""))
        #expect(response.status == 201)
        return try #require(response.json?["id"] as? String)
    }

    private func emit(_ app: TestService, key: String, type: String) async throws -> String {
        let response = try await app.send(
            "POST", "/2026-02-01/events.json", key: key, body: #"{"event":{"type":"\#(type)","data":{}}}"#)
        #expect(response.status == 202)
        return try #require(response.json?["id"] as? String)
    }

    private func deliveryIDs(_ app: TestService, key: String, webhookID: String) async throws -> [String] {
        let list = try #require(
            try await app.send("GET", "/2026-02-01/webhooks/\(webhookID)/deliveries.json", key: key).json)
        let elements = try #require(list["elements"] as? [[String: Any]])
        return elements.compactMap { $0["id"] as? String }
    }
}
