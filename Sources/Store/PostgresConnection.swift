import CPostgres
import Foundation
import WebhookCore

/// One libpq connection to PostgreSQL with its own cache of prepared statements.
///
/// Every statement goes through `PQprepare` once per connection and `PQexecPrepared` after, with each value sent
/// as a separate parameter: no value is ever pasted into SQL text. Text travels in libpq's text format, byte
/// strings (`bytea`) in binary format, and results come back as text.
final class PostgresConnection: PooledConnection, @unchecked Sendable {
    // @unchecked Sendable: the pool lends a connection to one caller at a time, so the C handle and the statement
    // cache are never touched by two threads at once (libpq connections must not be shared that way either).

    /// How long libpq waits for the server when it connects, in seconds (libpq's `connect_timeout`).
    static let connectTimeoutSeconds = 5

    /// The longest one statement may wait for the server's answer, in seconds; `nil` waits as long as it takes
    /// (migrations, which may wait for another process's). A call that runs out closes the session and throws
    /// `PostgresError.noAnswer`, so a server that stops answering (a frozen process, a stalled failover) costs a
    /// caller this long, not forever.
    var statementTimeout: TimeInterval?

    private var handle: OpaquePointer?
    /// Prepared statement names by SQL text; they live as long as the server session.
    private var prepared: [String: String] = [:]
    /// Round trips since the pool last took this connection back: a connection that fails on its first one has
    /// sent nothing the server acted on (typically it died while idle, in a server restart), so the call may be
    /// repeated on a fresh connection.
    private(set) var roundTripsSinceReuse = 0

    /// Connects with `conninfo`: a `postgres://` or `postgresql://` URL, or libpq's `key=value` form.
    ///
    /// The application name and a connect timeout come first, so the caller's own values for them win.
    init(conninfo: String, statementTimeout: TimeInterval? = nil) throws {
        // libpq's own complaint about a malformed string quotes pieces of it, which may be the password.
        var parseError: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(conninfo, &parseError) else {
            PQfreemem(parseError)
            throw PostgresError(
                state: PostgresError.invalidSetting,
                message: "not a valid PostgreSQL URL or key=value string (libpq could not parse it)")
        }
        PQconninfoFree(parsed)
        // UTF-8 on the wire whatever the server's default; TCP keepalives and a user timeout so that a database
        // behind a dead network path is noticed in seconds instead of the kernel's quarter of an hour.
        let keywords = [
            "application_name", "connect_timeout", "client_encoding", "keepalives", "keepalives_idle",
            "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname",
        ]
        let values = [
            "donutwork-webhooks", String(Self.connectTimeoutSeconds), "UTF8", "1", "5", "2", "3", "10000", conninfo,
        ]
        let connection = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(state: PostgresError.connectionFailure, message: "out of memory connecting")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.lastMessage(connection)
            PQfinish(connection)
            // libpq checks some values only when it connects ("invalid sslmode value: ..."): a setting to fix, not
            // a server to wait for. Its messages quote the bad value only, never the password.
            let isSetting =
                message.contains(" for connection option ")
                || (message.hasPrefix("invalid ")
                    && (message.contains(" value") || message.hasPrefix("invalid port number")
                        || message.hasPrefix("invalid SSL protocol version range")))
            throw PostgresError(
                state: isSetting ? PostgresError.invalidSetting : PostgresError.connectionFailure, message: message)
        }
        // libpq prints the server's notices (e.g. "relation ... already exists, skipping") on standard error,
        // which is the operator's log; they carry nothing an operator needs, so they are dropped.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Non-blocking, so that sending waits on the socket under the deadline too (a server that stops reading
        // would otherwise hold a large request until the kernel gives up), and closing never blocks.
        guard PQsetnonblocking(connection, 1) == 0 else {
            let message = Self.lastMessage(connection)
            PQfinish(connection)
            throw PostgresError(state: PostgresError.connectionFailure, message: message)
        }
        handle = connection
        try limitStatements(to: statementTimeout)
    }

    /// How much longer than `statementTimeout` the server lets a statement run (its `statement_timeout`).
    static let serverTimeoutMargin: TimeInterval = 1

    /// Sets `statementTimeout`, and has the server end a statement shortly after it too (`statement_timeout`).
    ///
    /// Closing the connection at the deadline does not stop the server: a backend waiting for a lock (behind a
    /// stuck transaction, or a frozen session holding it) does not notice its client left, and a statement that
    /// was running carries on, committing alone when it is a single command. Without the server's own limit,
    /// every call that timed out would leave a session behind, until the server refuses all connections.
    /// `nil` waits forever and leaves the server's setting alone.
    func limitStatements(to timeout: TimeInterval?) throws {
        statementTimeout = timeout
        guard let timeout else { return }
        let milliseconds = Int64(((timeout + Self.serverTimeoutMargin) * 1000).rounded(.up))
        try execute("SET statement_timeout = \(milliseconds)")
    }

    deinit {
        close()
    }

    /// Closes the session. Safe to call more than once.
    func close() {
        if let handle {
            PQfinish(handle)
        }
        handle = nil
        prepared.removeAll()
    }

    /// Leaves a transaction a failed caller left open; `false` when the server went away or the session is stuck.
    func prepareForReuse() -> Bool {
        roundTripsSinceReuse = 0
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            _ = try? execute("ROLLBACK")
            // Read `self.handle` again: a ROLLBACK that ran out of time closed the session and freed the old one.
            guard let handle = self.handle else { return false }
            return PQtransactionStatus(handle) == PQTRANS_IDLE
        default:
            return false
        }
    }

    /// False when the server ended the session while the connection sat idle, as a restart or a failover does to
    /// every session: an idle session is sent nothing, so anything waiting on the socket is the server's last
    /// message and the end of the stream. Reading them without waiting is how libpq learns the session is over.
    func isUsableAfterIdle() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        var reads = 0
        while reads < 4 && Self.hasInput(PQsocket(handle)) {
            reads += 1
            guard PQconsumeInput(handle) == 1 else { return false }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the socket has bytes (or the end of the stream) to read right now.
    private static func hasInput(_ socket: Int32) -> Bool {
        guard socket >= 0 else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// Runs a parameterized statement and returns its rows (empty for commands).
    @discardableResult
    func query(_ sql: String, _ values: [any PostgresBindable] = []) throws -> PostgresResult {
        let connection = try live()
        let parameters = values.map(\.postgresValue)
        for case .text(let text) in parameters where text.utf8.contains(0) {
            // libpq reads text parameters up to their first NUL, and PostgreSQL text cannot hold one anyway.
            throw PostgresError(state: "22021", message: "text values cannot contain the NUL character")
        }
        let name = try statementName(for: sql, parameterCount: values.count, on: connection)
        return try roundTrip(on: connection) {
            Self.withParameters(parameters) { pointers, lengths, formats in
                PQsendQueryPrepared(connection, name, Int32(parameters.count), pointers, lengths, formats, 0)
            }
        }
    }

    /// Runs a parameterized statement and returns how many rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [any PostgresBindable] = []) throws -> Int {
        try query(sql, values).affectedRows
    }

    /// Runs SQL without parameters, possibly several statements (migrations, `BEGIN`, `COMMIT`).
    func execute(_ sql: String) throws {
        let connection = try live()
        _ = try roundTrip(on: connection) { PQsendQuery(connection, sql) }
    }

    /// Runs `body` between `BEGIN` and `COMMIT` (read committed), rolling back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if let handle, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) != PQTRANS_IDLE {
                _ = try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Waits up to `seconds` for notifications on the channels this session listens to (`LISTEN`) and returns
    /// their payloads, oldest first; empty when none came. Throws when the session is over.
    func notifications(waitingUpTo seconds: TimeInterval) throws -> [String] {
        let connection = try live()
        let payloads = Self.takeNotifications(connection)
        guard payloads.isEmpty else { return payloads }
        switch wait(on: connection, for: Int16(POLLIN), until: .now() + seconds) {
        case .timedOut:
            return []
        case .readable:
            // At the end of the stream libpq reads nothing and reports the session over.
            guard PQconsumeInput(connection) == 1, PQstatus(connection) == CONNECTION_OK else {
                let message = Self.lastMessage(connection)
                close()
                throw PostgresError(state: PostgresError.connectionFailure, message: message)
            }
        case .writable, .failed:
            // Only input was asked for, so anything else (an invalid socket, a failing poll) would come back at once
            // on every call: the session is given up rather than polled in a tight loop.
            close()
            throw PostgresError(
                state: PostgresError.connectionFailure, message: "the listening session's socket cannot be polled")
        }
        return Self.takeNotifications(connection)
    }

    /// The notifications libpq has read so far, freed as they are taken.
    private static func takeNotifications(_ connection: OpaquePointer) -> [String] {
        var payloads: [String] = []
        while let notification = PQnotifies(connection) {
            payloads.append(notification.pointee.extra.map { String(cString: $0) } ?? "")
            PQfreemem(notification)
        }
        return payloads
    }

    // MARK: Helpers

    private func live() throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(state: PostgresError.connectionFailure, message: "connection is closed")
        }
        return handle
    }

    /// The name of the prepared statement for `sql`, preparing it on first use.
    private func statementName(for sql: String, parameterCount: Int, on connection: OpaquePointer) throws -> String {
        if let name = prepared[sql] {
            return name
        }
        let name = "dw_\(prepared.count + 1)"
        _ = try roundTrip(on: connection) { PQsendPrepare(connection, name, sql, Int32(parameterCount), nil) }
        prepared[sql] = name
        return name
    }

    /// Sends one request with `send` (a `PQsend…` call) and collects its answer the way `PQexec` does (the first
    /// failure, else the last result), waiting on the socket no longer than `statementTimeout` in all, sending
    /// included. libpq's blocking calls would wait forever for a server that keeps its connections open but never
    /// answers (or never reads).
    private func roundTrip(on connection: OpaquePointer, _ send: () -> Int32) throws -> PostgresResult {
        let deadline = statementTimeout.map { DispatchTime.now() + $0 }
        guard send() == 1 else {
            return try check(nil, on: connection)
        }
        // The connection is non-blocking: libpq queued the request; push it out while the server reads it.
        var sessionEnded = false
        var flushed = PQflush(connection)
        while flushed == 1 {
            switch wait(on: connection, for: Int16(POLLIN | POLLOUT), until: deadline) {
            case .timedOut:
                throw giveUp(holding: nil)
            case .failed:
                flushed = -1
            case .readable:
                flushed = PQconsumeInput(connection) == 0 ? -1 : PQflush(connection)
            case .writable:
                flushed = PQflush(connection)
            }
        }
        sessionEnded = flushed != 0

        var kept: OpaquePointer?
        while true {
            // Read until libpq holds a whole result; when the session ended, PQgetResult reports libpq's message.
            while !sessionEnded && PQisBusy(connection) == 1 {
                switch wait(on: connection, for: Int16(POLLIN), until: deadline) {
                case .timedOut:
                    throw giveUp(holding: kept)
                case .failed:
                    sessionEnded = true
                case .readable:
                    sessionEnded = PQconsumeInput(connection) == 0
                case .writable:
                    continue
                }
            }
            // A request of several statements has a result for each; the first failure is the one to report.
            guard let result = PQgetResult(connection) else { break }
            if let kept, Self.isFailure(kept) {
                PQclear(result)
            } else {
                PQclear(kept)
                kept = result
            }
        }
        return try check(kept, on: connection)
    }

    private enum Readiness {
        case readable, writable, timedOut, failed
    }

    /// Waits until the socket is ready for `events` or `deadline` passes (`nil`: no deadline).
    private func wait(on connection: OpaquePointer, for events: Int16, until deadline: DispatchTime?) -> Readiness {
        while true {
            var milliseconds: Int32 = -1
            if let deadline {
                let now = DispatchTime.now()
                guard now < deadline else { return .timedOut }
                let left = (deadline.uptimeNanoseconds - now.uptimeNanoseconds + 999_999) / 1_000_000
                milliseconds = Int32(min(left, UInt64(Int32.max)))
            }
            var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failed
            }
            if ready == 0 { continue }  // the deadline check above decides
            if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { return .readable }
            return .writable
        }
    }

    /// Ends a call that ran out of time: the session is closed (the server's own `statement_timeout` stops what it
    /// was doing) and the error says how long it waited.
    private func giveUp(holding result: OpaquePointer?) -> PostgresError {
        PQclear(result)
        roundTripsSinceReuse += 1
        close()
        return PostgresError(
            state: PostgresError.noAnswer,
            message: "the server did not answer within \(Self.describe(statementTimeout ?? 0))")
    }

    private static func isFailure(_ result: OpaquePointer) -> Bool {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: false
        default: true
        }
    }

    /// `2 s`, `0.5 s`.
    private static func describe(_ seconds: TimeInterval) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }

    /// Turns a `PGresult` into a `PostgresResult`, or throws with the server's SQLSTATE and message.
    private func check(_ result: OpaquePointer?, on connection: OpaquePointer) throws -> PostgresResult {
        roundTripsSinceReuse += 1
        guard let result else {
            throw PostgresError(state: PostgresError.connectionFailure, message: Self.lastMessage(connection))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(result)
        default:
            let state = PQresultErrorField(result, dw_pg_diag_sqlstate()).map { String(cString: $0) }
            let primary = PQresultErrorField(result, dw_pg_diag_message_primary()).map { String(cString: $0) }
            PQclear(result)
            if PQstatus(connection) != CONNECTION_OK {
                // The server went away mid-call: later calls must not reuse this session's prepared names.
                prepared.removeAll()
                throw PostgresError(
                    state: PostgresError.connectionFailure, message: primary ?? Self.lastMessage(connection))
            }
            throw PostgresError(state: state ?? "XX000", message: primary ?? Self.lastMessage(connection))
        }
    }

    /// libpq's last message on `connection`, on one line.
    private static func lastMessage(_ connection: OpaquePointer) -> String {
        guard let text = PQerrorMessage(connection) else { return "unknown error" }
        let message = String(cString: text).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
        return message.isEmpty ? "unknown error" : message
    }

    /// Calls `body` with C strings for `strings` and a terminating `NULL`, as `PQconnectdbParams` wants.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Calls `body` with libpq's three parameter arrays: values, lengths and formats (0 text, 1 binary).
    private static func withParameters<R>(
        _ values: [PostgresValue?],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { buffers.forEach { $0?.deallocate() } }
        for value in values {
            let bytes: [UInt8]
            switch value {
            case nil:
                buffers.append(nil)
                lengths.append(0)
                formats.append(0)
                continue
            case .text(let text):
                bytes = Array(text.utf8) + [0]
                formats.append(0)
            case .bytes(let data):
                bytes = data
                formats.append(1)
            }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: bytes.count) }
            }
            buffers.append(buffer)
            lengths.append(Int32(bytes.count))
        }
        let pointers = buffers.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { pointerBuffer in
            lengths.withUnsafeBufferPointer { lengthBuffer in
                formats.withUnsafeBufferPointer { formatBuffer in
                    body(pointerBuffer.baseAddress, lengthBuffer.baseAddress, formatBuffer.baseAddress)
                }
            }
        }
    }
}

/// The rows of one statement, read as text; owns its `PGresult`.
final class PostgresResult {
    private let result: OpaquePointer

    fileprivate init(_ result: OpaquePointer) {
        self.result = result
    }

    deinit {
        PQclear(result)
    }

    /// How many rows came back.
    var count: Int { Int(PQntuples(result)) }

    /// Rows changed by an `INSERT`, `UPDATE` or `DELETE`; 0 for other statements.
    var affectedRows: Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// Each row read by `read`, in order.
    func map<T>(_ read: (PostgresRow) throws -> T) rethrows -> [T] {
        try (0..<count).map { try read(PostgresRow(result: self, row: Int32($0))) }
    }

    /// The first row read by `read`, or `nil` when there is none.
    func first<T>(_ read: (PostgresRow) throws -> T) rethrows -> T? {
        count > 0 ? try read(PostgresRow(result: self, row: 0)) : nil
    }

    /// Every row, in order.
    var rows: [PostgresRow] { (0..<count).map { PostgresRow(result: self, row: Int32($0)) } }

    fileprivate var handle: OpaquePointer { result }
}

/// One row of a `PostgresResult`; columns are numbered from 0 in select order.
struct PostgresRow {
    fileprivate let result: PostgresResult
    fileprivate let row: Int32

    func isNull(at column: Int32) -> Bool {
        PQgetisnull(result.handle, row, column) != 0
    }

    /// The column as text; `""` for NULL.
    func string(at column: Int32) -> String {
        guard let value = PQgetvalue(result.handle, row, column) else { return "" }
        let length = Int(PQgetlength(result.handle, row, column))
        return value.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    func optionalString(at column: Int32) -> String? {
        isNull(at: column) ? nil : string(at: column)
    }

    /// The column as an integer; 0 for NULL or text that is not one.
    func int64(at column: Int32) -> Int64 {
        Int64(string(at: column)) ?? 0
    }

    func int(at column: Int32) -> Int {
        Int(int64(at: column))
    }

    func optionalInt(at column: Int32) -> Int? {
        isNull(at: column) ? nil : int(at: column)
    }

    /// A `bytea` column, decoded from PostgreSQL's text form by libpq; empty for NULL.
    func bytes(at column: Int32) -> [UInt8] {
        guard !isNull(at: column), let value = PQgetvalue(result.handle, row, column) else { return [] }
        var length = 0
        guard let decoded = value.withMemoryRebound(to: UInt8.self, capacity: 1, { PQunescapeBytea($0, &length) })
        else { return [] }
        defer { PQfreemem(decoded) }
        return Array(UnsafeBufferPointer(start: decoded, count: length))
    }

    /// A column selected as `dw_ms(x)`: integer milliseconds since the epoch, as a date; `nil` for NULL.
    func optionalDate(at column: Int32) -> Date? {
        isNull(at: column) ? nil : Timestamp.date(milliseconds: int64(at: column))
    }
}

/// A parameter value as libpq takes it.
enum PostgresValue {
    case text(String)
    case bytes([UInt8])
}

/// A Swift value that can be sent as a statement parameter.
protocol PostgresBindable {
    /// The value to send; `nil` sends SQL NULL.
    var postgresValue: PostgresValue? { get }
}

extension Int64: PostgresBindable {
    var postgresValue: PostgresValue? { .text(String(self)) }
}

extension Int: PostgresBindable {
    var postgresValue: PostgresValue? { .text(String(self)) }
}

extension Double: PostgresBindable {
    var postgresValue: PostgresValue? { .text(String(self)) }
}

extension Bool: PostgresBindable {
    var postgresValue: PostgresValue? { .text(self ? "true" : "false") }
}

extension String: PostgresBindable {
    var postgresValue: PostgresValue? { .text(self) }
}

extension Date: PostgresBindable {
    /// ISO-8601 UTC with milliseconds, which PostgreSQL reads into `timestamptz`.
    var postgresValue: PostgresValue? { .text(Timestamp.format(self)) }
}

extension Array: PostgresBindable where Element == UInt8 {
    var postgresValue: PostgresValue? { .bytes(self) }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    var postgresValue: PostgresValue? { self.flatMap(\.postgresValue) }
}

/// A failed libpq call: the server's SQLSTATE (or ours for a lost connection) and its primary message.
struct PostgresError: Error, CustomStringConvertible {
    /// SQLSTATE class 08 is "connection exception"; libpq itself reports no code when the server is gone.
    static let connectionFailure = "08006"
    /// A connection setting libpq refused (22023 is SQLSTATE's "invalid parameter value").
    static let invalidSetting = "22023"
    /// Ours, in class 08: the server kept the connection open but did not answer in time, so we closed it.
    static let noAnswer = "08DW1"

    var state: String
    var message: String

    var description: String { "postgres error \(state): \(message)" }

    /// Serialization failures and deadlocks: the transaction was rolled back whole and may simply run again.
    var isRetryable: Bool { state == "40001" || state == "40P01" }

    /// The session is gone: the server closed it (restart, failover, idle timeout) or the network dropped it.
    /// Not a server that stopped answering: that one would only keep the next connection waiting too.
    var isConnectionLoss: Bool {
        (state.hasPrefix("08") && state != Self.noAnswer) || state == "57P01" || state == "57P02"
    }

    /// The store error for this failure: lost connections, a server shutting down or full, lock timeouts and
    /// statements the server cancelled (its `statement_timeout`) are worth retrying later; integrity violations
    /// are conflicts; the rest is a failure.
    func storeError(operation: String) -> StoreError {
        if state.hasPrefix("08")
            || ["57P01", "57P02", "57P03", "57014", "53300", "55P03", "40001", "40P01"].contains(state)
        {
            return .unavailable(operation: operation, message: message)
        }
        if state.hasPrefix("23") {
            return .conflict(operation: operation, message: message)
        }
        return .failed(operation: operation, code: Self.numericCode(state), message: "\(state): \(message)")
    }

    /// SQLSTATE's five characters folded into an `Int32` for `StoreError.failed`'s code: base 36, so distinct.
    private static func numericCode(_ state: String) -> Int32 {
        Int32(state, radix: 36) ?? -1
    }
}
