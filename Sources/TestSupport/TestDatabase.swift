import Foundation
import Store
import WebhookCore

/// The database engine a test runs on.
public enum TestStoreKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// An SQLite file in the test's directory.
    case sqlite
    /// A database of the test's own on the PostgreSQL server that `DONUTWORK_TEST_POSTGRES` names.
    case postgres

    /// The store of this test run: `.postgres` when `DONUTWORK_TEST_POSTGRES` is set, else `.sqlite`.
    public static var current: TestStoreKind {
        TestDatabase.postgresAdminURL == nil ? .sqlite : .postgres
    }

    public var description: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        }
    }
}

/// A fresh, empty database for one test, on the store this test run uses.
///
/// `scripts/test` runs the suite twice: once on SQLite, once with `DONUTWORK_TEST_POSTGRES` set to the admin URL of
/// a private PostgreSQL server (`postgresql://postgres@127.0.0.1:PORT/postgres`, from `scripts/postgres`). There
/// each test database is a database of its own on that server (`dw_test_<random hex>`), created and dropped with
/// the `psql` client.
///
/// ```swift
/// let database = try TestDatabase.make()
/// defer { database.drop() }
/// let store = try openStore(database.location, logger: logger, cipher: cipher)
/// ```
public struct TestDatabase: Sendable {
    /// The environment variable holding the admin URL of the PostgreSQL server to run on: a user that may create
    /// and drop databases.
    public static let postgresVariable = "DONUTWORK_TEST_POSTGRES"

    /// The engine.
    public let kind: TestStoreKind
    /// The `--database` value: `sqlite:<directory>/test.db` or `postgresql://.../dw_test_<hex>`.
    public let url: String
    /// `url` parsed, for `openStore`.
    public let location: DatabaseLocation
    /// The directory of the SQLite file or of the master key file.
    public let directory: String
    /// The master key file the service needs on PostgreSQL: base64 of 32 random bytes, mode 0600, in `directory`.
    /// `nil` on SQLite, where the service generates `<file>.master-key` beside the database as it does for an
    /// operator.
    public let masterKeyFile: String?
    /// The SQLite file, or `nil` on PostgreSQL.
    public let sqlitePath: String?

    /// The PostgreSQL database's name and the admin URL it was created with, or `nil` on SQLite.
    private let postgres: (name: String, adminURL: String)?
    /// Whether `make` created `directory`, so that `drop` removes it.
    private let ownsDirectory: Bool

    /// The admin URL from `DONUTWORK_TEST_POSTGRES`, or `nil` when the variable is unset or empty.
    public static var postgresAdminURL: String? {
        guard let url = ProcessInfo.processInfo.environment[postgresVariable], !url.isEmpty else { return nil }
        return url
    }

    /// Makes a fresh database.
    /// - Parameters:
    ///   - kind: the engine; by default the one this run uses.
    ///   - directory: where the SQLite file (`test.db`) or the master key file goes; when `nil`, a new temporary
    ///     directory that `drop()` removes.
    /// - Throws: `Shell.Failure` when `psql` cannot create the database; `TestDatabase.Unavailable` for
    ///   `.postgres` without `DONUTWORK_TEST_POSTGRES`.
    public static func make(_ kind: TestStoreKind = .current, in directory: String? = nil) throws -> TestDatabase {
        let ownsDirectory = directory == nil
        let directory =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("dw-db-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        switch kind {
        case .sqlite:
            let path = "\(directory)/test.db"
            return TestDatabase(
                kind: kind, url: "sqlite:\(path)", location: .sqlite(path: path), directory: directory,
                masterKeyFile: nil, sqlitePath: path, postgres: nil, ownsDirectory: ownsDirectory)

        case .postgres:
            let name = "dw_test_" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let keyFile = "\(directory)/master.key"
            let adminURL: String
            let url: String
            do {
                guard let admin = postgresAdminURL else { throw Unavailable() }
                adminURL = admin
                url = try databaseURL(adminURL: admin, name: name)
                try writeMasterKey(to: keyFile)
                try runPSQL(url: admin, "CREATE DATABASE \(name)")
            } catch {
                try? FileManager.default.removeItem(atPath: ownsDirectory ? directory : keyFile)
                throw error
            }
            return TestDatabase(
                kind: kind, url: url, location: .postgres(url), directory: directory, masterKeyFile: keyFile,
                sqlitePath: nil, postgres: (name, adminURL), ownsDirectory: ownsDirectory)
        }
    }

    /// `--database URL`, and on PostgreSQL `--master-key-file FILE`: what a command on this database needs.
    public var arguments: [String] {
        ["--database", url] + (masterKeyFile.map { ["--master-key-file", $0] } ?? [])
    }

    /// The same settings as `DONUTWORK_DATABASE` and `DONUTWORK_MASTER_KEY_FILE`.
    public var environment: [String: String] {
        var variables = ["DONUTWORK_DATABASE": url]
        variables["DONUTWORK_MASTER_KEY_FILE"] = masterKeyFile
        return variables
    }

    /// The key that seals this database's webhook tokens: `masterKeyFile`, or on SQLite the key the service
    /// generated beside the file when it first opened it.
    public func cipher() throws -> TokenCipher {
        let path = masterKeyFile ?? "\(sqlitePath ?? "").master-key"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try TokenCipher(base64Key: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether no store has been opened on it yet: no SQLite file, or no table in the PostgreSQL database.
    public func isUntouched() throws -> Bool {
        switch kind {
        case .sqlite:
            return !FileManager.default.fileExists(atPath: sqlitePath ?? "")
        case .postgres:
            let tables = try psql(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
            return tables.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
        }
    }

    /// Everything the database holds, as bytes to search: the SQLite file followed by its write-ahead log, or a
    /// plain-text `pg_dump` of the PostgreSQL database. Read it after the service has stopped.
    public func contents() throws -> Data {
        switch kind {
        case .sqlite:
            let path = sqlitePath ?? ""
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            if let log = FileManager.default.contents(atPath: path + "-wal") {
                bytes.append(log)
            }
            return bytes
        case .postgres:
            return Data(try Shell.run("pg_dump", ["--no-owner", "--dbname=\(url)"]).utf8)
        }
    }

    /// Runs SQL on this PostgreSQL database with `psql`, as the admin user, and returns the rows unaligned: one line
    /// each, columns joined by `|`, NULL as `\N`, times in UTC in ISO style. SQL text only, no parameters: for
    /// test constants, never input.
    public func psql(_ sql: String) throws -> String {
        precondition(kind == .postgres, "psql runs on a PostgreSQL test database only")
        return try Self.runPSQL(url: url, sql)
    }

    /// Drops the PostgreSQL database (ending its sessions) or deletes the SQLite files, then the directory if
    /// `make` created it. Failures are reported on standard error, not thrown, so it fits a `defer`.
    public func drop() {
        switch kind {
        case .sqlite:
            let path = sqlitePath ?? ""
            for suffix in ["", "-wal", "-shm", ".master-key"] {
                try? FileManager.default.removeItem(atPath: path + suffix)
            }
        case .postgres:
            if let (name, adminURL) = postgres {
                do {
                    try Self.runPSQL(url: adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                } catch {
                    FileHandle.standardError.write(Data("TestDatabase: could not drop \(name): \(error)\n".utf8))
                }
            }
            if let masterKeyFile {
                try? FileManager.default.removeItem(atPath: masterKeyFile)
            }
        }
        if ownsDirectory {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// `.postgres` was asked for, but `DONUTWORK_TEST_POSTGRES` names no server.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String {
            "a PostgreSQL test database needs \(TestDatabase.postgresVariable) set to a server's admin URL, "
                + "e.g. postgresql://postgres@127.0.0.1:54329/postgres (scripts/postgres start DIR 54329 prints one)"
        }
    }

    /// The admin URL with its database replaced by `name`; user, host, port and query kept.
    static func databaseURL(adminURL: String, name: String) throws -> String {
        guard var components = URLComponents(string: adminURL), components.host != nil,
            let scheme = components.scheme?.lowercased(), scheme == "postgresql" || scheme == "postgres"
        else {
            throw Shell.Failure(
                command: postgresVariable, status: -1, output: "not a postgresql:// URL with a host: \(adminURL)")
        }
        components.path = "/\(name)"
        guard let url = components.string else {
            throw Shell.Failure(command: postgresVariable, status: -1, output: "cannot rewrite \(adminURL)")
        }
        return url
    }

    /// Writes a new master key (base64 of 32 random bytes) readable by this user only.
    static func writeMasterKey(to path: String) throws {
        let text = Data(TokenCipher.generateKey()).base64EncodedString() + "\n"
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw Shell.Failure(command: "write \(path)", status: -1, output: "could not write the master key")
        }
    }

    /// Runs one SQL statement with `psql` (no start-up file, stop on the first error, notices off).
    @discardableResult
    static func runPSQL(url: String, _ sql: String) throws -> String {
        try Shell.run(
            "psql",
            [
                "--no-psqlrc", "--quiet", "--no-align", "--tuples-only", "--set=ON_ERROR_STOP=1", "--pset=null=\\N",
                "--dbname=\(url)", "--command=\(sql)",
            ],
            environment: [
                "PGOPTIONS": "-c client_min_messages=warning", "PGTZ": "UTC", "PGDATESTYLE": "ISO",
                "PGCONNECT_TIMEOUT": "10",
            ])
    }
}
