import Foundation
import Testing

@testable import WebhookCore

/// A small seeded generator so jittered schedules are reproducible.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Retry schedule")
struct RetryScheduleTests {
    static let now = Date(timeIntervalSince1970: 1_796_299_200)
    static let exact = RetrySchedule(jitter: 0)

    private func decide(
        _ schedule: RetrySchedule, attempt: Int = 1, _ result: AttemptResult, seed: UInt64 = 1
    ) -> AttemptOutcome {
        var generator = SplitMix64(state: seed)
        return schedule.decide(attemptNumber: attempt, result: result, now: Self.now, random: &generator)
    }

    /// The default delays without jitter.
    private func decide(attempt: Int = 1, _ result: AttemptResult) -> AttemptOutcome {
        decide(Self.exact, attempt: attempt, result)
    }

    private func retry(in seconds: TimeInterval) -> AttemptOutcome {
        .retry(at: Self.now.addingTimeInterval(seconds))
    }

    // MARK: - Outcomes

    @Test("every 2xx succeeds", arguments: [200, 201, 202, 204, 299])
    func success(code: Int) {
        #expect(decide(.status(code: code, retryAfter: nil)) == .succeeded)
    }

    @Test("410 Gone disables the webhook, even on the last attempt")
    func gone() {
        let expected = AttemptOutcome.disableWebhook(reason: "the endpoint answered 410 Gone")
        #expect(decide(.status(code: 410, retryAfter: nil)) == expected)
        #expect(decide(attempt: 8, .status(code: 410, retryAfter: "10")) == expected)
    }

    @Test("redirects and other failures are retried", arguments: [199, 300, 301, 302, 307, 308, 400, 404, 500, 502])
    func retriedStatus(code: Int) {
        #expect(decide(.status(code: code, retryAfter: nil)) == retry(in: 5))
    }

    @Test("transport errors are retried", arguments: ["timeout", "connect", "tls", "blocked", "redirect"])
    func retriedTransport(kind: String) {
        #expect(decide(attempt: 2, .transportError(kind: kind)) == retry(in: 300))
    }

    @Test("without jitter the default schedule is exact, then gives up after the last delay")
    func exactSchedule() {
        let expected: [TimeInterval] = [5, 300, 1800, 7200, 18000, 36000, 36000]
        for (index, delay) in expected.enumerated() {
            #expect(decide(attempt: index + 1, .status(code: 500, retryAfter: nil)) == retry(in: delay))
        }
        #expect(decide(attempt: 8, .status(code: 500, retryAfter: nil)) == .failed)
        #expect(decide(attempt: 9, .transportError(kind: "timeout")) == .failed)
    }

    @Test("a custom schedule gives up after its own last delay")
    func customSchedule() {
        let schedule = RetrySchedule(delays: [1, 2], jitter: 0)
        #expect(decide(schedule, attempt: 1, .transportError(kind: "connect")) == retry(in: 1))
        #expect(decide(schedule, attempt: 2, .transportError(kind: "connect")) == retry(in: 2))
        #expect(decide(schedule, attempt: 3, .transportError(kind: "connect")) == .failed)
        #expect(decide(RetrySchedule(delays: []), .transportError(kind: "connect")) == .failed)
    }

    @Test("an attempt number below 1 counts as the first attempt")
    func attemptNumberBelowOne() {
        #expect(decide(attempt: 0, .status(code: 500, retryAfter: nil)) == retry(in: 5))
        #expect(decide(attempt: -3, .status(code: 500, retryAfter: nil)) == retry(in: 5))
    }

    @Test("jitter keeps every delay within ± 20 % and varies it")
    func jitterBounds() {
        let schedule = RetrySchedule()
        var generator = SplitMix64(state: 42)
        for (index, delay) in schedule.delays.enumerated() {
            var seen = Set<TimeInterval>()
            for _ in 0..<2000 {
                let outcome = schedule.decide(
                    attemptNumber: index + 1, result: .status(code: 503, retryAfter: nil), now: Self.now,
                    random: &generator
                )
                guard case .retry(let at) = outcome else {
                    Issue.record("expected a retry, got \(outcome)")
                    return
                }
                let wait = at.timeIntervalSince(Self.now)
                #expect(wait >= delay * 0.8 - 1e-6 && wait <= delay * 1.2 + 1e-6)
                seen.insert(wait)
            }
            #expect(seen.count > 1000)
            // Both halves of the range are reached.
            #expect(seen.contains { $0 < delay * 0.9 } && seen.contains { $0 > delay * 1.1 })
        }
    }

    @Test("the same seed gives the same jittered schedule")
    func jitterIsDeterministic() {
        let first = decide(RetrySchedule(), .status(code: 500, retryAfter: nil), seed: 7)
        let second = decide(RetrySchedule(), .status(code: 500, retryAfter: nil), seed: 7)
        #expect(first == second)
        #expect(first != retry(in: 5))
    }

    // MARK: - Retry-After

    @Test("Retry-After seconds on 429 and 503 delay the retry", arguments: [429, 503])
    func retryAfterSeconds(code: Int) {
        #expect(decide(.status(code: code, retryAfter: "120")) == retry(in: 120))
        #expect(decide(.status(code: code, retryAfter: " 120 ")) == retry(in: 120))
    }

    @Test("a Retry-After shorter than the schedule does not shorten it")
    func retryAfterShorter() {
        #expect(decide(attempt: 3, .status(code: 429, retryAfter: "60")) == retry(in: 1800))
        #expect(decide(.status(code: 503, retryAfter: "0")) == retry(in: 5))
    }

    @Test("Retry-After as an IMF-fixdate")
    func retryAfterDate() {
        // now is Thu, 03 Dec 2026 12:00:00 GMT.
        #expect(decide(.status(code: 503, retryAfter: "Thu, 03 Dec 2026 12:10:00 GMT")) == retry(in: 600))
        #expect(decide(.status(code: 429, retryAfter: "Thu, 03 Dec 2026 11:00:00 GMT")) == retry(in: 5))
    }

    @Test("Retry-After is capped")
    func retryAfterCap() {
        #expect(decide(.status(code: 429, retryAfter: "86400")) == retry(in: 3600))
        #expect(decide(.status(code: 429, retryAfter: "Fri, 04 Dec 2026 12:00:00 GMT")) == retry(in: 3600))
        let schedule = RetrySchedule(jitter: 0, retryAfterCap: 60)
        #expect(decide(schedule, .status(code: 503, retryAfter: "600")) == retry(in: 60))
        // The cap limits only Retry-After, never the schedule itself.
        #expect(decide(attempt: 6, .status(code: 429, retryAfter: "86400")) == retry(in: 36000))
    }

    @Test("Retry-After on other statuses is ignored", arguments: [500, 502, 301, 408])
    func retryAfterOtherStatus(code: Int) {
        #expect(decide(.status(code: code, retryAfter: "600")) == retry(in: 5))
    }

    @Test(
        "a malformed or negative Retry-After is ignored",
        arguments: ["", "-5", "1.5", "12s", "soon", "Thu, 03 Dec 2026 12:10:00 UTC", "Thu, 31 Nov 2026 12:10:00 GMT"]
    )
    func retryAfterIgnored(value: String) {
        #expect(decide(.status(code: 429, retryAfter: value)) == retry(in: 5))
    }

    @Test("Retry-After does not keep a delivery alive after the last delay")
    func retryAfterAfterLast() {
        #expect(decide(attempt: 8, .status(code: 503, retryAfter: "60")) == .failed)
    }

    @Test("parseRetryAfter reads seconds and IMF-fixdates")
    func parseRetryAfter() {
        let epoch = Date(timeIntervalSince1970: 0)
        #expect(RetrySchedule.parseRetryAfter("0", now: epoch) == 0)
        #expect(RetrySchedule.parseRetryAfter("3600", now: epoch) == 3600)
        #expect(RetrySchedule.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: epoch) == 784_111_777)
        #expect(RetrySchedule.parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", now: epoch) == 0)
        #expect(RetrySchedule.parseRetryAfter("Tue, 29 Feb 2028 00:00:00 GMT", now: epoch) == 1_835_395_200)
        #expect(RetrySchedule.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: Self.now) == nil)
    }

    @Test(
        "parseRetryAfter refuses other forms",
        arguments: [
            "", " ", "+5", "-1", "1e3", "0x10", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 29 Feb 2027 08:00:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT+1",
        ]
    )
    func parseRetryAfterRefuses(value: String) {
        #expect(RetrySchedule.parseRetryAfter(value, now: Date(timeIntervalSince1970: 0)) == nil)
    }

    // MARK: - Flag

    @Test("the flag reads units")
    func parseUnits() {
        #expect(RetrySchedule.parse("5s,5m,30m,2h,5h,10h,10h") == RetrySchedule())
        #expect(RetrySchedule.parse("250ms,5,1.5m,1d")?.delays == [0.25, 5, 90, 86400])
        #expect(RetrySchedule.parse(" 1s , 2s ")?.delays == [1, 2])
        #expect(RetrySchedule.parse(Array(repeating: "1s", count: 50).joined(separator: ","))?.delays.count == 50)
    }

    @Test("the flag keeps the default jitter and cap")
    func parseDefaults() {
        let schedule = RetrySchedule.parse("1s")
        #expect(schedule?.jitter == 0.2)
        #expect(schedule?.retryAfterCap == 3600)
    }

    @Test(
        "the flag refuses bad items",
        arguments: [
            "", " ", ",", "5s,", ",5s", "5s,,5m", "0", "0s", "0.0h", "-5s", "5x", "5 s", "s", "ms", "5S", "1.s", ".5s",
            "5e3", "1w", "5ms5", "nan", "inf",
        ]
    )
    func parseRefuses(text: String) {
        #expect(RetrySchedule.parse(text) == nil)
    }

    @Test("the flag accepts at most 50 items")
    func parseTooMany() {
        #expect(RetrySchedule.parse(Array(repeating: "1s", count: 51).joined(separator: ",")) == nil)
    }
}
