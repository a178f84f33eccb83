import Foundation
import Testing

@testable import WebhookCore

@Suite("Token sealing")
struct TokenCipherTests {
    let cipher: TokenCipher

    init() throws {
        cipher = try TokenCipher(key: TokenCipher.generateKey())
    }

    @Test func roundTripsWithTheSameAssociatedData() throws {
        for token in ["whsec_dG9rZW4=", "", "Ünïcödé 🍩"] {
            let sealed = cipher.seal(token, associatedData: "wh_one")
            #expect(sealed.hasPrefix("v1:"))
            #expect(!sealed.contains(token) || token.isEmpty)
            #expect(try cipher.open(sealed, associatedData: "wh_one") == token)
        }
    }

    @Test func sealedLayoutIsNonceCiphertextTag() throws {
        let sealed = cipher.seal("abc")
        let bytes = try #require(Data(base64Encoded: String(sealed.dropFirst(3))))
        #expect(bytes.count == 12 + 3 + 16)
    }

    @Test func nonceDiffersEachTime() throws {
        let first = cipher.seal("whsec_same")
        let second = cipher.seal("whsec_same")
        #expect(first != second)
        #expect(first.prefix(3 + 16) != second.prefix(3 + 16))
        #expect(try cipher.open(first) == cipher.open(second))
    }

    @Test func tamperedBytesThrow() throws {
        let sealed = cipher.seal("whsec_dG9rZW4=", associatedData: "wh_one")
        var bytes = Array(try #require(Data(base64Encoded: String(sealed.dropFirst(3)))))
        for index in [0, 12, bytes.count - 1] {
            bytes[index] ^= 0x01
            let tampered = "v1:" + Data(bytes).base64EncodedString()
            #expect(throws: TokenCipherError.authenticationFailed) {
                try cipher.open(tampered, associatedData: "wh_one")
            }
            bytes[index] ^= 0x01
        }
    }

    @Test func otherAssociatedDataThrows() {
        let sealed = cipher.seal("whsec_dG9rZW4=", associatedData: "wh_one")
        #expect(throws: TokenCipherError.authenticationFailed) { try cipher.open(sealed, associatedData: "wh_two") }
    }

    @Test func wrongKeyThrows() throws {
        let other = try TokenCipher(key: TokenCipher.generateKey())
        let sealed = cipher.seal("whsec_dG9rZW4=")
        #expect(throws: TokenCipherError.authenticationFailed) { try other.open(sealed) }
    }

    @Test func malformedTextThrows() {
        for text in [
            "whsec_dG9rZW4=", "v1:", "v1:not base64!", "v1:" + Data(repeating: 0, count: 27).base64EncodedString(),
        ] {
            #expect(throws: TokenCipherError.malformed) { try cipher.open(text) }
        }
    }

    @Test func keysMustBe32Bytes() throws {
        #expect(TokenCipher.generateKey().count == 32)
        #expect(TokenCipher.generateKey() != TokenCipher.generateKey())
        #expect(throws: TokenCipherError.invalidKey) { try TokenCipher(key: [UInt8](repeating: 1, count: 16)) }
        #expect(throws: TokenCipherError.invalidKey) { try TokenCipher(base64Key: "not a key") }

        let key = TokenCipher.generateKey()
        let fromText = try TokenCipher(base64Key: Data(key).base64EncodedString())
        #expect(try fromText.open(TokenCipher(key: key).seal("x")) == "x")
    }

    @Test func descriptionHidesTheKey() throws {
        let key = [UInt8](repeating: 0x41, count: 32)
        let cipher = try TokenCipher(key: key)
        var dumped = ""
        dump(cipher, to: &dumped)
        #expect("\(cipher)" == "TokenCipher(key: redacted)")
        #expect(!dumped.contains("65"))
    }
}
