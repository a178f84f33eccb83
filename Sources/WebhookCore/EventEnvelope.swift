import Foundation

/// The event envelope `{"id","type","created_at","data"}` sent as the body of every attempt, and the
/// validation of the request that emits an event.
///
/// ```swift
/// switch EventEnvelope.parseIntake(body: body, availableTypes: available) {
/// case .success(let draft):
///     let payload = EventEnvelope.serialize(id: id, type: draft.type, createdAt: now, data: draft.data)
/// case .failure(let error): respond(error.status, error.message)
/// }
/// ```
public enum EventEnvelope {
    /// The largest `data` accepted by default, in bytes after re-serialisation.
    public static let defaultMaximumDataBytes = 256 * 1024
    /// The longest accepted idempotency key, in characters.
    public static let maximumIdempotencyKeyLength = 255

    /// The envelope bytes: `{"id":…,"type":…,"created_at":"2026-12-03T12:00:00.123Z","data":…}`.
    ///
    /// Keys come in that order with no spaces; `id` and `type` are JSON strings escaped by `JSONSerialization`
    /// (slashes left alone); `created_at` is UTC rounded to the millisecond (years outside 0000–9999 are
    /// clamped); `data` is copied verbatim and must already be JSON.
    public static func serialize(id: String, type: String, createdAt: Date, data: [UInt8]) -> [UInt8] {
        var body = Array(#"{"id":"#.utf8)
        body += encodedString(id)
        body += Array(#","type":"#.utf8)
        body += encodedString(type)
        body += Array(#","created_at":""#.utf8)
        body += Array(Timestamp.format(createdAt).utf8)
        body += Array(#"","data":"#.utf8)
        body += data
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// Validates an intake request body `{"event": {"type", "data", "idempotency_key"}}`.
    ///
    /// Checks run in a fixed order: JSON (400), the `event` object (400), `type` (400), `data` present (400),
    /// `data` an object (422), `data` size (413), `idempotency_key` (422), `type` available (422).
    ///
    /// - Parameters:
    ///   - body: the raw request body, UTF-8 JSON.
    ///   - availableTypes: the event types that may be emitted.
    ///   - maxDataBytes: the largest accepted `data`, in bytes after re-serialisation with sorted keys.
    public static func parseIntake(
        body: [UInt8], availableTypes: Set<String>, maxDataBytes: Int = defaultMaximumDataBytes
    ) -> Result<EventDraft, ValidationError> {
        guard let root = JSONText.parse(body) else {
            return .failure(ValidationError(status: 400, message: "The request body is not valid JSON."))
        }
        guard let object = root as? [String: Any], let fields = object["event"] as? [String: Any] else {
            let message = #"The request body must be an object with an "event" object."#
            return .failure(ValidationError(status: 400, message: message))
        }

        guard let type = fields["type"].flatMap(jsonString), !type.isEmpty else {
            return .failure(ValidationError(status: 400, message: #"A valid "type" must be specified."#))
        }
        guard let rawData = fields["data"], !(rawData is NSNull) else {
            return .failure(ValidationError(status: 400, message: #"A valid "data" must be specified."#))
        }
        guard let dataObject = rawData as? [String: Any],
            let data = try? JSONSerialization.data(
                withJSONObject: dataObject, options: [.sortedKeys, .withoutEscapingSlashes]
            )
        else {
            return .failure(ValidationError(status: 422, message: #"The "data" must be a JSON object."#))
        }
        guard data.count <= maxDataBytes else {
            let message = "The \"data\" must be at most \(maxDataBytes) bytes."
            return .failure(ValidationError(status: 413, message: message))
        }

        var idempotencyKey: String?
        if let rawKey = fields["idempotency_key"], !(rawKey is NSNull) {
            // Characters as people count them, and Unicode scalars too, so that combining marks cannot make a
            // "short" key many kilobytes long (past what the stores index).
            guard let key = jsonString(rawKey), (1...maximumIdempotencyKeyLength).contains(key.count),
                key.unicodeScalars.count <= maximumIdempotencyKeyLength
            else {
                let message = #"The "idempotency_key" must be a string of 1 to 255 characters."#
                return .failure(ValidationError(status: 422, message: message))
            }
            guard !key.unicodeScalars.contains("\0") else {
                let message = #"The "idempotency_key" must not contain the NUL character (U+0000)."#
                return .failure(ValidationError(status: 422, message: message))
            }
            idempotencyKey = key
        }

        guard availableTypes.contains(type) else {
            let message = "Some events are not available"
            return .failure(ValidationError(status: 422, message: message, unavailableEvents: [type]))
        }
        return .success(EventDraft(type: type, data: Array(data), idempotencyKey: idempotencyKey))
    }

    // MARK: - Reading

    /// A JSON string, and never a number or boolean bridged to look like one.
    private static func jsonString(_ value: Any) -> String? {
        if value is NSNumber || value is NSNull { return nil }
        return value as? String
    }

    // MARK: - Writing

    /// `text` as a JSON string literal, quotes included.
    private static func encodedString(_ text: String) -> [UInt8] {
        let options: JSONSerialization.WritingOptions = [.fragmentsAllowed, .withoutEscapingSlashes]
        if let encoded = try? JSONSerialization.data(withJSONObject: text, options: options) {
            return Array(encoded)
        }
        return fallbackEncodedString(text)
    }

    /// The minimal escaping RFC 8259 requires, should `JSONSerialization` ever refuse a string.
    private static func fallbackEncodedString(_ text: String) -> [UInt8] {
        let hexDigits = Array("0123456789abcdef".utf8)
        var output = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output += [UInt8(ascii: "\\"), byte]
            case 0..<0x20:
                output += Array("\\u00".utf8) + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
        return output
    }
}
