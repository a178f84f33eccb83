import Foundation
import TestSupport
import Testing
import WebhookAPI
import WebhookCore

/// `GET /metrics` end to end: scraped over HTTP from a delivering service, parsed by `prometheus_client`'s own
/// text parser, and its numbers checked to move exactly as requests and deliveries happen.
@Suite(.serialized) struct MetricsTests {
    let ca: TestCertificateAuthority

    init() throws {
        ca = try TestCertificateAuthority()
    }

    /// One sample as the Python parser read it.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// A parsed scrape: each family's type, and every sample.
    struct Scrape {
        var types: [String: String]
        var samples: [Sample]

        /// The value of the sample with exactly these labels, 0 when absent (a series not yet created).
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
            samples.first { $0.name == name && $0.labels == labels }?.value ?? 0
        }

        func has(_ name: String, _ labels: [String: String] = [:]) -> Bool {
            samples.contains { $0.name == name && $0.labels == labels }
        }
    }

    /// Parses metrics text with `prometheus_client.parser.text_string_to_metric_families`; throws if it cannot.
    static func parse(_ text: String, in directory: String) throws -> Scrape {
        let file = "\(directory)/scrape-\(UUID().uuidString).txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            families = list(text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()))
            print(json.dumps({
                "types": {f.name: f.type for f in families},
                "samples": [[s.name, s.labels, s.value] for f in families for s in f.samples],
            }))
            """
        let output = try Shell.run(try Shell.pythonExecutable(), ["-c", script, file])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let types = try #require(object["types"] as? [String: String])
        let rows = try #require(object["samples"] as? [[Any]])
        let samples = try rows.map { row in
            Sample(
                name: try #require(row[0] as? String), labels: try #require(row[1] as? [String: String]),
                value: try #require((row[2] as? NSNumber)?.doubleValue))
        }
        return Scrape(types: types, samples: samples)
    }

    private func makeService(_ configure: @escaping (inout ServiceConfiguration) -> Void = { _ in }) throws
        -> TestService
    {
        let caFile = ca.caFile
        return try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.delivery.retrySchedule = RetrySchedule(delays: [60], jitter: 0)
            configuration.delivery.pollInterval = 0.1
            configure(&configuration)
        }
    }

    private func scrape(_ app: TestService, url: String? = nil) async throws -> Scrape {
        let response = try await HTTPClient.send("GET", url ?? app.baseURL + "/metrics")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        return try Self.parse(response.text, in: app.directory)
    }

    private func createWebhook(_ app: TestService, key: String, port: Int) async throws -> String {
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: "https://localhost:\(port)/hook"))
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json?["id"] as? String)
    }

    private func emit(_ app: TestService, key: String) async throws {
        let response = try await app.send(
            "POST", "/2026-02-01/events.json", key: key,
            body: #"{"event":{"type":"RecurringPayments.charge.paid","data":{"amount":1}}}"#)
        #expect(response.status == 202, "\(response.text)")
    }

    static let list = "/2026-02-01/webhooks.json"
    static let show = "/2026-02-01/webhooks/{id}.json"

    @Test func countersMoveByExactlyWhatHappened() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let healthy = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, status: 204)
        let gone = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, status: 410)
        defer { [healthy, gone].forEach { $0.stop() } }

        let before = try await scrape(app)
        let expectedTypes = [
            "donutwork_http_requests": "counter", "donutwork_http_request_duration_seconds": "histogram",
            "donutwork_deliveries": "counter", "donutwork_delivery_attempt_duration_seconds": "histogram",
            "donutwork_delivery_queue_depth": "gauge", "donutwork_delivery_oldest_due_age_seconds": "gauge",
            "donutwork_deliveries_in_flight": "gauge", "donutwork_webhooks_disabled": "gauge",
        ]
        for (name, type) in expectedTypes {
            #expect(before.types[name] == type, "\(name): \(before.types[name] ?? "missing")")
        }
        for outcome in ["succeeded", "retry", "failed", "webhook_disabled"] {
            #expect(before.has("donutwork_deliveries_total", ["outcome": outcome]), "\(outcome) not exported at 0")
        }

        // Requests: two lists, a missing webhook, an unknown path, a wrong method, two creates, one event.
        for _ in 0..<2 {
            #expect(try await app.send("GET", Self.list, key: key).status == 200)
        }
        #expect(try await app.send("GET", "/2026-02-01/webhooks/wh_nope.json", key: key).status == 404)
        #expect(try await app.send("GET", "/nope/wh_secret", key: key).status == 404)
        #expect(try await app.send("PUT", Self.list, key: key).status == 405)
        _ = try await createWebhook(app, key: key, port: healthy.port)
        _ = try await createWebhook(app, key: key, port: gone.port)
        try await emit(app, key: key)

        // One event, two webhooks: one delivery succeeds, the other's receiver says 410 Gone.
        #expect(await eventually(timeoutSeconds: 10) { healthy.requests.count == 1 && gone.requests.count == 1 })
        var after = try await scrape(app)
        #expect(
            try await eventually(timeoutSeconds: 10) {
                after = try await scrape(app)
                return after.value("donutwork_deliveries_total", ["outcome": "webhook_disabled"]) == 1
                    && after.value("donutwork_deliveries_total", ["outcome": "succeeded"]) == 1
            })

        func delta(_ name: String, _ labels: [String: String] = [:]) -> Double {
            after.value(name, labels) - before.value(name, labels)
        }
        let requests = "donutwork_http_requests_total"
        #expect(delta(requests, ["route": Self.list, "method": "GET", "status": "200"]) == 2)
        #expect(delta(requests, ["route": Self.list, "method": "POST", "status": "201"]) == 2)
        #expect(delta(requests, ["route": Self.list, "method": "PUT", "status": "405"]) == 1)
        #expect(delta(requests, ["route": Self.show, "method": "GET", "status": "404"]) == 1)
        #expect(delta(requests, ["route": "unmatched", "method": "GET", "status": "404"]) == 1)
        #expect(delta(requests, ["route": "/2026-02-01/events.json", "method": "POST", "status": "202"]) == 1)
        #expect(after.value(requests, ["route": "/metrics", "method": "GET", "status": "200"]) >= 2)
        let routes = Set(after.samples.compactMap { $0.labels["route"] })
        #expect(!routes.contains { $0.contains("wh_nope") || $0.contains("secret") }, "raw paths in \(routes)")

        let duration = "donutwork_http_request_duration_seconds"
        #expect(delta(duration + "_count", ["route": Self.list]) == 5)
        #expect(delta(duration + "_bucket", ["route": Self.list, "le": "+Inf"]) == 5)
        #expect(delta(duration + "_sum", ["route": Self.list]) > 0)

        #expect(delta("donutwork_deliveries_total", ["outcome": "succeeded"]) == 1)
        #expect(delta("donutwork_deliveries_total", ["outcome": "webhook_disabled"]) == 1)
        #expect(delta("donutwork_deliveries_total", ["outcome": "retry"]) == 0)
        #expect(delta("donutwork_deliveries_total", ["outcome": "failed"]) == 0)
        #expect(delta("donutwork_delivery_attempt_duration_seconds_count") == 2)
        #expect(after.value("donutwork_delivery_queue_depth") == 0)
        #expect(after.value("donutwork_delivery_oldest_due_age_seconds") == 0)
        #expect(after.value("donutwork_deliveries_in_flight") == 0)
        #expect(after.value("donutwork_webhooks_disabled") == 1)
    }

    @Test func queueGaugesShowWorkWaitingWhenNothingDelivers() async throws {
        defer { ca.remove() }
        let app = try makeService { $0.runsDispatcher = false }
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, status: 204)
        defer { endpoint.stop() }
        _ = try await createWebhook(app, key: key, port: endpoint.port)
        try await emit(app, key: key)
        try await emit(app, key: key)
        try await Task.sleep(for: .milliseconds(1200))

        let scraped = try await scrape(app)
        #expect(scraped.value("donutwork_delivery_queue_depth") == 2)
        let age = scraped.value("donutwork_delivery_oldest_due_age_seconds")
        #expect(age >= 1.1 && age < 30, "age \(age)")
        #expect(scraped.value("donutwork_deliveries_in_flight") == 0)
        #expect(scraped.value("donutwork_webhooks_disabled") == 0)
        #expect(endpoint.requests.isEmpty)
    }

    @Test func metricsListenPutsMetricsOnTheirOwnServerOnly() async throws {
        defer { ca.remove() }
        let app = try makeService { $0.metricsListen = "127.0.0.1:0" }
        defer { app.stop() }
        let port = app.service.metricsPort ?? 0
        #expect(port > 0 && port != app.service.port)
        let metricsURL = "http://127.0.0.1:\(port)"

        let onMain = try await app.send("GET", "/metrics")
        #expect(onMain.status == 404)
        #expect(try await app.send("GET", "/healthz").status == 200)

        let scraped = try await scrape(app, url: metricsURL + "/metrics")
        // The main server's 404 for /metrics is an unmatched path there.
        #expect(
            scraped.value("donutwork_http_requests_total", ["route": "unmatched", "method": "GET", "status": "404"])
                == 1)
        #expect(
            scraped.value("donutwork_http_requests_total", ["route": "/healthz", "method": "GET", "status": "200"]) == 1
        )

        #expect(try await HTTPClient.send("GET", metricsURL + "/healthz").status == 404)
        let post = try await HTTPClient.send("POST", metricsURL + "/metrics", body: Array("x".utf8))
        #expect(post.status == 405)
        #expect(post.header("allow") == "GET, HEAD")
    }
}
