import Foundation
import Synchronization

/// A real HTTPS receiver (Python's http.server with ssl) on 127.0.0.1, recording every request it gets.
public final class HTTPSReceiver: Sendable {
    /// One request as the receiver saw it.
    public struct Received: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: [UInt8]
        public var receivedAt: Double
        /// Whether each secret of the secrets file verified the request (official `standardwebhooks` library).
        public var verified: [Bool]
    }

    public let port: Int
    private let process: Process
    /// Requests seen, shared with the reading thread.
    private final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    private let log = Log()

    /// Starts the receiver with a certificate and waits until it listens.
    /// - Parameters:
    ///   - statuses: answered in turn, the last one for ever after.
    ///   - headers: `Name: value` fields added to every answer.
    ///   - secretsFile: when given, each request is verified against every secret in it (one per line).
    ///   - delaySeconds: how long each answer waits after its request was logged.
    ///   - handshakeDelaySeconds: how long each connection waits before its TLS handshake (so before its request).
    public init(
        certificate: String, key: String, status: Int = 204, statuses: [Int]? = nil, headers: [String] = [],
        secretsFile: String? = nil, delaySeconds: Double = 0, handshakeDelaySeconds: Double = 0
    ) throws {
        guard let script = Bundle.module.path(forResource: "receiver", ofType: "py") else {
            throw Shell.Failure(command: "receiver.py", status: -1, output: "resource missing")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Shell.pythonExecutable())
        var arguments = [script, "--cert", certificate, "--key", key]
        arguments += ["--statuses", (statuses ?? [status]).map { String($0) }.joined(separator: ",")]
        for header in headers {
            arguments += ["--header", header]
        }
        if let secretsFile {
            arguments += ["--secrets-file", secretsFile]
        }
        if delaySeconds > 0 {
            arguments += ["--delay", String(delaySeconds)]
        }
        if handshakeDelaySeconds > 0 {
            arguments += ["--handshake-delay", String(handshakeDelaySeconds)]
        }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process

        let reader = LineReader(output.fileHandleForReading)
        guard let first = reader.next(),
            let object = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any],
            let port = object["listening"] as? Int
        else {
            process.terminate()
            reader.close()
            throw Shell.Failure(command: "receiver.py", status: -1, output: "did not start")
        }
        self.port = port

        let thread = Thread { [log] in
            // The pipe is closed once the receiver is gone, not left open for as long as Foundation keeps the Process
            // (see `Shell.run`).
            defer { reader.close() }
            while let line = reader.next() {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                else { continue }
                let body = Data(base64Encoded: object["body_base64"] as? String ?? "") ?? Data()
                let record = Received(
                    method: object["method"] as? String ?? "", path: object["path"] as? String ?? "",
                    headers: object["headers"] as? [String: String] ?? [:], body: Array(body),
                    receivedAt: object["received_at"] as? Double ?? 0, verified: object["verified"] as? [Bool] ?? [])
                log.entries.withLock { $0.append(record) }
            }
        }
        thread.start()
    }

    /// Requests received so far.
    public var requests: [Received] { log.entries.withLock { $0 } }

    /// Stops the receiver process.
    public func stop() {
        if process.isRunning {
            process.terminate()
            Shell.waitForExit(process, timeoutSeconds: 5)
        }
    }

    deinit {
        stop()
    }
}

/// Splits a pipe into lines, blocking for more.
final class LineReader: @unchecked Sendable {
    // @unchecked: used by one thread at a time (the constructor, then the reading thread).
    private let handle: FileHandle
    private var buffer = Data()

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    /// Closes the pipe; `next()` must not be called again.
    func close() {
        try? handle.close()
    }
}
