import Foundation

/// Sends raw bytes over one TCP connection and collects everything the server answers until it closes the
/// connection or `timeoutSeconds` pass: for tests of what crosses the wire, byte for byte.
public enum RawConnection {
    /// Connects to 127.0.0.1:`port`, writes `request`, and returns the bytes received.
    /// - Parameter closeAfterSending: hang up right after writing, reading nothing (a client that went away).
    public static func exchange(
        port: Int, request: [UInt8], timeoutSeconds: Int = 5, closeAfterSending: Bool = false
    ) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result { try exchangeBlocking(port, request, timeoutSeconds, closeAfterSending) })
            }.start()
        }
    }

    private static func exchangeBlocking(_ port: Int, _ request: [UInt8], _ timeout: Int, _ hangUp: Bool) throws
        -> [UInt8]
    {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw Shell.Failure(command: "connect", status: errno, output: "") }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if hangUp {
            var abort = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
            return []
        }

        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return received
    }
}
