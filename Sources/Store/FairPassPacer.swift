import Foundation
import Locking

/// Paces a claim's webhook-by-webhook pass (see `Store.claimDeliveries`).
///
/// The pass costs an index probe or two per webhook with pending deliveries (about 10 ms for 1,000 of them on
/// PostgreSQL) and runs under the claim's lock, while the dispatcher may claim fifty times a second. So once a
/// pass finds nothing, the next waits `pause`: a webhook whose deliveries sit behind other webhooks' capped
/// backlogs waits at most that much longer, and claims stay cheap while nothing else is due. A claim held back
/// says until when (`DeliveryClaim.passHeldUntil`), and the dispatcher claims again then rather than at its next
/// poll.
final class FairPassPacer: Sendable {
    /// How long after a pass that found nothing the next one waits.
    static let pause: TimeInterval = 0.1

    private let foundNothingAt = Locked<Date?>(nil)

    /// When the pass may run again if a claim at `now` may not run it; nil when it may. A clock that went back
    /// allows it.
    func heldUntil(_ now: Date) -> Date? {
        foundNothingAt.withLock { last in
            guard let last, now >= last, now.timeIntervalSince(last) < Self.pause else { return nil }
            return last.addingTimeInterval(Self.pause)
        }
    }

    /// Notes what the pass at `now` found.
    func ran(found: Bool, at now: Date) {
        foundNothingAt.withLock { $0 = found ? nil : now }
    }
}
