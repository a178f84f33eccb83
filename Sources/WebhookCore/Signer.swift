import Foundation

/// Signs and verifies webhook deliveries per the Standard Webhooks specification.
///
/// ```swift
/// let header = Signer.sign(secret: secret, messageID: "evt_...", timestamp: 1614265330, body: body)
/// // header == "v1,<base64 HMAC-SHA256 of \"evt_....1614265330.\" + body>"
/// ```
public enum Signer {
    /// The default allowed distance between the signed timestamp and now, in seconds.
    public static let defaultTolerance: Int64 = 300

    /// The `webhook-signature` entry for one secret: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
    public static func sign(secret: [UInt8], messageID: String, timestamp: Int64, body: [UInt8]) -> String {
        "v1," + Data(mac(secret: secret, messageID: messageID, timestamp: timestamp, body: body)).base64EncodedString()
    }

    /// Checks a delivery's headers against `secret`.
    ///
    /// - Parameters:
    ///   - secret: the decoded signing secret.
    ///   - messageID: the `webhook-id` header.
    ///   - timestamp: the `webhook-timestamp` header, decimal seconds since 1970.
    ///   - body: the raw request body.
    ///   - signatureHeader: the `webhook-signature` header, space-separated `version,signature` entries.
    ///   - now: the current time in seconds since 1970.
    ///   - tolerance: the largest accepted distance between `timestamp` and `now`, in seconds.
    public static func verify(
        secret: [UInt8], messageID: String, timestamp: String, body: [UInt8], signatureHeader: String?,
        now: Int64, tolerance: Int64 = defaultTolerance
    ) -> Result<Void, SignatureError> {
        guard let header = signatureHeader, header.contains(where: { $0 != " " }) else {
            return .failure(.missingSignature)
        }

        guard let seconds = parseTimestamp(timestamp) else { return .failure(.malformedTimestamp) }
        let (distance, overflow) = now.subtractingReportingOverflow(seconds)
        guard !overflow, distance.magnitude <= tolerance.magnitude else {
            return .failure(.timestampOutOfTolerance)
        }

        let expected = mac(secret: secret, messageID: messageID, timestamp: seconds, body: body)
        var matched = false
        for entry in header.split(separator: " ") where entry.hasPrefix("v1,") {
            let candidate = Data(base64Encoded: String(entry.dropFirst(3))).map { [UInt8]($0) } ?? []
            // Every entry is compared in full so the time taken does not reveal which one matched.
            if Digest.constantTimeEqual(candidate, expected) { matched = true }
        }
        return matched ? .success(()) : .failure(.noMatchingSignature)
    }

    /// HMAC-SHA256 over `id.timestamp.` followed by the body bytes.
    private static func mac(secret: [UInt8], messageID: String, timestamp: Int64, body: [UInt8]) -> [UInt8] {
        let signed = Array("\(messageID).\(timestamp).".utf8) + body
        return Digest.hmacSHA256(key: secret, message: signed)
    }

    /// Plain decimal seconds: digits only, at most 18 of them.
    private static func parseTimestamp(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int64(text)
    }
}
