#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decides whether an IP address is a public unicast internet address a delivery may connect to.
///
/// Loopback, private, link-local, shared, documentation, benchmarking, multicast and reserved ranges are refused,
/// as are IPv6 addresses that embed a refused IPv4 address (IPv4-mapped, IPv4-compatible, NAT64).
public enum AddressClassifier {
    /// IPv4 blocks that are never public: network address and prefix length.
    private static let refusedIPv4: [(network: UInt32, length: UInt32)] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
        (0x0a00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10),  // 100.64.0.0/10 shared address space (carrier-grade NAT)
        (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
        (0xa9fe_0000, 16),  // 169.254.0.0/16 link-local, cloud metadata
        (0xac10_0000, 12),  // 172.16.0.0/12 private
        (0xc000_0000, 24),  // 192.0.0.0/24 IETF protocol assignments
        (0xc000_0200, 24),  // 192.0.2.0/24 documentation
        (0xc058_6300, 24),  // 192.88.99.0/24 6to4 relay anycast
        (0xc0a8_0000, 16),  // 192.168.0.0/16 private
        (0xc612_0000, 15),  // 198.18.0.0/15 benchmarking
        (0xc633_6400, 24),  // 198.51.100.0/24 documentation
        (0xcb00_7100, 24),  // 203.0.113.0/24 documentation
        (0xe000_0000, 4),  // 224.0.0.0/4 multicast
        (0xf000_0000, 4),  // 240.0.0.0/4 reserved, including 255.255.255.255
    ]

    /// Whether a 4-byte IPv4 or 16-byte IPv6 address in network order is public; any other length is not.
    public static func isPublic(bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4: isPublicIPv4(bytes)
        case 16: isPublicIPv6(bytes)
        default: false
        }
    }

    /// Whether an IPv4 address given as its four octets is public.
    public static func isPublic(ipv4: (UInt8, UInt8, UInt8, UInt8)) -> Bool {
        isPublicIPv4([ipv4.0, ipv4.1, ipv4.2, ipv4.3])
    }

    /// Whether an IP literal is public, or `nil` when `literal` is not an IP address.
    ///
    /// Accepts dotted-quad IPv4 and IPv6 with or without brackets. An IPv6 address with a zone id such as
    /// `fe80::1%eth0` names a local interface and is never public.
    public static func isPublic(literal: String) -> Bool? {
        var text = Substring(literal)
        if text.hasPrefix("[") && text.hasSuffix("]") && text.count >= 2 {
            text = text.dropFirst().dropLast()
        }

        if let zoneStart = text.firstIndex(of: "%") {
            return parseIPv6(String(text[..<zoneStart])) == nil ? nil : false
        }

        if let bytes = parseIPv4(String(text)) ?? parseIPv6(String(text)) {
            return isPublic(bytes: bytes)
        }
        return nil
    }

    /// Whether the address a socket is about to connect to is public; families other than IPv4 and IPv6 are not.
    public static func isPublic(sockaddr address: UnsafePointer<sockaddr>) -> Bool {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
            return isPublicIPv4(bytes)

        case AF_INET6:
            let (bytes, scope) = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                (withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }, pointer.pointee.sin6_scope_id)
            }
            return scope == 0 && isPublicIPv6(bytes)

        default:
            return false
        }
    }

    /// Strict dotted-quad IPv4 in network order, via `inet_pton`.
    static func parseIPv4(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    /// IPv6 in network order, via `inet_pton`.
    static func parseIPv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    private static func isPublicIPv4(_ bytes: [UInt8]) -> Bool {
        let value = bytes.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
        return !refusedIPv4.contains { block in
            let mask = UInt32.max << (32 - block.length)
            return value & mask == block.network
        }
    }

    private static func isPublicIPv6(_ bytes: [UInt8]) -> Bool {
        let embedded = Array(bytes[12..<16])

        // ::ffff:0:0/96 IPv4-mapped, ::/96 IPv4-compatible (and :: and ::1), 64:ff9b::/96 NAT64.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return isPublicIPv4(embedded)
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) {
            return isPublicIPv4(embedded)
        }
        if bytes[0..<4] == [0x00, 0x64, 0xff, 0x9b] && bytes[4..<12].allSatisfy({ $0 == 0 }) {
            return isPublicIPv4(embedded)
        }

        // Only global unicast 2000::/3 can be public.
        guard bytes[0] & 0xe0 == 0x20 else { return false }

        let isIETFProtocol = bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] & 0xfe == 0x00  // 2001::/23
        let isDocumentation = bytes[0..<4] == [0x20, 0x01, 0x0d, 0xb8]  // 2001:db8::/32
        let is6to4 = bytes[0] == 0x20 && bytes[1] == 0x02  // 2002::/16
        let isNewDocumentation = bytes[0] == 0x3f && bytes[1] == 0xff && bytes[2] & 0xf0 == 0x00  // 3fff::/20
        return !(isIETFProtocol || isDocumentation || is6to4 || isNewDocumentation)
    }
}
