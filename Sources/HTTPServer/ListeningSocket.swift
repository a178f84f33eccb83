import CLibEvent
import Foundation

/// Opens the one listening socket the event loops share. It is bound without `SO_REUSEPORT`, so a second
/// process on the same address fails with "address in use" instead of silently splitting the traffic.
enum ListeningSocket {
    /// Binds a non-blocking listening socket and returns it with the port it got.
    static func open(host: String, port: Int) throws -> (fd: Int32, port: Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var info: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &info)
        guard status == 0, let first = info else {
            let reason = String(cString: gai_strerror(status))
            throw HTTPServerError(operation: "resolve listen address \(host)", message: reason)
        }
        defer { freeaddrinfo(info) }

        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw posixError("socket") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))

        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let error = posixError("bind \(host):\(port)")
            close(fd)
            throw error
        }
        guard listen(fd, 1024) == 0 else {
            let error = posixError("listen")
            close(fd)
            throw error
        }
        guard evutil_make_socket_nonblocking(fd) == 0 else {
            close(fd)
            throw posixError("make socket non-blocking")
        }
        return (fd, try boundPort(fd))
    }

    private static func boundPort(_ fd: Int32) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw posixError("getsockname") }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
        default:
            throw HTTPServerError(operation: "getsockname", message: "unexpected address family")
        }
    }

    private static func posixError(_ operation: String) -> HTTPServerError {
        HTTPServerError(operation: operation, message: String(cString: strerror(errno)))
    }
}
