import CCurl
import Foundation
import WebhookCore

/// One TLS handshake through libcurl with `CURLOPT_CONNECT_ONLY`: no request is sent, no redirect followed.
enum TLSHandshake {
    /// Connects and verifies; returns `nil` on success.
    static func perform(endpoint: EndpointURL, configuration: EndpointChecker.Configuration) -> EndpointChecker.Failure?
    {
        guard let easy = curl_easy_init() else { return .unreachable("The TLS check could not start.") }
        defer { curl_easy_cleanup(easy) }

        let guardContext = ConnectGuard(allowPrivate: configuration.allowPrivateTargets)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code = errorBuffer.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            EndpointTransfer.configure(
                easy, url: endpoint.url, connectTimeout: configuration.timeoutSeconds,
                totalTimeout: configuration.timeoutSeconds, caFile: configuration.caFile, connectGuard: guardContext)
            dw_curl_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1)
            dw_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            return curl_easy_perform(easy)
        }
        if code == CURLE_OK { return nil }
        if guardContext.refused { return .privateAddress }

        let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION:
            return .unreachable("TLS certificate validation failed for the \"url\": \(reason).")
        case CURLE_OPERATION_TIMEDOUT:
            let seconds = String(format: "%g", configuration.timeoutSeconds)
            return .unreachable("The TLS handshake with the \"url\" did not finish within \(seconds) seconds.")
        case CURLE_COULDNT_RESOLVE_HOST:
            return .unresolvable
        case CURLE_COULDNT_CONNECT:
            return .unreachable("Could not connect to the \"url\" host: \(reason).")
        default:
            return .unreachable("The TLS handshake with the \"url\" failed: \(reason).")
        }
    }
}

/// Refuses, at connect time, addresses the policy forbids, so a DNS answer that changed after the resolution
/// check still cannot reach a private network. Used by one transfer on one thread.
final class ConnectGuard {
    let allowPrivate: Bool
    var refused = false

    init(allowPrivate: Bool) {
        self.allowPrivate = allowPrivate
    }
}

/// libcurl's `CURLOPT_OPENSOCKETFUNCTION`: opens the socket only for an allowed address.
func guardedOpenSocket(
    _ context: UnsafeMutableRawPointer?, _ purpose: curlsocktype, _ address: UnsafeMutablePointer<curl_sockaddr>?
) -> curl_socket_t {
    guard let context, let address else { return CURL_SOCKET_BAD }
    let connectGuard = Unmanaged<ConnectGuard>.fromOpaque(context).takeUnretainedValue()
    let allowed = withUnsafeMutablePointer(to: &address.pointee.addr) { pointer in
        connectGuard.allowPrivate || AddressClassifier.isPublic(sockaddr: UnsafePointer(pointer))
    }
    guard allowed else {
        connectGuard.refused = true
        return CURL_SOCKET_BAD
    }
    return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
}
