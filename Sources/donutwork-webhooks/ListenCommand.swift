import Foundation
import HTTPServer
import Logging
import Synchronization
import WebhookCore

/// A local HTTPS receiver for webhooks: verifies each request with `Signer.verify`, answers 204 or 401, and
/// reports what arrived. `listen` runs one on its own; `demo` runs one beside the service.
final class WebhookReceiver: Sendable {
    /// One verified delivery.
    struct Received: Sendable {
        var id: String
        var type: String
        var attemptTime: Date
        /// The body's `data`, pretty-printed with sorted keys (or the raw body when it is not a JSON object).
        var prettyData: String

        /// The block `listen` prints: `event <id> <type> attempt-time <ISO time>` and the data.
        var block: String {
            "event \(id) \(type) attempt-time \(ISO8601DateFormatter().string(from: attemptTime))\n\(prettyData)\n"
        }
    }

    /// How far the signed timestamp may be from this machine's clock, in seconds.
    static let tolerance: Int64 = 300

    /// The secrets, shared with the handler and replaceable while running.
    private final class Secrets: Sendable {
        let value: Mutex<[[UInt8]]>
        init(_ secrets: [[UInt8]]) { value = Mutex(secrets) }
    }

    private let secrets: Secrets
    private let server: HTTPServer
    private let onEvent: @Sendable (Received) -> Void
    private let onRejection: @Sendable (String) -> Void

    /// Prepares the receiver; nothing listens until `start()`.
    /// - Parameters:
    ///   - secrets: decoded signing secrets; a request is accepted when any one verifies it. May be set later.
    ///   - onEvent: called for each verified delivery (on a handler task).
    ///   - onRejection: called with the reason for each refused request.
    init(
        host: String, port: Int, tls: HTTPServerConfiguration.TLSFiles, secrets: [[UInt8]],
        onEvent: @escaping @Sendable (Received) -> Void, onRejection: @escaping @Sendable (String) -> Void
    ) {
        let secrets = Secrets(secrets)
        self.secrets = secrets
        self.onEvent = onEvent
        self.onRejection = onRejection
        let configuration = HTTPServerConfiguration(host: host, port: port, threads: 1, tls: tls)
        server = HTTPServer(configuration: configuration, logger: Logger(label: "listen", level: .warning)) {
            request in
            WebhookReceiver.handle(
                request, secrets: secrets.value.withLock { $0 }, onEvent: onEvent, onRejection: onRejection)
        }
    }

    /// The port bound, known after `start()`.
    var port: Int { server.port }

    func start() throws {
        try server.start()
    }

    func stop() {
        server.shutdown(gracePeriod: .seconds(2))
    }

    /// Replaces the secrets requests are verified with.
    func setSecrets(_ newSecrets: [[UInt8]]) {
        secrets.value.withLock { $0 = newSecrets }
    }

    /// Verifies one request and answers it.
    static func handle(
        _ request: HTTPRequest, secrets: [[UInt8]], onEvent: @Sendable (Received) -> Void,
        onRejection: @Sendable (String) -> Void
    ) -> HTTPResponse {
        func reject(_ status: Int, _ reason: String) -> HTTPResponse {
            onRejection(reason)
            let body = (try? JSONSerialization.data(withJSONObject: ["error": reason])) ?? Data()
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: status, headers: headers, body: Array(body))
        }
        guard request.method == "POST" else {
            return reject(405, "\(request.method) \(request.path): only POST is accepted")
        }
        guard let messageID = request.headers["webhook-id"], !messageID.isEmpty else {
            return reject(401, "missing webhook-id header")
        }
        guard let timestamp = request.headers["webhook-timestamp"] else {
            return reject(401, "missing webhook-timestamp header")
        }
        guard !secrets.isEmpty else {
            return reject(401, "no signing secret is configured yet")
        }
        let signatureHeader = request.headers["webhook-signature"]
        let now = Int64(Date().timeIntervalSince1970)
        var failure = SignatureError.noMatchingSignature
        for secret in secrets {
            switch Signer.verify(
                secret: secret, messageID: messageID, timestamp: timestamp, body: request.body,
                signatureHeader: signatureHeader, now: now, tolerance: tolerance)
            {
            case .success:
                onEvent(received(messageID: messageID, timestamp: timestamp, body: request.body))
                return HTTPResponse(status: 204)
            case .failure(let error):
                failure = error
            }
        }
        return reject(401, reason(failure, timestamp: timestamp, signatureHeader: signatureHeader, now: now))
    }

    /// A sentence for a refusal. Only describes the header; the decision was `Signer.verify`'s.
    static func reason(_ error: SignatureError, timestamp: String, signatureHeader: String?, now: Int64) -> String {
        switch error {
        case .missingSignature:
            return "missing webhook-signature header"
        case .malformedTimestamp:
            return "webhook-timestamp \"\(timestamp.prefix(40))\" is not decimal seconds"
        case .timestampOutOfTolerance:
            let distance = Int64(timestamp).map { now - $0 }
            let age = distance.map { $0 >= 0 ? "\($0) s old" : "\(-$0) s in the future" } ?? "out of range"
            return "webhook-timestamp is \(age), more than \(tolerance) s from this clock (replay or clock skew)"
        case .noMatchingSignature:
            let entries = (signatureHeader ?? "").split(separator: " ").prefix(5).map { entry -> String in
                guard let comma = entry.firstIndex(of: ",") else { return "an entry without a scheme" }
                let scheme = entry[..<comma]
                let value = entry[entry.index(after: comma)...]
                guard scheme == "v1" else { return "unsupported scheme \(scheme.prefix(10))" }
                if value.isEmpty { return "an empty v1 signature" }
                guard let bytes = Data(base64Encoded: String(value)) else { return "a v1 signature that is not base64" }
                if bytes.count != 32 { return "a v1 signature of \(bytes.count) bytes instead of 32" }
                return "a v1 signature that does not match"
            }
            return "no signature matches (got \(entries.joined(separator: ", ")))"
        }
    }

    /// What a verified body says: id, type and pretty data.
    static func received(messageID: String, timestamp: String, body: [UInt8]) -> Received {
        let attemptTime = Date(timeIntervalSince1970: TimeInterval(Int64(timestamp) ?? 0))
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return Received(
                id: messageID, type: "-", attemptTime: attemptTime, prettyData: String(decoding: body, as: UTF8.self))
        }
        let data = object["data"] ?? NSNull()
        let pretty =
            (try? JSONSerialization.data(
                withJSONObject: data,
                options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]
            )).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return Received(
            id: object["id"] as? String ?? messageID, type: object["type"] as? String ?? "-",
            attemptTime: attemptTime, prettyData: pretty)
    }
}

/// Writes to standard output at once (no buffering: output files and pipes see each block whole, as it arrives).
let standardOutputLock = Mutex(())

func writeStandardOutput(_ text: String) {
    standardOutputLock.withLock { _ in FileHandle.standardOutput.write(Data(text.utf8)) }
}

func writeStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// A throwaway certificate authority and a `localhost` certificate it signed, made with the `openssl` command.
struct LocalCertificates {
    var caFile: String
    var certificateFile: String
    var keyFile: String

    /// Writes the CA and the leaf into `directory` (which must exist).
    static func make(in directory: String) throws -> LocalCertificates {
        let ca = "\(directory)/ca.pem"
        let caKey = "\(directory)/ca.key"
        let certificate = "\(directory)/localhost.pem"
        let key = "\(directory)/localhost.key"
        let request = "\(directory)/localhost.csr"
        let extensions = "\(directory)/localhost.ext"
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try runOpenSSL(
            ["req", "-x509"] + curve + [
                "-keyout", caKey, "-out", ca, "-days", "30", "-subj", "/CN=Donutwork listen CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try runOpenSSL(["req", "-new"] + curve + ["-keyout", key, "-out", request, "-subj", "/CN=localhost"])
        try """
        subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
        basicConstraints=critical,CA:FALSE
        keyUsage=critical,digitalSignature
        extendedKeyUsage=serverAuth

        """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try runOpenSSL([
            "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", certificate,
            "-days", "30", "-extfile", extensions,
        ])
        return LocalCertificates(caFile: ca, certificateFile: certificate, keyFile: key)
    }

    /// Runs `openssl` with these arguments; throws with its output when it fails.
    private static func runOpenSSL(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw CommandFailure("cannot run openssl (is it installed?): \(error)")
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // Closed now: Foundation keeps the Process, and so the pipe, alive on Linux.
        try? output.fileHandleForReading.close()
        while process.isRunning {
            usleep(5_000)
        }
        guard process.terminationStatus == 0 else {
            throw CommandFailure("openssl \(arguments.first ?? "") failed: \(text)")
        }
    }
}

/// A failure a command reports in one line, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A fresh private temporary directory: `label` and six random characters under the system temporary directory.
func makeTemporaryDirectory(_ label: String) throws -> String {
    var template = Array(
        FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-" + String(repeating: "X", count: 6))
            .path.utf8CString)
    guard let made = mkdtemp(&template) else {
        throw CommandFailure("cannot make a temporary directory: \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}

/// The decoded secrets of `--secret` tokens; a usage error for anything that is not `whsec_` and base64.
func signingSecrets(_ tokens: [String]) throws -> [[UInt8]] {
    try tokens.map { token in
        guard let secret = WebhookToken.secretBytes(token), !secret.isEmpty else {
            throw UsageError(message: "--secret must be a webhook token: whsec_ followed by base64")
        }
        return secret
    }
}

// MARK: listen

let listenCommand = Command(
    name: "listen",
    synopsis: "donutwork-webhooks listen --secret whsec_... [--secret ...] [--port P] [--cert F --key F]",
    summary: """
        Runs a local HTTPS receiver. Every POST is verified as the Standard Webhooks specification says (any
        --secret may match, 5-minute timestamp tolerance): a verified one gets 204 and is printed on standard
        output, anything else gets 401 and `rejected: <reason>` on standard error. Without --cert it makes a
        throwaway CA and a localhost certificate and prints the CA file to pass to serve as --ca-file (removed
        on exit). Runs until SIGTERM or SIGINT.
        """,
    flags: [
        FlagSpec(name: "secret", help: "a webhook token, whsec_...; repeat for several"),
        FlagSpec(name: "port", help: "port to listen on (0 picks a free one)", defaultValue: "9443"),
        FlagSpec(name: "host", help: "address to listen on", defaultValue: "127.0.0.1"),
        FlagSpec(name: "cert", help: "certificate chain (PEM) to serve instead of a throwaway one"),
        FlagSpec(name: "key", help: "private key (PEM) of --cert"),
    ],
    run: { options in
        guard options.positional.isEmpty else {
            throw UsageError(message: "listen takes no arguments, only flags (got \"\(options.positional[0])\")")
        }
        let tokens = options.strings("secret")
        guard !tokens.isEmpty else { throw UsageError(message: "--secret is required") }
        let secrets = try signingSecrets(tokens)
        let port = try options.int("port", range: 0...65535) ?? 9443
        let host = options.string("host") ?? "127.0.0.1"
        let certificate = options.string("cert").flatMap { $0.isEmpty ? nil : $0 }
        let key = options.string("key").flatMap { $0.isEmpty ? nil : $0 }
        guard (certificate == nil) == (key == nil) else {
            throw UsageError(message: "--cert and --key go together")
        }

        var temporary: String?
        defer {
            if let temporary { try? FileManager.default.removeItem(atPath: temporary) }
        }
        let tls: HTTPServerConfiguration.TLSFiles
        if let certificate, let key {
            tls = .init(certificateFile: certificate, keyFile: key)
        } else {
            let directory = try makeTemporaryDirectory("dw-listen")
            temporary = directory
            let made = try LocalCertificates.make(in: directory)
            tls = .init(certificateFile: made.certificateFile, keyFile: made.keyFile)
            writeStandardError("CA file: \(made.caFile) (pass it to serve as --ca-file)\n")
        }

        let receiver = WebhookReceiver(
            host: host, port: port, tls: tls, secrets: secrets,
            onEvent: { writeStandardOutput($0.block) },
            onRejection: { writeStandardError("rejected: \($0)\n") })
        try receiver.start()
        let shownHost = host == "127.0.0.1" || host == "::1" ? "localhost" : host
        writeStandardError(
            "listening on https://\(shownHost):\(receiver.port)/ with \(secrets.count) secret(s); Ctrl-C stops\n")
        waitForTerminationSignal()
        receiver.stop()
        return 0
    })
