import Testing

@testable import WebhookCore

@Suite("Webhook create request validation")
struct WebhookDraftTests {
    static let available: Set<String> = ["RecurringPayments.charge.paid", "RecurringPayments.charge.failed"]

    private func parse(_ json: String, allowPrivate: Bool = false) -> Result<WebhookDraft, ValidationError> {
        WebhookDraft.parse(body: Array(json.utf8), availableEvents: Self.available, allowPrivate: allowPrivate)
    }

    private func draft(_ json: String) -> WebhookDraft? {
        if case .success(let value) = parse(json) { return value }
        return nil
    }

    private func error(_ json: String) -> ValidationError? {
        if case .failure(let value) = parse(json) { return value }
        return nil
    }

    /// A body with a valid webhook whose `field` is replaced by raw JSON `value` (or removed when `nil`).
    private func body(_ field: String, _ value: String?) -> String {
        var fields: [(String, String)] = [
            ("name", #""Billing""#), ("url", #""https://example.com/hook""#),
            ("events", #"["RecurringPayments.charge.paid"]"#), ("description", #""Invoices""#),
        ]
        fields.removeAll { $0.0 == field }
        if let value { fields.append((field, value)) }
        return #"{"webhook": {"# + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}}"
    }

    private static let missingName = ValidationError(status: 400, message: #"A valid "name" must be specified."#)
    private static let missingURL = ValidationError(status: 400, message: #"A valid "url" must be specified."#)
    private static let missingEvents = ValidationError(status: 400, message: #"A valid "events" must be specified."#)
    private static let badEvents = ValidationError(
        status: 422, message: #"The "events" must be a string or an array of strings."#
    )
    private static let badDescription = ValidationError(status: 422, message: #"The "description" must be a string."#)

    @Test func theSeedExampleIsAccepted() {
        let json = """
            {"webhook": {"name": "Billing Events", "description": "Receive invoice and payment updates",
            "url": "https://example.com/webhooks/billing", "events": ["RecurringPayments.charge.paid"]}}
            """
        let endpoint = EndpointURL(
            url: "https://example.com/webhooks/billing", host: "example.com", port: 443, ipLiteral: false
        )
        let expected = WebhookDraft(
            name: "Billing Events", description: "Receive invoice and payment updates", endpoint: endpoint,
            events: ["RecurringPayments.charge.paid"]
        )
        #expect(draft(json) == expected)
    }

    @Test func aSingleEventStringAndUnknownFieldsAreAccepted() {
        let json =
            #"{"webhook": {"name": " Hook ", "url": "HTTPS://Example.COM./h", "#
            + #""events": "RecurringPayments.charge.failed", "extra": [1, 2]}, "other": true}"#
        let result = draft(json)
        #expect(result?.name == "Hook")
        #expect(result?.description == nil)
        #expect(result?.endpoint.url == "https://example.com/h")
        #expect(result?.events == ["RecurringPayments.charge.failed"])
    }

    @Test func duplicateEventsCollapseInFirstSeenOrder() {
        let events =
            #"["RecurringPayments.charge.failed", "RecurringPayments.charge.paid", "#
            + #""RecurringPayments.charge.failed"]"#
        #expect(
            draft(body("events", events))?.events == [
                "RecurringPayments.charge.failed", "RecurringPayments.charge.paid",
            ])
    }

    @Test func descriptionMayBeNullOrEmpty() {
        #expect(draft(body("description", "null"))?.description == nil)
        #expect(draft(body("description", #""""#))?.description == "")
        #expect(draft(body("description", #"" spaced ""#))?.description == " spaced ")
    }

    @Test(arguments: ["", "{", "nul", "{\"webhook\": {}} x", "{\"webhook\": }", "{\"webhook\": {\"name\": 'x'}}"])
    func invalidJSONIsRefused(_ json: String) {
        #expect(error(json) == ValidationError(status: 400, message: "The request body is not valid JSON."))
    }

    @Test func nonUTF8BodiesAreRefusedAsInvalidJSON() {
        let latin1: [UInt8] = Array(#"{"webhook": {"name": ""#.utf8) + [0xe9] + Array(#""}}"#.utf8)
        let utf16: [UInt8] = [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]
        for bytes in [latin1, utf16] {
            let result = WebhookDraft.parse(body: bytes, availableEvents: Self.available, allowPrivate: false)
            guard case .failure(let failure) = result else {
                Issue.record("accepted a non-UTF-8 body")
                continue
            }
            #expect(failure == ValidationError(status: 400, message: "The request body is not valid JSON."))
        }
    }

    @Test(arguments: [
        "[]", "5", #""webhook""#, "null", "{}", #"{"webhook": []}"#, #"{"webhook": "x"}"#,
        #"{"webhook": null}"#, #"{"Webhook": {}}"#,
    ])
    func aWebhookObjectIsRequired(_ json: String) {
        let message = #"The request body must be an object with a "webhook" object."#
        #expect(error(json) == ValidationError(status: 400, message: message))
    }

    @Test func nameAndDescriptionRefuseTheNULCharacter() {
        #expect(
            error(body("name", #""Bil\u0000ling""#))
                == ValidationError(status: 422, message: #"The "name" must not contain the NUL character (U+0000)."#))
        #expect(
            error(body("description", #""a\u0000""#))
                == ValidationError(
                    status: 422, message: #"The "description" must not contain the NUL character (U+0000)."#))
        #expect(draft(body("name", #""Bil\u0001ling""#))?.name == "Bil\u{01}ling")
    }

    @Test(arguments: [nil, "null", #""""#, #""   ""#, #""\n\t""#, "true", "1", "0", "[]", "{}", #"["a"]"#])
    func nameMustBeANonBlankString(_ value: String?) {
        #expect(error(body("name", value)) == Self.missingName)
    }

    @Test(arguments: [nil, "null", #""""#, "true", "1", "[]", "{}"])
    func urlMustBeANonEmptyString(_ value: String?) {
        #expect(error(body("url", value)) == Self.missingURL)
    }

    @Test(arguments: [nil, "null", #""""#, "[]"])
    func eventsMustBePresent(_ value: String?) {
        #expect(error(body("events", value)) == Self.missingEvents)
    }

    @Test(arguments: ["1", "0", "true", "false", "{}", "[1]", "[null]", "[{}]", "[true]", #"["a", 0]"#, "[[]]"])
    func eventsMustBeStrings(_ value: String) {
        #expect(error(body("events", value)) == Self.badEvents)
    }

    @Test(arguments: ["1", "0", "true", "false", "[]", "{}", #"["a"]"#])
    func descriptionMustBeAString(_ value: String) {
        #expect(error(body("description", value)) == Self.badDescription)
    }

    @Test func nameIsLimitedTo255Characters() {
        let fits = String(repeating: "é", count: 255)
        #expect(draft(body("name", "\"  \(fits)  \""))?.name == fits)

        let message = #"The "name" must be at most 255 characters."#
        let tooLong = String(repeating: "n", count: 256)
        #expect(error(body("name", "\"\(tooLong)\"")) == ValidationError(status: 422, message: message))
    }

    @Test func descriptionIsLimitedTo1024Characters() {
        let fits = String(repeating: "d", count: 1024)
        #expect(draft(body("description", "\"\(fits)\""))?.description == fits)

        let message = #"The "description" must be at most 1024 characters."#
        let tooLong = String(repeating: "d", count: 1025)
        #expect(error(body("description", "\"\(tooLong)\"")) == ValidationError(status: 422, message: message))
    }

    @Test(arguments: [
        (#""http://example.com/""#, URLRejection.notHTTPS),
        (#""https://example.com/#x""#, URLRejection.fragment),
        (#""https://user:pw@example.com/""#, URLRejection.userInfo),
        (#""https://127.0.0.1/""#, URLRejection.privateAddress),
        (#""https://localhost/""#, URLRejection.privateAddress),
        (#""https:///nohost""#, URLRejection.invalidHost),
        (#""https://exa mple.com/""#, URLRejection.malformed),
    ])
    func urlRulesAnswer422WithTheirSentence(_ value: String, _ rejection: URLRejection) {
        #expect(error(body("url", value)) == ValidationError(status: 422, message: rejection.message))
    }

    @Test func privateTargetsPassWhenAllowed() {
        guard case .success(let value) = parse(body("url", #""https://127.1:8443/x""#), allowPrivate: true) else {
            Issue.record("refused a private target that was allowed")
            return
        }
        #expect(
            value.endpoint
                == EndpointURL(
                    url: "https://127.0.0.1:8443/x", host: "127.0.0.1", port: 8443,
                    ipLiteral: true))
    }

    @Test func unavailableEventsAreListedOnceInOrder() {
        let events = #"["b.event", "RecurringPayments.charge.paid", "a.event", "b.event", ""]"#
        let expected = ValidationError(
            status: 422, message: "Some events are not available", unavailableEvents: ["b.event", "a.event", ""]
        )
        #expect(error(body("events", events)) == expected)
    }

    @Test func checksRunInTheContractOrder() {
        let longName = String(repeating: "n", count: 256)
        #expect(error(#"{"webhook": {"events": 5, "url": 5}}"#) == Self.missingName)
        #expect(error(#"{"webhook": {"name": "n", "events": []}}"#) == Self.missingURL)
        #expect(error(#"{"webhook": {"name": "\#(longName)", "url": "x"}}"#) == Self.missingEvents)
        #expect(
            error(#"{"webhook": {"name": "\#(longName)", "url": "x", "events": 5, "description": 5}}"#)
                == ValidationError(status: 422, message: #"The "name" must be at most 255 characters."#))
        #expect(
            error(#"{"webhook": {"name": "n", "url": "x", "events": 5, "description": 5}}"#)
                == Self.badDescription)
        #expect(error(#"{"webhook": {"name": "n", "url": "http://x", "events": 5}}"#) == Self.badEvents)
        #expect(
            error(#"{"webhook": {"name": "n", "url": "http://x", "events": "nope"}}"#)
                == ValidationError(status: 422, message: URLRejection.notHTTPS.message))
    }
}

@Suite struct WebhookDraftHardeningTests {
    @Test func combiningMarksCountTowardsTheNameLimit() {
        let name = "a" + String(repeating: "\u{0301}", count: 300)
        let body = Array(#"{"webhook":{"name":"\#(name)","url":"https://x.example/","events":"E"}}"#.utf8)
        guard case .failure(let error) = WebhookDraft.parse(body: body, availableEvents: ["E"], allowPrivate: false)
        else {
            Issue.record("a 301-scalar name was accepted")
            return
        }
        #expect(error.status == 422)
        #expect(error.message == #"The "name" must be at most 255 characters."#)
    }

    @Test func utf16BodiesAreNotJSONHere() {
        let text = #"{"webhook":{"name":"n","url":"https://x.example/","events":"E"}}"#
        let utf16 = Array(text.data(using: .utf16LittleEndian)!)
        guard case .failure(let error) = WebhookDraft.parse(body: utf16, availableEvents: ["E"], allowPrivate: false)
        else {
            Issue.record("a UTF-16 body was accepted")
            return
        }
        #expect(error.status == 400)
        #expect(error.message == "The request body is not valid JSON.")
    }
}
