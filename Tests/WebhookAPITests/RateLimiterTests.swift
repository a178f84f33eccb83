import Foundation
import Logging
import Testing

@testable import WebhookAPI

/// Processes sharing a database split each key's limit: what one process admits for its share.
@Suite struct RateLimiterTests {
    @Test func oneProcessAdmitsTheWholeBurst() {
        let limiter = RateLimiter(requestsPerSecond: 1, burst: 6)
        let admitted = (0..<10).filter { _ in limiter.admit(keyID: 1) == .allowed }.count
        #expect(admitted == 6)
    }

    @Test func threeProcessesAdmitAThirdEachOfAFreshKeysBurst() {
        let limiter = RateLimiter(requestsPerSecond: 1, burst: 6)
        limiter.share(among: 3)
        let admitted = (0..<10).filter { _ in limiter.admit(keyID: 7) == .allowed }.count
        #expect(admitted == 2)
        #expect(limiter.admit(keyID: 7) == .limited(retryAfterSeconds: 3))
    }

    @Test func aChangeOfShareDoesNotHandOutAFreshBurst() {
        let limiter = RateLimiter(requestsPerSecond: 0.001, burst: 6)
        #expect((0..<6).allSatisfy { _ in limiter.admit(keyID: 1) == .allowed })
        limiter.share(among: 2)
        #expect(limiter.admit(keyID: 1) != .allowed)
        limiter.share(among: 1)
        #expect(limiter.admit(keyID: 1) != .allowed)
    }

    @Test func zeroOrFewerInstancesCountAsOne() {
        let limiter = RateLimiter(requestsPerSecond: 1, burst: 4)
        limiter.share(among: 0)
        let admitted = (0..<10).filter { _ in limiter.admit(keyID: 1) == .allowed }.count
        #expect(admitted == 4)
    }
}

/// The store-unavailable log line: once a second, with how many it held back.
@Suite struct OncePerSecondTests {
    @Test func oneLineASecondWithTheCountHeldBack() {
        let gate = OncePerSecond()
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(gate.admit(now: start) == 0)
        #expect(gate.admit(now: start + 0.1) == nil)
        #expect(gate.admit(now: start + 0.9) == nil)
        #expect(gate.admit(now: start + 1.0) == 2)
        #expect(gate.admit(now: start + 1.5) == nil)
        #expect(gate.admit(now: start + 5) == 1)
    }
}
