import Testing

@testable import WebhookCore

@Suite("Endpoint URL policy")
struct URLPolicyTests {
    private func endpoint(_ raw: String) -> EndpointURL? {
        if case .success(let value) = URLPolicy.normalize(raw) { return value }
        return nil
    }

    private func rejection(_ raw: String) -> URLRejection? {
        if case .failure(let value) = URLPolicy.normalize(raw) { return value }
        return nil
    }

    /// The outcome a webhook create would see: a normalisation failure, or the check's verdict.
    private func verdict(_ raw: String, allowPrivate: Bool = false) -> URLRejection? {
        switch URLPolicy.normalize(raw) {
        case .success(let value): URLPolicy.check(value, allowPrivate: allowPrivate)
        case .failure(let value): value
        }
    }

    @Test func ordinaryURLIsKeptAsGiven() {
        let url = endpoint("https://example.com/webhooks/billing?x=1")
        #expect(
            url
                == EndpointURL(
                    url: "https://example.com/webhooks/billing?x=1", host: "example.com", port: 443,
                    ipLiteral: false))
        #expect(verdict("https://example.com/webhooks/billing?x=1") == nil)
    }

    @Test func hostIsLowerCasedAndLosesTrailingDots() {
        #expect(endpoint("HTTPS://Example.COM./a?b=1")?.url == "https://example.com/a?b=1")
        #expect(endpoint("HTTPS://Example.COM./a?b=1")?.host == "example.com")
        #expect(endpoint("https://example.com../")?.host == "example.com")
    }

    @Test func internationalNamesBecomePunycode() {
        #expect(endpoint("https://bücher.example/")?.host == "xn--bcher-kva.example")
        #expect(endpoint("https://bücher.example/")?.url == "https://xn--bcher-kva.example/")
        #expect(endpoint("https://BÜCHER.example/")?.host == "xn--bcher-kva.example")
    }

    @Test func portsAreParsedAndTheDefaultDropped() {
        #expect(endpoint("https://example.com:8443/x")?.port == 8443)
        #expect(endpoint("https://example.com:8443/x")?.url == "https://example.com:8443/x")
        #expect(endpoint("https://example.com:443/x")?.url == "https://example.com/x")
        #expect(endpoint("https://example.com/x")?.port == 443)
        #expect(rejection("https://example.com:0/") == .malformed)
        #expect(rejection("https://example.com:99999/") == .malformed)
    }

    @Test(arguments: [
        "https://127.0.0.1/", "https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://127.1/",
        "https://127.0.0.1./", "https://%31%32%37.0.0.1/",
    ])
    func ipv4SpellingsBecomeADottedQuadAndAreRefused(_ raw: String) {
        #expect(endpoint(raw)?.host == "127.0.0.1")
        #expect(endpoint(raw)?.url == "https://127.0.0.1/")
        #expect(endpoint(raw)?.ipLiteral == true)
        #expect(verdict(raw) == .privateAddress)
        #expect(verdict(raw, allowPrivate: true) == nil)
    }

    @Test func ipv6LiteralsAreCanonicalised() {
        #expect(endpoint("https://[::FFFF:7F00:1]/")?.host == "::ffff:127.0.0.1")
        #expect(endpoint("https://[::FFFF:7F00:1]/")?.url == "https://[::ffff:127.0.0.1]/")
        #expect(endpoint("https://[2606:4700:0::1111]:8443/")?.url == "https://[2606:4700::1111]:8443/")
        #expect(endpoint("https://[2606:4700:0::1111]:8443/")?.ipLiteral == true)
        #expect(verdict("https://[2606:4700::1111]/") == nil)
    }

    @Test(arguments: [
        "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://[::127.0.0.1]/",
        "https://[64:ff9b::a00:1]/", "https://[fe80::1%25eth0]/", "https://169.254.169.254/", "https://10.0.0.1/",
        "https://LOCALHOST./", "https://localhost/", "https://api.localhost/", "https://ｌｏｃａｌｈｏｓｔ/",
        "https://①②⑦.0.0.1/",
    ])
    func privateTargetsAreRefusedUnlessAllowed(_ raw: String) {
        #expect(verdict(raw) == .privateAddress)
        #expect(verdict(raw, allowPrivate: true) == nil)
    }

    @Test func zoneIDsStayVisibleInTheHost() {
        #expect(endpoint("https://[fe80::1%25eth0]/")?.host == "fe80::1%eth0")
    }

    @Test func localhostLookalikesThatAreOtherNamesAreAccepted() {
        #expect(verdict("https://localhost.example.com/") == nil)
        #expect(verdict("https://notlocalhost/") == nil)
    }

    @Test func userInfoIsRefused() {
        #expect(rejection("https://user:pw@example.com/") == .userInfo)
        #expect(rejection("https://user@example.com/") == .userInfo)
        #expect(rejection("https://@example.com/") == .userInfo)
        #expect(rejection("https://:@example.com/") == .userInfo)
        #expect(rejection("https://example.com\\@127.0.0.1/") == .userInfo)
    }

    @Test func fragmentsAreRefused() {
        #expect(rejection("https://example.com/#x") == .fragment)
        #expect(rejection("https://example.com/#") == .fragment)
        #expect(rejection("https://example.com#") == .fragment)
    }

    @Test func otherSchemesAndRelativeURLsAreRefused() {
        #expect(rejection("http://example.com/") == .notHTTPS)
        #expect(rejection("ftp://example.com/") == .notHTTPS)
        #expect(rejection("example.com") == .notHTTPS)
        #expect(rejection("/relative") == .notHTTPS)
        #expect(rejection("https:/example.com") == .notHTTPS)
        #expect(rejection("https:example.com") == .notHTTPS)
        #expect(rejection("") == .notHTTPS)
    }

    @Test func missingOrInvalidHostsAreRefused() {
        #expect(rejection("https:///nohost") == .invalidHost)
        #expect(rejection("https://") == .invalidHost)
        #expect(rejection("https://?x") == .invalidHost)
        #expect(rejection("https://./") == .invalidHost)
        #expect(rejection("https://.../") == .invalidHost)
        #expect(rejection("https://a..b/") == .invalidHost)
        #expect(rejection("https://1.2.3.4.5/") == .invalidHost)
        #expect(rejection("https://256.1.1.1/") == .invalidHost)
        #expect(rejection("https://exa%20mple.com/") == .invalidHost)
        #expect(rejection("https://[::1/") == .invalidHost)
        #expect(rejection("https://[zz::1]/") == .invalidHost)
    }

    @Test func whitespaceAndControlCharactersAreRefused() {
        #expect(rejection("https://exa mple.com/") == .malformed)
        #expect(rejection(" https://example.com/") == .malformed)
        #expect(rejection("https://example.com/\t") == .malformed)
        #expect(rejection("https://example.com/\n") == .malformed)
        #expect(rejection("https://example.com/\u{0}") == .malformed)
        #expect(rejection("https://example.com/\u{7f}") == .malformed)
        #expect(rejection("https://exa\u{200B}mple.com/") == .malformed)
        #expect(rejection("https://example.com/\u{A0}") == .malformed)
    }

    @Test func lengthIsCountedInUTF8Bytes() {
        let base = "https://example.com/"
        let fits = base + String(repeating: "a", count: 2048 - base.utf8.count)
        #expect(fits.utf8.count == 2048)
        #expect(endpoint(fits)?.url == fits)
        #expect(rejection(fits + "a") == .tooLong)

        let wide = base + String(repeating: "é", count: (2048 - base.utf8.count) / 2 + 1)
        #expect(rejection(wide) == .tooLong)
    }

    @Test func messagesAreTheContractSentences() {
        #expect(URLRejection.notHTTPS.message == #"The "url" must be an absolute https URL."#)
        #expect(URLRejection.tooLong.message == #"The "url" must be at most 2048 bytes."#)
        #expect(URLRejection.userInfo.message == #"The "url" must not contain a user name or password."#)
        #expect(URLRejection.fragment.message == #"The "url" must not contain a fragment."#)
        #expect(URLRejection.invalidHost.message == #"The "url" must name a valid host."#)
        #expect(URLRejection.privateAddress.message == #"The "url" host is not a public internet address."#)
        #expect(URLRejection.malformed.message == #"The "url" is not a valid URL."#)
    }
}
