import Foundation
import TestSupport
import Testing
import WebhookCore

/// `donutwork-webhooks listen` as a receiver runs it: HTTPS with its own throwaway CA, every refusal a 401 with
/// the reason on standard error, every verified event printed on standard output.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ListenTests {
    /// A running `listen` with the CA it printed and the port it bound.
    struct Listener {
        var process: ServerProcess
        var caFile: String
        var port: Int
        var url: String { "https://localhost:\(port)/" }

        /// SIGTERM, so it removes its throwaway CA; killed after 5 s.
        func stop() {
            process.signal(SIGTERM)
            if !process.waitForExit(timeoutSeconds: 5) { process.kill() }
        }
    }

    let directory: ScratchDirectory
    let token = WebhookToken.make()
    var secret: [UInt8] { WebhookToken.secretBytes(token) ?? [] }

    init() throws {
        directory = try ScratchDirectory("dw-listen-test")
    }

    /// Starts `listen --port 0` and reads the CA file and port from its standard error.
    private func startListener(extraSecrets: [String] = []) async throws -> Listener {
        var arguments = ["listen", "--port", "0", "--secret", token]
        for extra in extraSecrets {
            arguments += ["--secret", extra]
        }
        let process = try ServerProcess(arguments, directory: directory.path)
        var caFile: String?
        var port: Int?
        _ = await eventually(timeoutSeconds: 20) {
            let text = process.stderr
            caFile = text.firstMatch(of: /CA file: (\S+) \(pass it to serve as --ca-file\)/).map { String($0.1) }
            port = text.firstMatch(of: /listening on https:\/\/localhost:(\d+)\//).flatMap { Int($0.1) }
            return (caFile != nil && port != nil) || !process.isRunning
        }
        return Listener(
            process: process, caFile: try #require(caFile, "\(process.stderr)"),
            port: try #require(port, "\(process.stderr)"))
    }

    /// A body as the service sends it.
    private func body(id: String) -> [UInt8] {
        Array(
            #"{"id":"\#(id)","type":"RecurringPayments.charge.paid","created_at":"2026-12-03T12:00:00.123Z","data":{"amount":1250,"currency":"EUR"}}"#
                .utf8)
    }

    /// Sends one POST with these webhook headers (`nil` leaves a header out).
    private func post(
        _ listener: Listener, id: String, timestamp: Int64, signature: String?, body: [UInt8]
    ) async throws -> ClientResponse {
        var headers = ["Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp)]
        if let signature {
            headers["webhook-signature"] = signature
        }
        return try await HTTPClient.send("POST", listener.url, headers: headers, body: body, caFile: listener.caFile)
    }

    /// Sends a request that must be refused: 401, a one-line JSON error, and `rejected: ...` on standard error.
    private func expectRejected(
        _ listener: Listener, signature: String?, timestamp: Int64? = nil, reasonContains: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let id = "evt_\(UUID().uuidString.prefix(8))"
        let time = timestamp ?? Int64(Date().timeIntervalSince1970)
        let before = listener.process.stderr.components(separatedBy: "\n").count
        let response = try await post(listener, id: id, timestamp: time, signature: signature, body: body(id: id))
        #expect(response.status == 401, "\(response.text)", sourceLocation: sourceLocation)
        let error = response.json?["error"] as? String
        #expect(error?.contains(reasonContains) == true, "\(response.text)", sourceLocation: sourceLocation)
        #expect(!response.text.contains("\n"), "not one line: \(response.text)", sourceLocation: sourceLocation)
        let logged = await eventually(timeoutSeconds: 5) {
            listener.process.stderr.components(separatedBy: "\n").dropFirst(before - 1)
                .contains { $0.hasPrefix("rejected: ") && $0.contains(reasonContains) }
        }
        #expect(logged, "stderr: \(listener.process.stderr)", sourceLocation: sourceLocation)
        #expect(!listener.process.stdout.contains(id), "a refused event was printed", sourceLocation: sourceLocation)
    }

    @Test func refusesAMissingSignatureHeader() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        try await expectRejected(listener, signature: nil, reasonContains: "missing webhook-signature header")
    }

    @Test func refusesASignatureOfTheRightLengthButWrongBytes() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        let id = "evt_wrong"
        let now = Int64(Date().timeIntervalSince1970)
        let right = Signer.sign(secret: secret, messageID: id, timestamp: now, body: body(id: id))
        var bytes = try #require(Data(base64Encoded: String(right.dropFirst(3))))
        bytes[bytes.count - 1] ^= 0x01
        let wrong = "v1," + bytes.base64EncodedString()
        #expect(wrong.count == right.count)
        let response = try await post(listener, id: id, timestamp: now, signature: wrong, body: body(id: id))
        #expect(response.status == 401, "\(response.text)")
        #expect(
            await eventually(timeoutSeconds: 5) {
                listener.process.stderr.contains(
                    "rejected: no signature matches (got a v1 signature that does not match)")
            }, "\(listener.process.stderr)")
        #expect(!listener.process.stdout.contains(id))
    }

    @Test func refusesATruncatedSignature() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        let now = Int64(Date().timeIntervalSince1970)
        // A correct signature for the very request, cut short: 24 bytes of the 32 (base64 stays valid).
        let id = "evt_\(UUID().uuidString.prefix(8))"
        let right = Signer.sign(secret: secret, messageID: id, timestamp: now, body: body(id: id))
        let bytes = try #require(Data(base64Encoded: String(right.dropFirst(3))))
        let truncated = "v1," + Data(bytes.prefix(24)).base64EncodedString()
        let response = try await post(listener, id: id, timestamp: now, signature: truncated, body: body(id: id))
        #expect(response.status == 401, "\(response.text)")
        #expect(
            await eventually(timeoutSeconds: 5) {
                listener.process.stderr.contains("rejected: no signature matches (got a v1 signature of 24 bytes")
            }, "\(listener.process.stderr)")
        // A prefix of the base64 text itself is refused too.
        try await expectRejected(
            listener, signature: String(right.prefix(right.count - 4)), reasonContains: "no signature matches")
    }

    @Test func refusesAnEmptyV1Signature() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        try await expectRejected(listener, signature: "v1,", reasonContains: "an empty v1 signature")
    }

    @Test func refusesAV2Scheme() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        let id = "evt_v2"
        let now = Int64(Date().timeIntervalSince1970)
        // The right MAC under another scheme name must not pass.
        let right = Signer.sign(secret: secret, messageID: id, timestamp: now, body: body(id: id))
        let response = try await post(
            listener, id: id, timestamp: now, signature: "v2," + right.dropFirst(3), body: body(id: id))
        #expect(response.status == 401, "\(response.text)")
        #expect(
            await eventually(timeoutSeconds: 5) {
                listener.process.stderr.contains("rejected: no signature matches (got unsupported scheme v2)")
            }, "\(listener.process.stderr)")
    }

    @Test func refusesATimestampTenMinutesOld() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        let id = "evt_old"
        let old = Int64(Date().timeIntervalSince1970) - 600
        // Correctly signed for that old time: only the age is wrong.
        let signature = Signer.sign(secret: secret, messageID: id, timestamp: old, body: body(id: id))
        let response = try await post(listener, id: id, timestamp: old, signature: signature, body: body(id: id))
        #expect(response.status == 401, "\(response.text)")
        #expect(
            await eventually(timeoutSeconds: 5) {
                listener.process.stderr.contains(/rejected: webhook-timestamp is 60\d s old, more than 300 s/)
            }, "\(listener.process.stderr)")
        #expect(!listener.process.stdout.contains(id))
    }

    @Test func acceptsACorrectSignatureAndPrintsTheEvent() async throws {
        defer { directory.remove() }
        let other = WebhookToken.make()
        let listener = try await startListener(extraSecrets: [other])
        defer { listener.stop() }
        let id = "evt_good"
        let now = Int64(Date().timeIntervalSince1970)
        // Two signatures, as after a token rotation: one by an unknown secret, one by ours.
        let stranger = Signer.sign(
            secret: WebhookToken.secretBytes(WebhookToken.make()) ?? [], messageID: id, timestamp: now,
            body: body(id: id))
        let ours = Signer.sign(secret: secret, messageID: id, timestamp: now, body: body(id: id))
        let response = try await post(
            listener, id: id, timestamp: now, signature: "\(stranger) \(ours)", body: body(id: id))
        #expect(response.status == 204, "\(response.text)")

        let iso = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(now)))
        let expected = """
            event evt_good RecurringPayments.charge.paid attempt-time \(iso)
            {
              "amount" : 1250,
              "currency" : "EUR"
            }

            """
        #expect(
            await eventually(timeoutSeconds: 5) { listener.process.stdout == expected },
            "stdout: \(listener.process.stdout)")
        #expect(!listener.process.stderr.contains("rejected"), "\(listener.process.stderr)")

        // The second --secret verifies too.
        let second = Signer.sign(
            secret: WebhookToken.secretBytes(other) ?? [], messageID: "evt_second", timestamp: now,
            body: body(id: "evt_second"))
        let again = try await post(
            listener, id: "evt_second", timestamp: now, signature: second, body: body(id: "evt_second"))
        #expect(again.status == 204, "\(again.text)")

        // SIGINT stops it cleanly and removes the throwaway CA.
        listener.process.signal(SIGINT)
        #expect(listener.process.waitForExit(timeoutSeconds: 10))
        #expect(listener.process.result.status == 0, "\(listener.process.result)")
        #expect(!FileManager.default.fileExists(atPath: listener.caFile))
    }

    @Test func survivesClientsThatCloseRightAfterTheHandshake() async throws {
        defer { directory.remove() }
        let listener = try await startListener()
        defer { listener.stop() }
        // What the service's endpoint check does: a TLS handshake, then close without a request. The server's
        // session tickets then meet a closed socket (SIGPIPE, which must not end the process).
        let script = """
            import socket, ssl, sys, time
            context = ssl.create_default_context(cafile=sys.argv[1])
            for _ in range(30):
                with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        pass
            time.sleep(0.2)
            """
        try Shell.run("python3", ["-c", script, listener.caFile, String(listener.port)])
        #expect(listener.process.isRunning, "\(listener.process.stderr)")
        let id = "evt_after"
        let now = Int64(Date().timeIntervalSince1970)
        let signature = Signer.sign(secret: secret, messageID: id, timestamp: now, body: body(id: id))
        let response = try await post(listener, id: id, timestamp: now, signature: signature, body: body(id: id))
        #expect(response.status == 204, "\(response.text)")
    }

    @Test func refusesABadSecretFlag() throws {
        defer { directory.remove() }
        let result = try ServerProcess.run(["listen", "--secret", "nope"], directory: directory.path)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("--secret must be a webhook token"), "\(result)")
        let missing = try ServerProcess.run(["listen"], directory: directory.path)
        #expect(missing.status == 2, "\(missing)")
    }
}
