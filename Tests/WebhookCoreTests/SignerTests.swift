import Foundation
import Testing

@testable import WebhookCore

@Suite("Standard Webhooks signatures")
struct SignerTests {
    static let secret = WebhookToken.secretBytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") ?? []
    static let messageID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    private func verify(
        _ header: String?, timestamp: String = "1614265330", now: Int64 = 1_614_265_330
    ) -> Result<Void, SignatureError> {
        Signer.verify(
            secret: Self.secret, messageID: Self.messageID, timestamp: timestamp, body: Self.body,
            signatureHeader: header, now: now
        )
    }

    private func failure(_ result: Result<Void, SignatureError>) -> SignatureError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    @Test func signMatchesTheSpecificationVector() {
        #expect(Self.secret.count == 24)
        let header = Signer.sign(
            secret: Self.secret, messageID: Self.messageID, timestamp: 1_614_265_330, body: Self.body
        )
        #expect(header == Self.expected)
    }

    @Test func verifyAcceptsTheVectorAlone() {
        #expect(failure(verify(Self.expected)) == nil)
    }

    @Test func verifyAcceptsAnyMatchingEntryOfSeveral() {
        let header = "v1,AAAA v2,whatever \(Self.expected) v1,"
        #expect(failure(verify(header)) == nil)
    }

    @Test func verifyAcceptsWithinToleranceOnBothSides() {
        #expect(failure(verify(Self.expected, now: 1_614_265_330 + 300)) == nil)
        #expect(failure(verify(Self.expected, now: 1_614_265_330 - 300)) == nil)
    }

    @Test func verifyRefusesOutsideTolerance() {
        #expect(failure(verify(Self.expected, now: 1_614_265_330 + 301)) == .timestampOutOfTolerance)
        #expect(failure(verify(Self.expected, now: 1_614_265_330 - 301)) == .timestampOutOfTolerance)
    }

    @Test func verifyRefusesMissingSignatures() {
        #expect(failure(verify(nil)) == .missingSignature)
        #expect(failure(verify("")) == .missingSignature)
        #expect(failure(verify("   ")) == .missingSignature)
    }

    @Test func verifyRefusesMalformedTimestamps() {
        #expect(failure(verify(Self.expected, timestamp: "")) == .malformedTimestamp)
        #expect(failure(verify(Self.expected, timestamp: "-1614265330")) == .malformedTimestamp)
        #expect(failure(verify(Self.expected, timestamp: "1614265330.0")) == .malformedTimestamp)
        #expect(failure(verify(Self.expected, timestamp: "99999999999999999999")) == .malformedTimestamp)
    }

    @Test func verifyRefusesWrongOrEmptySignatures() {
        #expect(failure(verify("v1,")) == .noMatchingSignature)
        #expect(failure(verify("v1, v1,,")) == .noMatchingSignature)
        #expect(failure(verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=")) == .noMatchingSignature)
        #expect(failure(verify("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ")) == .noMatchingSignature)
        #expect(failure(verify("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")) == .noMatchingSignature)
        #expect(failure(verify("v1,not base64")) == .noMatchingSignature)
    }

    @Test func verifyRefusesAnotherBody() {
        let result = Signer.verify(
            secret: Self.secret, messageID: Self.messageID, timestamp: "1614265330",
            body: Array(#"{"test": 2432232315}"#.utf8), signatureHeader: Self.expected, now: 1_614_265_330
        )
        #expect(failure(result) == .noMatchingSignature)
    }
}
