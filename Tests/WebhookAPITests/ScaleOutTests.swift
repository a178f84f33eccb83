import Foundation
import TestSupport
import Testing

/// Three `serve` processes on one PostgreSQL database (a private server of the test's own), 10,000 events to 10
/// webhooks, one process killed with `kill -9` half way: what one process creates the others see at once, every
/// accepted event reaches every subscriber, and the duplicates stay few.
@Suite(.serialized, .timeLimit(.minutes(8))) struct ScaleOutTests {
    static let processCount = 3
    static let webhookCount = 10
    static let eventCount = 10_000
    /// Concurrent clients sending events.
    static let senders = 12
    /// `serve`'s default `--max-in-flight-per-endpoint`. The store caps each webhook's unexpired leases across
    /// every process, so a killed process can hold at most this many claims per webhook: each of them may have
    /// reached its receiver without being recorded, and is sent again once its lease expires. That makes 200 the
    /// bound on duplicates from the kill. The only other source is an attempt that reached a receiver but passed
    /// the 2 s request timeout before its answer was read (the receivers answer at once, but the machine is
    /// saturated); runs here saw 14-77 duplicates in all, so the test holds the total to the kill's 200.
    static let maxInFlightPerEndpoint = 20
    /// Longest wait for every delivery after the last event was accepted. Measured on the 2-core machine: the
    /// last delivery arrives 94-162 s after the last 202 with another engineer's tests running beside, and 223 s
    /// once while two Swift builds ran too (700-1,300 deliveries a second once intake is done, each process's
    /// dispatcher recording one attempt at a time; the killed process's claims wait 36 s for their leases and hold
    /// their webhooks' slots meanwhile). Three times that would pass five minutes; this stays just under.
    static let deliveryTimeout: Double = 290

    /// What the senders ran into besides 202 from a live process.
    struct Trouble: Sendable {
        var answers: [String] = []
        var errors: [String] = []
    }

    @Test(.enabled(if: ClusterSuites.runHere, ClusterSuites.whyNot))
    func threeProcessesShareTheWorkAndSurviveAKill() async throws {
        let started = Date()
        let directory = try ScratchDirectory("dw-scale")
        defer { directory.remove() }
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        let database = try ClusterLoad.Database(cluster: cluster, name: "dw_scale", directory: directory.path)
        let ca = try TestCertificateAuthority()
        defer { ca.remove() }

        // One receiver process per webhook, so that the receivers' TLS and parsing spread over both cores rather
        // than queue behind one Python interpreter. The first one checks every signature with the official
        // library against its webhook's token (written once the webhook exists).
        let secretsFile = "\(directory.path)/secrets.txt"
        var receivers: [HTTPSReceiver] = []
        defer { receivers.forEach { $0.stop() } }
        for index in 0..<Self.webhookCount {
            receivers.append(
                try HTTPSReceiver(
                    certificate: ca.valid.certificate, key: ca.valid.key, secretsFile: index == 0 ? secretsFile : nil))
        }

        let key = try ClusterLoad.makeKey(database, directory: directory.path)
        let arguments = ClusterLoad.serveArguments(database, caFile: ca.caFile)
        let servers = try await ClusterLoad.startServers(
            Self.processCount, arguments: arguments, directory: directory.path)
        defer { servers.forEach { $0.process.kill() } }
        let ports = servers.map(\.port)

        // Webhooks created through the first process are visible through the others at once.
        var webhookIDs: [String] = []
        for (index, receiver) in receivers.enumerated() {
            let url = "https://localhost:\(receiver.port)/hook-\(index)"
            let (id, token) = try await ClusterLoad.createWebhook(port: ports[0], key: key, url: url)
            webhookIDs.append(id)
            if index == 0 {
                try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: secretsFile))
            }
            for port in ports.dropFirst() {
                let shown = try await HTTPClient.send(
                    "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks/\(id).json",
                    headers: ClusterLoad.headers(key))
                #expect(shown.status == 200, "webhook \(index) through port \(port): \(shown.text)")
                #expect(shown.json?["id"] as? String == id && shown.json?["url"] as? String == url, "\(shown.text)")
            }
        }
        for port in ports.dropFirst() {
            let list = try await HTTPClient.send(
                "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks.json?size=100", headers: ClusterLoad.headers(key))
            #expect(list.status == 200, "\(list.text)")
            #expect(list.json?["count"] as? Int == Self.webhookCount, "\(list.text)")
            let listed = (list.json?["elements"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(listed == webhookIDs, "listed through port \(port): \(listed)")
        }

        // 10,000 events round robin over the processes; the last one is killed once half are accepted.
        let ledger = EventLedger()
        let killed = SharedFlag()
        let sendingStarted = Date()
        let load = Task { await send(ports: ports, key: key, ledger: ledger, killed: killed) }
        let reachedHalf = await eventually(timeoutSeconds: 120) { ledger.count >= Self.eventCount / 2 }
        killed.set()
        let victim = servers[Self.processCount - 1].process
        victim.signal(SIGKILL)
        let killedAt = Date()
        let acceptedBeforeKill = ledger.count
        #expect(reachedHalf, "only \(acceptedBeforeKill) events were accepted in 120 s")
        #expect(await ClusterLoad.waitForExit(victim, seconds: 5), "serve still ran 5 s after SIGKILL")
        #expect(!victim.result.exitedNormally && victim.result.status == SIGKILL, "\(victim.result)")

        let trouble = await load.value
        let sendingEnded = Date()
        let accepted = ledger.accepted
        #expect(
            trouble.answers.isEmpty, "answers other than 202 (\(trouble.answers.count)): \(trouble.answers.prefix(5))")
        #expect(trouble.errors.isEmpty, "failed requests to live processes: \(trouble.errors.prefix(5))")
        #expect(accepted.count == Self.eventCount)
        #expect(Set(accepted).count == accepted.count, "an event id was answered twice")

        // Every accepted event reaches every webhook at least once.
        var tally = DeliveryTally(receivers, expecting: accepted)
        let delivered = await tally.waitForAll(timeoutSeconds: Self.deliveryTimeout)
        let deliveredAt = Date()
        let expected = accepted.count * Self.webhookCount
        let signed = receivers[0].requests
        let badSignatures = signed.filter { $0.verified != [true] }.count
        print(
            """
            scale-out: \(Self.processCount) processes, \(Self.webhookCount) webhooks, \(accepted.count) events \
            accepted (\(acceptedBeforeKill) before kill -9 of process \(Self.processCount) at \
            \(String(format: "%.1f", killedAt.timeIntervalSince(sendingStarted))) s), sent in \
            \(String(format: "%.1f", sendingEnded.timeIntervalSince(sendingStarted))) s; \(expected) expected \
            deliveries, \(tally.requests) requests received, \(tally.duplicates) duplicates \
            (bound \(Self.maxInFlightPerEndpoint * Self.webhookCount)), \
            \(tally.unacknowledged) deliveries of events never answered 202, \(tally.missingCount) missing; \
            all delivered \(String(format: "%.1f", deliveredAt.timeIntervalSince(sendingEnded))) s after the last \
            202 (\(String(format: "%.1f", deliveredAt.timeIntervalSince(sendingStarted))) s after the first \
            event); \(signed.count) signatures checked, \(badSignatures) bad; test \
            \(ClusterLoad.seconds(since: started)) s
            """)
        #expect(delivered, "never delivered (webhook index, event): \(tally.missingSample())")
        if !delivered {
            ClusterLoad.printDiagnosis(database, servers: servers.map(\.process))
        }
        #expect(tally.duplicates <= Self.maxInFlightPerEndpoint * Self.webhookCount)
        #expect(!signed.isEmpty && badSignatures == 0, "\(badSignatures) of \(signed.count) signatures did not verify")

        print("  attempts: \(ClusterLoad.attemptSummary(database))")
        for (index, server) in servers.enumerated() {
            print("  process \(index + 1) log: \(ClusterLoad.logSummary(server.process))")
        }

        // The survivors are still up and stop cleanly.
        for (index, server) in servers.dropLast().enumerated() {
            #expect(server.process.isRunning, "process \(index + 1) died:\n\(server.process.stderr.suffix(2000))")
            #expect(
                ClusterLoad.errorLines(server.process).isEmpty,
                "process \(index + 1) logged errors:\n\(ClusterLoad.errorLines(server.process).prefix(10))")
            server.process.signal(SIGTERM)
        }
        for (index, server) in servers.dropLast().enumerated() {
            #expect(await ClusterLoad.waitForExit(server.process, seconds: 30), "process \(index + 1) ignored SIGTERM")
            server.process.kill()
            #expect(
                server.process.result.exitedNormally && server.process.result.status == 0, "\(server.process.result)")
        }
    }

    /// `senders` clients send events until `eventCount` have been answered 202: ticket n goes to process n mod 3,
    /// and once `killed` is set, to the two survivors only; a request the killed process did not answer is sent
    /// again to a survivor (as a new event: the one cut off may or may not have been accepted).
    private func send(ports: [Int], key: String, ledger: EventLedger, killed: SharedFlag) async -> Trouble {
        let fields = ClusterLoad.headers(key)
        let victim = ports.count - 1
        return await withTaskGroup(of: Trouble.self) { group in
            for _ in 0..<Self.senders {
                group.addTask {
                    var trouble = Trouble()
                    while let ticket = ledger.take(below: Self.eventCount) {
                        var attempt = 0
                        while true {
                            let alive = killed.isSet ? ports.count - 1 : ports.count
                            let target = (ticket + attempt) % alive
                            attempt += 1
                            let url = "http://127.0.0.1:\(ports[target])/2026-02-01/events.json"
                            do {
                                let response = try await HTTPClient.send(
                                    "POST", url, headers: fields, body: ClusterLoad.eventBody(ticket),
                                    timeoutSeconds: 30)
                                if response.status == 202, let id = response.json?["id"] as? String {
                                    ledger.accept(id)
                                    if response.json?["deliveries"] as? Int != Self.webhookCount {
                                        trouble.answers.append("process \(target + 1): \(response.text)")
                                    }
                                    break
                                }
                                trouble.answers.append("process \(target + 1): \(response.status) \(response.text)")
                                break
                            } catch {
                                if target == victim && killed.isSet { continue }
                                trouble.errors.append("process \(target + 1): \(error)")
                                break
                            }
                        }
                    }
                    return trouble
                }
            }
            var all = Trouble()
            for await trouble in group {
                all.answers += trouble.answers
                all.errors += trouble.errors
            }
            return all
        }
    }
}
