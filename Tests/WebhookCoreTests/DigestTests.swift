import Foundation
import Testing

@testable import WebhookCore

@Suite("Random bytes, digests and keys")
struct DigestTests {
    @Test func randomBytesHaveTheRequestedLengthAndDiffer() {
        #expect(SecureRandom.bytes(0) == [])
        #expect(SecureRandom.bytes(32).count == 32)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(Digest.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256(Array("abc".utf8)).prefix(4) == [0xba, 0x78, 0x16, 0xbf])
    }

    @Test func hmacMatchesRFC4231Case2() {
        let mac = Digest.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Digest.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func constantTimeEqualComparesContentAndLength() {
        #expect(Digest.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Digest.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Digest.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!Digest.constantTimeEqual([], [1]))
        #expect(Digest.constantTimeEqual([], []))
    }

    @Test func identifiersArePrefixedBase32() {
        let id = Identifier.make(prefix: "wh")
        #expect(id.hasPrefix("wh_"))
        #expect(id.count == 29)
        #expect(Identifier.isWellFormed(id, prefix: "wh"))
        #expect(!Identifier.isWellFormed(id, prefix: "evt"))
        #expect(Identifier.make(prefix: "evt") != Identifier.make(prefix: "evt"))
    }

    @Test func identifierWellFormednessIsStrict() {
        #expect(Identifier.isWellFormed("wh_abcdefghijklmnopqrstuvwxyz", prefix: "wh"))
        #expect(Identifier.isWellFormed("wh_22222222222222222222222227", prefix: "wh"))
        #expect(!Identifier.isWellFormed("wh_abcdefghijklmnopqrstuvwxy", prefix: "wh"))
        #expect(!Identifier.isWellFormed("wh_abcdefghijklmnopqrstuvwxyza", prefix: "wh"))
        #expect(!Identifier.isWellFormed("wh_ABCDEFGHIJKLMNOPQRSTUVWXYZ", prefix: "wh"))
        #expect(!Identifier.isWellFormed("wh_abcdefghijklmnopqrstuvwxy1", prefix: "wh"))
        #expect(!Identifier.isWellFormed("whabcdefghijklmnopqrstuvwxyz", prefix: "wh"))
    }

    @Test func base32MatchesRFC4648Vectors() {
        #expect(Identifier.base32(Array("".utf8)) == "")
        #expect(Identifier.base32(Array("f".utf8)) == "my")
        #expect(Identifier.base32(Array("fooba".utf8)) == "mzxw6ytb")
        #expect(Identifier.base32(Array("foobar".utf8)) == "mzxw6ytboi")
        #expect(Identifier.base32([UInt8](repeating: 0xff, count: 16)) == "77777777777777777777777774")
    }

    @Test func webhookTokensCarry32SecretBytes() throws {
        let token = WebhookToken.make()
        #expect(token.hasPrefix("whsec_"))
        #expect(token.count == 6 + 44)
        #expect(token.hasSuffix("="))

        let secret = try #require(WebhookToken.secretBytes(token))
        #expect(secret.count == 32)
        #expect(WebhookToken.secretBytes("whsec_AAEC") == [0, 1, 2])
        #expect(WebhookToken.secretBytes("AAEC") == nil)
        #expect(WebhookToken.secretBytes("whsec_!!!!") == nil)
    }

    @Test func apiKeysStoreOnlyPrefixAndHash() {
        let material = APIKeyMaterial.make()
        #expect(material.key.hasPrefix("dwk_"))
        #expect(material.key.count == 4 + 43)
        #expect(!material.key.contains("+") && !material.key.contains("/") && !material.key.contains("="))
        #expect(material.prefix == String(material.key.prefix(12)))
        #expect(material.hash == Digest.sha256Hex(material.key))
        #expect(APIKeyMaterial.hash(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKeyMaterial.make().key != material.key)
    }
}
