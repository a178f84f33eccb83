import Foundation
import Synchronization
import TestSupport
import Testing

/// PostgreSQL stopped for ten seconds under load, under two `serve` processes: meanwhile every request gets 503 with
/// the database sentence and `Retry-After`, the processes stay up and answer, sending resumes with 202 within seconds
/// of the database's return, every event answered 202 is delivered, and both processes still stop cleanly.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PostgresOutageTests {
    static let processCount = 2
    static let outageSeconds = 10
    /// Clients sending events, spread over the processes; each pauses 5 ms between requests.
    static let senders = 8
    /// How soon after the database is back each process must answer 202 again.
    static let recoverySeconds: Double = 10
    /// Longest wait for every delivery once sending stopped: deliveries in flight when the database went away were
    /// sent but could not be recorded, so they wait for their leases (36 s) and go again; about 45 s here.
    static let deliveryTimeout: Double = 150

    /// One request as a client saw it, with times in seconds since the test's reference date.
    struct Answer: Sendable {
        var process: Int
        var sentAt: Double
        var answeredAt: Double
        var status: Int?
        var body: String
        var retryAfter: String?
        var error: String?
        var eventID: String?
    }

    final class Recorder: Sendable {
        private let answers = Mutex<[Answer]>([])
        func add(_ answer: Answer) { answers.withLock { $0.append(answer) } }
        var all: [Answer] { answers.withLock { $0 } }
    }

    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func tenSecondsWithoutTheDatabaseUnderLoad() async throws {
        let reference = Date()
        let now: @Sendable () -> Double = { Date().timeIntervalSince(reference) }
        let directory = try ScratchDirectory("dw-outage")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_outage", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let receivers = try (0..<2).map { _ in
            try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        }
        defer { receivers.forEach { $0.stop() } }

        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        let arguments = ClusterLoad.serveArguments(database, caFile: ca.caFile)
        let servers = try await ClusterLoad.startServers(
            Self.processCount, arguments: arguments, directory: directory.path)
        defer { servers.forEach { $0.process.kill() } }
        let ports = servers.map(\.port)
        for (index, receiver) in receivers.enumerated() {
            _ = try await ClusterLoad.createWebhook(
                port: ports[0], key: key, url: "https://localhost:\(receiver.port)/hook-\(index)")
        }

        let recorder = Recorder()
        let stopSending = SharedFlag()
        let load = Task {
            await send(ports: ports, key: key, recorder: recorder, stop: stopSending, clock: now)
        }
        func accepted(sentAfter start: Double = -1, process: Int? = nil) -> [Answer] {
            recorder.all.filter {
                $0.status == 202 && $0.sentAt >= start && (process == nil || $0.process == process)
            }
        }
        let warmedUp = await eventually(timeoutSeconds: 60) { accepted().count >= 1_000 }
        #expect(warmedUp, "only \(accepted().count) events were accepted in 60 s")

        // The outage: stop (fast: open sessions are cut), ten seconds of load against no database, start again.
        let stopBegan = now()
        try cluster.stop()
        let stopEnded = now()
        let health = try await HTTPClient.send("GET", "http://127.0.0.1:\(ports[0])/healthz", timeoutSeconds: 15)
        try await Task.sleep(for: .seconds(Self.outageSeconds))
        let runningDuringOutage = servers.map { $0.process.isRunning }
        let startBegan = now()
        try cluster.start()
        let startEnded = now()

        // Sending resumes with 202 on every process within a few seconds; then a little more load after it.
        var recovered: [Double] = []
        for process in 0..<Self.processCount {
            let back = await eventually(timeoutSeconds: Self.recoverySeconds + 20) {
                !accepted(sentAfter: startEnded, process: process).isEmpty
            }
            let first = accepted(sentAfter: startEnded, process: process).map(\.answeredAt).min()
            recovered.append(first.map { $0 - startEnded } ?? .infinity)
            #expect(back, "process \(process + 1) answered no 202 in \(Self.recoverySeconds + 20) s after the restart")
        }
        _ = await eventually(timeoutSeconds: 30) { accepted(sentAfter: startEnded).count >= 1_000 }
        stopSending.set()
        await load.value
        let sendingEnded = now()

        // Every answer by phase: before the stop only 202; while the database was away (sent after the stop
        // returned, answered before the start began) exactly our 503; around the stop and start, and after the
        // restart, 202 or that 503 (a pooled connection may learn only then that its server went away).
        let answers = recorder.all
        func isUnavailable(_ answer: Answer) -> Bool {
            answer.status == 503 && answer.body == ClusterLoad.unavailableBody && answer.retryAfter != nil
        }
        let failed = answers.filter { $0.error != nil }
        let before = answers.filter { $0.answeredAt < stopBegan }
        let during = answers.filter { $0.sentAt >= stopEnded && $0.answeredAt <= startBegan }
        let afterRestart = answers.filter { $0.sentAt >= startEnded }
        let around = answers.filter { answer in
            answer.answeredAt >= stopBegan && !(answer.sentAt >= stopEnded && answer.answeredAt <= startBegan)
                && answer.sentAt < startEnded
        }
        let wrongAfter = afterRestart.filter { $0.error == nil && $0.status != 202 && !isUnavailable($0) }
        let wrongBefore = before.filter { $0.error == nil && $0.status != 202 }
        let wrongDuring = during.filter { $0.error == nil && !isUnavailable($0) }
        let wrongAround = around.filter { $0.error == nil && $0.status != 202 && !isUnavailable($0) }
        let acceptedIDs = answers.compactMap { $0.status == 202 ? $0.eventID : nil }

        var tally = DeliveryTally(receivers, expecting: acceptedIDs)
        let delivered = await tally.waitForAll(timeoutSeconds: Self.deliveryTimeout)
        let deliveredAt = now()

        func describe(_ list: [Answer]) -> String {
            list.prefix(5).map {
                "process \($0.process + 1) \($0.status.map(String.init) ?? "-") \($0.body) \($0.error ?? "")"
            }
            .joined(separator: "; ")
        }
        func count(_ list: [Answer], _ status: Int) -> Int { list.filter { $0.status == status }.count }
        print(
            """
            postgres outage: stop took \(String(format: "%.1f", stopEnded - stopBegan)) s, start \
            \(String(format: "%.1f", startEnded - startBegan)) s; \(answers.count) requests: before \(before.count) \
            (\(count(before, 202)) × 202), during \(during.count) (\(count(during, 503)) × 503, \
            \(count(during, 202)) × 202), around the stop and start \(around.count) (\(count(around, 202)) × 202, \
            \(count(around, 503)) × 503), after the restart \(afterRestart.count) (\(count(afterRestart, 202)) × 202, \
            \(count(afterRestart, 503)) × 503), \(failed.count) without an answer; first 202 after the restart \
            \(recovered.map { String(format: "%.2f s", $0) }); \(acceptedIDs.count) events accepted, \
            \(acceptedIDs.count * receivers.count) deliveries expected, \(tally.requests) requests received, \
            \(tally.duplicates) duplicates, \(tally.missingCount) missing, all delivered \
            \(String(format: "%.1f", deliveredAt - sendingEnded)) s after sending stopped
            """)

        #expect(health.status == 503, "healthz during the outage: \(health.status) \(health.text)")
        #expect(runningDuringOutage.allSatisfy { $0 }, "a process died while the database was away")
        #expect(failed.isEmpty, "requests without an answer (\(failed.count)): \(describe(failed))")
        #expect(wrongBefore.isEmpty, "before the outage (\(wrongBefore.count)): \(describe(wrongBefore))")
        #expect(wrongDuring.isEmpty, "during the outage (\(wrongDuring.count)): \(describe(wrongDuring))")
        #expect(wrongAround.isEmpty, "around the stop and start (\(wrongAround.count)): \(describe(wrongAround))")
        #expect(wrongAfter.isEmpty, "after the restart (\(wrongAfter.count)): \(describe(wrongAfter))")
        for process in 0..<Self.processCount {
            #expect(
                during.contains { $0.process == process && isUnavailable($0) },
                "process \(process + 1) answered nothing while the database was away")
        }
        #expect(recovered.allSatisfy { $0 <= Self.recoverySeconds }, "first 202 after the restart: \(recovered) s")
        #expect(delivered, "never delivered (webhook index, event): \(tally.missingSample())")
        if !delivered {
            ClusterLoad.printDiagnosis(database, servers: servers.map(\.process))
        }

        print("  attempts: \(ClusterLoad.attemptSummary(database))")
        for (index, server) in servers.enumerated() {
            print("  process \(index + 1) log: \(ClusterLoad.logSummary(server.process))")
        }

        // Nothing crashed, and both processes still stop cleanly.
        for (index, server) in servers.enumerated() {
            #expect(server.process.isRunning, "process \(index + 1) died:\n\(server.process.stderr.suffix(2000))")
            server.process.signal(SIGTERM)
        }
        for (index, server) in servers.enumerated() {
            #expect(await ClusterLoad.waitForExit(server.process, seconds: 30), "process \(index + 1) ignored SIGTERM")
            server.process.kill()
            #expect(
                server.process.result.exitedNormally && server.process.result.status == 0, "\(server.process.result)")
        }
    }

    /// A restart of PostgreSQL while a process sits idle: every connection in its pool was cut, and none of them
    /// may turn the first requests after the database is back into 503s.
    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func aRestartWhileIdleCostsNoRequest() async throws {
        let directory = try ScratchDirectory("dw-outage")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_idle", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        let (server, port) = try await ServerProcess.startServer(
            ClusterLoad.serveArguments(database, caFile: ca.caFile), directory: directory.path)
        defer { server.kill() }

        /// 40 listings, 20 at a time: enough to use every connection of the pool (8) at once.
        func burst() async -> [String] {
            await withTaskGroup(of: String.self) { group in
                var results: [String] = []
                for index in 0..<40 {
                    if index >= 20, let result = await group.next() { results.append(result) }
                    group.addTask {
                        do {
                            let response = try await HTTPClient.send(
                                "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks.json",
                                headers: ClusterLoad.headers(key), timeoutSeconds: 15)
                            return response.status == 200 ? "200" : "\(response.status) \(response.text)"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                for await result in group { results.append(result) }
                return results
            }
        }

        let warm = await burst() + burst()
        #expect(warm.allSatisfy { $0 == "200" }, "before the restart: \(warm.filter { $0 != "200" }.prefix(3))")
        try cluster.stop()
        try cluster.start()
        let after = await burst()
        let failed = after.filter { $0 != "200" }
        print("idle restart: \(after.count - failed.count) of \(after.count) requests answered 200 right after it")
        #expect(failed.isEmpty, "after the restart (\(failed.count)): \(failed.prefix(3))")
        #expect(server.isRunning, "serve died:\n\(server.stderr.suffix(2000))")
    }

    /// A PostgreSQL server that freezes (every process stopped, connections left open, as a hung host does): each
    /// request waits at most about `--database-timeout` for a statement or libpq's 5 s connect timeout for a fresh
    /// connection, then gets the database 503, however many arrive at once (after the first slow failures the
    /// store refuses calls at once instead of letting each wait its turn); nothing hangs, and once the server runs
    /// again requests succeed and events accepted then are delivered.
    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func aFrozenServerCostsEachRequestABoundedWait() async throws {
        let directory = try ScratchDirectory("dw-frozen")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_frozen", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key)
        defer { receiver.stop() }
        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        let (server, port) = try await ServerProcess.startServer(
            ClusterLoad.serveArguments(database, caFile: ca.caFile, extra: ["--database-timeout", "2s"]),
            directory: directory.path)
        defer { server.kill() }
        _ = try await ClusterLoad.createWebhook(port: port, key: key, url: "https://localhost:\(receiver.port)/hook")
        let base = "http://127.0.0.1:\(port)"

        /// `count` requests at once (events, listings, health); each answer with how long it took.
        func burst(_ count: Int) async -> [(answer: String, seconds: Double)] {
            await withTaskGroup(of: (String, Double).self) { group in
                for index in 0..<count {
                    group.addTask {
                        let started = Date()
                        let answer: String
                        do {
                            let response =
                                switch index % 3 {
                                case 0:
                                    try await HTTPClient.send(
                                        "POST", "\(base)/2026-02-01/events.json", headers: ClusterLoad.headers(key),
                                        body: ClusterLoad.eventBody(index), timeoutSeconds: 60)
                                case 1:
                                    try await HTTPClient.send(
                                        "GET", "\(base)/2026-02-01/webhooks.json", headers: ClusterLoad.headers(key),
                                        timeoutSeconds: 60)
                                default:
                                    try await HTTPClient.send("GET", "\(base)/healthz", timeoutSeconds: 60)
                                }
                            answer = "\(response.status) \(response.text)"
                        } catch {
                            answer = "no answer: \(error)"
                        }
                        return (answer, Date().timeIntervalSince(started))
                    }
                }
                var results: [(String, Double)] = []
                for await result in group { results.append(result) }
                return results
            }
        }

        let warm = await burst(10)
        #expect(warm.allSatisfy { $0.answer.hasPrefix("20") }, "before the freeze: \(warm.map(\.answer))")
        try cluster.pause()
        var frozen: [(answer: String, seconds: Double)] = []
        do {
            defer { try? cluster.resume() }
            // Five times the API's eight store threads: without failing fast, the last would wait about five
            // connect timeouts.
            frozen = await burst(40) + burst(40)
        }
        let healthBody = #"{"error":"The store is not answering."}"#
        let wrong = frozen.filter {
            $0.answer != "503 \(ClusterLoad.unavailableBody)" && $0.answer != "503 \(healthBody)"
        }
        let slowest = frozen.map(\.seconds).max() ?? 0
        print("frozen server: \(frozen.count) requests, slowest answer \(String(format: "%.1f", slowest)) s")
        #expect(wrong.isEmpty, "while the server was frozen: \(wrong.prefix(3))")
        // 2 s for a statement on a pooled connection or 5 s for libpq to give up connecting, then refusals and one
        // probe at a time; without a deadline the first burst would wait until the server ran again, and without
        // failing fast the last of 40 would wait several connect timeouts in turn.
        #expect(slowest < 12, "the slowest answer took \(slowest) s")

        let back = await eventually(timeoutSeconds: 30) {
            let response = try? await HTTPClient.send(
                "POST", "\(base)/2026-02-01/events.json", headers: ClusterLoad.headers(key),
                body: ClusterLoad.eventBody(1_000), timeoutSeconds: 15)
            return response?.status == 202
        }
        #expect(back, "no event was accepted within 30 s of the server running again")
        let delivered = await eventually(timeoutSeconds: 60) {
            receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains(#""n":1000"#) }
        }
        #expect(delivered, "the event accepted after the freeze was not delivered")
        #expect(server.isRunning, "serve died:\n\(server.stderr.suffix(2000))")
        server.signal(SIGTERM)
        #expect(await ClusterLoad.waitForExit(server, seconds: 30), "serve ignored SIGTERM")
    }

    /// Attempts that finish while PostgreSQL is away are recorded once it is back (the store worker keeps them and
    /// tries again), not dropped until their leases expire and sent a second time.
    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func attemptsFinishedDuringAnOutageAreRecordedWhenItEnds() async throws {
        let directory = try ScratchDirectory("dw-record")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_record", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        // Each answer comes 2 s after its request: long enough to stop the database while all are in flight.
        let receiver = try HTTPSReceiver(certificate: ca.valid.certificate, key: ca.valid.key, delaySeconds: 2)
        defer { receiver.stop() }
        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        // Leases of 2 × (1 + 5) + 30 = 42 s: far beyond this test's waits, so nothing is sent twice by expiry.
        let (server, port) = try await ServerProcess.startServer(
            ClusterLoad.serveArguments(database, caFile: ca.caFile, extra: ["--request-timeout", "5"]),
            directory: directory.path)
        defer { server.kill() }
        _ = try await ClusterLoad.createWebhook(port: port, key: key, url: "https://localhost:\(receiver.port)/hook")
        for number in 0..<5 {
            let response = try await HTTPClient.send(
                "POST", "http://127.0.0.1:\(port)/2026-02-01/events.json", headers: ClusterLoad.headers(key),
                body: ClusterLoad.eventBody(number))
            #expect(response.status == 202, "\(response.text)")
        }
        let inFlight = await eventually(timeoutSeconds: 10) { receiver.requests.count == 5 }
        try #require(inFlight, "the receiver got \(receiver.requests.count) of 5 requests")
        try cluster.stop()
        try await Task.sleep(for: .seconds(4))  // every answer came back meanwhile; none could be recorded
        try cluster.start()

        func recorded() -> String {
            (try? Shell.run(
                "psql",
                [
                    "--no-psqlrc", "--tuples-only", "--no-align", "--dbname=\(database.url)",
                    "--command=SELECT count(*) FILTER (WHERE status = 'succeeded' AND attempt_count = 1), "
                        + "(SELECT count(*) FROM attempts) FROM deliveries",
                ]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "(no answer)"
        }
        let allRecorded = await eventually(timeoutSeconds: 15) { recorded() == "5|5" }
        #expect(allRecorded, "succeeded deliveries | attempts: \(recorded()) (5|5 expected)")
        #expect(receiver.requests.count == 5, "the receiver got \(receiver.requests.count) requests")
        #expect(server.isRunning, "serve died:\n\(server.stderr.suffix(2000))")
    }

    /// A 410 whose record cannot be made for half a lease: the attempt's record is given up like any other's (a later
    /// one could race another process that took the delivery after the lease), but not the disable. Before, it went
    /// with the record: once PostgreSQL was back the webhook showed as enabled, and the delivery that got the 410
    /// and the webhook's new ones were sent again a lease after it.
    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func aGoneAnsweredDuringALongerOutageStillDisablesTheWebhook() async throws {
        let directory = try ScratchDirectory("dw-gone-long")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_gone_long", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }
        // Every request answered 410, 3 s after it arrived.
        let receiver = try HTTPSReceiver(
            certificate: ca.valid.certificate, key: ca.valid.key, statuses: [410], delaySeconds: 3)
        defer { receiver.stop() }
        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        // Leases of 2 × (1 + 4) + 30 = 40 s: a record is tried again for 20 s.
        let (server, port) = try await ServerProcess.startServer(
            ClusterLoad.serveArguments(database, caFile: ca.caFile, extra: ["--request-timeout", "4"]),
            directory: directory.path)
        defer { server.kill() }
        let webhook = try await ClusterLoad.createWebhook(
            port: port, key: key, url: "https://localhost:\(receiver.port)/hook")
        let first = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(port)/2026-02-01/events.json", headers: ClusterLoad.headers(key),
            body: ClusterLoad.eventBody(0))
        #expect(first.status == 202, "\(first.text)")
        try #require(await eventually(timeoutSeconds: 10) { receiver.requests.count == 1 })
        let goneAt = receiver.requests[0].receivedAt + 3
        try cluster.stop()
        try await Task.sleep(for: .seconds(24))  // the 410 comes 2 s in; the database is back 22 s after it
        try cluster.start()

        var status: Int?
        for _ in 0..<100 where status != 202 {
            status = try? await HTTPClient.send(
                "POST", "http://127.0.0.1:\(port)/2026-02-01/events.json", headers: ClusterLoad.headers(key),
                body: ClusterLoad.eventBody(1)
            ).status
            if status != 202 { try await Task.sleep(for: .milliseconds(100)) }
        }
        let disabled = await eventually(timeoutSeconds: 5) {
            let shown = try? await HTTPClient.send(
                "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks/\(webhook.id).json",
                headers: ClusterLoad.headers(key), body: nil)
            return shown?.json?["status"] as? String == "disabled"
        }
        #expect(disabled, "the webhook is still enabled \(Date().timeIntervalSince1970 - goneAt) s after its 410")
        // Past the lease of the first delivery (40 s after its claim).
        try await Task.sleep(for: .seconds(max(0, goneAt + 42 - Date().timeIntervalSince1970)))
        let late = receiver.requests.map { $0.receivedAt - goneAt }.filter { $0 > 0 }
        #expect(late.isEmpty, "\(late.count) requests arrived after the 410, \(late) s after it")
    }

    /// `serve` waiting at start for the database (here: for another process's migration, whose advisory lock a
    /// psql session holds) stops on SIGTERM at once with a clear line, instead of only once the lock is released.
    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func aStartWaitingOnTheDatabaseStopsOnSIGTERM() async throws {
        let directory = try ScratchDirectory("dw-start")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_start", directory: directory.path)
        // The migrations' advisory lock key ("dwmigrat"), held for a minute by another session.
        let holder = try Shell.startPSQL(
            url: database.url, "SELECT pg_advisory_lock(\(0x6477_6d69_6772_6174)), pg_sleep(60)")
        defer { holder.terminate() }
        let held = await eventually(timeoutSeconds: 10) {
            let count = try? Shell.run(
                "psql",
                [
                    "--no-psqlrc", "--tuples-only", "--no-align", "--dbname=\(database.url)",
                    "--command=SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
                ])
            return count?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        try #require(held, "psql did not take the advisory lock")

        let server = try ServerProcess(
            ["serve", "--listen", "127.0.0.1:\(try ServerProcess.freePort())"] + database.arguments,
            directory: directory.path)
        defer { server.kill() }
        try await Task.sleep(for: .seconds(2))
        #expect(server.isRunning, "serve should still be waiting for the lock:\n\(server.stderr)")
        server.signal(SIGTERM)
        let stopped = await ClusterLoad.waitForExit(server, seconds: 5)
        #expect(stopped, "serve did not stop within 5 s of SIGTERM while waiting on the database")
        server.kill()
        #expect(server.result.exitedNormally && server.result.status == 1, "\(server.result)")
        #expect(server.stderr.contains("error: stopped by a signal before start-up finished"), "\(server.stderr)")
    }

    /// `senders` clients send events until `stop` is set, sender i to process i mod 2, pausing 5 ms between
    /// requests, and record every answer (or failure) with when it was sent and answered.
    private func send(
        ports: [Int], key: String, recorder: Recorder, stop: SharedFlag, clock: @escaping @Sendable () -> Double
    ) async {
        let fields = ClusterLoad.headers(key)
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<Self.senders {
                group.addTask {
                    let process = sender % ports.count
                    let url = "http://127.0.0.1:\(ports[process])/2026-02-01/events.json"
                    var number = 0
                    while !stop.isSet {
                        number += 1
                        let sentAt = clock()
                        var answer = Answer(process: process, sentAt: sentAt, answeredAt: sentAt, body: "")
                        do {
                            let response = try await HTTPClient.send(
                                "POST", url, headers: fields, body: ClusterLoad.eventBody(number), timeoutSeconds: 15)
                            answer.status = response.status
                            answer.body = response.text
                            answer.retryAfter = response.header("Retry-After")
                            answer.eventID = response.status == 202 ? response.json?["id"] as? String : nil
                        } catch {
                            answer.error = String(describing: error)
                        }
                        answer.answeredAt = clock()
                        recorder.add(answer)
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
        }
    }
}
