/// Why an endpoint URL is not acceptable; `message` is the sentence the API returns.
public enum URLRejection: Error, Sendable, Equatable {
    /// Not an absolute URL with the https scheme.
    case notHTTPS
    /// Longer than 2048 bytes of UTF-8.
    case tooLong
    /// Carries a user name or password, even an empty one.
    case userInfo
    /// Carries a fragment.
    case fragment
    /// Has no host, or a host that is not a valid name or address.
    case invalidHost
    /// Names an address that is not a public internet address.
    case privateAddress
    /// Cannot be parsed as a URL at all.
    case malformed

    /// One English sentence for the API's error body.
    public var message: String {
        switch self {
        case .notHTTPS: #"The "url" must be an absolute https URL."#
        case .tooLong: #"The "url" must be at most 2048 bytes."#
        case .userInfo: #"The "url" must not contain a user name or password."#
        case .fragment: #"The "url" must not contain a fragment."#
        case .invalidHost: #"The "url" must name a valid host."#
        case .privateAddress: #"The "url" host is not a public internet address."#
        case .malformed: #"The "url" is not a valid URL."#
        }
    }
}
