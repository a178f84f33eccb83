import Foundation
import Locking
import WebhookCore

/// One token bucket per API key, held in memory by this process.
final class RateLimiter: Sendable {
    private let capacity: Double
    private let refillPerSecond: Double
    private let buckets = Locked<[Int64: TokenBucket]>([:])

    /// - Parameters:
    ///   - requestsPerSecond: sustained rate per key; 0 or less turns limiting off.
    ///   - burst: how many requests a quiet key may send at once.
    init(requestsPerSecond: Double, burst: Double) {
        refillPerSecond = requestsPerSecond
        capacity = max(1, burst)
    }

    /// Takes one request's token for `keyID`, or says how long to wait.
    func admit(keyID: Int64) -> TokenBucket.Decision {
        guard refillPerSecond > 0 else { return .allowed }
        let now = Date().timeIntervalSince1970
        return buckets.withLock { buckets in
            var bucket = buckets[keyID] ?? TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: now)
            let decision = bucket.take(now: now)
            buckets[keyID] = bucket
            return decision
        }
    }
}
