// WebhookAPI: the versioned REST API (`/2026-02-01/...`): routing, authentication, rate limits, the JSON shapes
// of the seed page and the mapping of every failure to its status and one sentence. It composes HTTPServer,
// WebhookCore, Store and Delivery, and is the only module that knows all four.

import Foundation

/// A JSON document built in code, serialised with its object keys in the order given.
///
/// Key order carries no meaning in JSON, but answers read better in the seed page's order (`id`, `name`, ...).
/// Strings are written as RFC 8259 section 7 asks: `"` and `\` and control characters escaped, everything else as
/// its UTF-8 bytes (a test checks the output against Foundation's parser). Parsing stays Foundation's.
enum JSONValue: Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// An optional string, or `null`.
    static func string(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    /// The UTF-8 bytes of the document.
    func serialized() -> [UInt8] {
        var output: [UInt8] = []
        write(into: &output)
        return output
    }

    private func write(into output: inout [UInt8]) {
        switch self {
        case .string(let text):
            JSONValue.writeQuoted(text, into: &output)
        case .int(let number):
            output += Array(String(number).utf8)
        case .bool(let flag):
            output += Array((flag ? "true" : "false").utf8)
        case .null:
            output += Array("null".utf8)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONValue.writeQuoted(member.0, into: &output)
                output.append(UInt8(ascii: ":"))
                member.1.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `text` as a JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    private static func writeQuoted(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0x0A:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "n"))
            case 0x0D:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "r"))
            case 0x09:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30])
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
