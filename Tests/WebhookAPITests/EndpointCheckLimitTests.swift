import Foundation
import TestSupport
import Testing

/// One company's stalling endpoints cannot use up the endpoint checks of every company.
@Suite struct EndpointCheckLimitTests {
    @Test func aCompanyHoldsAtMostEightChecksAndOthersStillCreate() async throws {
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let caFile = ca.caFile
        let app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.tlsCheckTimeout = 8
        }
        defer { app.stop() }
        let silent = try TCPListener()
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer {
            silent.stop()
            receiver.stop()
        }
        let keyA = try app.makeFullKey(company: "company-a")
        let keyB = try app.makeFullKey(company: "company-b")
        let stalling = createBody(url: "https://localhost:\(silent.port)/hook")

        let pending = (0..<8).map { _ in
            Task { try await app.send("POST", "/2026-02-01/webhooks.json", key: keyA, body: stalling) }
        }
        #expect(await eventually(timeoutSeconds: 6) { silent.connectionCount == 8 })

        let ninth = try await app.send("POST", "/2026-02-01/webhooks.json", key: keyA, body: stalling)
        #expect(ninth.status == 503)
        #expect(ninth.header("retry-after") == "5")
        #expect(ninth.text == #"{"error":"Too many endpoint checks are in progress; try again shortly."}"#)

        let other = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: keyB,
            body: createBody(url: "https://localhost:\(receiver.port)/hook"))
        #expect(other.status == 201)

        for task in pending {
            #expect(try await task.value.status == 400)
        }
    }
}
