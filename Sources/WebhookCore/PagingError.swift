/// Why the paging query parameters were refused; `message` is the sentence the API returns with status 400.
public enum PagingError: Error, Sendable, Equatable {
    /// `size` is not an integer from 1 to 100.
    case invalidSize
    /// `page` is not an integer of at least 1.
    case invalidPage

    /// One English sentence naming the parameter.
    public var message: String {
        switch self {
        case .invalidSize: #""size" must be an integer from 1 to 100."#
        case .invalidPage: #""page" must be an integer of at least 1."#
        }
    }
}
