import Foundation
import Logging
import WebhookCore

/// Where the store lives, as given by `--database` (or `DONUTWORK_DATABASE`).
///
/// ```swift
/// let location = try DatabaseLocation(parsing: "sqlite:donutwork.db")   // .sqlite(path: "donutwork.db")
/// let store = try openStore(location, logger: logger, cipher: cipher)
/// ```
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file, relative to the working directory or absolute.
    case sqlite(path: String)
    /// A PostgreSQL connection URL, kept whole for libpq.
    case postgres(String)

    /// Parses `sqlite:PATH`, `sqlite://PATH`, a bare path ending in `.db`, `postgres://` / `postgresql://` URLs,
    /// or libpq's `key=value` form (`host=db1 dbname=webhooks user=dw`).
    /// - Throws: `StoreError.invalidLocation` for anything else, including `sqlite:` with no path.
    public init(parsing text: String) throws {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") || Self.isKeywordForm(text) {
            self = .postgres(text)
            return
        }

        let path: Substring
        if lowered.hasPrefix("sqlite://") {
            path = text.dropFirst("sqlite://".count)
        } else if lowered.hasPrefix("sqlite:") {
            path = text.dropFirst("sqlite:".count)
        } else if text.hasSuffix(".db"), !text.contains("://") {
            path = text[...]
        } else {
            throw StoreError.invalidLocation(Self.redacted(text))
        }

        // `:memory:` would give every pooled connection a private, empty database.
        guard !path.isEmpty, path != ":memory:" else {
            throw StoreError.invalidLocation(Self.redacted(text))
        }
        self = .sqlite(path: String(path))
    }

    /// The location with any password in a URL replaced by `***`, fit for logs.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): Self.redacted(url)
        }
    }

    /// Whether `text` is in libpq's `key=value` form: not a URL, and it starts with a word followed by `=`
    /// (libpq itself then says which keyword it does not know).
    static func isKeywordForm(_ text: String) -> Bool {
        !text.contains("://") && text.wholeMatch(of: /\s*[A-Za-z_]+\s*=.*/.dotMatchesNewlines()) != nil
    }

    /// `text` with the userinfo of a `scheme://user:password@host` URL, or a `password=` value of the
    /// `key=value` form, hidden; other text unchanged.
    static func redacted(_ text: String) -> String {
        // A password value: quoted (with \' inside) or up to the next white space or `&`.
        let password = /(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)/
        let hidden = text.replacing(password) { match in match.1 + "***" }
        if isKeywordForm(text) {
            return hidden
        }
        let text = hidden
        guard let schemeEnd = text.range(of: "://") else { return text }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return text }
        return text[..<schemeEnd.upperBound] + "***" + text[at...]
    }
}

/// Opens the store at `location`: an SQLite file, or a PostgreSQL database shared with other processes.
///
/// `cipher` seals webhook tokens at rest; the same key must be given every time the database is opened (by every
/// process of a PostgreSQL deployment). `poolSize` bounds the connections this process opens; `statementTimeout`
/// bounds how long one PostgreSQL statement waits for the server's answer (`nil`: forever).
public func openStore(
    _ location: DatabaseLocation, poolSize: Int = 10, statementTimeout: TimeInterval? = 10, logger: Logger,
    cipher: TokenCipher
) throws -> any Store {
    switch location {
    case .sqlite(let path):
        return try SQLiteStore(path: path, poolSize: poolSize, logger: logger, cipher: cipher)
    case .postgres(let conninfo):
        return try PostgresStore(
            conninfo: conninfo, poolSize: poolSize, statementTimeout: statementTimeout, logger: logger, cipher: cipher)
    }
}
