import CCurl
import Foundation
import WebhookCore

/// One attempt in flight: the libcurl easy handle and everything that must live as long as it does.
///
/// Used only on the dispatcher thread.
final class DeliveryTransfer {
    /// How much of a response body is kept for the record.
    static let recordedBodyLimit = 1024

    /// Response header fields worth recording.
    static let recordedHeaders: Set<String> = ["location", "retry-after", "content-type"]

    let job: DeliveryJob
    let easy: UnsafeMutableRawPointer
    let startedAt: Date
    let startNanoseconds: UInt64
    let connectGuard: ConnectGuard
    private let payload: UnsafeMutableBufferPointer<UInt8>
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private(set) var responseBody: [UInt8] = []
    private(set) var responseHeaders: [String: String] = [:]
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    /// Prepares the request: signed headers, body, timeouts and the connect-time address guard.
    init?(job: DeliveryJob, configuration: Dispatcher.Configuration, now: Date) {
        guard let easy = curl_easy_init() else { return nil }
        self.job = job
        self.easy = easy
        startedAt = now
        startNanoseconds = DispatchTime.now().uptimeNanoseconds
        connectGuard = ConnectGuard(allowPrivate: configuration.allowPrivateTargets)

        payload = .allocate(capacity: max(1, job.payload.count))
        _ = payload.initialize(from: job.payload)

        let timestamp = Int64(now.timeIntervalSince1970)
        let signatures = job.secrets.compactMap { token in
            WebhookToken.secretBytes(token).map {
                Signer.sign(secret: $0, messageID: job.eventID, timestamp: timestamp, body: job.payload)
            }
        }
        for field in [
            "Content-Type: application/json",
            "User-Agent: \(configuration.userAgent)",
            "webhook-id: \(job.eventID)",
            "webhook-timestamp: \(timestamp)",
            "webhook-signature: \(signatures.joined(separator: " "))",
            "Expect:",
        ] {
            headerList = curl_slist_append(headerList, field)
        }
        configure(configuration)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        payload.deallocate()
    }

    /// Milliseconds since the transfer was created.
    var elapsedMilliseconds: Int {
        Int((DispatchTime.now().uptimeNanoseconds - startNanoseconds) / 1_000_000)
    }

    /// libcurl's error text for a failed transfer, or its generic text for `code`.
    func errorText(_ code: CURLcode) -> String {
        let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    fileprivate func appendBody(_ bytes: UnsafeRawBufferPointer) {
        let room = DeliveryTransfer.recordedBodyLimit - responseBody.count
        if room > 0 {
            responseBody.append(contentsOf: bytes.prefix(room))
        }
    }

    fileprivate func appendHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            responseHeaders.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        guard DeliveryTransfer.recordedHeaders.contains(name) else { return }
        responseHeaders[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func configure(_ configuration: Dispatcher.Configuration) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        EndpointTransfer.configure(
            easy, url: job.url, connectTimeout: configuration.connectTimeout, totalTimeout: configuration.totalTimeout,
            caFile: configuration.caFile, connectGuard: connectGuard)
        dw_curl_easy_setopt_long(easy, CURLOPT_POST, 1)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, payload.baseAddress)
        dw_curl_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(job.payload.count))
        dw_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)
        dw_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, deliveryCollectBody)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        dw_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, deliveryCollectHeader)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        dw_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context)
        errorBuffer.withUnsafeMutableBufferPointer { buffer in
            _ = dw_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, buffer.baseAddress)
        }
    }
}

/// libcurl's write callback: keeps the first KiB of the response body, accepts (and drops) the rest.
private func deliveryCollectBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<DeliveryTransfer>.fromOpaque(context).takeUnretainedValue()
    transfer.appendBody(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

/// libcurl's header callback: keeps the fields worth recording.
private func deliveryCollectHeader(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<DeliveryTransfer>.fromOpaque(context).takeUnretainedValue()
    transfer.appendHeader(String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self))
    return size * count
}
