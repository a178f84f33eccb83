import Testing

@testable import WebhookCore

@Suite("Token bucket")
struct TokenBucketTests {
    @Test func aFullBucketAllowsItsCapacityThenLimits() {
        var bucket = TokenBucket(capacity: 3, refillPerSecond: 1, now: 0)
        #expect(bucket.take(now: 0) == .allowed)
        #expect(bucket.take(now: 0) == .allowed)
        #expect(bucket.take(now: 0) == .allowed)
        #expect(bucket.take(now: 0) == .limited(retryAfterSeconds: 1))
    }

    @Test func tokensRefillOverTime() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 0.5, now: 100)
        #expect(bucket.take(now: 100) == .allowed)
        #expect(bucket.take(now: 100) == .limited(retryAfterSeconds: 2))
        #expect(bucket.take(now: 101) == .limited(retryAfterSeconds: 1))
        #expect(bucket.take(now: 102) == .allowed)
    }

    @Test func refillNeverExceedsCapacity() {
        var bucket = TokenBucket(capacity: 2, refillPerSecond: 10, now: 0)
        #expect(bucket.take(now: 1000) == .allowed)
        #expect(bucket.take(now: 1000) == .allowed)
        #expect(bucket.take(now: 1000) == .limited(retryAfterSeconds: 1))
    }

    @Test func retryAfterRoundsUpToWholeSeconds() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 0.4, now: 0)
        #expect(bucket.take(now: 0) == .allowed)
        #expect(bucket.take(now: 0) == .limited(retryAfterSeconds: 3))
        #expect(bucket.take(now: 2.4) == .limited(retryAfterSeconds: 1))
    }

    @Test func aClockGoingBackwardsEarnsNothing() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 1, now: 10)
        #expect(bucket.take(now: 10) == .allowed)
        #expect(bucket.take(now: 5) == .limited(retryAfterSeconds: 1))
        #expect(bucket.take(now: 11) == .allowed)
    }

    @Test func zeroRefillGivesAFiniteRetryAfter() {
        var bucket = TokenBucket(capacity: 0, refillPerSecond: 0, now: 0)
        #expect(bucket.take(now: 0) == .limited(retryAfterSeconds: TokenBucket.maximumRetryAfter))
    }
}
