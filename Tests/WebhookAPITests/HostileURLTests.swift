import Foundation
import TestSupport
import Testing
import WebhookCore

/// One hostile endpoint URL, built around the port of a listener that must never be connected to.
struct HostileURL: Sendable, CustomTestStringConvertible {
    var label: String
    var make: @Sendable (Int) -> String
    var expected: String

    var testDescription: String { label }

    static let privateAddress = #"{"error":"The \"url\" host is not a public internet address."}"#

    /// A URL whose host is not a public address, refused with 422 and the private-address sentence.
    static func nonPublic(_ label: String, _ make: @escaping @Sendable (Int) -> String) -> HostileURL {
        HostileURL(label: label, make: make, expected: privateAddress)
    }

    /// The create body, as the client sends it.
    func body(port: Int) -> String { createBody(url: make(port)) }
}

/// With the default configuration (no private targets), no spelling of a loopback, private or special
/// address gets a webhook created or a connection made.
@Suite(.serialized) struct HostileURLTests {
    let app: TestService
    let listener: TCPListener
    let key: String

    init() throws {
        app = try TestService()
        listener = try TCPListener()
        key = try app.makeFullKey(company: "acme")
    }

    private func cleanUp() {
        app.stop()
        listener.stop()
    }

    /// Waits a little so a connection the service might have made is surely accepted and counted.
    private func settledConnectionCount() async throws -> Int {
        try await Task.sleep(for: .milliseconds(100))
        return listener.connectionCount
    }

    @Test(arguments: [
        HostileURL.nonPublic("loopback") { "https://127.0.0.1:\($0)/" },
        HostileURL.nonPublic("decimal loopback") { "https://2130706433:\($0)/" },
        HostileURL.nonPublic("hex dotted loopback") { "https://0x7f.1:\($0)/" },
        HostileURL.nonPublic("hex loopback") { "https://0x7f000001:\($0)/" },
        HostileURL.nonPublic("octal loopback") { "https://0177.0.0.1:\($0)/" },
        HostileURL.nonPublic("shortened loopback") { "https://127.1:\($0)/" },
        HostileURL.nonPublic("loopback with trailing dot") { "https://127.0.0.1.:\($0)/" },
        HostileURL.nonPublic("IPv6 loopback") { "https://[::1]:\($0)/" },
        HostileURL.nonPublic("IPv4-mapped dotted") { "https://[::ffff:127.0.0.1]:\($0)/" },
        HostileURL.nonPublic("IPv4-mapped hex") { "https://[::ffff:7f00:1]:\($0)/" },
        HostileURL.nonPublic("IPv4-compatible") { "https://[::127.0.0.1]:\($0)/" },
        HostileURL.nonPublic("NAT64") { "https://[64:ff9b::7f00:1]:\($0)/" },
        HostileURL.nonPublic("localhost") { "https://localhost:\($0)/" },
        HostileURL.nonPublic("LOCALHOST with trailing dot") { "https://LOCALHOST.:\($0)/" },
        HostileURL.nonPublic("unspecified IPv4") { "https://0.0.0.0:\($0)/" },
        HostileURL.nonPublic("unspecified IPv6") { "https://[::]:\($0)/" },
        HostileURL.nonPublic("cloud metadata") { _ in "https://169.254.169.254/" },
        HostileURL.nonPublic("10/8") { _ in "https://10.0.0.1/" },
        HostileURL.nonPublic("172.16/12") { _ in "https://172.16.0.1/" },
        HostileURL.nonPublic("192.168/16") { _ in "https://192.168.1.1/" },
        HostileURL.nonPublic("shared address space") { _ in "https://100.64.0.1/" },
        HostileURL.nonPublic("unique local IPv6") { _ in "https://[fc00::1]/" },
        HostileURL.nonPublic("link-local IPv6") { _ in "https://[fe80::1]/" },
        HostileURL.nonPublic("multicast") { _ in "https://224.0.0.1/" },
        HostileURL.nonPublic("documentation") { _ in "https://192.0.2.1/" },
        HostileURL.nonPublic("benchmarking") { _ in "https://198.18.0.1/" },
        HostileURL(
            label: "http scheme", make: { "http://127.0.0.1:\($0)/" },
            expected: #"{"error":"The \"url\" must be an absolute https URL."}"#),
        HostileURL(
            label: "userinfo", make: { "https://user:pw@localhost:\($0)/" },
            expected: #"{"error":"The \"url\" must not contain a user name or password."}"#),
        HostileURL(
            label: "fragment", make: { "https://127.0.0.1:\($0)/hook#part" },
            expected: #"{"error":"The \"url\" must not contain a fragment."}"#),
        HostileURL(
            label: "2049 bytes",
            make: { port in
                let start = "https://127.0.0.1:\(port)/"
                return start + String(repeating: "a", count: 2049 - start.utf8.count)
            },
            expected: #"{"error":"The \"url\" must be at most 2048 bytes."}"#),
        HostileURL(
            label: "backslash before @", make: { #"https://example.com\\@127.0.0.1:\#($0)/"# },
            expected: #"{"error":"The \"url\" must not contain a user name or password."}"#),
    ])
    func hostileURLIsRefusedWithoutConnecting(hostile: HostileURL) async throws {
        defer { cleanUp() }
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: hostile.body(port: listener.port))
        #expect(response.status == 422)
        #expect(response.text == hostile.expected)
        #expect(try await settledConnectionCount() == 0)

        let list = try await app.send("GET", "/2026-02-01/webhooks.json", key: key)
        #expect(
            list.text == #"{"entities":"Webhook","count":0,"per_page":100,"pages":{"current":1,"max":1},"elements":[]}"#
        )
    }

    @Test func theTwoThousandFortyEightByteURLIsTheLimit() async throws {
        defer { cleanUp() }
        let start = "https://127.0.0.1:\(listener.port)/"
        let url = start + String(repeating: "a", count: 2048 - start.utf8.count)
        let response = try await app.send("POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: url))
        // Exactly at the limit the length rule passes, and the loopback host is what refuses it.
        #expect(response.status == 422)
        #expect(response.text == HostileURL.privateAddress)
        #expect(try await settledConnectionCount() == 0)
    }

    @Test func theMachinesOwnHostNameIsRefusedWithoutConnecting() async throws {
        defer { cleanUp() }
        let name = try #require(Self.hostName())
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key, body: createBody(url: "https://\(name):\(listener.port)/"))

        switch Self.resolve(name) {
        case nil:
            #expect(response.status == 400)
            #expect(response.text == #"{"error":"The \"url\" host could not be resolved."}"#)
        case let addresses?:
            // With a public address among them the service would try it, which this test cannot judge.
            try #require(addresses.allSatisfy { !$0 }, "\(name) resolves to a public address")
            #expect(response.status == 422)
            #expect(response.text == HostileURL.privateAddress)
        }
        #expect(try await settledConnectionCount() == 0)
    }

    /// This machine's host name, from `gethostname`.
    private static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// For each address `name` resolves to, whether it is public; `nil` when it does not resolve.
    private static func resolve(_ name: String) -> [Bool]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, "443", &hints, &info) == 0 else { return nil }
        defer { freeaddrinfo(info) }
        var found: [Bool] = []
        var current = info
        while let entry = current {
            if let address = entry.pointee.ai_addr {
                found.append(AddressClassifier.isPublic(sockaddr: address))
            }
            current = entry.pointee.ai_next
        }
        return found.isEmpty ? nil : found
    }
}
