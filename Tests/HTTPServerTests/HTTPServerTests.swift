import Foundation
import HTTPServer
import Logging
import Synchronization
import TestSupport
import Testing

@Suite struct HTTPServerTests {
    private func withServer(
        maxBodySize: Int = 1024, handler: @escaping HTTPHandler, _ body: (HTTPServer) async throws -> Void
    ) async throws {
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 2, maxBodySize: maxBodySize)
        let server = HTTPServer(
            configuration: configuration, logger: Logger(label: "test", level: .error), handler: handler)
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        try await body(server)
    }

    @Test func answersWithHandlerResponseAndEchoesRequestID() async throws {
        try await withServer(handler: { request in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain")
            let text = "\(request.method) \(request.path) \(request.queryValue("a") ?? "-") \(request.body.count)"
            return HTTPResponse(status: 201, headers: headers, body: Array(text.utf8))
        }) { server in
            let response = try await HTTPClient.send(
                "POST", "http://127.0.0.1:\(server.port)/x/y?a=b%20c", headers: ["X-Request-Id": "abc-123"],
                body: Array("hello".utf8))
            #expect(response.status == 201)
            #expect(response.text == "POST /x/y b c 5")
            #expect(response.header("x-request-id") == "abc-123")
            #expect(response.header("content-type") == "text/plain")
        }
    }

    @Test func theResponseHookSeesEveryAnswerWithItsRouteIncludingTheServersOwn() async throws {
        let seen = Mutex<[HTTPExchange]>([])
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 1, maxBodySize: 100)
        let server = HTTPServer(
            configuration: configuration, logger: Logger(label: "test", level: .error),
            onResponse: { exchange in seen.withLock { $0.append(exchange) } }
        ) { request in
            var response = HTTPResponse(status: 200)
            response.route = "/items/{id}"
            return response
        }
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        _ = try await HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/items/7")
        _ = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(server.port)/items/8", body: [UInt8](repeating: 0x61, count: 101))
        #expect(await eventually(timeoutSeconds: 5) { seen.withLock { $0.count } == 2 })
        let exchanges = seen.withLock { $0 }
        #expect(exchanges.map(\.route) == ["/items/{id}", nil])
        #expect(exchanges.map(\.status) == [200, 413])
        #expect(exchanges.map(\.path) == ["/items/7", "/items/8"])
        #expect(exchanges.allSatisfy { $0.seconds >= 0 && $0.seconds < 5 })
    }

    @Test func generatesRequestIDWhenTheCallerOnesIsUnsafe() async throws {
        try await withServer(handler: { _ in HTTPResponse(status: 204) }) { server in
            let response = try await HTTPClient.send(
                "GET", "http://127.0.0.1:\(server.port)/", headers: ["X-Request-Id": "bad id\u{7f}"])
            let id = try #require(response.header("x-request-id"))
            #expect(id.hasPrefix("req_"))
            #expect(id.count == 36)
        }
    }

    @Test func oversizedBodyGetsJSON413WithoutReachingTheHandler() async throws {
        let calls = Atomic<Int>(0)
        try await withServer(
            maxBodySize: 100,
            handler: { _ in
                calls.add(1, ordering: .relaxed)
                return HTTPResponse(status: 200)
            }
        ) { server in
            let response = try await HTTPClient.send(
                "POST", "http://127.0.0.1:\(server.port)/", body: [UInt8](repeating: 0x61, count: 101))
            #expect(response.status == 413)
            #expect(response.text == #"{"error":"The request body is larger than the limit."}"#)
            #expect(response.header("content-type") == "application/json; charset=utf-8")
            let fits = try await HTTPClient.send(
                "POST", "http://127.0.0.1:\(server.port)/", body: [UInt8](repeating: 0x61, count: 100))
            #expect(fits.status == 200)
            #expect(calls.load(ordering: .relaxed) == 1)
        }
    }

    @Test func slowHandlerDoesNotDelayOtherRequests() async throws {
        try await withServer(handler: { request in
            if request.path == "/slow" {
                try? await Task.sleep(for: .seconds(5))
            }
            return HTTPResponse(status: 200, body: Array(request.path.utf8))
        }) { server in
            async let slow = HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/slow")
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            let fast = try await HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/fast")
            #expect(fast.text == "/fast")
            // Far below the slow handler's 5 s: the fast answer did not wait for it (with room for a busy machine).
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await slow.text == "/slow")
        }
    }

    @Test func shutdownLetsInFlightRequestsFinish() async throws {
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 1)
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) { _ in
            try? await Task.sleep(for: .milliseconds(500))
            return HTTPResponse(status: 200, body: Array("done".utf8))
        }
        try server.start()
        async let pending = HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/")
        try await Task.sleep(for: .milliseconds(100))
        await Task.detached { server.shutdown(gracePeriod: .seconds(5)) }.value
        let response = try await pending
        #expect(response.status == 200)
        #expect(response.text == "done")
        await #expect(throws: HTTPClient.TransportError.self) {
            _ = try await HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/", timeoutSeconds: 2)
        }
    }
}

@Suite struct HTTPFramingTests {
    @Test func bodyOnABodylessMethodIsNeverParsedAsAnotherRequest() async throws {
        let paths = Mutex<[String]>([])
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 1)
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) { request in
            paths.withLock { $0.append(request.path) }
            return HTTPResponse(status: 200)
        }
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }

        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        let request = "DELETE /first HTTP/1.1\r\nHost: x\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)"
        let answer = String(
            decoding: try await RawConnection.exchange(port: server.port, request: Array(request.utf8)), as: UTF8.self)

        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("Connection: close\r\n"))
        #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2)
        #expect(paths.withLock { $0 } == ["/first"])
    }

    @Test func emptyContentLengthOnDeleteIsFine() async throws {
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 1)
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) { _ in
            HTTPResponse(status: 204)
        }
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        let response = try await HTTPClient.send(
            "DELETE", "http://127.0.0.1:\(server.port)/x", headers: ["Content-Length": "0"])
        #expect(response.status == 204)
    }
}

/// The paths a test handler saw.
final class SeenPaths: Sendable {
    private let paths = Mutex<[String]>([])

    func append(_ path: String) { paths.withLock { $0.append(path) } }

    var all: [String] { paths.withLock { $0 } }
}

@Suite struct HTTPHardeningTests {
    private func withEchoServer(_ body: (HTTPServer, SeenPaths) async throws -> Void) async throws {
        let paths = SeenPaths()
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, threads: 1)
        let server = HTTPServer(configuration: configuration, logger: Logger(label: "test", level: .error)) { request in
            paths.append(request.path)
            return HTTPResponse(status: 200, body: Array("hello".utf8))
        }
        try server.start()
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        try await body(server, paths)
    }

    @Test func headAnswersTheLengthWithoutABodySoTheNextAnswerIsIntact() async throws {
        try await withEchoServer { server, _ in
            let requests =
                "HEAD /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let answer = String(
                decoding: try await RawConnection.exchange(port: server.port, request: Array(requests.utf8)),
                as: UTF8.self)
            let parts = answer.components(separatedBy: "HTTP/1.1 200 OK\r\n")
            #expect(parts.count == 3, "\(answer)")
            #expect(parts[1].contains("Content-Length: 5\r\n"))
            #expect(parts[1].hasSuffix("\r\n\r\n"), "the HEAD answer carried a body: \(parts[1])")
            #expect(parts[2].hasSuffix("\r\n\r\nhello"))
        }
    }

    @Test func aMalformedQueryIsRefusedRatherThanIgnored() async throws {
        try await withEchoServer { server, paths in
            let response = try await HTTPClient.send("GET", "http://127.0.0.1:\(server.port)/list?size=0&x")
            #expect(response.status == 400)
            #expect(
                response.text
                    == #"{"error":"The query string is malformed: every parameter needs a name and a \"=\"."}"#)
            #expect(paths.all.isEmpty)
        }
    }

    @Test(arguments: ["Content-Length: 2\r\nContent-Length: 51", "Content-Length: +2"])
    func untrustworthyContentLengthIsRefusedAndTheConnectionClosed(fields: String) async throws {
        try await withEchoServer { server, paths in
            let request =
                "POST /first HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\nokGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
            let answer = String(
                decoding: try await RawConnection.exchange(port: server.port, request: Array(request.utf8)),
                as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(answer)")
            #expect(answer.contains("Connection: close\r\n"))
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(answer)")
            #expect(paths.all.isEmpty)
        }
    }

    @Test func aSecondServerOnTheSamePortFailsToStart() async throws {
        try await withEchoServer { server, _ in
            let second = HTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: server.port, threads: 2),
                logger: Logger(label: "test", level: .error)
            ) { _ in HTTPResponse(status: 200) }
            #expect(throws: HTTPServerError.self) { try second.start() }
        }
    }
}
