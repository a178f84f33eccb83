import CCurl
import Foundation

/// The options every libcurl transfer to a customer endpoint gets, for the TLS check and for deliveries alike:
/// HTTPS only, a verified certificate chain and host name (system CAs plus the operator's), no redirects, no
/// signals, time limits, and the connect-time address guard.
enum EndpointTransfer {
    /// Applies the options to `easy`; `connectGuard` must outlive the transfer.
    static func configure(
        _ easy: UnsafeMutableRawPointer, url: String, connectTimeout: Double, totalTimeout: Double, caFile: String?,
        connectGuard: ConnectGuard
    ) {
        dw_curl_easy_setopt_string(easy, CURLOPT_URL, url)
        dw_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https")
        dw_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        dw_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        dw_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        dw_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(totalTimeout * 1000))
        dw_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        dw_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile {
            // CAINFO would replace the system bundle; with CAPATH the system directory stays trusted too.
            dw_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile)
            dw_curl_easy_setopt_string(easy, CURLOPT_CAPATH, EndpointChecker.systemCertificateDirectory)
        }
        dw_curl_easy_setopt_opensocket(easy, guardedOpenSocket)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(connectGuard).toOpaque())
    }
}
