import Foundation

/// Request bodies as the API accepts them: UTF-8 JSON, parsed by Foundation's `JSONSerialization`.
enum JSONText {
    /// The parsed value, or `nil` when the bytes are not UTF-8 JSON.
    static func parse(_ body: [UInt8]) -> Any? {
        // JSONSerialization also guesses UTF-16 and UTF-32, whose ASCII text is valid UTF-8 with NUL bytes; JSON
        // text never holds a raw NUL, so refusing it (and invalid UTF-8) keeps the API to UTF-8.
        guard !body.contains(0), String(validating: body, as: UTF8.self) != nil else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }
}
