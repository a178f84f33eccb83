import CCurl
import CIDN2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The rules an endpoint URL must follow before a webhook may point at it.
///
/// Parsing uses libcurl's URL API, the same parser that later connects, so both agree on what the host is.
///
/// ```swift
/// switch URLPolicy.normalize("HTTPS://Example.COM./a?b=1") {
/// case .success(let endpoint): endpoint.url  // "https://example.com/a?b=1"
/// case .failure(let rejection): rejection.message
/// }
/// ```
public enum URLPolicy {
    /// The longest accepted URL, in bytes of UTF-8.
    public static let maximumLength = 2048

    /// Parses `raw` and normalises its host (lower case, no trailing dot, IDN as punycode, IPv4 as dotted quad).
    public static func normalize(_ raw: String) -> Result<EndpointURL, URLRejection> {
        if let rejection = checkRawText(raw) { return .failure(rejection) }

        guard let handle = curl_url() else { return .failure(.malformed) }
        defer { curl_url_cleanup(handle) }

        let setCode = curl_url_set(handle, CURLUPART_URL, raw, 0)
        guard setCode == CURLUE_OK else { return .failure(rejection(forParseError: setCode)) }

        guard part(handle, CURLUPART_SCHEME)?.lowercased() == "https" else { return .failure(.notHTTPS) }
        guard part(handle, CURLUPART_USER) == nil, part(handle, CURLUPART_PASSWORD) == nil else {
            return .failure(.userInfo)
        }
        guard part(handle, CURLUPART_FRAGMENT) == nil else { return .failure(.fragment) }
        guard let rawHost = part(handle, CURLUPART_HOST) else { return .failure(.invalidHost) }

        let zone = part(handle, CURLUPART_ZONEID)
        guard let host = normalizeHost(rawHost, zone: zone) else { return .failure(.invalidHost) }

        let urlHost = host.isIPv6 ? "[\(host.address)]" : host.address
        guard curl_url_set(handle, CURLUPART_HOST, urlHost, 0) == CURLUE_OK else { return .failure(.invalidHost) }

        var port = 443
        if let portText = part(handle, CURLUPART_PORT) {
            guard let number = Int(portText), (1...65535).contains(number) else { return .failure(.malformed) }
            port = number
        }

        guard let url = part(handle, CURLUPART_URL, flags: UInt32(CURLU_NO_DEFAULT_PORT)) else {
            return .failure(.malformed)
        }
        let shownHost = zone.map { "\(host.address)%\($0)" } ?? host.address
        return .success(EndpointURL(url: url, host: shownHost, port: port, ipLiteral: host.isLiteral))
    }

    /// Whether a normalised endpoint may be used: IP literals must be public and `localhost` names are refused,
    /// unless the operator allows private targets.
    ///
    /// - Returns: `nil` when acceptable, otherwise the reason it is not.
    public static func check(_ url: EndpointURL, allowPrivate: Bool) -> URLRejection? {
        guard !allowPrivate else { return nil }

        if url.ipLiteral {
            return AddressClassifier.isPublic(literal: url.host) == true ? nil : .privateAddress
        }
        if url.host == "localhost" || url.host.hasSuffix(".localhost") {
            return .privateAddress
        }
        return nil
    }

    /// A host after normalisation.
    private struct NormalizedHost {
        var address: String
        var isLiteral: Bool
        var isIPv6: Bool
    }

    /// Rules judged on the raw text, before curl sees it, where curl is more lenient than we want to be.
    private static func checkRawText(_ raw: String) -> URLRejection? {
        guard raw.utf8.count <= maximumLength else { return .tooLong }

        let hasInvisible = raw.unicodeScalars.contains { scalar in
            let category = scalar.properties.generalCategory
            return scalar.properties.isWhitespace || category == .control || category == .format
        }
        guard !hasInvisible else { return .malformed }

        // curl would read `https:/host` and `https:///host` as `https://host`; we insist on the real shape.
        guard raw.lowercased().hasPrefix("https://") else { return .notHTTPS }
        guard !raw.contains("#") else { return .fragment }

        let rest = raw.dropFirst("https://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard !authority.contains("@") else { return .userInfo }
        guard !authority.isEmpty else { return .invalidHost }
        return nil
    }

    private static func rejection(forParseError code: CURLUcode) -> URLRejection {
        switch code {
        case CURLUE_BAD_HOSTNAME, CURLUE_NO_HOST, CURLUE_BAD_IPV6: .invalidHost
        case CURLUE_BAD_SCHEME, CURLUE_UNSUPPORTED_SCHEME, CURLUE_NO_SCHEME: .notHTTPS
        case CURLUE_BAD_USER, CURLUE_BAD_PASSWORD, CURLUE_BAD_LOGIN: .userInfo
        case CURLUE_BAD_FRAGMENT: .fragment
        default: .malformed
        }
    }

    /// One part of a parsed URL, or `nil` when it is absent.
    private static func part(_ handle: OpaquePointer, _ which: CURLUPart, flags: UInt32 = 0) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
        defer { curl_free(value) }
        return String(cString: value)
    }

    /// Lower case, trailing dots removed, IDN as punycode, any IPv4 spelling as a dotted quad, IPv6 canonical.
    private static func normalizeHost(_ rawHost: String, zone: String?) -> NormalizedHost? {
        if rawHost.hasPrefix("[") {
            guard rawHost.hasSuffix("]"), rawHost.count > 2 else { return nil }
            let inner = String(rawHost.dropFirst().dropLast())
            guard let bytes = AddressClassifier.parseIPv6(inner), let text = formatIPv6(bytes) else { return nil }
            return NormalizedHost(address: text, isLiteral: true, isIPv6: true)
        }
        guard zone == nil else { return nil }

        guard var name = asciiName(rawHost) else { return nil }
        while name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty else { return nil }

        if let quad = dottedQuad(name) {
            return NormalizedHost(address: quad, isLiteral: true, isIPv6: false)
        }
        guard isValidName(name) else { return nil }
        return NormalizedHost(address: name, isLiteral: false, isIPv6: false)
    }

    /// The lower-case ASCII form of a host name; non-ASCII names go through IDNA2008 (UTS 46, non-transitional).
    private static func asciiName(_ host: String) -> String? {
        guard host.utf8.contains(where: { $0 >= 0x80 }) else { return host.lowercased() }

        var output: UnsafeMutablePointer<CChar>?
        let flags = Int32(IDN2_NONTRANSITIONAL.rawValue | IDN2_NFC_INPUT.rawValue)
        guard idn2_to_ascii_8z(host, &output, flags) == Int32(IDN2_OK.rawValue), let output else { return nil }
        defer { free(output) }
        return String(cString: output).lowercased()
    }

    /// Any IPv4 spelling `inet_aton` accepts (`127.1`, `0x7f.1`, `0177.0.0.1`, `2130706433`) as a dotted quad.
    private static func dottedQuad(_ name: String) -> String? {
        guard name.utf8.allSatisfy({ $0 == 0x2e || $0 == 0x78 || isHexDigit($0) }) else { return nil }

        var address = in_addr()
        guard inet_aton(name, &address) != 0 else { return nil }
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        return bytes.map(String.init).joined(separator: ".")
    }

    /// Canonical RFC 5952 text of a 16-byte IPv6 address.
    private static func formatIPv6(_ bytes: [UInt8]) -> String? {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }

        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Letters, digits, `-` and `_` in labels of 1 to 63 bytes, 253 bytes in all, not ending in a numeric label.
    private static func isValidName(_ name: String) -> Bool {
        guard name.utf8.count <= 253 else { return false }

        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.utf8.count) else { return false }
            let allowed = label.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2d || byte == 0x5f
            }
            guard allowed else { return false }
        }

        // A numeric last label is a broken IPv4 address such as `1.2.3.4.5` or `256.1.1.1`, never a name.
        let last = labels.last.map(String.init) ?? ""
        let looksNumeric = last.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } || last.hasPrefix("0x")
        return !looksNumeric
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }
}
