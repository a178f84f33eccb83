import Foundation
import Testing

@testable import WebhookAPI

@Suite struct JSONValueTests {
    @Test(arguments: [
        "", "plain", "quote \" and backslash \\", "new\nline\ttab\rreturn", "\u{0}\u{1}\u{1f}\u{7f}",
        "héllo 😀 \u{2028}\u{2029} </script>", "https://example.com/a?b=c&d=e",
    ])
    func stringsRoundTripThroughFoundationsParser(text: String) throws {
        let bytes = JSONValue.object([("k", .string(text))]).serialized()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: String])
        #expect(parsed == ["k": text])
    }

    @Test func objectsKeepTheirKeyOrderAndEscapeOnlyWhatTheyMust() {
        let value = JSONValue.object([
            ("id", .string("wh_1")), ("url", .string("https://a/b")), ("n", .int(-3)), ("ok", .bool(true)),
            ("none", .null), ("list", .array([.string("a\"b"), .string("\u{1}")])),
        ])
        #expect(
            String(decoding: value.serialized(), as: UTF8.self)
                == #"{"id":"wh_1","url":"https://a/b","n":-3,"ok":true,"none":null,"list":["a\"b","\u0001"]}"#)
    }
}
