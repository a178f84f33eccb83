import Foundation

/// A freshly made API key: the key shown once, and what is stored of it.
public struct APIKeyMaterial: Sendable, Equatable {
    /// The whole key, `dwk_` + 43 base64url characters; shown once, never stored.
    public let key: String
    /// The first 12 characters of the key, stored for display and revocation.
    public let prefix: String
    /// Lower-case hex SHA-256 of the key, stored to authenticate requests.
    public let hash: String

    /// Length of the stored display prefix.
    public static let prefixLength = 12

    /// Makes a key from 32 random bytes.
    public static func make() -> APIKeyMaterial {
        let key = "dwk_" + base64URL(SecureRandom.bytes(32))
        return APIKeyMaterial(key: key, prefix: String(key.prefix(prefixLength)), hash: hash(of: key))
    }

    /// The stored hash of `key`.
    public static func hash(of key: String) -> String {
        Digest.sha256Hex(key)
    }

    /// Base64url (RFC 4648 section 5) without padding.
    private static func base64URL(_ bytes: [UInt8]) -> String {
        let standard = Data(bytes).base64EncodedString()
        return String(
            standard.compactMap { character -> Character? in
                switch character {
                case "+": "-"
                case "/": "_"
                case "=": nil
                default: character
                }
            }
        )
    }
}
