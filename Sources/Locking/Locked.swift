// Locking: one small lock type for state shared between threads on the hot paths.
//
// It exists because the toolchain's `Synchronization.Mutex` spins for a long time before it sleeps on Linux
// (measured by bench/run: a third of a request's CPU spinning in the connection pool under load); a pthread
// mutex through `NSLock` parks the waiter at once. It knows nothing else.

import Foundation

/// A value guarded by a pthread mutex: every access goes through `withLock`.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is read and written only inside `withLock`, under `lock`.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
