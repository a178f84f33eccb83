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

    @Test func resizingKeepsHowFullTheBucketWas() {
        var bucket = TokenBucket(capacity: 10, refillPerSecond: 1, now: 0)
        for _ in 0..<5 { #expect(bucket.take(now: 0) == .allowed) }
        // Half full at 10 → half full at 4: two tokens, then limited with the new rate's wait.
        var smaller = bucket.resized(capacity: 4, refillPerSecond: 0.5, now: 0)
        #expect(smaller.take(now: 0) == .allowed)
        #expect(smaller.take(now: 0) == .allowed)
        #expect(smaller.take(now: 0) == .limited(retryAfterSeconds: 2))
        // Time passed before the resize counts at the old rate: 5 + 3 tokens of 10 → 8 of 10.
        var later = bucket.resized(capacity: 10, refillPerSecond: 1, now: 3)
        for _ in 0..<8 { #expect(later.take(now: 3) == .allowed) }
        #expect(later.take(now: 3) == .limited(retryAfterSeconds: 1))
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
