import Dispatch
import Locking

/// Fails calls at once while the database keeps them waiting until they fail, and lets one call at a time find
/// out whether it answers again.
///
/// A frozen PostgreSQL server (or a stalled failover) costs each call its whole deadline: `--database-timeout` for
/// a statement, libpq's connect timeout for a new connection. Requests that queue for the store threads meanwhile
/// would each wait that long again after those ahead of them, so waits grow with the queue. After a call failed
/// that way (unavailable, and slowly), calls are refused for `interval`; then one call is let through as a probe,
/// and any call the database answers ends the episode. A server that refuses connections fails fast by itself and
/// never trips this.
final class FailFast: Sendable {
    /// How long calls are refused after a slow failure, before the next probe.
    static let interval: Double = 1
    /// A failure that took at least this long, in seconds, counts as slow.
    static let slowFailure: Double = 1

    enum Admission: Equatable {
        case go
        /// The one call let through to see whether the database answers again.
        case probe
        /// Refused at once, with the reason to report.
        case refuse(String)
    }

    private struct State {
        var failing = false
        var probing = false
        var retryAt = DispatchTime.now()
        var lastFailure = ""
    }

    private let state = Locked(State())

    /// Whether a call may go to the database now.
    func admit() -> Admission {
        state.withLock { state in
            guard state.failing else { return .go }
            guard !state.probing, DispatchTime.now() >= state.retryAt else {
                return .refuse("the database did not answer lately (\(state.lastFailure)); trying again shortly")
            }
            state.probing = true
            return .probe
        }
    }

    /// The database answered a call (with rows or with an error of its own): calls go through again.
    func answered() {
        state.withLock { state in
            if state.failing {
                state = State()
            }
        }
    }

    /// A call found the database unavailable after `seconds`: a slow failure refuses calls for `interval`; a fast one
    /// only ends a probe.
    func failed(after seconds: Double, message: String, admission: Admission) {
        state.withLock { state in
            if seconds >= Self.slowFailure {
                state.failing = true
                state.lastFailure = message
            }
            if seconds >= Self.slowFailure || admission == .probe {
                state.probing = false
                state.retryAt = DispatchTime.now() + Self.interval
            }
        }
    }
}
