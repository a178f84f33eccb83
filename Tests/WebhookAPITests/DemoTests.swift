import Foundation
import TestSupport
import Testing

/// `donutwork-webhooks demo` as a new user runs it: three verified events, curl commands to go on, and a clean
/// exit on Ctrl-C that leaves nothing behind.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DemoTests {
    @Test func showsThreeVerifiedEventsAndCleansUpOnSIGINT() async throws {
        let directory = try ScratchDirectory("dw-demo-test")
        defer { directory.remove() }
        let demo = try ServerProcess(["demo"], directory: directory.path)
        defer { demo.kill() }

        let arrived = await eventually(timeoutSeconds: 60) {
            demo.stdout.contains("All 3 events arrived") || !demo.isRunning
        }
        #expect(arrived, "stdout: \(demo.stdout)\nstderr: \(demo.stderr)")
        let temporary = try #require(
            demo.stderr.firstMatch(of: /demo directory: (\S+) \(removed on exit\)/).map { String($0.1) },
            "\(demo.stderr)")
        #expect(FileManager.default.fileExists(atPath: temporary))

        let events = demo.stdout.components(separatedBy: "\n").filter {
            $0.wholeMatch(of: /event evt_\w+ RecurringPayments\.charge\.(paid|failed) attempt-time \S+Z/) != nil
        }
        #expect(events.count == 3, "\(demo.stdout)")
        #expect(demo.stdout.contains(#""reason" : "card_declined""#), "\(demo.stdout)")
        #expect(!demo.stderr.contains("rejected"), "\(demo.stderr)")

        // The printed commands work as shown: the key and the port are real.
        let key = try #require(demo.stdout.firstMatch(of: /KEY=(dwk_\S+)/).map { String($0.1) }, "\(demo.stdout)")
        let api = try #require(demo.stdout.firstMatch(of: /API=(\S+)/).map { String($0.1) }, "\(demo.stdout)")
        let emitted = try await HTTPClient.send(
            "POST", "\(api)/events.json",
            headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"],
            body: Array(#"{"event":{"type":"RecurringPayments.charge.paid","data":{"amount":990}}}"#.utf8))
        #expect(emitted.status == 202, "\(emitted.text)")
        let id = try #require(emitted.json?["id"] as? String)
        #expect(
            await eventually(timeoutSeconds: 15) { demo.stdout.contains("event \(id) ") }, "\(demo.stdout)")

        demo.signal(SIGINT)
        let start = Date()
        let exited = await eventually(timeoutSeconds: 10) { !demo.isRunning }
        #expect(exited, "still running 10 s after SIGINT")
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(demo.result.status == 0 && demo.result.exitedNormally, "\(demo.result)")
        #expect(!FileManager.default.fileExists(atPath: temporary), "\(temporary) is still there")
    }
}
