import Foundation
import Synchronization

/// A plain TCP listener on 127.0.0.1 that accepts connections, counts them, and never sends a byte: a receiver
/// that never speaks TLS, and a witness that no connection was made.
public final class TCPListener: Sendable {
    /// Counts and holds accepted connections; shared with the accepting thread.
    private final class Connections: Sendable {
        let accepted = Atomic<Int>(0)
        let open = Mutex<[Int32]>([])
    }

    public let port: Int
    private let fd: Int32
    private let connections = Connections()

    /// Binds an ephemeral port and starts accepting on a thread.
    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && listen(fd, 64) == 0
                    && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw Shell.Failure(command: "bind", status: errno, output: "TCP listener failed") }
        port = Int(UInt16(bigEndian: address.sin_port))

        let thread = Thread { [connections] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                connections.accepted.add(1, ordering: .relaxed)
                connections.open.withLock { $0.append(client) }
            }
        }
        thread.start()
    }

    /// Connections accepted so far.
    public var connectionCount: Int { connections.accepted.load(ordering: .relaxed) }

    /// Closes the listener and every connection it holds.
    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        connections.open.withLock { clients in
            clients.forEach { close($0) }
            clients.removeAll()
        }
    }
}
