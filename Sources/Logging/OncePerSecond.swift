import Foundation
import Locking

/// Lets one log line through per second and counts the ones it held back.
public final class OncePerSecond: Sendable {
    private let state = Locked((last: Date.distantPast, held: 0))

    public init() {}

    /// The number of lines held back since the last one let through, when this one may go; `nil` to hold it.
    public func admit(now: Date) -> Int? {
        state.withLock { state -> Int? in
            guard now.timeIntervalSince(state.last) >= 1 else {
                state.held += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.held
        }
    }
}
