import Foundation

/// A webhook signing secret: `whsec_` followed by standard base64 of 32 random bytes.
public enum WebhookToken {
    /// The prefix every token starts with.
    public static let prefix = "whsec_"

    /// Makes a fresh token.
    public static func make() -> String {
        prefix + Data(SecureRandom.bytes(32)).base64EncodedString()
    }

    /// The secret bytes a token encodes, or `nil` when it lacks the prefix or is not base64.
    public static func secretBytes(_ token: String) -> [UInt8]? {
        guard token.hasPrefix(prefix) else { return nil }

        let encoded = String(token.dropFirst(prefix.count))
        guard let data = Data(base64Encoded: encoded) else { return nil }
        return [UInt8](data)
    }
}
