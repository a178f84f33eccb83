/// A validated request to emit an event, before it has an id, a time or deliveries.
public struct EventDraft: Sendable, Equatable {
    /// The event type name, one of the available events.
    public var type: String
    /// The `data` object re-serialised with sorted keys: the bytes the envelope carries verbatim.
    public var data: [UInt8]
    /// The caller's idempotency key, 1 to 255 characters, or `nil` when absent or null.
    public var idempotencyKey: String?

    /// Creates a draft from values already validated.
    ///
    /// - Parameters:
    ///   - type: the event type name.
    ///   - data: the serialised JSON object.
    ///   - idempotencyKey: the caller's idempotency key, if any.
    public init(type: String, data: [UInt8], idempotencyKey: String?) {
        self.type = type
        self.data = data
        self.idempotencyKey = idempotencyKey
    }
}
