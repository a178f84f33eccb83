import Foundation
import HTTPServer
import Metrics
import Store
import WebhookCore

/// The service's Prometheus metrics: counted as requests are answered and attempts finish, and read from the
/// store and the dispatcher when scraped.
public final class ServiceMetrics: Sendable {
    /// The route label of requests no route matched, so raw paths never become labels.
    public static let unmatchedRoute = "unmatched"
    /// The delivery outcomes, exported at 0 from the start.
    public static let outcomes = ["succeeded", "retry", "failed", "webhook_disabled"]

    public let registry = MetricsRegistry()
    let httpRequests: Counter
    let httpDuration: Histogram
    let deliveries: Counter
    let attemptDuration: Histogram
    let queueDepth: Gauge
    let oldestDueAge: Gauge
    let inFlight: Gauge
    let webhooksDisabled: Gauge

    public init() {
        httpRequests = registry.counter(
            "donutwork_http_requests_total", help: "HTTP requests answered, by route pattern, method and status.",
            labels: ["route", "method", "status"])
        httpDuration = registry.histogram(
            "donutwork_http_request_duration_seconds",
            help: "Seconds from reading a request to handing over its answer, by route pattern.", labels: ["route"])
        deliveries = registry.counter(
            "donutwork_deliveries_total",
            help: "Delivery attempts by what followed: succeeded, retry, failed or webhook_disabled.",
            labels: ["outcome"])
        attemptDuration = registry.histogram(
            "donutwork_delivery_attempt_duration_seconds", help: "Seconds each delivery attempt took.",
            buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30])
        queueDepth = registry.gauge(
            "donutwork_delivery_queue_depth", help: "Pending deliveries, due now or waiting for a retry.")
        oldestDueAge = registry.gauge(
            "donutwork_delivery_oldest_due_age_seconds",
            help: "Seconds the oldest due delivery not being attempted has waited (0 when none waits).")
        inFlight = registry.gauge(
            "donutwork_deliveries_in_flight", help: "Delivery attempts on the wire in this process.")
        webhooksDisabled = registry.gauge("donutwork_webhooks_disabled", help: "Webhooks that are disabled.")
        for outcome in Self.outcomes {
            deliveries.initialize([outcome])
        }
    }

    /// Counts an answered request (the HTTP server's `onResponse` hook).
    public func record(_ exchange: HTTPExchange) {
        let route = exchange.route ?? Self.unmatchedRoute
        httpRequests.increment([route, exchange.method, String(exchange.status)])
        httpDuration.observe(exchange.seconds, [route])
    }

    /// Counts a finished delivery attempt (the dispatcher's `onAttempt` hook).
    public func record(attempt outcome: AttemptOutcome, seconds: Double) {
        let label =
            switch outcome {
            case .succeeded: "succeeded"
            case .retry: "retry"
            case .failed: "failed"
            case .disableWebhook: "webhook_disabled"
            }
        deliveries.increment([label])
        attemptDuration.observe(seconds)
    }

    /// Sets the gauges read at scrape time; `nil` statistics (the store did not answer) leave theirs absent.
    func update(statistics: QueueStatistics?, attemptsInFlight: Int?, now: Date) {
        if let statistics {
            queueDepth.set(Double(statistics.pendingDeliveries))
            oldestDueAge.set(statistics.oldestDueAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
            webhooksDisabled.set(Double(statistics.disabledWebhooks))
        } else {
            queueDepth.clear()
            oldestDueAge.clear()
            webhooksDisabled.clear()
        }
        inFlight.set(Double(attemptsInFlight ?? 0))
    }
}
