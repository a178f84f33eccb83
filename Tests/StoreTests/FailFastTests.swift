import Foundation
import Testing

@testable import Store

@Suite struct FailFastTests {
    @Test func onlySlowFailuresRefuseAndOneProbeAtATimeFindsTheWayBack() throws {
        let gate = FailFast()
        #expect(gate.admit() == .go)
        // A refused connection fails at once: nothing changes.
        gate.failed(after: 0.01, message: "connection refused", admission: .go)
        #expect(gate.admit() == .go)

        gate.failed(after: 5, message: "the server did not answer within 5 s", admission: .go)
        let refusal = "the database did not answer lately (the server did not answer within 5 s); trying again shortly"
        #expect(gate.admit() == .refuse(refusal))

        Thread.sleep(forTimeInterval: FailFast.interval + 0.1)
        #expect(gate.admit() == .probe)
        #expect(gate.admit() == .refuse(refusal), "a second call while the probe is out")
        // The probe failed fast (the server now refuses): refused again until the next interval passes.
        gate.failed(after: 0.01, message: "connection refused", admission: .probe)
        #expect(gate.admit() == .refuse(refusal))

        Thread.sleep(forTimeInterval: FailFast.interval + 0.1)
        #expect(gate.admit() == .probe)
        gate.answered()
        #expect(gate.admit() == .go)
        #expect(gate.admit() == .go)
    }
}
