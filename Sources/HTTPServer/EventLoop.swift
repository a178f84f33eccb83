import CLibEvent
import Dispatch
import Foundation
import Locking
import Logging
import Synchronization

/// One libevent event base with its own evhttp server and listening socket, run by one thread.
///
/// Requests are read on the loop thread, handed to the handler in a `Task`, and the answer comes back through the
/// mailbox: any thread may post, and only the loop thread touches libevent objects.
final class EventLoop: @unchecked Sendable {
    // @unchecked: `base`, `http` and `boundSocket` are used only on the loop thread (and in `init` before the
    // thread starts); every other field is immutable or guarded by `mailbox`.

    /// Work posted to the loop from other threads.
    private enum Work {
        case reply(RequestHandle, HTTPResponse, RequestSummary, closeConnection: Bool)
        case stopAccepting
        case stop
    }

    /// The pointer to a libevent request, carried across threads but dereferenced only on its loop.
    struct RequestHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// What the access log line needs once the reply is sent.
    struct RequestSummary: Sendable {
        var method: String
        var path: String
        var requestID: String
        var startNanoseconds: UInt64
    }

    private struct Mailbox {
        var work: [Work] = []
        var stopped = false
    }

    private let base: OpaquePointer
    private let http: OpaquePointer
    private var boundSocket: OpaquePointer?
    private var wakeEvent: OpaquePointer?
    private let mailbox = Locked(Mailbox())
    private let shared: HTTPServer.SharedState
    private let finished = DispatchSemaphore(value: 0)
    /// Kept alive as long as the evhttp that uses it.
    private let tls: TLSContext?

    init(listeningSocket fd: Int32, shared: HTTPServer.SharedState, tls: TLSContext? = nil) throws {
        guard let base = event_base_new() else {
            throw HTTPServerError(operation: "event_base_new", message: "libevent could not create an event base")
        }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw HTTPServerError(operation: "evhttp_new", message: "libevent could not create an HTTP server")
        }
        self.base = base
        self.http = http
        self.shared = shared
        self.tls = tls

        let configuration = shared.configuration
        // libevent's own 413 page is HTML, so its hard cap sits above ours and we answer in JSON up to it.
        evhttp_set_max_body_size(http, dw_ssize_t(HTTPServer.hardBodyCap(configuration.maxBodySize)))
        evhttp_set_max_headers_size(http, dw_ssize_t(configuration.maxHeadersSize))
        evhttp_set_timeout(http, Int32(configuration.ioTimeoutSeconds))
        evhttp_set_allowed_methods(http, HTTPServer.allMethods)
        evhttp_set_default_content_type(http, "application/json; charset=utf-8")
        tls?.install(on: http)

        let context = Unmanaged.passUnretained(self).toOpaque()
        evhttp_set_gencb(http, eventLoopHandleRequest, context)
        wakeEvent = event_new(base, -1, 0, eventLoopWake, context)
        boundSocket = evhttp_accept_socket_with_handle(http, fd)
        guard let boundSocket, wakeEvent != nil else {
            close(fd)
            throw HTTPServerError(operation: "evhttp_accept_socket", message: "libevent refused the listening socket")
        }
        evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(boundSocket), eventLoopAcceptFailed)
    }

    /// Starts the loop thread. The loop keeps running with no events until `stop` arrives.
    func start(name: String) {
        let thread = Thread { [self] in
            event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY)
            teardown()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops taking new connections; open ones are still served.
    func stopAccepting() {
        post(.stopAccepting)
    }

    /// Ends the loop, closing its connections, and waits for the thread to finish.
    func stopAndWait() {
        post(.stop)
        finished.wait()
    }

    // MARK: Loop-thread work

    fileprivate func accept(_ request: OpaquePointer) {
        let start = DispatchTime.now().uptimeNanoseconds
        let (parsed, refusal) = EventLoop.read(request)
        let summary = RequestSummary(
            method: parsed.method, path: parsed.path, requestID: parsed.requestID, startNanoseconds: start
        )
        shared.inFlight.add(1, ordering: .relaxed)

        let handle = RequestHandle(pointer: request)
        let length = evbuffer_get_length(evhttp_request_get_input_buffer(request))
        if length > shared.configuration.maxBodySize {
            send(handle, HTTPServer.errorResponse(413, shared.configuration.bodyTooLargeMessage), summary)
            return
        }
        if let refusal {
            // Framing that cannot be trusted may leave bytes that would be read as another request: close.
            send(handle, HTTPServer.errorResponse(400, refusal), summary, closeConnection: true)
            return
        }

        // The unread body must never be parsed as a next request: answer, then close the connection.
        let closeAfterwards = EventLoop.hasUnreadBody(parsed)

        let handler = shared.handler
        Task {
            let response = await handler(parsed)
            self.post(.reply(handle, response, summary, closeConnection: closeAfterwards))
        }
    }

    fileprivate func drainMailbox() {
        let work = mailbox.withLock { box in
            let taken = box.work
            box.work.removeAll(keepingCapacity: true)
            return taken
        }
        for item in work {
            switch item {
            case .reply(let handle, let response, let summary, let closeConnection):
                send(handle, response, summary, closeConnection: closeConnection)
            case .stopAccepting:
                if let socket = boundSocket {
                    evhttp_del_accept_socket(http, socket)
                    boundSocket = nil
                }
            case .stop:
                event_base_loopbreak(base)
            }
        }
    }

    private func post(_ work: Work) {
        mailbox.withLock { box in
            guard !box.stopped, let wakeEvent else { return }
            box.work.append(work)
            event_active(wakeEvent, 0, 0)
        }
    }

    private func send(
        _ handle: RequestHandle, _ response: HTTPResponse, _ summary: RequestSummary, closeConnection: Bool = false
    ) {
        let request = handle.pointer
        let headers = evhttp_request_get_output_headers(request)
        for field in response.headers {
            evhttp_add_header(headers, field.name, field.value)
        }
        evhttp_add_header(headers, "X-Request-Id", summary.requestID)
        if closeConnection || shared.shuttingDown.load(ordering: .relaxed) {
            evhttp_add_header(headers, "Connection", "close")
        }

        let buffer = evbuffer_new()
        if evhttp_request_get_command(request) == EVHTTP_REQ_HEAD {
            // The length a GET would have, and no body: libevent 2.1 would otherwise send one.
            evhttp_add_header(headers, "Content-Length", String(response.body.count))
        } else {
            response.body.withUnsafeBytes { bytes in
                _ = evbuffer_add(buffer, bytes.baseAddress, bytes.count)
            }
        }
        evhttp_send_reply(request, Int32(response.status), HTTPResponse.reasonPhrase(for: response.status), buffer)
        evbuffer_free(buffer)
        shared.inFlight.subtract(1, ordering: .relaxed)

        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - summary.startNanoseconds) / 1_000_000
        shared.accessLog(summary, response.status, elapsed, response.logMetadata)
        shared.onResponse?(
            HTTPExchange(
                method: summary.method, path: summary.path, route: response.route, status: response.status,
                seconds: elapsed / 1000))
    }

    private func teardown() {
        mailbox.withLock { box in
            box.stopped = true
            box.work.removeAll()
        }
        evhttp_free(http)
        if let wakeEvent {
            event_free(wakeEvent)
        }
        event_base_free(base)
    }

    // MARK: Reading a request

    /// Whether the client framed a body that libevent left unread.
    ///
    /// libevent 2.1 reads a body only for POST, PUT and PATCH. For any other method a `Content-Length` or
    /// `Transfer-Encoding` body stays in the connection and would be parsed as the next request (a request
    /// smuggling hole), so such a request is answered and its connection closed.
    static func hasUnreadBody(_ request: HTTPRequest) -> Bool {
        guard !["POST", "PUT", "PATCH"].contains(request.method) else { return false }
        if request.headers["Transfer-Encoding"] != nil { return true }
        if let length = request.headers["Content-Length"] {
            return length.trimmingCharacters(in: .whitespaces) != "0"
        }
        return false
    }

    /// The request, and a reason to refuse it when its framing or query cannot be trusted.
    private static func read(_ request: OpaquePointer) -> (request: HTTPRequest, refusal: String?) {
        let method = methodName(evhttp_request_get_command(request))
        var path = "/"
        var query: [(name: String, value: String)] = []
        var refusal: String?
        if let uri = evhttp_request_get_evhttp_uri(request) {
            if let rawPath = evhttp_uri_get_path(uri), rawPath.pointee != 0 {
                path = String(cString: rawPath)
            }
            if let rawQuery = evhttp_uri_get_query(uri) {
                if let parsed = parseQuery(rawQuery) {
                    query = parsed
                } else {
                    refusal = "The query string is malformed: every parameter needs a name and a \"=\"."
                }
            }
        }

        var headers = HTTPHeaders()
        if let input = evhttp_request_get_input_headers(request) {
            var field = dw_evkeyvalq_first(input)
            while let current = field {
                headers.add(name: String(cString: current.pointee.key), value: String(cString: current.pointee.value))
                field = dw_evkeyval_next(current)
            }
        }

        let buffer = evhttp_request_get_input_buffer(request)
        let length = evbuffer_get_length(buffer)
        let body = [UInt8](unsafeUninitializedCapacity: length) { storage, count in
            count = length == 0 ? 0 : Int(evbuffer_copyout(buffer, storage.baseAddress, length))
        }

        var remote = "unknown"
        if let connection = evhttp_request_get_connection(request) {
            var address: UnsafeMutablePointer<CChar>?
            var port: UInt16 = 0
            evhttp_connection_get_peer(connection, &address, &port)
            if let address {
                remote = String(cString: address)
            }
        }

        let lengths = headers.filter { $0.name.caseInsensitiveEquals("Content-Length") }.map(\.value)
        if lengths.count > 1
            || lengths.contains(where: { $0.isEmpty || !$0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } })
        {
            refusal = "The request has more than one or a malformed Content-Length."
        }

        let parsed = HTTPRequest(
            method: method, path: path, query: query, headers: headers, body: body, remoteAddress: remote,
            requestID: requestID(from: headers["X-Request-Id"])
        )
        return (parsed, refusal)
    }

    /// The decoded parameters, or `nil` when libevent cannot parse the query (e.g. a parameter without `=`).
    private static func parseQuery(_ raw: UnsafePointer<CChar>) -> [(name: String, value: String)]? {
        var pairs = evkeyvalq()
        guard evhttp_parse_query_str(raw, &pairs) == 0 else { return nil }
        defer { evhttp_clear_headers(&pairs) }
        var result: [(name: String, value: String)] = []
        var field = dw_evkeyvalq_first(&pairs)
        while let current = field {
            result.append((String(cString: current.pointee.key), String(cString: current.pointee.value)))
            field = dw_evkeyval_next(current)
        }
        return result
    }

    /// Keeps a caller's request id when it is short and plain, so it is safe to echo and log.
    private static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
            header.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            })
        {
            return header
        }
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(format: "req_%016llx%016llx", high, low)
    }

    private static func methodName(_ command: evhttp_cmd_type) -> String {
        switch command {
        case EVHTTP_REQ_GET: "GET"
        case EVHTTP_REQ_POST: "POST"
        case EVHTTP_REQ_HEAD: "HEAD"
        case EVHTTP_REQ_PUT: "PUT"
        case EVHTTP_REQ_DELETE: "DELETE"
        case EVHTTP_REQ_OPTIONS: "OPTIONS"
        case EVHTTP_REQ_TRACE: "TRACE"
        case EVHTTP_REQ_CONNECT: "CONNECT"
        case EVHTTP_REQ_PATCH: "PATCH"
        default: "UNKNOWN"
        }
    }
}

/// evhttp calls this on the loop thread for every request it has read completely.
private func eventLoopHandleRequest(_ request: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let request, let context else { return }
    Unmanaged<EventLoop>.fromOpaque(context).takeUnretainedValue().accept(request)
}

/// libevent calls this on the loop thread after another thread posted to the mailbox.
private func eventLoopWake(_ fd: dw_socket_t, _ events: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<EventLoop>.fromOpaque(context).takeUnretainedValue().drainMailbox()
}

/// When was the last accept failure logged (seconds since 1970), to log at most one line in five seconds.
private let lastAcceptFailureLog = Atomic<Int>(0)

/// libevent calls this when `accept` fails, e.g. out of file descriptors. Without a pause the listening socket
/// stays readable and the loop would spin; so stop accepting for 100 ms, serving open connections meanwhile.
private func eventLoopAcceptFailed(_ listener: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let listener else { return }
    let reason = String(cString: strerror(errno))
    evconnlistener_disable(listener)
    var pause = timeval(tv_sec: 0, tv_usec: 100_000)
    event_base_once(
        evconnlistener_get_base(listener), -1, Int16(EV_TIMEOUT), eventLoopResumeAccepting,
        UnsafeMutableRawPointer(listener), &pause)

    let now = Int(Date().timeIntervalSince1970)
    let last = lastAcceptFailureLog.load(ordering: .relaxed)
    if now - last >= 5, lastAcceptFailureLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    {
        Logger(label: "http").warning("accepting connections paused", ["reason": reason])
    }
}

/// Turns accepting back on after a pause.
private func eventLoopResumeAccepting(_ fd: dw_socket_t, _ events: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    evconnlistener_enable(OpaquePointer(context))
}
