import Foundation
import HTTPServer
import Logging
import TestSupport
import Testing

/// The server with a certificate: HTTPS on every connection, verified by libcurl against the test CA.
@Suite(.serialized) struct HTTPSServerTests {
    @Test func servesHTTPSWithTheConfiguredCertificate() async throws {
        let authority = try TestCertificateAuthority()
        defer { authority.remove() }
        let configuration = HTTPServerConfiguration(
            host: "127.0.0.1", port: 0, threads: 2,
            tls: .init(certificateFile: authority.valid.certificate, keyFile: authority.valid.key))
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) {
            request in
            HTTPResponse(status: 200, body: Array("\(request.method) \(request.body.count)".utf8))
        }
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }

        for _ in 0..<3 {
            let response = try await HTTPClient.send(
                "POST", "https://localhost:\(server.port)/", body: Array("hello".utf8), caFile: authority.caFile)
            #expect(response.status == 200)
            #expect(response.text == "POST 5")
        }
        // Plain HTTP on the HTTPS port gets no HTTP answer.
        await #expect(throws: (any Error).self) {
            _ = try await HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/", timeoutSeconds: 5)
        }
        // A client that does not trust the CA refuses the certificate.
        await #expect(throws: (any Error).self) {
            _ = try await HTTPClient.send("GET", "https://localhost:\(server.port)/", timeoutSeconds: 5)
        }
    }

    @Test func refusesToStartWithAKeyThatDoesNotMatch() throws {
        let authority = try TestCertificateAuthority()
        defer { authority.remove() }
        let configuration = HTTPServerConfiguration(
            host: "127.0.0.1", port: 0, threads: 1,
            tls: .init(certificateFile: authority.valid.certificate, keyFile: authority.expired.key))
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) { _ in
            HTTPResponse(status: 200)
        }
        #expect(throws: HTTPServerError.self) { try server.start() }
    }
}
