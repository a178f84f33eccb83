import Foundation
import Synchronization
import TestSupport
import Testing
import WebhookCore

/// What the process-level tests on a private PostgreSQL server (`ScaleOutTests`, `PostgresOutageTests`) share: a
/// database of their own on the cluster, `serve` and `keys create` on it, a ledger of accepted events, and a tally
/// of what the receivers got.
enum ClusterLoad {
    static let eventType = "RecurringPayments.charge.paid"
    static let unavailableBody = #"{"error":"The service cannot reach its database right now; try again shortly."}"#

    /// A database on the cluster with a master key file beside the test's other files.
    struct Database {
        let url: String
        let masterKeyFile: String

        /// Creates `name` on the cluster and writes a new master key (base64 of 32 random bytes, mode 0600).
        init(cluster: PostgresCluster, name: String, directory: String) throws {
            try Shell.run(
                "psql", ["--no-psqlrc", "--quiet", "--dbname=\(cluster.adminURL)", "--command=CREATE DATABASE \(name)"])
            url = cluster.url(database: name)
            masterKeyFile = "\(directory)/master.key"
            let text = Data(TokenCipher.generateKey()).base64EncodedString() + "\n"
            let written = FileManager.default.createFile(
                atPath: masterKeyFile, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            try #require(written, "could not write \(masterKeyFile)")
        }

        var arguments: [String] { ["--database", url, "--master-key-file", masterKeyFile] }
    }

    /// `serve` flags for these tests: private targets and the test CA, no rate limit, short delivery timeouts (so
    /// leases last 2 × (1 + 2) + 30 = 36 s), warnings and errors only. Retries come within seconds rather than
    /// the default 5 s then 5 min: a Python receiver on this shared 2-core machine sometimes takes more than the
    /// 1 s connect timeout to finish a TLS handshake, and a second such failure must not park a delivery for
    /// longer than the test waits.
    static func serveArguments(_ database: Database, caFile: String, extra: [String] = []) -> [String] {
        database.arguments
            + [
                "--allow-private-targets", "--ca-file", caFile, "--rate-limit", "0", "--connect-timeout", "1",
                "--request-timeout", "2", "--retry-schedule", "2s,5s,10s,10s,10s,10s,10s,10s,10s,10s",
                "--log-level", "warning",
            ] + extra
    }

    /// Starts `count` `serve` processes with `arguments`, each on a port of its own; when one fails to start, those
    /// already started are killed before the error is thrown.
    static func startServers(
        _ count: Int, arguments: [String], directory: String
    ) async throws -> [(process: ServerProcess, port: Int)] {
        var servers: [(process: ServerProcess, port: Int)] = []
        do {
            for _ in 0..<count {
                let (process, port) = try await ServerProcess.startServer(arguments, directory: directory)
                servers.append((process, port))
            }
        } catch {
            servers.forEach { $0.process.kill() }
            throw error
        }
        return servers
    }

    /// Recorded attempts counted by status or error kind, e.g. `204 × 100012, timeout × 41`.
    static func attemptSummary(_ database: Database) -> String {
        let rows = try? Shell.run(
            "psql",
            [
                "--no-psqlrc", "--no-align", "--tuples-only", "--field-separator= × ", "--dbname=\(database.url)",
                "--command=SELECT coalesce(status_code::text, error_kind), count(*) FROM attempts GROUP BY 1 ORDER BY 2 DESC",
            ])
        return rows?.split(separator: "\n").joined(separator: ", ") ?? "(the database did not answer)"
    }

    /// A key with every permission for company `acme`, made by `keys create` on the database.
    static func makeKey(_ database: Database, directory: String) throws -> String {
        let created = try ServerProcess.run(
            ["keys", "create", "--company", "acme", "--permissions", "webhooks:read,webhooks:write,events:write"]
                + database.arguments, directory: directory)
        #expect(created.status == 0, "\(created)")
        return try #require(created.stdoutLines.first)
    }

    static func headers(_ key: String) -> [String: String] {
        ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
    }

    static func eventBody(_ number: Int) -> [UInt8] {
        Array(#"{"event":{"type":"\#(eventType)","data":{"n":\#(number)}}}"#.utf8)
    }

    /// Creates a webhook for `eventType` through the server on `port`; returns its id and token.
    static func createWebhook(port: Int, key: String, url: String) async throws -> (id: String, token: String) {
        let body = #"{"webhook":{"name":"scale","url":"\#(url)","events":["\#(eventType)"]}}"#
        let response = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(port)/2026-02-01/webhooks.json", headers: headers(key), body: Array(body.utf8))
        #expect(response.status == 201, "\(response.text)")
        let id = try #require(response.json?["id"] as? String, "\(response.text)")
        let token = try #require(response.json?["token"] as? String, "\(response.text)")
        return (id, token)
    }

    /// Polls without blocking a cooperative thread; true when the process exited within `seconds`.
    static func waitForExit(_ server: ServerProcess, seconds: Double) async -> Bool {
        await eventually(timeoutSeconds: seconds) { !server.isRunning }
    }

    /// Lines of a server's standard error at level error, for the report of a failure.
    static func errorLines(_ server: ServerProcess) -> [String] {
        server.stderr.split(separator: "\n").filter { $0.contains("level=error") }.map(String.init)
    }

    /// A server's log lines counted by level and message, e.g. `error "store failure" × 12`; other lines (a notice
    /// libpq printed) by their first 80 characters.
    static func logSummary(_ server: ServerProcess) -> String {
        var counts: [String: Int] = [:]
        for line in server.stderr.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let level = fields.first { $0.hasPrefix("level=") }?.dropFirst(6)
            var key = String(line.prefix(80))
            if let level, let start = line.range(of: "msg=") {
                let rest = line[start.upperBound...]
                let message =
                    rest.hasPrefix("\"")
                    ? rest.dropFirst().prefix { $0 != "\"" } : rest.prefix { $0 != " " }
                key = "\(level) \"\(message)\""
            }
            counts[key, default: 0] += 1
        }
        return counts.sorted { $0.value > $1.value }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ")
    }

    /// Prints where the deliveries stand in the database and the end of each server's log, after a failure.
    static func printDiagnosis(_ database: Database, servers: [ServerProcess]) {
        func query(_ sql: String) -> String {
            (try? Shell.run("psql", ["--no-psqlrc", "--no-align", "--dbname=\(database.url)", "--command=\(sql)"]))
                ?? "(the database did not answer)"
        }
        print(
            query(
                """
                SELECT w.url, d.status, d.attempt_count, coalesce(d.lease_until > now(), false) AS leased, count(*)
                FROM deliveries d JOIN webhooks w ON w.seq = d.webhook_seq GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                """))
        print(
            query(
                """
                SELECT status_code, error_kind, left(error_message, 120) AS message, count(*)
                FROM attempts GROUP BY 1, 2, 3 ORDER BY 4 DESC
                """))
        for (index, server) in servers.enumerated() {
            print("process \(index + 1) (\(server.isRunning ? "running" : "exited")):\n\(server.stderr.suffix(3000))")
        }
    }

    static func seconds(since start: Date) -> String {
        String(format: "%.1f", Date().timeIntervalSince(start))
    }
}

/// Event ids answered 202, and tickets for the requests still to send; shared with the sending tasks.
final class EventLedger: Sendable {
    private let ids = Mutex<[String]>([])
    private let tickets = Atomic<Int>(0)

    /// The next ticket (from 1), or `nil` once `limit` have been handed out.
    func take(below limit: Int) -> Int? {
        let number = tickets.add(1, ordering: .relaxed).newValue
        return number <= limit ? number : nil
    }

    func accept(_ id: String) { ids.withLock { $0.append(id) } }

    var accepted: [String] { ids.withLock { $0 } }
    var count: Int { ids.withLock { $0.count } }
}

/// A flag set once by the test and read by the sending tasks.
final class SharedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Counts what each receiver got per event id (`webhook-id`), reading only the requests that arrived since the
/// last look and crossing them off a set of outstanding deliveries, so polling 100,000 deliveries stays cheap.
struct DeliveryTally {
    let receivers: [HTTPSReceiver]
    private(set) var counts: [[String: Int]]
    private var seen: [Int]
    /// Accepted events not yet received, per receiver.
    private var outstanding: [Set<String>]
    private let accepted: Set<String>

    /// A tally that expects every event of `accepted` at every receiver.
    init(_ receivers: [HTTPSReceiver], expecting accepted: [String]) {
        self.receivers = receivers
        self.accepted = Set(accepted)
        counts = Array(repeating: [:], count: receivers.count)
        seen = Array(repeating: 0, count: receivers.count)
        outstanding = Array(repeating: Set(accepted), count: receivers.count)
    }

    /// Reads the requests that arrived since the last call.
    mutating func update() {
        for (index, receiver) in receivers.enumerated() {
            let requests = receiver.requests
            guard requests.count > seen[index] else { continue }
            for request in requests[seen[index]...] {
                let id = request.headers["webhook-id"] ?? ""
                counts[index][id, default: 0] += 1
                outstanding[index].remove(id)
            }
            seen[index] = requests.count
        }
    }

    /// Reads new requests every half second until every accepted event has reached every receiver or `seconds`
    /// pass; prints a line of progress every `progressEvery` seconds. True when nothing is missing.
    mutating func waitForAll(timeoutSeconds seconds: Double, progressEvery: Double = 15) async -> Bool {
        let start = Date()
        var lastProgress = start
        while true {
            update()
            if missingCount == 0 { return true }
            if Date().timeIntervalSince(start) >= seconds { return false }
            if Date().timeIntervalSince(lastProgress) >= progressEvery {
                lastProgress = Date()
                print(
                    "  \(ClusterLoad.seconds(since: start)) s: \(requests) requests received, \(missingCount) missing")
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Requests received, over every receiver.
    var requests: Int { seen.reduce(0, +) }

    /// Requests beyond the first for the same event at the same receiver.
    var duplicates: Int { counts.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1 - 1 } } }

    /// Accepted (receiver, event) pairs that no request has reached yet.
    var missingCount: Int { outstanding.reduce(0) { $0 + $1.count } }

    /// Some of the missing pairs, for a failure message.
    func missingSample(_ limit: Int = 10) -> [(receiver: Int, event: String)] {
        var sample: [(Int, String)] = []
        for (index, events) in outstanding.enumerated() {
            for id in events.prefix(limit - sample.count) {
                sample.append((index, id))
            }
        }
        return sample
    }

    /// Deliveries of events that were never answered 202 (their request was cut off, e.g. by the kill).
    var unacknowledged: Int {
        counts.reduce(0) { $0 + $1.keys.filter { !accepted.contains($0) }.count }
    }
}

/// The process-level PostgreSQL suites bring their own server, so one pass of the suite is enough: they run in the
/// PostgreSQL pass of `scripts/test` (or whenever `DONUTWORK_TEST_POSTGRES` is set) and need the server programs.
enum ClusterSuites {
    static var runHere: Bool { PostgresCluster.isAvailable && TestStoreKind.current == .postgres }
    static let whyNot: Comment =
        "runs in the PostgreSQL pass (DONUTWORK_TEST_POSTGRES set) with PostgreSQL's server programs installed"
}
