import Foundation
import TestSupport
import Testing
import WebhookCore

/// The `donutwork-webhooks` executable as an operator runs it: exit codes, standard output and standard error.
@Suite(.timeLimit(.minutes(1))) struct CommandLineTests {
    let directory: ScratchDirectory
    /// The test's database, on the store this run uses; nothing opens it until a command does.
    let database: TestDatabase

    init() throws {
        directory = try ScratchDirectory("dw-cli")
        do {
            database = try TestDatabase.make(in: directory.path)
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Drops the database and removes the directory.
    private func cleanUp() {
        database.drop()
        directory.remove()
    }

    /// Runs the executable in the test's directory.
    private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ServerProcess.Result {
        try ServerProcess.run(arguments, directory: directory.path, environment: environment)
    }

    /// `keys create` with read and write permissions for acme; returns the key.
    private func createKey(company: String = "acme") throws -> String {
        let create = ["keys", "create", "--company", company, "--permissions", "webhooks:read,webhooks:write"]
        let result = try run(create + database.arguments)
        #expect(result.status == 0, "\(result)")
        return try #require(result.stdoutLines.first, "\(result)")
    }

    @Test func keysCreatePrintsOnlyTheKey() throws {
        defer { cleanUp() }
        let create = ["keys", "create", "--company", "acme", "--permissions", "webhooks:read,webhooks:write"]
        let result = try run(create + database.arguments)
        #expect(result.status == 0, "\(result)")
        #expect(result.exitedNormally)
        #expect(result.stdoutLines.count == 1, "\(result)")
        #expect(result.stdout.hasSuffix("\n"))
        let key = try #require(result.stdoutLines.first)
        #expect(key.wholeMatch(of: /dwk_[A-Za-z0-9_-]{43}/) != nil, "not a key: \(key)")
        #expect(!result.stderr.contains(key), "the key leaked into standard error")
    }

    @Test func keysListShowsThePrefixAndRevokeMarksTheKeyRevoked() throws {
        defer { cleanUp() }
        let key = try createKey()
        let prefix = String(key.prefix(12))

        let listed = try run(["keys", "list", "--company", "acme"] + database.arguments)
        #expect(listed.status == 0, "\(listed)")
        #expect(!listed.stdout.contains(key), "keys list printed the whole key")
        #expect(!listed.stderr.contains(key), "keys list logged the whole key")
        #expect(listed.stdoutLines.count == 2, "\(listed)")
        #expect(listed.stdoutLines.first == "PREFIX\tPERMISSIONS\tCREATED\tREVOKED")
        let row = try #require(listed.stdoutLines.last).components(separatedBy: "\t")
        #expect(row.count == 4)
        #expect(row.first == prefix)
        #expect(row.dropFirst().first == "webhooks:read,webhooks:write")
        #expect(row.count == 4 && ISO8601DateFormatter().date(from: row[2]) != nil, "created: \(row)")
        #expect(row.last == "-")

        let revoked = try run(["keys", "revoke", prefix] + database.arguments)
        #expect(revoked.status == 0, "\(revoked)")
        #expect(revoked.stdout == "revoked \(prefix)\n")

        let after = try run(["keys", "list", "--company", "acme"] + database.arguments)
        #expect(after.status == 0, "\(after)")
        let revokedRow = try #require(after.stdoutLines.last).components(separatedBy: "\t")
        #expect(revokedRow.first == prefix)
        let revokedAt = try #require(revokedRow.last)
        #expect(revokedAt != "-" && ISO8601DateFormatter().date(from: revokedAt) != nil, "revoked: \(revokedRow)")

        let again = try run(["keys", "revoke", prefix] + database.arguments)
        #expect(again.status == 1, "\(again)")
        #expect(again.stdout == "")
        #expect(again.stderr == "error: no active key with prefix \(prefix)\n", "\(again)")

        let nobody = try run(["keys", "list", "--company", "nobody"] + database.arguments)
        #expect(nobody.status == 1, "\(nobody)")
        #expect(nobody.stdout == "")
        #expect(nobody.stderr == "error: no company nobody\n", "\(nobody)")
    }

    @Test func unknownPermissionIsAUsageError() throws {
        defer { cleanUp() }
        let result = try run(["keys", "create", "--company", "acme", "--permissions", "bogus"] + database.arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("error: --permissions must be"), "\(result)")
        #expect(result.stderr.contains("usage: donutwork-webhooks keys create"), "\(result)")
        #expect(try database.isUntouched(), "a refused command opened the store")
    }

    @Test func unknownFlagIsAUsageError() throws {
        defer { cleanUp() }
        let result = try run(["keys", "create", "--company", "acme", "--nope"] + database.arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("error: unknown flag --nope\n"), "\(result)")
        #expect(result.stderr.contains("usage: donutwork-webhooks keys create"), "\(result)")
    }

    @Test(arguments: [
        ["--help"], ["serve", "--help"], ["keys", "create", "--help"], ["keys", "list", "--help"],
        ["keys", "revoke", "--help"], ["event-types", "list", "--help"], ["event-types", "add", "--help"],
        ["migrate", "--help"], ["emit", "--help"],
    ])
    func helpExitsZeroWithUsage(arguments: [String]) throws {
        defer { cleanUp() }
        let result = try run(arguments)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("usage: donutwork-webhooks"), "\(result)")
        #expect(result.stdout.contains("--help"))
        #expect(result.stderr == "", "\(result)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/donutwork.db"), "--help opened the store")
    }

    @Test func noArgumentsExitsTwoWithUsage() throws {
        defer { cleanUp() }
        let result = try run([])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.contains("usage: donutwork-webhooks COMMAND"), "\(result)")
    }

    @Test func aGroupNameWithHelpListsItsCommands() throws {
        defer { cleanUp() }
        let result = try run(["keys", "--help"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout
                == "usage:\n  donutwork-webhooks keys create --company SLUG --permissions LIST [--database ...]\n"
                + "  donutwork-webhooks keys list --company SLUG [--database ...]\n"
                + "  donutwork-webhooks keys revoke PREFIX [--database ...]\n")
    }

    @Test(arguments: [
        (
            ["serve", "--listen", "127.0.0.1:notaport"],
            "error: --listen must look like HOST:PORT, e.g. 127.0.0.1:8080\n"
        ),
        (
            ["serve", "--metrics-listen", "9090"],
            "error: --metrics-listen must look like HOST:PORT, e.g. 127.0.0.1:9090\n"
        ),
        (["serve", "--database", "sqlite:"], "error: unsupported database location: sqlite:"),
        (["serve", "stray"], "error: serve takes no arguments, only flags (got \"stray\")\n"),
        (["serve", "--ca-file", "/etc/passwd"], "error: --ca-file /etc/passwd holds no PEM certificate\n"),
        (
            ["serve", "--retention", "30"],
            "error: --retention must be a whole number of s, m, h or d up to 36500d (e.g. 90m, 12h, 30d), "
                + "or 0 or off, not \"30\"\n"
        ),
        (
            ["serve", "--database-timeout", "2h"],
            "error: --database-timeout must be one duration from 1s to 1h, such as 10s or 2m, not \"2h\"\n"
        ),
        (
            ["serve", "--database-timeout", "0"],
            "error: --database-timeout must be one duration from 1s to 1h, such as 10s or 2m, not \"0\"\n"
        ),
        (
            ["serve", "--database-timeout", "soon"],
            "error: --database-timeout must be one duration from 1s to 1h, such as 10s or 2m, not \"soon\"\n"
        ),
    ])
    func badServeSettingsAreUsageErrors(arguments: [String], message: String) throws {
        defer { cleanUp() }
        let result = try run(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix(message), "\(result)")
        #expect(result.stderr.contains("usage: donutwork-webhooks serve"), "\(result)")
    }

    /// PostgreSQL settings libpq refuses (some only when it connects) are the operator's to fix: exit 2 with usage,
    /// libpq's reason without the password, and no server needed to say so.
    @Test(arguments: [
        ("sslmode=bogus", "error: invalid database setting in --database: invalid sslmode value: \"bogus\"\n"),
        (
            "port=abc",
            "error: invalid database setting in --database: invalid integer value \"abc\" for connection option "
                + "\"port\"\n"
        ),
        (
            "no_such_option=1",
            "error: unsupported database location: not a valid PostgreSQL URL or key=value string "
                + "(libpq could not parse it)\n"
        ),
    ])
    func postgresSettingsLibpqRefusesAreUsageErrors(query: String, message: String) throws {
        defer { cleanUp() }
        let keyFile = "\(directory.path)/master.key"
        let key = Data(TokenCipher.generateKey()).base64EncodedString() + "\n"
        #expect(
            FileManager.default.createFile(
                atPath: keyFile, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]))
        let result = try run([
            "serve", "--database", "postgresql://dw:sekrit@127.0.0.1:1/dw?\(query)", "--master-key-file", keyFile,
        ])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix(message), "\(result)")
        #expect(!result.stderr.contains("sekrit"), "\(result)")
    }

    @Test func serveTakesItsRetentionFromTheFlagOrTheEnvironment() async throws {
        defer { directory.remove() }
        let (flagged, _) = try await ServerProcess.startServer(
            ["--database", directory.database, "--threads", "1", "--retention", "90m"], directory: directory.path)
        defer { flagged.kill() }
        let (off, _) = try await ServerProcess.startServer(
            ["--database", directory.database, "--threads", "1"], directory: directory.path,
            environment: ["DONUTWORK_RETENTION": "off"])
        defer { off.kill() }

        // The line is written right after the server starts answering.
        #expect(await eventually(timeoutSeconds: 5) { flagged.stderr.contains("msg=listening") })
        #expect(await eventually(timeoutSeconds: 5) { off.stderr.contains("msg=listening") })
        let flaggedLine = flagged.stderr.split(separator: "\n").first { $0.contains("msg=listening") }
        #expect(flaggedLine?.contains(" retention_s=5400") == true, "\(flagged.stderr)")
        #expect(flagged.stderr.contains("the retention is shorter than the idempotency window"), "\(flagged.stderr)")
        let offLine = off.stderr.split(separator: "\n").first { $0.contains("msg=listening") }
        #expect(offLine?.contains(" retention_s=off") == true, "\(off.stderr)")
    }

    @Test func revokeAcceptsTheWholeKey() throws {
        defer { cleanUp() }
        let key = try createKey()
        let revoked = try run(["keys", "revoke", key] + database.arguments)
        #expect(revoked.status == 0, "\(revoked)")
        #expect(revoked.stdout == "revoked \(key.prefix(12))\n")
    }

    @Test func emitAcceptsAnEventLikeTheAPIAndKeepsIdempotency() throws {
        defer { cleanUp() }
        _ = try createKey()
        let arguments =
            [
                "emit", "--company", "acme", "--type", "RecurringPayments.charge.paid", "--data", #"{"amount":5}"#,
                "--idempotency-key", "k-1",
            ] + database.arguments
        let first = try run(arguments)
        #expect(first.status == 0, "\(first)")
        let line = try #require(first.stdoutLines.first)
        #expect(
            line.wholeMatch(of: /accepted evt_[a-z2-7]{26} RecurringPayments.charge.paid deliveries=0/) != nil,
            "\(line)")
        let eventID = line.split(separator: " ")[1]

        let again = try run(arguments)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "replayed \(eventID) RecurringPayments.charge.paid deliveries=0\n")

        let unknown = try run(
            ["emit", "--company", "acme", "--type", "Nope.x", "--data", "{}"] + database.arguments)
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.stderr == "error: Some events are not available\n")
    }

    @Test func aClientThatHangsUpBeforeItsAnswerDoesNotKillServe() async throws {
        defer { cleanUp() }
        let key = try createKey()
        let silent = try TCPListener()
        defer { silent.stop() }
        let (server, port) = try await ServerProcess.startServer(
            database.arguments + ["--allow-private-targets", "--tls-check-timeout", "1"],
            directory: directory.path)
        defer { server.kill() }

        // The answer comes after the one-second TLS check; the client is long gone by then.
        let body =
            #"{"webhook":{"name":"n","url":"https://localhost:\#(silent.port)/","events":"RecurringPayments.charge.paid"}}"#
        let request =
            "POST /2026-02-01/webhooks.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        _ = try await RawConnection.exchange(port: port, request: Array(request.utf8), closeAfterSending: true)
        try await Task.sleep(for: .seconds(2))

        #expect(server.isRunning, "serve died: \(server.stderr)")
        let health = try await HTTPClient.send("GET", "http://127.0.0.1:\(port)/healthz")
        #expect(health.status == 200)
    }

    /// `migrate` says what it applied (a log line a step, at info) and the version the schema is at; on a database
    /// a later release migrated it refuses with one sentence that says what to do, not an internal error code.
    @Test func migrateSaysTheSchemaVersionAndRefusesANewerSchema() throws {
        defer { cleanUp() }
        let latest = database.kind == .postgres ? 2 : 6
        let first = try run(["migrate"] + database.arguments)
        #expect(first.status == 0, "\(first)")
        #expect(first.stdoutLines == ["schema version \(latest)", "migrations applied"], "\(first)")
        let applied = first.stderr.split(separator: "\n").filter { $0.contains(#"msg="schema migration applied""#) }
        #expect(applied.count == latest, "\(first.stderr)")

        let again = try run(["migrate"] + database.arguments)
        #expect(again.stdoutLines == ["schema version \(latest)", "migrations applied"], "\(again)")
        #expect(!again.stderr.contains("schema migration applied"), "\(again.stderr)")

        let future = "INSERT INTO schema_migrations (version) VALUES (99)"
        if let path = database.sqlitePath {
            _ = try Shell.run(
                "sqlite3", [path, "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')"])
        } else {
            _ = try database.psql(future)
        }
        let refused = try run(["migrate"] + database.arguments)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stdout == "", "\(refused)")
        #expect(
            refused.stderr.hasSuffix(
                "error: the database's schema is at version 99, newer than this build knows (\(latest)): a later "
                    + "release migrated it, and migrations are not undone; run that release or a later one\n"),
            "\(refused.stderr)")
    }

    /// An administration command waits at most `--database-timeout` for a statement: while another session holds the
    /// keys table, `keys list --database-timeout 1s` fails with the reason (exit 1) instead of waiting for the lock,
    /// and lists the key once the lock is gone.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only: SQLite has no statement deadline"))
    func administrationCommandsWaitAtMostTheDatabaseTimeout() throws {
        defer { cleanUp() }
        let key = try createKey()
        let holder = try Shell.startPSQL(
            url: database.url, "BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT")
        defer { holder.terminate() }
        let heldLocks = """
            SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'api_keys' AND l.mode = 'AccessExclusiveLock' AND l.granted
            """
        var held = false
        for _ in 0..<50 where !held {
            held = try database.psql(heldLocks).trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            if !held { Thread.sleep(forTimeInterval: 0.1) }
        }
        try #require(held, "the psql session never took the lock")

        let waited = try run(["keys", "list", "--company", "acme", "--database-timeout", "1s"] + database.arguments)
        #expect(waited.status == 1, "\(waited)")
        #expect(waited.stdout == "", "\(waited)")
        #expect(waited.stderr.hasSuffix("the server did not answer within 1 s\n"), "\(waited.stderr)")
        #expect(waited.stderr.split(separator: "\n").count == 1, "one line on standard error: \(waited.stderr)")

        Shell.waitForExit(holder, timeoutSeconds: 20)
        let listed = try run(["keys", "list", "--company", "acme", "--database-timeout", "1s"] + database.arguments)
        #expect(listed.status == 0, "\(listed)")
        #expect(listed.stdout.contains(String(key.prefix(12))), "\(listed)")

        let refused = try run(["keys", "list", "--company", "acme", "--database-timeout", "2h"] + database.arguments)
        #expect(refused.status == 2, "\(refused)")
        #expect(
            refused.stderr.hasPrefix(
                "error: --database-timeout must be one duration from 1s to 1h, such as 10s or 2m, not \"2h\"\n"),
            "\(refused.stderr)")
    }

    /// A command that only reads or changes what is there, run where no database is, says so and creates nothing
    /// (before, `keys list` made an empty donutwork.db and a master key in whatever directory it ran from).
    @Test(.enabled(if: TestStoreKind.current == .sqlite, "an SQLite file that does not exist"))
    func readingCommandsRefuseAMissingSQLiteFile() throws {
        defer { cleanUp() }
        let path = "\(directory.path)/absent.db"
        for arguments in [
            ["keys", "list", "--company", "acme"], ["keys", "revoke", "dwk_abcdefgh"], ["event-types", "list"],
        ] {
            let result = try run(arguments + ["--database", "sqlite:\(path)"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout == "", "\(result)")
            #expect(
                result.stderr == "error: no database at \(path): run this where serve runs, or pass the same "
                    + "--database (nothing was created)\n", "\(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".master-key"))
    }

    @Test func unknownCommandExitsTwo() throws {
        defer { cleanUp() }
        let result = try run(["frobnicate", "--database", database.url])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("error: unknown command \"frobnicate --database\"\n"), "\(result)")
        #expect(result.stderr.contains("usage: donutwork-webhooks COMMAND"), "\(result)")
    }

    @Test func databaseComesFromTheEnvironmentWhenTheFlagIsAbsent() throws {
        defer { cleanUp() }
        let created = try run(
            ["keys", "create", "--company", "acme", "--permissions", "webhooks:read"],
            environment: database.environment)
        #expect(created.status == 0, "\(created)")
        let key = try #require(created.stdoutLines.first)
        #expect(try !database.isUntouched(), "DONUTWORK_DATABASE was ignored")
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/donutwork.db"), "used the default store")

        let listed = try run(["keys", "list", "--company", "acme"] + database.arguments)
        #expect(listed.status == 0, "\(listed)")
        #expect(
            listed.stdoutLines.dropFirst().map { $0.components(separatedBy: "\t").first } == [String(key.prefix(12))])

        // The flag wins over the variable.
        let other = try TestDatabase.make()
        defer { other.drop() }
        let flagged = try run(
            ["keys", "list", "--company", "acme"] + database.arguments,
            environment: other.environment)
        #expect(flagged.status == 0, "\(flagged)")
        #expect(try other.isUntouched())
    }

    @Test func eventTypesAddThenList() throws {
        defer { cleanUp() }
        let add = ["event-types", "add", "Orders.created", "--company", "acme"]
        let added = try run(add + database.arguments)
        #expect(added.status == 0, "\(added)")
        #expect(added.stdout == "added Orders.created\n")

        let listed = try run(["event-types", "list"] + database.arguments)
        #expect(listed.status == 0, "\(listed)")
        #expect(listed.stdoutLines.first == "NAME\tCOMPANY_ID\tCOMPANY")
        let rows = listed.stdoutLines.dropFirst().map { $0.components(separatedBy: "\t") }
        #expect(rows.count == 3, "\(listed)")
        let orders = try #require(rows.first { $0.first == "Orders.created" }, "\(listed)")
        #expect(
            orders.count == 3 && Int64(orders[1]) != nil && orders[2] == "acme",
            "Orders.created should carry acme's id and slug: \(orders)")
        #expect(rows.contains(["RecurringPayments.charge.failed", "*", "*"]), "\(listed)")
        #expect(rows.contains(["RecurringPayments.charge.paid", "*", "*"]), "\(listed)")
        // A fresh store: acme is company 1, and the list is sorted by name.
        #expect(
            listed.stdout
                == "NAME\tCOMPANY_ID\tCOMPANY\nOrders.created\t1\tacme\n"
                + "RecurringPayments.charge.failed\t*\t*\nRecurringPayments.charge.paid\t*\t*\n"
        )

        let again = try run(add + database.arguments)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == "Orders.created already exists\n")
    }

    @Test func cliKeyAuthenticatesAgainstServeAndTheLogNeverShowsIt() async throws {
        defer { cleanUp() }
        let key = try createKey()
        let (server, port) = try await ServerProcess.startServer(
            database.arguments + ["--threads", "2"], directory: directory.path)
        defer { server.kill() }

        let response = try await HTTPClient.send(
            "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks/types.json",
            headers: ["Authorization": "Bearer \(key)", "X-Request-Id": "cli-types-1"])
        #expect(response.status == 200)
        #expect(response.text == #"["RecurringPayments.charge.failed","RecurringPayments.charge.paid"]"#)

        let wrongKey = String(key.dropLast()) + (key.hasSuffix("x") ? "y" : "x")
        let wrong = try await HTTPClient.send(
            "GET", "http://127.0.0.1:\(port)/2026-02-01/webhooks/types.json",
            headers: ["Authorization": "Bearer \(wrongKey)"])
        #expect(wrong.status == 401)

        // The access log line is written right after the reply; give it a moment to land in the file.
        var log = server.stderr
        let deadline = Date().addingTimeInterval(5)
        while !log.contains("request_id=cli-types-1") && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
            log = server.stderr
        }
        let line = try #require(
            log.split(separator: "\n").first { $0.contains("request_id=cli-types-1") }, "no access log line:\n\(log)")
        #expect(line.contains("msg=request"), "\(line)")
        #expect(line.contains(" status=200"), "\(line)")
        #expect(line.contains(" company=acme"), "\(line)")
        #expect(line.contains(" path=/2026-02-01/webhooks/types.json"), "\(line)")
        #expect(!log.contains(key), "serve logged the API key")
        #expect(!log.contains(String(key.dropFirst(12))), "serve logged part of the API key past its prefix")
        #expect(!server.stdout.contains(key))
    }
}
