import Foundation
import WebhookCore

/// Resolves host names with the system resolver, as libcurl will when it connects.
enum HostResolver {
    /// One address a host resolved to.
    struct Address: Sendable {
        var text: String
        var isPublic: Bool
    }

    struct ResolutionError: Error {
        var message: String
    }

    /// Every address of `host`, or the resolver's error. Blocks; call it off the event loops.
    static func resolve(host: String, port: Int) -> Result<[Address], ResolutionError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &info)
        guard status == 0 else {
            return .failure(ResolutionError(message: String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(info) }

        var addresses: [Address] = []
        var current = info
        while let entry = current {
            if let address = entry.pointee.ai_addr {
                addresses.append(
                    Address(text: describe(address), isPublic: AddressClassifier.isPublic(sockaddr: address)))
            }
            current = entry.pointee.ai_next
        }
        guard !addresses.isEmpty else { return .failure(ResolutionError(message: "no addresses")) }
        return .success(addresses)
    }

    private static func describe(_ address: UnsafePointer<sockaddr>) -> String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let length = socklen_t(
            Int32(address.pointee.sa_family) == AF_INET6
                ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else {
            return "?"
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
