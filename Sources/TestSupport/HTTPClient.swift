// TestSupport: what end-to-end tests need around the real service: an HTTP client, a test certificate
// authority made with `openssl`, local receivers and a server launcher. Nothing here ships in the executable.

import CCurl
import Foundation

/// A response as it arrived on the wire.
public struct ClientResponse: Sendable {
    public var status: Int
    /// Header fields with lower-cased names, in arrival order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of a header field (name compared in lower case).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object, or `nil`.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}

/// A blocking libcurl client run on its own thread, so tests never block Swift's cooperative pool.
public enum HTTPClient {
    /// Sends one request and returns the response, or throws when no response arrived.
    public static func send(
        _ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        timeoutSeconds: Int = 30, caFile: String? = nil
    ) async throws -> ClientResponse {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try perform(method, url, headers, body, timeoutSeconds, caFile)
                    })
            }
            thread.start()
        }
    }

    /// What went wrong below HTTP.
    public struct TransportError: Error, CustomStringConvertible {
        public var code: Int
        public var message: String
        public var description: String { "curl error \(code): \(message)" }
    }

    private static func perform(
        _ method: String, _ url: String, _ headers: [String: String], _ body: [UInt8]?, _ timeout: Int,
        _ caFile: String?
    ) throws -> ClientResponse {
        guard let easy = curl_easy_init() else { throw TransportError(code: -1, message: "curl_easy_init failed") }
        defer { curl_easy_cleanup(easy) }
        let collected = ResponseCollector()
        let context = Unmanaged.passUnretained(collected).toOpaque()

        dw_curl_easy_setopt_string(easy, CURLOPT_URL, url)
        dw_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)
        dw_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT, timeout)
        dw_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        if method == "HEAD" {
            dw_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        }
        if let caFile {
            dw_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile)
        }
        dw_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, collectBody)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        dw_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, collectHeader)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }
        dw_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)

        let payload = body ?? []
        let code = payload.withUnsafeBytes { bytes -> CURLcode in
            if body != nil {
                dw_curl_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                let start = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
                dw_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: start))
            }
            return curl_easy_perform(easy)
        }
        guard code == CURLE_OK else {
            throw TransportError(code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        dw_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return ClientResponse(status: status, headers: collected.headers, body: collected.body)
    }
}

/// Gathers one response's header lines and body; used by one curl transfer on one thread.
private final class ResponseCollector {
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    func append(_ bytes: UnsafeRawBufferPointer) {
        body.append(contentsOf: bytes)
    }

    func appendHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers.append((name, value))
    }
}

private func collectBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let collected = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
    collected.append(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private func collectHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
    let collected = Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue()
    collected.appendHeader(line)
    return size * count
}
