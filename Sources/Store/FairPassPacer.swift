import Foundation
import Locking

/// Paces a claim's webhook-by-webhook pass (see `Store.claimDueDeliveries`).
///
/// The pass costs an index probe or two per webhook with pending deliveries (about 10 ms for 1,000 of them on
/// PostgreSQL) and runs under the claim's lock, while the dispatcher may claim fifty times a second. So once a
/// pass finds nothing, the next waits `pause`: a webhook whose deliveries sit behind other webhooks' capped
/// backlogs waits at most that much longer, and claims stay cheap while nothing else is due.
final class FairPassPacer: Sendable {
    /// How long after a pass that found nothing the next one waits.
    static let pause: TimeInterval = 0.1

    private let foundNothingAt = Locked<Date?>(nil)

    /// Whether a claim at `now` may run the pass. A clock that went back allows it.
    func mayRun(at now: Date) -> Bool {
        foundNothingAt.withLock { last in
            guard let last else { return true }
            return now < last || now.timeIntervalSince(last) >= Self.pause
        }
    }

    /// Notes what the pass at `now` found.
    func ran(found: Bool, at now: Date) {
        foundNothingAt.withLock { $0 = found ? nil : now }
    }
}
