/// A token-bucket rate limiter as a plain value: the caller owns the clock and any locking.
///
/// ```swift
/// var bucket = TokenBucket(capacity: 10, refillPerSecond: 5, now: clock())
/// if case .limited(let seconds) = bucket.take(now: clock()) { /* 429 with Retry-After: seconds */ }
/// ```
public struct TokenBucket: Sendable, Equatable {
    /// The outcome of asking for one token.
    public enum Decision: Sendable, Equatable {
        /// A token was taken; the request may proceed.
        case allowed
        /// No token is left; the next one is due in this many whole seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    /// The largest `Retry-After` ever advised, so a zero refill rate still yields a finite answer.
    public static let maximumRetryAfter = 86_400

    /// Most tokens the bucket holds; also the burst size.
    public let capacity: Double
    /// Tokens added per second.
    public let refillPerSecond: Double
    private var tokens: Double
    private var updatedAt: Double

    /// Creates a full bucket.
    ///
    /// - Parameters:
    ///   - capacity: the most tokens held, i.e. the largest burst.
    ///   - refillPerSecond: tokens added per second.
    ///   - now: the current time in seconds, on any monotonic clock the caller keeps using.
    public init(capacity: Double, refillPerSecond: Double, now: Double) {
        self.capacity = max(capacity, 0)
        self.refillPerSecond = max(refillPerSecond, 0)
        self.tokens = self.capacity
        self.updatedAt = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: Double) -> Decision {
        refill(now: now)

        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }

        guard refillPerSecond > 0 else { return .limited(retryAfterSeconds: Self.maximumRetryAfter) }
        let wait = ((1 - tokens) / refillPerSecond).rounded(.up)
        guard wait.isFinite, wait < Double(Self.maximumRetryAfter) else {
            return .limited(retryAfterSeconds: Self.maximumRetryAfter)
        }
        return .limited(retryAfterSeconds: max(1, Int(wait)))
    }

    /// The same bucket with another size and rate, as full (as a fraction of its capacity) as it was at `now`.
    ///
    /// How a process's share of a limit shared with others changes without handing out a fresh burst.
    public func resized(capacity: Double, refillPerSecond: Double, now: Double) -> TokenBucket {
        var current = self
        current.refill(now: now)
        var resized = TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: now)
        let fraction = self.capacity > 0 ? current.tokens / self.capacity : 1
        resized.tokens = resized.capacity * fraction
        return resized
    }

    /// Adds the tokens earned since the last update; a clock that goes backwards earns nothing.
    private mutating func refill(now: Double) {
        guard now > updatedAt else { return }

        tokens = min(capacity, tokens + (now - updatedAt) * refillPerSecond)
        updatedAt = now
    }
}
