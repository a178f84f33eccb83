/// Why a delivery's signature was not accepted.
public enum SignatureError: Error, Sendable, Equatable {
    /// The `webhook-signature` header is absent or blank.
    case missingSignature
    /// The `webhook-timestamp` header is not decimal seconds.
    case malformedTimestamp
    /// The timestamp is too far from now, so the delivery may be a replay.
    case timestampOutOfTolerance
    /// No `v1` entry matches the expected signature.
    case noMatchingSignature
}
