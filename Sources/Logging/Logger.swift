// Logging: one small structured logger for the whole service.
//
// Lines are logfmt (`ts=... level=info msg="request" request_id=... status=200`), one per event, on standard
// error. Libraries take a `Logger` from their caller; nothing here knows about webhooks. Callers must never pass
// tokens, keys, secrets or payloads as metadata.

import Foundation
import Synchronization

/// A structured logger writing logfmt lines to standard error.
public struct Logger: Sendable {
    /// How much a logger says, from the most to the least.
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case debug = 0
        case info = 1
        case warning = 2
        case error = 3

        /// The level named by `--log-level`, or `nil` for an unknown name.
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }

        public var name: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .warning: "warning"
            case .error: "error"
            }
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Where lines go; tests may collect them instead of printing.
    public typealias Sink = @Sendable (String) -> Void

    public var level: Level
    public var label: String
    private let sink: Sink

    /// Creates a logger.
    /// - Parameters:
    ///   - label: the subsystem, printed as `logger=`.
    ///   - level: the least severe level that is written.
    ///   - sink: where finished lines go; standard error by default.
    public init(label: String, level: Level = .info, sink: Sink? = nil) {
        self.label = label
        self.level = level
        self.sink = sink ?? Logger.standardError
    }

    /// The same sink and level under another label.
    public func labelled(_ label: String) -> Logger {
        var copy = self
        copy.label = label
        return copy
    }

    public func debug(_ message: String, _ metadata: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        log(.debug, message, metadata)
    }

    public func info(_ message: String, _ metadata: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        log(.info, message, metadata)
    }

    public func warning(_ message: String, _ metadata: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        log(.warning, message, metadata)
    }

    public func error(_ message: String, _ metadata: KeyValuePairs<String, CustomStringConvertible> = [:]) {
        log(.error, message, metadata)
    }

    /// Writes one line if `level` is enabled.
    public func log(_ level: Level, _ message: String, _ metadata: KeyValuePairs<String, CustomStringConvertible>) {
        guard level >= self.level else { return }
        log(level, message, fields: metadata.map { ($0.key, $0.value.description) })
    }

    /// Writes one line if `level` is enabled, with metadata built at run time.
    public func log(_ level: Level, _ message: String, fields: [(String, String)]) {
        guard level >= self.level else { return }
        var line = "ts=\(Logger.timestamp()) level=\(level.name) logger=\(label) msg=\(Logger.quoted(message))"
        for (key, value) in fields {
            line += " \(key)=\(Logger.quoted(value))"
        }
        sink(line)
    }

    /// Quotes a logfmt value when it holds spaces, quotes, `=` or control characters.
    static func quoted(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains { scalar in
                scalar == " " || scalar == "\"" || scalar == "=" || scalar.value < 0x20 || scalar == "\\"
            }
        guard needsQuotes else { return value }
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 {
                    escaped += String(format: "\\u%04x", scalar.value)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000)
        )
    }

    private static let writeLock = Mutex(())

    private static let standardError: Sink = { line in
        let bytes = Array((line + "\n").utf8)
        writeLock.withLock { _ in
            bytes.withUnsafeBufferPointer { buffer in
                _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count)
            }
        }
    }
}
