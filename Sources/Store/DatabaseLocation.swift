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

    /// Parses `sqlite:PATH`, `sqlite://PATH`, a bare path ending in `.db`, or `postgres://` / `postgresql://`.
    /// - Throws: `StoreError.invalidLocation` for anything else, including `sqlite:` with no path.
    public init(parsing text: String) throws {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
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

    /// `text` with the userinfo of a `scheme://user:password@host` URL hidden; other text unchanged.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return text }
        return text[..<schemeEnd.upperBound] + "***" + text[at...]
    }
}

/// Opens the store at `location`: SQLite now; PostgreSQL is refused until that implementation lands.
///
/// `cipher` seals webhook tokens at rest; the same key must be given every time the database is opened.
public func openStore(_ location: DatabaseLocation, logger: Logger, cipher: TokenCipher) throws -> any Store {
    switch location {
    case .sqlite(let path):
        return try SQLiteStore(path: path, logger: logger, cipher: cipher)
    case .postgres:
        // TODO: PostgreSQL store (libpq, FOR UPDATE SKIP LOCKED queues) is not written yet; see DESIGN.md.
        throw StoreError.invalidLocation("PostgreSQL support is not available in this build")
    }
}
