import Foundation
import Locking
import WebhookCore

/// One token bucket per API key, held in memory by this process, sized to this process's share of the limit.
///
/// Several processes serving one database split each key's limit evenly: with `instances` processes alive, each
/// admits `requestsPerSecond / instances` with a burst of `burst / instances` (at least 1). Behind a load balancer
/// that spreads a key's requests evenly, the key gets its whole limit in total and no more.
final class RateLimiter: Sendable {
    private struct State {
        var buckets: [Int64: TokenBucket] = [:]
        var instances = 1
    }

    private let requestsPerSecond: Double
    private let burst: Double
    private let state = Locked(State())

    /// - Parameters:
    ///   - requestsPerSecond: sustained rate per key across all processes; 0 or less turns limiting off.
    ///   - burst: how many requests a quiet key may send at once, across all processes.
    init(requestsPerSecond: Double, burst: Double) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = max(1, burst)
    }

    /// How many processes share the limit now; buckets keep how full they are and take the new size.
    func share(among instances: Int) {
        let instances = max(1, instances)
        let now = Date().timeIntervalSince1970
        state.withLock { state in
            guard state.instances != instances else { return }
            state.instances = instances
            let size = Self.size(requestsPerSecond: requestsPerSecond, burst: burst, instances: instances)
            state.buckets = state.buckets.mapValues {
                $0.resized(capacity: size.capacity, refillPerSecond: size.refill, now: now)
            }
        }
    }

    /// Takes one request's token for `keyID`, or says how long to wait.
    func admit(keyID: Int64) -> TokenBucket.Decision {
        guard requestsPerSecond > 0 else { return .allowed }
        let now = Date().timeIntervalSince1970
        return state.withLock { state in
            var bucket =
                state.buckets[keyID]
                ?? {
                    let size = Self.size(requestsPerSecond: requestsPerSecond, burst: burst, instances: state.instances)
                    return TokenBucket(capacity: size.capacity, refillPerSecond: size.refill, now: now)
                }()
            let decision = bucket.take(now: now)
            state.buckets[keyID] = bucket
            return decision
        }
    }

    /// One process's share of the limit.
    private static func size(
        requestsPerSecond: Double, burst: Double, instances: Int
    ) -> (capacity: Double, refill: Double) {
        (max(1, burst / Double(instances)), requestsPerSecond / Double(instances))
    }
}
