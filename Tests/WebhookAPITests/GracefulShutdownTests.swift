import Foundation
import Logging
import Store
import Synchronization
import TestSupport
import Testing
import WebhookCore

/// `serve` as a child process, stopped by a signal: under load it finishes what it accepted, exits 0 and leaves a
/// consistent store behind.
@Suite(.serialized, .timeLimit(.minutes(2))) struct GracefulShutdownTests {
    /// What one request of the load got.
    struct Outcome: Sendable {
        enum Kind: Sendable { case create, list }
        var kind: Kind
        var status: Int?
        var errorCode: Int?
        var error: String?
        var webhookID: String?
        /// Seconds since the load began.
        var sentAt: Double
        var finishedAt: Double
    }

    /// When SIGTERM went out, in seconds since the load began; shared with the load tasks.
    final class StopMark: Sendable {
        private let seconds = Mutex<Double?>(nil)
        func set(_ value: Double) { seconds.withLock { $0 = value } }
        var value: Double? { seconds.withLock { $0 } }
    }

    /// Requests sent and not yet answered; shared with the load tasks.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// curl errors that mean the server was gone or closed the connection: couldn't connect, empty reply,
    /// send failure, receive failure.
    static let connectionErrors: Set<Int> = [7, 52, 55, 56]

    /// Polls without blocking a cooperative thread; true when the process exited within `seconds`.
    private func waitForExit(_ server: ServerProcess, seconds: Double) async -> (exited: Bool, after: Double) {
        let start = Date()
        while server.isRunning && Date().timeIntervalSince(start) < seconds {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return (!server.isRunning, Date().timeIntervalSince(start))
    }

    @Test func sigtermUnderLoadFinishesRequestsExitsZeroAndKeepsTheStoreConsistent() async throws {
        let directory = try ScratchDirectory("dw-shutdown")
        defer { directory.remove() }
        let database = try TestDatabase.make(in: directory.path)
        defer { database.drop() }
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer { receiver.stop() }

        let create = ["keys", "create", "--company", "acme", "--permissions", "webhooks:read,webhooks:write"]
        let created = try ServerProcess.run(create + database.arguments, directory: directory.path)
        #expect(created.status == 0, "\(created)")
        let key = try #require(created.stdoutLines.first)

        let (server, port) = try await ServerProcess.startServer(
            ["--allow-private-targets", "--ca-file", ca.caFile, "--rate-limit", "0"] + database.arguments,
            directory: directory.path)
        defer { server.kill() }

        let base = "http://127.0.0.1:\(port)/2026-02-01"
        let body = Array(createBody(name: "Load", url: "https://localhost:\(receiver.port)/hook").utf8)
        let headers = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
        let loadStart = Date()
        let stop = StopMark()
        let inFlight = Counter()
        let hardStop = 8.0

        let load = Task {
            await withTaskGroup(of: [Outcome].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var outcomes: [Outcome] = []
                        var iteration = worker
                        while Date().timeIntervalSince(loadStart) < hardStop {
                            let kind: Outcome.Kind = iteration % 2 == 0 ? .create : .list
                            iteration += 1
                            let sentAt = Date().timeIntervalSince(loadStart)
                            inFlight.add(1)
                            var outcome = Outcome(kind: kind, sentAt: sentAt, finishedAt: 0)
                            do {
                                let response =
                                    kind == .create
                                    ? try await HTTPClient.send(
                                        "POST", "\(base)/webhooks.json", headers: headers, body: body,
                                        timeoutSeconds: 15)
                                    : try await HTTPClient.send(
                                        "GET", "\(base)/webhooks.json?size=100", headers: headers, timeoutSeconds: 15)
                                outcome.status = response.status
                                if response.status == 201 {
                                    outcome.webhookID = response.json?["id"] as? String
                                }
                            } catch let error as HTTPClient.TransportError {
                                outcome.errorCode = error.code
                                outcome.error = error.description
                            } catch {
                                outcome.error = String(describing: error)
                            }
                            inFlight.add(-1)
                            outcome.finishedAt = Date().timeIntervalSince(loadStart)
                            outcomes.append(outcome)
                            // Once the server is gone, every further request would be refused as well.
                            if outcome.status == nil, stop.value != nil { break }
                        }
                        return outcomes
                    }
                }
                var all: [Outcome] = []
                for await outcomes in group {
                    all += outcomes
                }
                return all
            }
        }

        try await Task.sleep(for: .seconds(2))
        let inFlightAtStop = inFlight.value
        stop.set(Date().timeIntervalSince(loadStart))
        server.signal(SIGTERM)
        let (exited, exitSeconds) = await waitForExit(server, seconds: 5)
        let outcomes = await load.value
        let stopAt = try #require(stop.value)

        #expect(exited, "serve still ran 5 s after SIGTERM")
        server.kill()
        let result = server.result
        #expect(
            result.exitedNormally && result.status == 0, "serve ended with \(result.status); stderr:\n\(result.stderr)")
        #expect(result.stderr.contains("msg=\"shutting down\""), "\(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("msg=stopped"), "\(result.stderr.suffix(2000))")

        let creates201 = outcomes.filter { $0.kind == .create && $0.status == 201 }
        let lists200 = outcomes.filter { $0.kind == .list && $0.status == 200 }
        let wrongStatus = outcomes.filter { outcome in
            guard let status = outcome.status else { return false }
            return status != (outcome.kind == .create ? 201 : 200)
        }
        let transport = outcomes.filter { $0.status == nil }
        let cleanAfterStop = transport.filter { outcome in
            outcome.finishedAt >= stopAt && outcome.errorCode.map(Self.connectionErrors.contains) == true
        }
        let badErrors = transport.filter { outcome in
            !(outcome.finishedAt >= stopAt && outcome.errorCode.map(Self.connectionErrors.contains) == true)
        }
        let cutOff = cleanAfterStop.filter { $0.sentAt < stopAt }
        let answeredAfterStop = outcomes.filter { $0.status != nil && $0.finishedAt >= stopAt }

        print(
            """
            graceful shutdown: SIGTERM at \(String(format: "%.2f", stopAt)) s with \(inFlightAtStop) requests in flight; \
            exited after \(String(format: "%.3f", exitSeconds)) s with status \(result.status)
            requests: \(outcomes.count) total, \(creates201.count) creates 201, \(lists200.count) lists 200, \
            \(answeredAfterStop.count) answered after SIGTERM, \(cleanAfterStop.count) connection errors after SIGTERM \
            (\(cutOff.count) of them sent before it), \(wrongStatus.count) unexpected statuses, \
            \(badErrors.count) other errors; receiver saw \(receiver.requests.count) requests
            """)

        #expect(creates201.count > 0 && lists200.count > 0, "the load did not get going")
        #expect(
            wrongStatus.isEmpty,
            "unexpected statuses: \(wrongStatus.prefix(10).map { "\($0.kind) \($0.status ?? 0) at \($0.finishedAt)" })")
        #expect(
            badErrors.isEmpty,
            "errors before SIGTERM or not connection errors: \(badErrors.prefix(10).map { "\($0.kind) \($0.error ?? "") at \($0.finishedAt)" })"
        )

        let store = try openStore(
            database.location, logger: Logger(label: "test", level: .error), cipher: try database.cipher())
        defer { store.close() }
        if let sqlite = store as? SQLiteStore {
            // The file itself is sound; PostgreSQL has no such check to ask for.
            #expect(try sqlite.integrityCheck() == "ok")
        }
        let company = try #require(try store.company(slug: "acme"))
        let stored = try store.countWebhooks(companyID: company.id)
        print("graceful shutdown: \(stored) webhooks in the store, \(creates201.count) creates answered 201")
        #expect(
            stored == creates201.count, "the store holds \(stored) webhooks but \(creates201.count) creates got 201")
        let storedIDs = Set(try store.webhooks(companyID: company.id, offset: 0, limit: max(stored, 1)).map(\.id))
        let answeredIDs = Set(creates201.compactMap(\.webhookID))
        #expect(answeredIDs.count == creates201.count, "a 201 body without an id")
        #expect(storedIDs == answeredIDs, "stored but not answered: \(storedIDs.subtracting(answeredIDs).sorted())")
    }

    @Test func sigintOnAnIdleServerExitsZeroQuickly() async throws {
        let directory = try ScratchDirectory("dw-sigint")
        defer { directory.remove() }
        let database = try TestDatabase.make(in: directory.path)
        defer { database.drop() }
        let (server, _) = try await ServerProcess.startServer(
            database.arguments + ["--threads", "2"], directory: directory.path)
        defer { server.kill() }

        server.signal(SIGINT)
        let (exited, seconds) = await waitForExit(server, seconds: 2)
        print("graceful shutdown: idle serve exited \(String(format: "%.3f", seconds)) s after SIGINT")
        #expect(exited, "serve still ran 2 s after SIGINT")
        server.kill()
        let result = server.result
        #expect(result.exitedNormally && result.status == 0, "\(result)")
        #expect(result.stderr.contains("msg=stopped"), "\(result.stderr)")
        #expect(result.stdout == "")
    }
}
