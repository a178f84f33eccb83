import Foundation
import Locking

/// A fixed set of threads for blocking work (database calls), so it never runs on an event loop or on Swift's
/// cooperative pool.
final class BlockingPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopped = false
    }

    private let state = Locked(State())
    private let available = DispatchSemaphore(value: 0)
    private let threadCount: Int

    /// Starts `threads` worker threads.
    init(threads: Int, name: String) {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Runs `body` on a pool thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.jobs.append { continuation.resume(with: Result { try body() }) }
                return true
            }
            if accepted {
                available.signal()
            } else {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Lets queued work finish, then ends the threads.
    func stop() {
        state.withLock { $0.stopped = true }
        for _ in 0..<threadCount {
            available.signal()
        }
    }

    private func work() {
        while true {
            available.wait()
            let job = state.withLock { state -> (@Sendable () -> Void)? in
                state.jobs.isEmpty ? nil : state.jobs.removeFirst()
            }
            if let job {
                job()
            } else if state.withLock({ $0.stopped }) {
                return
            }
        }
    }
}
