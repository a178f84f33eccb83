import Foundation

/// The built `donutwork-webhooks` executable run as a child process, for tests of the command line and of `serve`
/// as an operator runs it. Standard output and standard error go to files in the test's directory, so nothing
/// blocks on a full pipe and nothing depends on a pipe reaching end of file.
public final class ServerProcess: Sendable {
    /// How a finished command ended and what it printed.
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        /// False when the process was killed by a signal (then `status` is the signal number).
        public var exitedNormally: Bool
        public var stdout: String
        public var stderr: String

        /// Standard output split into lines, without the final empty piece.
        public var stdoutLines: [String] {
            var lines = stdout.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines
        }

        public var description: String {
            "status \(status)\(exitedNormally ? "" : " (signal)")\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)"
        }
    }

    /// A program that did not finish in time.
    public struct Timeout: Error, CustomStringConvertible {
        public var arguments: [String]
        public var description: String {
            "donutwork-webhooks \(arguments.joined(separator: " ")) did not finish in time"
        }
    }

    /// The executable is not where the tests were built.
    public struct NotFound: Error, CustomStringConvertible {
        public var searched: [String]
        public var description: String {
            "the donutwork-webhooks executable was not found next to the test bundle; run `swift build --build-tests` "
                + "(or set DONUTWORK_TEST_EXECUTABLE). Looked in: \(searched.joined(separator: ", "))"
        }
    }

    public let arguments: [String]
    public let stdoutPath: String
    public let stderrPath: String
    private let process: Process

    /// The child's process id.
    public var pid: Int32 { process.processIdentifier }

    public var isRunning: Bool { process.isRunning }

    /// Starts `donutwork-webhooks arguments...` with its output in `directory`.
    /// - Parameters:
    ///   - environment: added to the test's environment, from which every `DONUTWORK_*` variable is removed first
    ///     so a developer's settings cannot leak into a test.
    public init(_ arguments: [String], directory: String, environment: [String: String] = [:]) throws {
        let executable = try ServerProcess.executablePath()
        let tag = UUID().uuidString.prefix(8)
        stdoutPath = "\(directory)/stdout-\(tag).txt"
        stderrPath = "\(directory)/stderr-\(tag).txt"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        guard let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw Shell.Failure(command: "open output files", status: -1, output: directory)
        }
        defer {
            try? out.close()
            try? err.close()
        }

        var fullEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DONUTWORK_") }
        fullEnvironment.merge(environment) { _, new in new }

        // The test runner ignores SIGPIPE and a child would inherit that; `env` restores the default, so the
        // binary runs as it does from an operator's shell. (`env` execs it: the pid stays the binary's.)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=PIPE", executable] + arguments
        process.environment = fullEnvironment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        self.process = process
        self.arguments = arguments
    }

    /// Runs a command to completion (killing it after `timeoutSeconds`) and returns its status and output.
    public static func run(
        _ arguments: [String], directory: String, environment: [String: String] = [:], timeoutSeconds: Double = 30
    ) throws -> Result {
        let child = try ServerProcess(arguments, directory: directory, environment: environment)
        guard child.waitForExit(timeoutSeconds: timeoutSeconds) else {
            child.kill()
            throw Timeout(arguments: arguments)
        }
        return child.result
    }

    /// Standard output so far.
    public var stdout: String { ServerProcess.read(stdoutPath) }

    /// Standard error so far.
    public var stderr: String { ServerProcess.read(stderrPath) }

    /// Status and output; call after the process has exited.
    public var result: Result {
        Result(
            status: process.terminationStatus, exitedNormally: process.terminationReason == .exit, stdout: stdout,
            stderr: stderr)
    }

    /// Sends a signal.
    public func signal(_ number: Int32) {
        if process.isRunning {
            _ = Foundation.kill(process.processIdentifier, number)
        }
    }

    /// Polls until the process exits or `timeoutSeconds` pass; true when it exited. Never kills it.
    /// (Foundation's `waitUntilExit` spins a run loop at full CPU on Linux.)
    @discardableResult
    public func waitForExit(timeoutSeconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline {
            usleep(5_000)
        }
        return !process.isRunning
    }

    /// Kills the process with SIGKILL if it still runs, and waits until it is gone. Safe to call repeatedly.
    public func kill() {
        Shell.waitForExit(process, timeoutSeconds: 0)
    }

    deinit {
        kill()
    }

    /// Polls `GET http://127.0.0.1:port/healthz` until it answers 200; false after `timeoutSeconds` or when the
    /// process exits first.
    public func waitUntilHealthy(port: Int, timeoutSeconds: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if !isRunning { return false }
            if let response = try? await HTTPClient.send("GET", "http://127.0.0.1:\(port)/healthz", timeoutSeconds: 2),
                response.status == 200
            {
                return true
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Starts `serve` on a free 127.0.0.1 port and waits for `/healthz`; tries a few ports, since another process
    /// may take the chosen port between choosing and binding.
    public static func startServer(
        _ extraArguments: [String], directory: String, environment: [String: String] = [:], attempts: Int = 5
    ) async throws -> (server: ServerProcess, port: Int) {
        var failures: [String] = []
        for _ in 0..<attempts {
            let port = try freePort()
            let server = try ServerProcess(
                ["serve", "--listen", "127.0.0.1:\(port)"] + extraArguments, directory: directory,
                environment: environment)
            if await server.waitUntilHealthy(port: port) {
                return (server, port)
            }
            server.kill()
            failures.append("port \(port): \(server.stderr)")
        }
        throw Shell.Failure(command: "serve", status: -1, output: failures.joined(separator: "\n"))
    }

    /// A port that was free a moment ago: bind 127.0.0.1:0, read the port, close.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Shell.Failure(command: "socket", status: errno, output: "") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw Shell.Failure(command: "bind", status: errno, output: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The built executable: `DONUTWORK_TEST_EXECUTABLE` if set, else `donutwork-webhooks` in the build products
    /// directory that holds the running test bundle.
    public static func executablePath() throws -> String {
        let name = "donutwork-webhooks"
        if let override = ProcessInfo.processInfo.environment["DONUTWORK_TEST_EXECUTABLE"], !override.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: override) else { throw NotFound(searched: [override]) }
            return override
        }
        var directories: [URL] = []
        func addProductsDirectory(containing path: URL) {
            // Walk up from the path to the directory that holds the `.xctest` bundle (or the test executable).
            var current = path.resolvingSymlinksInPath()
            while current.pathComponents.count > 1 {
                if current.pathExtension == "xctest" {
                    directories.append(current.deletingLastPathComponent())
                    return
                }
                current = current.deletingLastPathComponent()
            }
            directories.append(path.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let url =
                first.hasPrefix("/")
                ? URL(fileURLWithPath: first)
                : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(first)
            addProductsDirectory(containing: url)
        }
        if let executable = Bundle.main.executableURL {
            addProductsDirectory(containing: executable)
        }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            addProductsDirectory(containing: bundle.bundleURL)
        }
        var searched: [String] = []
        for directory in directories {
            let candidate = directory.appendingPathComponent(name).path
            if searched.contains(candidate) { continue }
            searched.append(candidate)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate)
            {
                return candidate
            }
        }
        throw NotFound(searched: searched)
    }

    private static func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
}

/// A fresh temporary directory for one test; `remove()` deletes it.
public struct ScratchDirectory: Sendable {
    public let path: String

    public init(_ label: String = "dw-cli") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `sqlite:<dir>/x.db`: an SQLite file whatever store the run uses. A test meant for every store gives its
    /// commands a `TestDatabase` instead.
    public var database: String { "sqlite:\(databasePath)" }

    /// The SQLite file of `database`.
    public var databasePath: String { "\(path)/x.db" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
