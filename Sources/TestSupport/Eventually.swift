import Foundation

/// Polls `condition` every 50 ms until it holds or `timeoutSeconds` pass; returns whether it held.
public func eventually(timeoutSeconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
