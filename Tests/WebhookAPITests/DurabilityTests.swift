import Foundation
import Synchronization
import TestSupport
import Testing

/// `serve` as a child process across restarts on the same database: an accepted event survives SIGKILL, and the
/// address policy of the running process, not the one a webhook was created under, decides where deliveries go.
@Suite(.serialized, .timeLimit(.minutes(4))) struct DurabilityTests {
    /// Event ids answered 202, and how many requests are out; shared with the sending tasks.
    final class Ledger: Sendable {
        private let ids = Mutex<[String]>([])
        private let issued = Atomic<Int>(0)

        /// Takes the next request number; sending stops once it reaches the limit.
        func take(below limit: Int) -> Int? {
            let number = issued.add(1, ordering: .relaxed).newValue
            return number <= limit ? number : nil
        }

        func accept(_ id: String) { ids.withLock { $0.append(id) } }

        var accepted: [String] { ids.withLock { $0 } }
        var count: Int { ids.withLock { $0.count } }
    }

    /// Set once the server has been killed; shared with the sending tasks.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    /// What a batch of senders ran into besides 202.
    struct Trouble: Sendable {
        var statuses: [Int] = []
        var errors: [String] = []
    }

    static let eventBody = Array(#"{"event":{"type":"RecurringPayments.charge.paid","data":{"n":1}}}"#.utf8)
    static let eventType = "RecurringPayments.charge.paid"

    private func serveArguments(_ database: TestDatabase, _ ca: TestCertificateAuthority, privateTargets: Bool)
        -> [String]
    {
        (privateTargets ? ["--allow-private-targets"] : []) + database.arguments
            + [
                "--ca-file", ca.caFile, "--rate-limit", "0",
                "--retry-schedule", "1s,1s,1s,1s,1s", "--connect-timeout", "1", "--request-timeout", "2",
                "--log-level", "warning",
            ]
    }

    private func makeKey(_ database: TestDatabase, in directory: ScratchDirectory) throws -> String {
        let create = [
            "keys", "create", "--company", "acme", "--permissions", "webhooks:read,webhooks:write,events:write",
        ]
        let created = try ServerProcess.run(create + database.arguments, directory: directory.path)
        #expect(created.status == 0, "\(created)")
        return try #require(created.stdoutLines.first)
    }

    private func headers(_ key: String) -> [String: String] {
        ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
    }

    private func createWebhook(port: Int, key: String, url: String) async throws -> String {
        let body = #"{"webhook":{"name":"n","url":"\#(url)","events":["\#(Self.eventType)"]}}"#
        let response = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(port)/2026-02-01/webhooks.json", headers: headers(key), body: Array(body.utf8))
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json?["id"] as? String)
    }

    /// Eight senders emit events until `limit` requests have been sent or, once `gone` says the server was
    /// killed, a request fails. Every 202 goes into the ledger.
    private func send(
        port: Int, key: String, ledger: Ledger, limit: Int, gone: @escaping @Sendable () -> Bool
    ) async -> Trouble {
        let url = "http://127.0.0.1:\(port)/2026-02-01/events.json"
        let fields = headers(key)
        return await withTaskGroup(of: Trouble.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var trouble = Trouble()
                    while ledger.take(below: limit) != nil {
                        do {
                            let response = try await HTTPClient.send(
                                "POST", url, headers: fields, body: Self.eventBody, timeoutSeconds: 15)
                            if response.status == 202, let id = response.json?["id"] as? String {
                                ledger.accept(id)
                            } else if !gone() {
                                trouble.statuses.append(response.status)
                            }
                        } catch {
                            // After the kill a request is refused or cut off: simply not accepted.
                            if gone() { break }
                            trouble.errors.append(String(describing: error))
                        }
                    }
                    return trouble
                }
            }
            var all = Trouble()
            for await trouble in group {
                all.statuses += trouble.statuses
                all.errors += trouble.errors
            }
            return all
        }
    }

    /// Polls without blocking a cooperative thread; true when the process exited within `seconds`.
    private func waitForExit(_ server: ServerProcess, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while server.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return !server.isRunning
    }

    @Test func killMinusNineLosesNoAcceptedEvent() async throws {
        let started = Date()
        let directory = try ScratchDirectory("dw-durable")
        defer { directory.remove() }
        let database = try TestDatabase.make(in: directory.path)
        defer { database.drop() }
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer { receiver.stop() }
        let key = try makeKey(database, in: directory)
        let arguments = serveArguments(database, ca, privateTargets: true)

        let (first, firstPort) = try await ServerProcess.startServer(arguments, directory: directory.path)
        defer { first.kill() }
        _ = try await createWebhook(port: firstPort, key: key, url: "https://localhost:\(receiver.port)/a")
        _ = try await createWebhook(port: firstPort, key: key, url: "https://localhost:\(receiver.port)/b")

        let total = 2_000
        let ledger = Ledger()
        let killed = Flag()
        let load = Task { [self] in
            await send(port: firstPort, key: key, ledger: ledger, limit: total) { killed.isSet }
        }
        let reachedHalf = await eventually(timeoutSeconds: 60) { ledger.count >= total / 2 }
        killed.set()
        first.signal(SIGKILL)
        let exited = await waitForExit(first, seconds: 5)
        let beforeKill = await load.value
        let acceptedBeforeKill = ledger.count
        let killedAt = Date().timeIntervalSince(started)
        #expect(reachedHalf, "only \(acceptedBeforeKill) events were accepted in 60 s")
        #expect(exited, "serve still ran 5 s after SIGKILL")
        first.kill()
        #expect(!first.result.exitedNormally && first.result.status == SIGKILL, "\(first.result)")
        #expect(beforeKill.statuses.isEmpty, "statuses before the kill: \(beforeKill.statuses.prefix(10))")
        #expect(beforeKill.errors.isEmpty, "errors before the kill: \(beforeKill.errors.prefix(10))")

        let (second, secondPort) = try await ServerProcess.startServer(arguments, directory: directory.path)
        defer { second.kill() }
        let restartLedger = Ledger()
        let afterRestart = await send(
            port: secondPort, key: key, ledger: restartLedger, limit: total - acceptedBeforeKill, gone: { false })
        #expect(afterRestart.statuses.isEmpty, "statuses after the restart: \(afterRestart.statuses.prefix(10))")
        #expect(afterRestart.errors.isEmpty, "errors after the restart: \(afterRestart.errors.prefix(10))")
        let accepted = ledger.accepted + restartLedger.accepted
        #expect(accepted.count == total)
        #expect(Set(accepted).count == accepted.count, "an event id was answered twice")

        let expected = Set(accepted.flatMap { ["/a \($0)", "/b \($0)"] })
        var missing = expected
        let deadline = Date().addingTimeInterval(90)
        while !missing.isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            let seen = Set(receiver.requests.map { "\($0.path) \($0.headers["webhook-id"] ?? "")" })
            missing.subtract(seen)
        }
        let requests = receiver.requests
        var perDelivery: [String: Int] = [:]
        for request in requests {
            perDelivery["\(request.path) \(request.headers["webhook-id"] ?? "")", default: 0] += 1
        }
        let duplicates = perDelivery.values.reduce(0) { $0 + $1 - 1 }
        let unacknowledged = Set(perDelivery.keys).subtracting(expected)
        print(
            """
            kill -9: \(accepted.count) accepted (\(acceptedBeforeKill) before the kill at \
            \(String(format: "%.1f", killedAt)) s), \(expected.count) expected deliveries, \(duplicates) duplicates, \
            \(requests.count) requests in all, \(unacknowledged.count) deliveries of events never answered 202, \
            \(missing.count) missing after \(String(format: "%.1f", Date().timeIntervalSince(started))) s
            """)
        #expect(missing.isEmpty, "never delivered: \(missing.sorted().prefix(10))")
        #expect(second.isRunning, "serve died after the restart:\n\(second.stderr.suffix(2000))")
    }

    @Test func aWebhookCreatedWhilePrivateTargetsWereAllowedIsBlockedAfterRestart() async throws {
        let directory = try ScratchDirectory("dw-durable")
        defer { directory.remove() }
        let database = try TestDatabase.make(in: directory.path)
        defer { database.drop() }
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer { receiver.stop() }
        let key = try makeKey(database, in: directory)

        let (first, firstPort) = try await ServerProcess.startServer(
            serveArguments(database, ca, privateTargets: true), directory: directory.path)
        defer { first.kill() }
        let webhookID = try await createWebhook(
            port: firstPort, key: key, url: "https://localhost:\(receiver.port)/hook")
        first.signal(SIGTERM)
        #expect(await waitForExit(first, seconds: 10), "serve still ran 10 s after SIGTERM")
        first.kill()
        #expect(first.result.exitedNormally && first.result.status == 0, "\(first.result)")

        let (second, port) = try await ServerProcess.startServer(
            serveArguments(database, ca, privateTargets: false), directory: directory.path)
        defer { second.kill() }
        let base = "http://127.0.0.1:\(port)/2026-02-01"
        let emitted = try await HTTPClient.send(
            "POST", "\(base)/events.json", headers: headers(key), body: Self.eventBody)
        #expect(emitted.status == 202, "\(emitted.text)")
        #expect(emitted.json?["deliveries"] as? Int == 1, "\(emitted.text)")

        try await Task.sleep(for: .seconds(3))
        #expect(receiver.requests.isEmpty, "the receiver got \(receiver.requests.count) requests")

        let listPath = "\(base)/webhooks/\(webhookID)/deliveries.json"
        var detail: [String: Any] = [:]
        let attempted = try await eventually(timeoutSeconds: 10) {
            let list = try await HTTPClient.send("GET", listPath, headers: headers(key))
            guard let element = (list.json?["elements"] as? [[String: Any]])?.first,
                let deliveryID = element["id"] as? String
            else { return false }
            let shown = try await HTTPClient.send("GET", "\(base)/deliveries/\(deliveryID).json", headers: headers(key))
            detail = shown.json ?? [:]
            return !(detail["attempts"] as? [[String: Any]] ?? []).isEmpty
        }
        #expect(attempted, "no attempt was recorded: \(detail)")
        let attempts = detail["attempts"] as? [[String: Any]] ?? []
        print(
            "private targets: \(attempts.count) attempts after restart, error kinds "
                + "\(attempts.map { $0["error_kind"] as? String ?? "nil" }), receiver saw \(receiver.requests.count)")
        #expect(attempts.allSatisfy { $0["error_kind"] as? String == "blocked" }, "\(attempts)")
        #expect(receiver.requests.isEmpty, "the receiver got \(receiver.requests.count) requests")
    }
}
