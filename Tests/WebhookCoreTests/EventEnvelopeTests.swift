import Foundation
import Testing

@testable import WebhookCore

@Suite("Event envelope and intake validation")
struct EventEnvelopeTests {
    static let available: Set<String> = ["RecurringPayments.charge.paid", "RecurringPayments.charge.failed"]
    static let createdAt = Date(timeIntervalSince1970: 1_796_299_200.123)

    private func parse(_ json: String, maxDataBytes: Int = 256 * 1024) -> Result<EventDraft, ValidationError> {
        EventEnvelope.parseIntake(body: Array(json.utf8), availableTypes: Self.available, maxDataBytes: maxDataBytes)
    }

    private func draft(_ json: String) -> EventDraft? {
        if case .success(let value) = parse(json) { return value }
        return nil
    }

    private func error(_ json: String, maxDataBytes: Int = 256 * 1024) -> ValidationError? {
        if case .failure(let value) = parse(json, maxDataBytes: maxDataBytes) { return value }
        return nil
    }

    /// A body with a valid event whose `field` is replaced by raw JSON `value` (or removed when `nil`).
    private func body(_ field: String, _ value: String?) -> String {
        var fields: [(String, String)] = [
            ("type", #""RecurringPayments.charge.paid""#), ("data", #"{"amount": 100}"#),
            ("idempotency_key", #""key-1""#),
        ]
        fields.removeAll { $0.0 == field }
        if let value { fields.append((field, value)) }
        return #"{"event": {"# + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}}"
    }

    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    private static let notJSON = ValidationError(status: 400, message: "The request body is not valid JSON.")
    private static let noEvent = ValidationError(
        status: 400, message: #"The request body must be an object with an "event" object."#
    )
    private static let missingType = ValidationError(status: 400, message: #"A valid "type" must be specified."#)
    private static let missingData = ValidationError(status: 400, message: #"A valid "data" must be specified."#)
    private static let badData = ValidationError(status: 422, message: #"The "data" must be a JSON object."#)
    private static let badKey = ValidationError(
        status: 422, message: #"The "idempotency_key" must be a string of 1 to 255 characters."#
    )

    // MARK: - Serialising

    @Test("the envelope has its keys in order, no spaces, and data verbatim")
    func exactEnvelope() {
        let payload = EventEnvelope.serialize(
            id: "evt_01", type: "RecurringPayments.charge.paid", createdAt: Self.createdAt,
            data: Array(#"{"z":1, "a" : [ ]}"#.utf8)
        )
        let expected =
            #"{"id":"evt_01","type":"RecurringPayments.charge.paid","created_at":"2026-12-03T12:00:00.123Z","#
            + #""data":{"z":1, "a" : [ ]}}"#
        #expect(text(payload) == expected)
    }

    @Test("created_at is UTC with milliseconds, rounded like the store")
    func timestamps() {
        func createdAt(_ seconds: TimeInterval) -> String? {
            let payload = EventEnvelope.serialize(
                id: "e", type: "t", createdAt: Date(timeIntervalSince1970: seconds), data: Array("{}".utf8)
            )
            let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
            return object?["created_at"] as? String
        }
        #expect(createdAt(0) == "1970-01-01T00:00:00.000Z")
        #expect(createdAt(-0.001) == "1969-12-31T23:59:59.999Z")
        #expect(createdAt(1_796_299_199.9996) == "2026-12-03T12:00:00.000Z")
        #expect(createdAt(1_835_395_200.5) == "2028-02-29T00:00:00.500Z")
        #expect(createdAt(951_782_400) == "2000-02-29T00:00:00.000Z")
        #expect(createdAt(-2_208_988_800) == "1900-01-01T00:00:00.000Z")
        #expect(createdAt(1e300) == "9999-12-31T23:59:59.999Z")
        #expect(createdAt(-1e300) == "0000-01-01T00:00:00.000Z")
    }

    @Test("hard strings survive serialize and parse exactly")
    func roundTrip() throws {
        let hard =
            "Grüße, 日本語, emoji 😀👩‍👩‍👧, separators \u{2028}\u{2029}, </script>, \"quotes\", \\, "
            + "\n\t\u{0}\u{1f}\u{7f}"
        let event: [String: Any] = ["type": "RecurringPayments.charge.paid", "data": ["text": hard, "list": [hard]]]
        let intake = try JSONSerialization.data(withJSONObject: ["event": event])
        let draft = try EventEnvelope.parseIntake(body: Array(intake), availableTypes: Self.available).get()
        let id = "evt_</script>\u{2028}😀"
        let payload = EventEnvelope.serialize(id: id, type: hard, createdAt: Self.createdAt, data: draft.data)

        #expect(text(payload).contains("</script>"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(object.keys.sorted() == ["created_at", "data", "id", "type"])
        #expect(object["id"] as? String == id)
        #expect(object["type"] as? String == hard)
        #expect(object["created_at"] as? String == "2026-12-03T12:00:00.123Z")
        let data = try #require(object["data"] as? [String: Any])
        #expect(data["text"] as? String == hard)
        #expect(data["list"] as? [String] == [hard])
        // Unicode scalars too, not only canonical equivalence.
        #expect(Array((data["text"] as? String ?? "").unicodeScalars) == Array(hard.unicodeScalars))
    }

    @Test("the key order holds whatever the strings contain")
    func keyOrder() {
        let payload = text(
            EventEnvelope.serialize(
                id: #"a","type":"x"#, type: #"b"}"#, createdAt: Self.createdAt, data: Array(#"{"id":"other"}"#.utf8)
            )
        )
        #expect(payload.hasPrefix(#"{"id":"a\",\"type\":\"x","type":"b\"}","created_at":""#))
        #expect(payload.hasSuffix(#"Z","data":{"id":"other"}}"#))
    }

    // MARK: - Intake

    @Test("a valid request becomes a draft with data re-serialised with sorted keys")
    func valid() throws {
        let json = body("data", #"{"b": 1, "a": {"d": true, "c": null, "e": [false, 0, 1, 1.5]}, "u": "a/b"}"#)
        let value = try #require(draft(json))
        #expect(value.type == "RecurringPayments.charge.paid")
        #expect(value.idempotencyKey == "key-1")
        #expect(text(value.data) == #"{"a":{"c":null,"d":true,"e":[false,0,1,1.5]},"b":1,"u":"a/b"}"#)
    }

    @Test("the idempotency key is optional", arguments: [nil, "null"])
    func optionalKey(value: String?) throws {
        let json = value.map { body("idempotency_key", $0) } ?? body("idempotency_key", nil)
        #expect(try #require(draft(json)).idempotencyKey == nil)
    }

    @Test("the idempotency key counts characters, not bytes")
    func keyLength() {
        let longest = String(repeating: "😀", count: 255)
        #expect(draft(body("idempotency_key", "\"\(longest)\""))?.idempotencyKey == longest)
        #expect(error(body("idempotency_key", "\"\(longest)😀\"")) == Self.badKey)
        #expect(error(body("idempotency_key", "\"" + String(repeating: "k", count: 256) + "\"")) == Self.badKey)
    }

    @Test("combining marks count against the idempotency key's length")
    func keyWithCombiningMarks() {
        let heavy = String(repeating: "a\u{301}\u{302}", count: 100)  // 100 characters, 300 scalars
        #expect(heavy.count == 100)
        #expect(error(body("idempotency_key", "\"\(heavy)\"")) == Self.badKey)
        let light = String(repeating: "a\u{301}", count: 127)  // 127 characters, 254 scalars
        #expect(draft(body("idempotency_key", "\"\(light)\""))?.idempotencyKey == light)
    }

    @Test("an idempotency key with U+0000 is refused, since no store can keep it")
    func keyWithNUL() {
        let message = #"The "idempotency_key" must not contain the NUL character (U+0000)."#
        #expect(error(body("idempotency_key", #""a\u0000b""#)) == ValidationError(status: 422, message: message))
    }

    @Test("a body that is not UTF-8 JSON is refused", arguments: ["", "{", "nope", #"{"event": }"#])
    func notJSON(json: String) {
        #expect(error(json) == Self.notJSON)
        let latin1: [UInt8] = Array(#"{"event": {"type": "caf"#.utf8) + [0xE9] + Array(#""}}"#.utf8)
        let result = EventEnvelope.parseIntake(body: latin1, availableTypes: Self.available)
        #expect(result == .failure(Self.notJSON))
    }

    @Test(
        "the body must hold an event object",
        arguments: [
            "[]", "1", "true", "null", #""event""#, "{}", #"{"event": null}"#, #"{"event": []}"#, #"{"event": "x"}"#,
            #"{"Event": {}}"#,
        ]
    )
    func noEvent(json: String) {
        #expect(error(json) == Self.noEvent)
    }

    @Test("type must be a non-empty string", arguments: [nil, "null", #""""#, "1", "0", "true", "false", "[]", "{}"])
    func missingType(value: String?) {
        #expect(error(body("type", value)) == Self.missingType)
    }

    @Test("data must be present", arguments: [nil, "null"])
    func missingData(value: String?) {
        #expect(error(body("data", value)) == Self.missingData)
    }

    @Test("data must be an object", arguments: ["1", "0", "true", "false", #""{}""#, "[]", "[{}]", "1.5"])
    func badData(value: String) {
        #expect(error(body("data", value)) == Self.badData)
    }

    @Test("an empty data object is accepted")
    func emptyData() {
        #expect(draft(body("data", "{}")).map { text($0.data) } == "{}")
    }

    @Test("data is limited in size after re-serialisation")
    func dataSize() {
        // {"s":"xxxx"} is 12 bytes re-serialised; spaces in the request do not count.
        let json = body("data", #"{ "s" :  "xxxx" }"#)
        #expect(draft(json) != nil)
        #expect((try? parse(json, maxDataBytes: 12).get()) != nil)
        let small = ValidationError(status: 413, message: #"The "data" must be at most 11 bytes."#)
        #expect(error(json, maxDataBytes: 11) == small)

        let large = body("data", #"{"s": ""# + String(repeating: "x", count: 256 * 1024) + #""}"#)
        let expected = ValidationError(status: 413, message: #"The "data" must be at most 262144 bytes."#)
        #expect(error(large) == expected)
    }

    @Test(
        "the idempotency key must be a string of 1 to 255 characters",
        arguments: [#""""#, "1", "0", "true", "false", "[]", "{}", #"["k"]"#]
    )
    func badKey(value: String) {
        #expect(error(body("idempotency_key", value)) == Self.badKey)
    }

    @Test("an unavailable type is named")
    func unavailable() {
        let expected = ValidationError(
            status: 422, message: "Some events are not available", unavailableEvents: ["Nope.event"]
        )
        #expect(error(body("type", #""Nope.event""#)) == expected)
    }

    @Test("checks run in a fixed order")
    func order() {
        #expect(error(#"{"event": {}}"#) == Self.missingType)
        #expect(error(#"{"event": {"type": "Nope.event", "data": 1, "idempotency_key": 1}}"#) == Self.badData)
        #expect(error(#"{"event": {"type": "Nope.event", "data": {}, "idempotency_key": 1}}"#) == Self.badKey)
        let tooLarge = #"{"event": {"type": "Nope.event", "data": {"a": 1}, "idempotency_key": 1}}"#
        #expect(error(tooLarge, maxDataBytes: 2)?.status == 413)
    }
}
