import Foundation
import Synchronization

/// A PostgreSQL server of one test's own, for tests that stop and restart the database under the service: a new
/// cluster in a temporary directory on a free loopback port, set up as `scripts/postgres` sets up the suite's
/// server (superuser `postgres`, trust on loopback only, fsync off). PostgreSQL refuses to run as root, so as root
/// the cluster belongs to the `postgres` system user and its programs run through `runuser`.
///
/// ```swift
/// @Test(.enabled(if: PostgresCluster.isAvailable, "needs the PostgreSQL server programs"))
/// func survivesARestart() throws {
///     let cluster = try PostgresCluster()
///     defer { cluster.destroy() }
///     try cluster.stop()
///     try cluster.start()
/// }
/// ```
///
/// - Important: The cluster is destroyed when its last reference goes, which may be right after its last use: keep
///   it with `defer { cluster.destroy() }` for as long as the test needs the server.
public final class PostgresCluster: Sendable {
    /// The cluster's directory: the data in `data/`, the server's log in `postgres.log`, its socket beside them.
    public let directory: String
    /// The loopback port it listens on, the same after every restart.
    public let port: Int
    private let programs: String
    /// The running server, a child of this process. It runs in the foreground rather than through `pg_ctl start`:
    /// a daemon would inherit the descriptor Foundation watches to learn that a child exited, so the `pg_ctl`
    /// that started it would seem to run for as long as the server does.
    private let server = Mutex<Process?>(nil)

    /// Whether the server programs (and, as root, the `postgres` user) are here; skip a test that needs a cluster
    /// when not. CI installs them (`scripts/setup test`).
    public static var isAvailable: Bool {
        serverPrograms != nil && (geteuid() != 0 || getpwnam("postgres") != nil)
    }

    /// The directory holding `initdb`, `pg_ctl` and `pg_isready`: `pg_config --bindir` when it has them, else the
    /// newest of Debian's `/usr/lib/postgresql/<version>/bin`.
    public static let serverPrograms: String? = {
        var candidates: [String] = []
        if let bindir = try? Shell.run("pg_config", ["--bindir"]) {
            candidates.append(bindir.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        return candidates.first { directory in
            ["initdb", "pg_ctl", "pg_isready", "postgres"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)")
            }
        }
    }()

    /// Creates the cluster and starts it.
    /// - Throws: `Unavailable` without the server programs; `Shell.Failure` when a program fails (its output says
    ///   why).
    public init() throws {
        guard Self.isAvailable, let programs = Self.serverPrograms else { throw Unavailable() }
        self.programs = programs
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("dw-postgres-\(UUID().uuidString)")
            .path
        port = try ServerProcess.freePort()
        do {
            try create()
            try start()
        } catch {
            destroy()
            throw error
        }
    }

    deinit {
        destroy()
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres`: the superuser on the maintenance database.
    public var adminURL: String { url(database: "postgres") }

    /// The URL of one of its databases.
    public func url(database: String) -> String {
        "postgresql://postgres@127.0.0.1:\(port)/\(database)"
    }

    /// Whether the server runs.
    public var isRunning: Bool {
        (try? runAsOwner("\(programs)/pg_ctl", ["--pgdata=\(directory)/data", "status"])) != nil
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        guard let log = FileHandle(forWritingAtPath: "\(directory)/postgres.log") else {
            throw Shell.Failure(command: "open \(directory)/postgres.log", status: errno, output: "")
        }
        defer { try? log.close() }
        try log.seekToEnd()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            (geteuid() == 0 ? ["runuser", "-u", "postgres", "--"] : [])
            + ["\(programs)/postgres", "-D", "\(directory)/data", "-p", "\(port)"]
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        server.withLock { $0 = process }

        let deadline = Date().addingTimeInterval(30)
        while true {
            let ready = try? Shell.run(
                "\(programs)/pg_isready", ["--quiet", "--host=127.0.0.1", "--port=\(port)", "--username=postgres"])
            if ready != nil { return }
            guard process.isRunning, Date() < deadline else {
                let output = String(
                    decoding: FileManager.default.contents(atPath: "\(directory)/postgres.log") ?? Data(), as: UTF8.self
                )
                throw Shell.Failure(command: "postgres -p \(port)", status: -1, output: String(output.suffix(2000)))
            }
            usleep(100_000)
        }
    }

    /// Stops the server at once (fast mode: open sessions are cut, as a crash or a failover would).
    public func stop() throws {
        try runAsOwner("\(programs)/pg_ctl", ["--pgdata=\(directory)/data", "--mode=fast", "--wait", "stop"])
        if let process = server.withLock({ $0 }) {
            Shell.waitForExit(process, timeoutSeconds: 30)
        }
    }

    /// Freezes the server without closing anything (SIGSTOP to the postmaster and then each of its processes), as a
    /// hung host or a stalled failover would: connections stay open, nothing answers, new connections wait.
    public func pause() throws {
        let postmaster = try postmasterPID()
        try signal(SIGSTOP, [postmaster] + Self.children(of: postmaster))
    }

    /// Lets a paused server run again (its processes first, then the postmaster).
    public func resume() throws {
        let postmaster = try postmasterPID()
        try signal(SIGCONT, Self.children(of: postmaster) + [postmaster])
    }

    private func postmasterPID() throws -> pid_t {
        let path = "\(directory)/data/postmaster.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first, let pid = pid_t(line.trimmingCharacters(in: .whitespaces))
        else {
            throw Shell.Failure(command: "read \(path)", status: -1, output: "the server is not running")
        }
        return pid
    }

    private func signal(_ number: Int32, _ pids: [pid_t]) throws {
        for pid in pids where kill(pid, number) != 0 && errno != ESRCH {
            throw Shell.Failure(command: "kill -\(number) \(pid)", status: errno, output: "")
        }
    }

    /// The processes whose parent is `parent`, from `/proc/*/stat` (field 4 is the parent's id).
    private static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // "pid (name) state ppid ...": the name may hold spaces and parentheses, so read after the last ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    /// Stops the server if it runs and deletes the cluster. Safe to call more than once.
    public func destroy() {
        guard FileManager.default.fileExists(atPath: directory) else { return }
        if isRunning {
            _ = try? runAsOwner(
                "\(programs)/pg_ctl", ["--pgdata=\(directory)/data", "--mode=immediate", "--wait", "stop"])
        }
        if let process = server.withLock({ $0 }) {
            Shell.waitForExit(process, timeoutSeconds: 10)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The server programs are not installed (or, as root, there is no `postgres` user to run them).
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String {
            "PostgreSQL's server programs (initdb, pg_ctl) or its postgres user are missing; run scripts/setup test"
        }
    }

    /// Makes the directory (owned by `postgres` when we are root) and the cluster in it, with the test settings.
    private func create() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if geteuid() == 0, let owner = getpwnam("postgres") {
            guard chown(directory, owner.pointee.pw_uid, owner.pointee.pw_gid) == 0 else {
                throw Shell.Failure(command: "chown postgres \(directory)", status: errno, output: "")
            }
        }
        chmod(directory, 0o700)
        _ = FileManager.default.createFile(atPath: "\(directory)/postgres.log", contents: nil)
        try runAsOwner(
            "\(programs)/initdb",
            [
                "--pgdata=\(directory)/data", "--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C",
                "--no-sync",
            ])
        let settings = """

            # PostgresCluster: a private server for one test, on loopback only, fast rather than durable.
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(directory)'
            max_connections = 300
            fsync = off
            synchronous_commit = off
            full_page_writes = off

            """
        try append(settings, to: "\(directory)/data/postgresql.conf", truncating: false)
        let access = """
            local all all trust
            host all all 127.0.0.1/32 trust

            """
        try append(access, to: "\(directory)/data/pg_hba.conf", truncating: true)
    }

    /// Writes into a file initdb made, keeping its owner (a new file would belong to root).
    private func append(_ text: String, to path: String, truncating: Bool) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw Shell.Failure(command: "open \(path)", status: errno, output: "")
        }
        defer { try? handle.close() }
        if truncating {
            try handle.truncate(atOffset: 0)
        } else {
            try handle.seekToEnd()
        }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Runs a server program as the cluster's owner: `postgres` through `runuser` when we are root, else ourselves.
    @discardableResult
    private func runAsOwner(_ program: String, _ arguments: [String]) throws -> String {
        if geteuid() == 0 {
            return try Shell.run("runuser", ["-u", "postgres", "--", program] + arguments, currentDirectory: "/")
        }
        return try Shell.run(program, arguments, currentDirectory: "/")
    }
}
