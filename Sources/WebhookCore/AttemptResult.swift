/// What one delivery attempt came back with, as `RetrySchedule.decide` needs it.
public enum AttemptResult: Sendable, Equatable {
    /// The receiver answered with this status code and, when present, this `Retry-After` header value.
    case status(code: Int, retryAfter: String?)
    /// No usable answer arrived: a short machine word such as `timeout`, `connect`, `tls` or `blocked`.
    case transportError(kind: String)
}
