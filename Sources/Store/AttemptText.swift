import Foundation

/// Text both stores write the same way when they record an attempt.
enum AttemptText {
    /// The response headers as a JSON object with sorted keys, or `nil` (stored NULL) when there are none.
    static func encodeHeaders(_ headers: [String: String]) throws -> String? {
        guard !headers.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(headers), as: UTF8.self)
    }

    /// Why a webhook that kept failing for `seconds` was disabled.
    static func disabledReason(failingFor seconds: TimeInterval) -> String {
        "failing for more than \(describeDuration(seconds)) without a success"
    }

    /// A span of seconds in the largest whole-ish unit, for people: `5 days`, `1 day`, `1.5 days`, `12 hours`.
    static func describeDuration(_ seconds: TimeInterval) -> String {
        let units: [(name: String, seconds: Double)] = [("day", 86_400), ("hour", 3_600), ("minute", 60)]
        let unit = units.first { seconds >= $0.seconds } ?? ("second", 1)
        let count = seconds / unit.seconds
        let rounded = (count * 10).rounded() / 10
        let number = rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
        return "\(number) \(unit.name)\(rounded == 1 ? "" : "s")"
    }
}
