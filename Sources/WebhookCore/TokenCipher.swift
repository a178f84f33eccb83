import COpenSSL
import Foundation

/// Seals webhook signing secrets for storage with AES-256-GCM, so a copied database file does not give them away.
///
/// A sealed token reads `v1:` + base64 of a 12-byte random nonce, the ciphertext and the 16-byte tag. The
/// associated data (the store passes the webhook id) is authenticated but not stored: a sealed token moved to
/// another row no longer opens.
///
/// ```swift
/// let cipher = try TokenCipher(key: TokenCipher.generateKey())
/// let sealed = cipher.seal("whsec_...", associatedData: "wh_...")
/// let token = try cipher.open(sealed, associatedData: "wh_...")
/// ```
public struct TokenCipher: Sendable {
    /// The prefix of every sealed token; a stored token without it is still in clear.
    public static let sealedPrefix = "v1:"
    /// The key length AES-256 needs.
    public static let keyLength = 32

    private static let nonceLength = 12
    private static let tagLength = 16

    private let key: [UInt8]

    /// Makes a cipher for a 32-byte key.
    /// - Throws: `TokenCipherError.invalidKey` for any other length.
    public init(key: [UInt8]) throws {
        guard key.count == Self.keyLength else { throw TokenCipherError.invalidKey }
        self.key = key
    }

    /// Makes a cipher for a key given as standard base64 of 32 bytes (how operators pass it in configuration).
    /// - Throws: `TokenCipherError.invalidKey` when the text is not that.
    public init(base64Key: String) throws {
        guard let data = Data(base64Encoded: base64Key.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TokenCipherError.invalidKey
        }
        try self.init(key: Array(data))
    }

    /// A fresh random 32-byte key.
    public static func generateKey() -> [UInt8] {
        SecureRandom.bytes(keyLength)
    }

    /// Whether `text` looks sealed (carries the version prefix); says nothing about whether it opens.
    public static func isSealed(_ text: String) -> Bool {
        text.hasPrefix(sealedPrefix)
    }

    /// Encrypts `plaintext` under a fresh random nonce, binding `associatedData` to it.
    public func seal(_ plaintext: String, associatedData: String = "") -> String {
        let nonce = SecureRandom.bytes(Self.nonceLength)
        // Encryption with a valid key and nonce fails only when OpenSSL itself is broken.
        guard let (ciphertext, tag) = encrypt(Array(plaintext.utf8), nonce: nonce, aad: Array(associatedData.utf8))
        else { preconditionFailure("OpenSSL AES-256-GCM encryption failed") }
        return Self.sealedPrefix + Data(nonce + ciphertext + tag).base64EncodedString()
    }

    /// Decrypts what `seal` made with the same key and associated data.
    /// - Throws: `TokenCipherError.malformed` when `sealed` is not in the sealed format,
    ///   `TokenCipherError.authenticationFailed` when the key, the associated data or a byte differs.
    public func open(_ sealed: String, associatedData: String = "") throws -> String {
        guard Self.isSealed(sealed),
            let data = Data(base64Encoded: String(sealed.dropFirst(Self.sealedPrefix.count))),
            data.count >= Self.nonceLength + Self.tagLength
        else { throw TokenCipherError.malformed }

        let bytes = Array(data)
        let nonce = Array(bytes[..<Self.nonceLength])
        let ciphertext = Array(bytes[Self.nonceLength..<(bytes.count - Self.tagLength)])
        let tag = Array(bytes[(bytes.count - Self.tagLength)...])
        guard let plaintext = decrypt(ciphertext, nonce: nonce, aad: Array(associatedData.utf8), tag: tag),
            let text = String(bytes: plaintext, encoding: .utf8)
        else { throw TokenCipherError.authenticationFailed }
        return text
    }

    // MARK: Helpers

    /// AES-256-GCM encryption: the ciphertext (as long as the plaintext) and the tag, or `nil` when OpenSSL fails.
    private func encrypt(_ plaintext: [UInt8], nonce: [UInt8], aad: [UInt8]) -> (ciphertext: [UInt8], tag: [UInt8])? {
        withContext(encrypting: true, nonce: nonce) { context in
            guard feed(context, aad, isText: false, through: EVP_EncryptUpdate) != nil,
                var ciphertext = feed(context, plaintext, isText: true, through: EVP_EncryptUpdate)
            else { return nil }

            // GCM produces no bytes at the end; the call is still what completes the tag.
            var length: Int32 = 0
            var tail = [UInt8](repeating: 0, count: Self.tagLength)
            guard EVP_EncryptFinal_ex(context, &tail, &length) == 1 else { return nil }
            ciphertext += tail.prefix(Int(length))

            var tag = [UInt8](repeating: 0, count: Self.tagLength)
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength), &tag) == 1 else {
                return nil
            }
            return (ciphertext, tag)
        }
    }

    /// AES-256-GCM decryption: the plaintext, or `nil` when the tag does not verify (or OpenSSL fails).
    private func decrypt(_ ciphertext: [UInt8], nonce: [UInt8], aad: [UInt8], tag: [UInt8]) -> [UInt8]? {
        withContext(encrypting: false, nonce: nonce) { context in
            guard feed(context, aad, isText: false, through: EVP_DecryptUpdate) != nil,
                var plaintext = feed(context, ciphertext, isText: true, through: EVP_DecryptUpdate)
            else { return nil }

            var expected = tag
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength), &expected) == 1 else {
                return nil
            }
            // The final call is where GCM compares the tag: anything but 1 means altered bytes or another key.
            var length: Int32 = 0
            var tail = [UInt8](repeating: 0, count: Self.tagLength)
            guard EVP_DecryptFinal_ex(context, &tail, &length) == 1 else { return nil }
            plaintext += tail.prefix(Int(length))
            return plaintext
        }
    }

    /// Runs `body` with a fresh AES-256-GCM context keyed with `key` and `nonce`, freed afterwards.
    private func withContext<T>(encrypting: Bool, nonce: [UInt8], _ body: (OpaquePointer) -> T?) -> T? {
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }

        let initialise = encrypting ? EVP_EncryptInit_ex : EVP_DecryptInit_ex
        guard initialise(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { return nil }
        return body(context)
    }

    /// Feeds `input` through an EVP update function: associated data (`isText == false`, nothing comes out) or
    /// text to encrypt or decrypt (what comes out is returned). `nil` when OpenSSL fails.
    private func feed(
        _ context: OpaquePointer, _ input: [UInt8], isText: Bool, through update: UpdateFunction
    ) -> [UInt8]? {
        guard !input.isEmpty else { return [] }
        var length: Int32 = 0
        var output = [UInt8](repeating: 0, count: isText ? input.count : 0)
        let status = output.withUnsafeMutableBufferPointer { output in
            update(context, isText ? output.baseAddress : nil, &length, input, Int32(input.count))
        }
        guard status == 1 else { return nil }
        return Array(output.prefix(Int(length)))
    }

    /// The shape `EVP_EncryptUpdate` and `EVP_DecryptUpdate` share.
    private typealias UpdateFunction = (
        OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int32>?, UnsafePointer<UInt8>?, Int32
    ) -> Int32
}

extension TokenCipher: CustomStringConvertible, CustomReflectable {
    /// Never shows the key.
    public var description: String { "TokenCipher(key: redacted)" }

    /// Keeps the key out of `dump` and debugger views.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Why a token could not be sealed or opened. Descriptions never include the token or the key.
public enum TokenCipherError: Error, Equatable, CustomStringConvertible {
    /// The key is not 32 bytes (or not base64 of 32 bytes).
    case invalidKey
    /// The text is not `v1:` + base64 of at least a nonce and a tag.
    case malformed
    /// The tag did not verify: another key, other associated data, or altered bytes.
    case authenticationFailed

    public var description: String {
        switch self {
        case .invalidKey: "token key must be 32 bytes"
        case .malformed: "sealed token is malformed"
        case .authenticationFailed: "sealed token does not open with this key"
        }
    }
}
