/// Why a request body was refused: the HTTP status and the one sentence the API returns.
public struct ValidationError: Error, Sendable, Equatable {
    /// 400 for missing or malformed input, 422 for input that is well-formed but not acceptable.
    public var status: Int
    /// One English sentence for the error body.
    public var message: String
    /// The requested events that are not available, in the order given, when that is the reason.
    public var unavailableEvents: [String]?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - status: the HTTP status, 400 or 422.
    ///   - message: the sentence for the error body.
    ///   - unavailableEvents: the events that are not available, if that is the reason.
    public init(status: Int, message: String, unavailableEvents: [String]? = nil) {
        self.status = status
        self.message = message
        self.unavailableEvents = unavailableEvents
    }
}
