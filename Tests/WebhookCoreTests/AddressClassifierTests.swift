import Foundation
import Testing

@testable import WebhookCore

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Public address classification")
struct AddressClassifierTests {
    /// Each refused IPv4 block: an address inside it and the nearest public address just outside it.
    static let ipv4Blocks: [(inside: String, outside: String)] = [
        ("0.0.0.0", "1.0.0.0"),
        ("10.255.255.255", "11.0.0.0"),
        ("100.64.0.0", "100.63.255.255"),
        ("100.127.255.255", "100.128.0.0"),
        ("127.0.0.1", "128.0.0.0"),
        ("169.254.169.254", "169.255.0.0"),
        ("172.16.0.0", "172.15.255.255"),
        ("172.31.255.255", "172.32.0.0"),
        ("192.0.0.255", "192.0.1.0"),
        ("192.0.2.1", "192.0.3.0"),
        ("192.88.99.1", "192.88.98.255"),
        ("192.168.0.1", "192.169.0.0"),
        ("198.18.0.0", "198.17.255.255"),
        ("198.19.255.255", "198.20.0.0"),
        ("198.51.100.7", "198.51.101.0"),
        ("203.0.113.9", "203.0.112.255"),
        ("224.0.0.1", "223.255.255.255"),
        ("239.255.255.255", "8.8.8.8"),
        ("240.0.0.0", "93.184.216.34"),
        ("255.255.255.255", "1.1.1.1"),
    ]

    /// Each refused IPv6 range: an address inside it and the nearest public address just outside it.
    static let ipv6Blocks: [(inside: String, outside: String)] = [
        ("2001::1", "2001:200::1"),
        ("2001:0:4136:e378::1", "2001:200::"),
        ("2001:1ff:ffff::1", "2001:200::"),
        ("2001:10::1", "2001:4860:4860::8888"),
        ("2001:db8::1", "2001:db9::"),
        ("2001:db8:ffff::1", "2001:db7:ffff::1"),
        ("2002::1", "2003::"),
        ("2002:ffff::1", "2001:ffff::1"),
        ("3fff::1", "3fff:1000::"),
        ("3fff:fff:ffff::1", "3ffe:ffff::1"),
        ("1fff:ffff::1", "2000::"),
        ("4000::1", "3fff:ffff::1"),
        ("::", "2606:4700::1111"),
        ("::1", "2a00:1450:4001::1"),
        ("fc00::1", "2620:fe::fe"),
        ("fd12:3456::1", "2400:cb00::1"),
        ("fe80::1", "2c0f:fb50::1"),
        ("fec0::1", "2001:4860::1"),
        ("ff02::1", "2001:4860::1"),
        ("100::1", "2001:4860::1"),
        ("64:ff9b:1::1", "64:ff9b::808:808"),
    ]

    /// IPv6 forms that embed an IPv4 address: a refused embedding and a public one.
    static let embedded: [(inside: String, outside: String)] = [
        ("::ffff:127.0.0.1", "::ffff:8.8.8.8"),
        ("::ffff:7f00:1", "::ffff:808:808"),
        ("::ffff:10.0.0.1", "::ffff:11.0.0.1"),
        ("::127.0.0.1", "::8.8.8.8"),
        ("::a9fe:a9fe", "::5db8:d822"),
        ("64:ff9b::a00:1", "64:ff9b::808:808"),
        ("64:ff9b::169.254.169.254", "64:ff9b::1.1.1.1"),
    ]

    @Test(arguments: ipv4Blocks)
    func ipv4BlocksAreRefusedAndTheirNeighboursAccepted(_ pair: (inside: String, outside: String)) {
        #expect(AddressClassifier.isPublic(literal: pair.inside) == false)
        #expect(AddressClassifier.isPublic(literal: pair.outside) == true)
    }

    @Test(arguments: ipv6Blocks)
    func ipv6RangesAreRefusedAndTheirNeighboursAccepted(_ pair: (inside: String, outside: String)) {
        #expect(AddressClassifier.isPublic(literal: pair.inside) == false)
        #expect(AddressClassifier.isPublic(literal: pair.outside) == true)
    }

    @Test(arguments: embedded)
    func embeddedIPv4AddressesAreJudgedAsIPv4(_ pair: (inside: String, outside: String)) {
        #expect(AddressClassifier.isPublic(literal: pair.inside) == false)
        #expect(AddressClassifier.isPublic(literal: pair.outside) == true)
    }

    @Test func literalsAcceptBracketsAndRefuseZones() {
        #expect(AddressClassifier.isPublic(literal: "[2606:4700::1111]") == true)
        #expect(AddressClassifier.isPublic(literal: "[::1]") == false)
        #expect(AddressClassifier.isPublic(literal: "fe80::1%eth0") == false)
        #expect(AddressClassifier.isPublic(literal: "[2606:4700::1111%eth0]") == false)
    }

    @Test func nonLiteralsGiveNil() {
        #expect(AddressClassifier.isPublic(literal: "example.com") == nil)
        #expect(AddressClassifier.isPublic(literal: "") == nil)
        #expect(AddressClassifier.isPublic(literal: "127.1") == nil)
        #expect(AddressClassifier.isPublic(literal: "256.0.0.1") == nil)
        #expect(AddressClassifier.isPublic(literal: "[]") == nil)
        #expect(AddressClassifier.isPublic(literal: "nothing%eth0") == nil)
    }

    @Test func byteAndTupleFormsAgree() {
        #expect(AddressClassifier.isPublic(bytes: [8, 8, 8, 8]))
        #expect(!AddressClassifier.isPublic(bytes: [127, 0, 0, 1]))
        #expect(!AddressClassifier.isPublic(bytes: [8, 8, 8]))
        #expect(!AddressClassifier.isPublic(bytes: []))
        #expect(AddressClassifier.isPublic(ipv4: (1, 1, 1, 1)))
        #expect(!AddressClassifier.isPublic(ipv4: (192, 168, 1, 1)))
    }

    @Test func socketAddressesAreJudgedByFamily() {
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_addr.s_addr = UInt32(0x0808_0808).bigEndian
        #expect(withSocketAddress(&v4) { AddressClassifier.isPublic(sockaddr: $0) })

        v4.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        #expect(!withSocketAddress(&v4) { AddressClassifier.isPublic(sockaddr: $0) })

        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        _ = inet_pton(AF_INET6, "2606:4700::1111", &v6.sin6_addr)
        #expect(withSocketAddress(&v6) { AddressClassifier.isPublic(sockaddr: $0) })

        _ = inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr)
        #expect(!withSocketAddress(&v6) { AddressClassifier.isPublic(sockaddr: $0) })

        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        #expect(!withSocketAddress(&unix) { AddressClassifier.isPublic(sockaddr: $0) })
    }

    private func withSocketAddress<T>(_ value: inout T, _ body: (UnsafePointer<sockaddr>) -> Bool) -> Bool {
        withUnsafePointer(to: &value) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1, body)
        }
    }
}
