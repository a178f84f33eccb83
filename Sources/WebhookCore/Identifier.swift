/// Public identifiers such as `wh_...` and `evt_...`: a prefix and 128 random bits in lower-case base32.
public enum Identifier {
    /// The RFC 4648 base32 alphabet, lower-cased.
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// Length of the encoded random part: 128 bits in 5-bit characters.
    public static let randomLength = 26

    /// Makes a fresh identifier, e.g. `Identifier.make(prefix: "wh")` gives `wh_` and 26 base32 characters.
    public static func make(prefix: String) -> String {
        prefix + "_" + base32(SecureRandom.bytes(16))
    }

    /// Whether `id` is `prefix`, an underscore and 26 lower-case base32 characters.
    public static func isWellFormed(_ id: String, prefix: String) -> Bool {
        let head = prefix + "_"
        guard id.hasPrefix(head) else { return false }

        let tail = id.utf8.dropFirst(head.utf8.count)
        return tail.count == randomLength && tail.allSatisfy { alphabet.contains($0) }
    }

    /// RFC 4648 base32 without padding, lower case.
    static func base32(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0

        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(alphabet[Int((buffer >> UInt32(bits)) & 0x1f)])
            }
        }

        if bits > 0 {
            output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1f)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
