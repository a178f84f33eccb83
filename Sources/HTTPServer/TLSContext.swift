import CLibEventOpenSSL

/// An OpenSSL server context loaded from a certificate chain and key, shared by every event loop of a server.
final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once configured; it is never changed afterwards.
    let pointer: UnsafeMutableRawPointer

    /// Loads the files; throws with OpenSSL's reason when they are unusable.
    init(_ files: HTTPServerConfiguration.TLSFiles) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard
            let context = dw_tls_server_context_new(files.certificateFile, files.keyFile, &error, error.count)
        else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw HTTPServerError(operation: "TLS \(files.certificateFile), \(files.keyFile)", message: reason)
        }
        pointer = context
    }

    /// Makes `http` (an `evhttp`) accept TLS connections with this context.
    func install(on http: OpaquePointer) {
        dw_evhttp_use_tls(http, pointer)
    }

    deinit {
        dw_tls_server_context_free(pointer)
    }
}
