import Foundation

/// Runs helper programs for tests.
public enum Shell {
    /// A program that exited with a failure.
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var output: String
        public var description: String { "\(command) exited with \(status): \(output)" }
    }

    /// The real Python interpreter, not a wrapper script (pyenv's shims would survive a SIGTERM of their own).
    public static func pythonExecutable() throws -> String {
        try run("python3", ["-c", "import sys; print(sys.executable)"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits for a process by polling: Foundation's `waitUntilExit` spins a run loop at full CPU on Linux.
    /// Kills it when it outlives the timeout.
    public static func waitForExit(_ process: Process, timeoutSeconds: Double) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline {
            usleep(10_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning {
                usleep(10_000)
            }
        }
    }

    /// Starts `psql` running `sql` on the database at `url` and returns at once, without waiting for it: a session
    /// that holds a lock while a test looks at what others do meanwhile. `terminate()` ends it early.
    public static func startPSQL(url: String, _ sql: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "--no-psqlrc", "--quiet", "--dbname=\(url)", "--command=\(sql)"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs a program found on PATH (or at an absolute path), waits, and returns its standard output with its
    /// standard error; throws on a non-zero exit.
    /// - Parameters:
    ///   - environment: added to this process's environment for the program.
    ///   - currentDirectory: where the program starts; this process's own directory when `nil`.
    @discardableResult
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:],
        currentDirectory: String? = nil
    ) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let currentDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        // Closed here, not left to the pipe's deallocation: Foundation keeps every Process it ran (and so its pipes)
        // alive on Linux, so each run leaked a descriptor, and with more than about 1,300 open Process.run itself
        // crashed (its scan of /proc/self/fd over-reads glibc's buffer; swift-corelibs-foundation PR 5472).
        try? output.fileHandleForReading.close()
        waitForExit(process, timeoutSeconds: 60)
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(
                command: ([program] + arguments).joined(separator: " "), status: process.terminationStatus, output: text
            )
        }
        return text
    }
}
