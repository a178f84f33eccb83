import Foundation
import TestSupport
import Testing
import WebhookCore

/// Which leaf of the test CA a receiver presents.
enum TestLeaf: String, Sendable, CaseIterable {
    case valid, expired, wrongHost, untrusted

    func of(_ ca: TestCertificateAuthority) -> TestCertificateAuthority.Leaf {
        switch self {
        case .valid: ca.valid
        case .expired: ca.expired
        case .wrongHost: ca.wrongHost
        case .untrusted: ca.untrusted
        }
    }
}

/// The TLS handshake a create makes with the new endpoint: certificate chain, host name, time limit, and
/// nothing beyond the handshake.
@Suite(.serialized) struct TLSCheckTests {
    let ca: TestCertificateAuthority

    init() throws {
        ca = try TestCertificateAuthority()
    }

    /// A service that allows private targets, with the test CA trusted unless `trustTestCA` is false.
    private func startService(trustTestCA: Bool = true, timeout: Double? = nil) throws -> TestService {
        let caFile = ca.caFile
        return try TestService { configuration in
            configuration.allowPrivateTargets = true
            if trustTestCA {
                configuration.caFile = caFile
            }
            if let timeout {
                configuration.tlsCheckTimeout = timeout
            }
        }
    }

    private func create(_ app: TestService, port: Int) async throws -> ClientResponse {
        let key = try app.makeFullKey(company: "acme")
        return try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: "https://localhost:\(port)/hook"))
    }

    @Test(
        arguments: [
            (TestLeaf.valid, 201, nil),
            (
                TestLeaf.expired, 400,
                #"{"error":"TLS certificate validation failed for the \"url\": SSL certificate problem: certificate has expired."}"#
            ),
            (
                TestLeaf.wrongHost, 400,
                #"{"error":"TLS certificate validation failed for the \"url\": SSL: no alternative certificate subject name matches target host name 'localhost'."}"#
            ),
            (
                TestLeaf.untrusted, 400,
                #"{"error":"TLS certificate validation failed for the \"url\": SSL certificate problem: self-signed certificate."}"#
            ),
        ] as [(TestLeaf, Int, String?)])
    func certificateIsVerifiedAgainstTheCAFile(leaf: TestLeaf, status: Int, expected: String?) async throws {
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: leaf.of(ca).certificate, key: leaf.of(ca).key)
        defer { receiver.stop() }
        let app = try startService()
        defer { app.stop() }

        let response = try await create(app, port: receiver.port)
        #expect(response.status == status)
        if let expected {
            #expect(response.text == expected)
        } else {
            let created = try #require(response.json)
            #expect(created["url"] as? String == "https://localhost:\(receiver.port)/hook")
        }
        #expect(receiver.requests.isEmpty)
    }

    @Test func withoutTheCAFileTheTestCAIsNotTrusted() async throws {
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer { receiver.stop() }
        let app = try startService(trustTestCA: false)
        defer { app.stop() }

        let response = try await create(app, port: receiver.port)
        #expect(response.status == 400)
        #expect(
            response.text
                == #"{"error":"TLS certificate validation failed for the \"url\": SSL certificate problem: unable to get local issuer certificate."}"#
        )
    }

    @Test func aSilentEndpointTimesOutWithoutStallingOtherRequests() async throws {
        defer { ca.remove() }
        let listener = try TCPListener()
        defer { listener.stop() }
        let app = try startService(timeout: 3)
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")

        let clock = ContinuousClock()
        let started = clock.now
        let body = createBody(url: "https://localhost:\(listener.port)/hook")
        async let pending: (ClientResponse, ContinuousClock.Instant) = {
            let response = try await app.send("POST", "/2026-02-01/webhooks.json", key: key, body: body)
            return (response, clock.now)
        }()
        try await Task.sleep(for: .milliseconds(200))

        let typesStarted = clock.now
        let types = try await app.send("GET", "/2026-02-01/webhooks/types.json", key: key)
        let typesAnswered = clock.now
        let typesTook = typesAnswered - typesStarted
        #expect(types.status == 200)
        #expect(types.text == #"["RecurringPayments.charge.failed","RecurringPayments.charge.paid"]"#)
        #expect(typesTook < .seconds(1))
        #expect(listener.connectionCount == 1)

        let (response, createAnswered) = try await pending
        let createTook = createAnswered - started
        #expect(typesAnswered < createAnswered)
        #expect(response.status == 400)
        #expect(response.text == #"{"error":"The TLS handshake with the \"url\" did not finish within 3 seconds."}"#)
        #expect(createTook >= .milliseconds(2500))
        #expect(createTook < .seconds(5))
    }

    @Test func aRedirectingReceiverGetsNoRequest() async throws {
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, status: 302)
        defer { receiver.stop() }
        let app = try startService()
        defer { app.stop() }

        let response = try await create(app, port: receiver.port)
        #expect(response.status == 201)
        let created = try #require(response.json)
        #expect(created["url"] as? String == "https://localhost:\(receiver.port)/hook")
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.requests.isEmpty)
    }
}
