import Dispatch
import Foundation
import Locking
import Logging
import Store
import WebhookAPI
import WebhookCore

/// A subcommand: its usage and what it does with parsed options. Returns the process exit status.
struct Command: Sendable {
    var name: String
    var synopsis: String
    var summary: String
    var flags: [FlagSpec]
    var run: @Sendable (ParsedOptions) throws -> Int32
}

let databaseFlag = FlagSpec(
    name: "database", help: "sqlite:PATH or postgres://...", defaultValue: "sqlite:donutwork.db")
let logLevelFlag = FlagSpec(name: "log-level", help: "debug, info, warning or error", defaultValue: "info")
/// Administration commands print results on standard output; their logs stay quiet unless asked.
let quietLogLevelFlag = FlagSpec(name: "log-level", help: "debug, info, warning or error", defaultValue: "warning")

func makeLogger(_ options: ParsedOptions, label: String) throws -> Logger {
    let name = options.string("log-level") ?? "warning"
    guard let level = Logger.Level(name: name) else {
        throw UsageError(message: "--log-level must be debug, info, warning or error, not \"\(name)\"")
    }
    return Logger(label: label, level: level)
}

let masterKeyFlag = FlagSpec(
    name: "master-key-file", help: "key encrypting webhook tokens (default: generated beside the SQLite file)")

/// `--database-timeout` for the administration commands; `serve` has its own help text.
let commandDatabaseTimeoutFlag = FlagSpec(
    name: "database-timeout", help: "longest a PostgreSQL statement may wait for the server before the command fails",
    defaultValue: "10s")

/// The value of `--database-timeout`: one duration from 1 s to 1 h (a plain number is seconds).
func databaseTimeout(_ options: ParsedOptions) throws -> TimeInterval? {
    guard let text = options.string("database-timeout") else { return nil }
    guard let schedule = RetrySchedule.parse(text), schedule.delays.count == 1,
        let timeout = schedule.delays.first, (1...3600).contains(timeout)
    else {
        throw UsageError(
            message: "--database-timeout must be one duration from 1s to 1h, such as 10s or 2m, not \"\(text)\"")
    }
    return timeout
}

/// The flags of every administration command that opens the store.
let storeFlags = [databaseFlag, masterKeyFlag, commandDatabaseTimeoutFlag]

/// Opens the store for an administration command. A command that only reads or changes what is there
/// (`existingOnly`) refuses an SQLite file that does not exist, instead of creating an empty database (and a master
/// key) in whatever directory it was run from.
func openStoreForCommand(_ options: ParsedOptions, existingOnly: Bool = false) throws -> any Store {
    let database = options.string("database") ?? "sqlite:donutwork.db"
    if existingOnly, case .sqlite(let path) = try DatabaseLocation(parsing: database),
        !FileManager.default.fileExists(atPath: path)
    {
        throw CommandFailure(
            "no database at \(path): run this where serve runs, or pass the same --database (nothing was created)")
    }
    return try openServiceStore(
        database: database,
        masterKeyFile: options.string("master-key-file"), statementTimeout: try databaseTimeout(options) ?? 10,
        logger: try makeLogger(options, label: "store"))
}

/// Parses one duration such as `5s`, `30m`, `24h` or `5d` (a plain number is seconds).
func duration(_ options: ParsedOptions, _ name: String) throws -> TimeInterval? {
    guard let text = options.string(name) else { return nil }
    guard let schedule = RetrySchedule.parse(text), schedule.delays.count == 1, let value = schedule.delays.first
    else {
        throw UsageError(message: "--\(name) must be one duration such as 30s, 15m, 24h or 5d, not \"\(text)\"")
    }
    return value
}

// MARK: serve

let serveCommand = Command(
    name: "serve",
    synopsis: "donutwork-webhooks serve [flags]",
    summary: "Runs the webhook API on one machine. Stops gracefully on SIGTERM or SIGINT.",
    flags: [
        FlagSpec(name: "listen", help: "HOST:PORT to listen on", defaultValue: "127.0.0.1:8080"),
        databaseFlag,
        FlagSpec(
            name: "database-pool-size", help: "most database connections this process opens", defaultValue: "10"),
        FlagSpec(
            name: "database-timeout",
            help: "longest a PostgreSQL statement may wait for the server before the request fails with 503",
            defaultValue: "10s"),
        FlagSpec(
            name: "threads", help: "event loop threads",
            defaultValue: String(ProcessInfo.processInfo.activeProcessorCount)),
        FlagSpec(name: "ca-file", help: "extra trusted CA certificates (PEM) for endpoint TLS checks"),
        FlagSpec(
            name: "allow-private-targets", help: "allow webhook URLs on loopback and private networks",
            takesValue: false),
        FlagSpec(
            name: "tls-check-timeout", help: "seconds a new endpoint has for its TLS handshake", defaultValue: "10"),
        FlagSpec(name: "max-body-size", help: "largest request body in bytes", defaultValue: "1048576"),
        FlagSpec(name: "rate-limit", help: "requests per second per API key (0 = off)", defaultValue: "100"),
        FlagSpec(name: "rate-burst", help: "requests a quiet API key may send at once", defaultValue: "200"),
        masterKeyFlag,
        FlagSpec(name: "max-in-flight", help: "deliveries in flight at once", defaultValue: "1000"),
        FlagSpec(name: "max-in-flight-per-endpoint", help: "deliveries in flight per webhook", defaultValue: "20"),
        FlagSpec(name: "connect-timeout", help: "seconds to connect to a receiver (TCP and TLS)", defaultValue: "5"),
        FlagSpec(name: "request-timeout", help: "seconds for a whole delivery attempt", defaultValue: "15"),
        FlagSpec(
            name: "retry-schedule", help: "delays between attempts",
            defaultValue: "5s,5m,30m,2h,5h,10h,10h"),
        FlagSpec(
            name: "disable-after", help: "disable a webhook failing this long without a success", defaultValue: "5d"),
        FlagSpec(
            name: "token-rotation-overlap", help: "how long a rotated-out token keeps signing", defaultValue: "24h"),
        FlagSpec(
            name: "metrics-listen",
            help: "HOST:PORT of a server of its own for GET /metrics (default: /metrics on --listen)"),
        FlagSpec(name: "no-dispatcher", help: "serve the API only; other processes deliver", takesValue: false),
        FlagSpec(
            name: "retention",
            help: "purge events, deliveries and attempts older than this (90m, 12h, 30d; 0 or off keeps all)",
            defaultValue: "30d"),
        FlagSpec(
            name: "shutdown-grace", help: "on SIGTERM, how long in-flight requests may take to finish",
            defaultValue: "15s"),
        logLevelFlag,
    ],
    run: { options in
        var configuration = ServiceConfiguration()
        configuration.listen = options.string("listen") ?? configuration.listen
        configuration.database = options.string("database") ?? configuration.database
        configuration.databasePoolSize =
            try options.int("database-pool-size", range: 1...1000) ?? configuration.databasePoolSize
        configuration.databaseTimeout = try databaseTimeout(options) ?? configuration.databaseTimeout
        configuration.threads = try options.int("threads", range: 1...256) ?? configuration.threads
        configuration.caFile = options.string("ca-file").flatMap { $0.isEmpty ? nil : $0 }
        configuration.allowPrivateTargets = try options.bool("allow-private-targets")
        configuration.tlsCheckTimeout = try options.double("tls-check-timeout", range: 0.1...120) ?? 10
        configuration.maxBodySize = try options.int("max-body-size", range: 1024...(64 << 20)) ?? (1 << 20)
        configuration.rateLimit = try options.double("rate-limit", range: 0...1_000_000) ?? 100
        configuration.rateBurst = try options.double("rate-burst", range: 1...1_000_000) ?? 200
        configuration.masterKeyFile = options.string("master-key-file").flatMap { $0.isEmpty ? nil : $0 }
        configuration.tokenRotationOverlap = try duration(options, "token-rotation-overlap") ?? 86_400
        configuration.runsDispatcher = !(try options.bool("no-dispatcher"))
        configuration.metricsListen = options.string("metrics-listen").flatMap { $0.isEmpty ? nil : $0 }
        if let text = options.string("retention") {
            configuration.retention = try ServiceConfiguration.parseRetention(text)
        }
        var delivery = configuration.delivery
        delivery.maxInFlight = try options.int("max-in-flight", range: 1...100_000) ?? delivery.maxInFlight
        delivery.maxInFlightPerEndpoint =
            try options.int("max-in-flight-per-endpoint", range: 1...10_000) ?? delivery.maxInFlightPerEndpoint
        delivery.connectTimeout = try options.double("connect-timeout", range: 0.1...120) ?? delivery.connectTimeout
        delivery.totalTimeout = try options.double("request-timeout", range: 0.1...600) ?? delivery.totalTimeout
        if let text = options.string("retry-schedule") {
            guard let schedule = RetrySchedule.parse(text) else {
                throw UsageError(message: "--retry-schedule must be durations separated by commas, e.g. 5s,5m,30m,2h")
            }
            delivery.retrySchedule = schedule
        }
        delivery.disableAfter = try duration(options, "disable-after") ?? delivery.disableAfter
        configuration.delivery = delivery
        if let caFile = configuration.caFile {
            guard let contents = FileManager.default.contents(atPath: caFile) else {
                throw UsageError(message: "--ca-file \(caFile) is not a readable file")
            }
            guard String(decoding: contents, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                throw UsageError(message: "--ca-file \(caFile) holds no PEM certificate")
            }
        }
        guard options.positional.isEmpty else {
            throw UsageError(message: "serve takes no arguments, only flags (got \"\(options.positional[0])\")")
        }

        let grace = try duration(options, "shutdown-grace") ?? 15
        guard ServiceConfiguration.parseListen(configuration.listen) != nil else {
            throw UsageError(message: "--listen must look like HOST:PORT, e.g. 127.0.0.1:8080")
        }
        if let metricsListen = configuration.metricsListen, ServiceConfiguration.parseListen(metricsListen) == nil {
            throw UsageError(message: "--metrics-listen must look like HOST:PORT, e.g. 127.0.0.1:9090")
        }
        let logger = try makeLogger(options, label: "serve")
        // Signals are watched from the start: opening the store can wait as long as the database makes it (another
        // process's migration, a lock held elsewhere), and the operator must be able to stop that.
        let startup = Locked(true)
        let stopRequested = DispatchSemaphore(value: 0)
        let watcher = Thread {
            waitForTerminationSignal()
            if startup.withLock({ $0 }) {
                FileHandle.standardError.write(Data("error: stopped by a signal before start-up finished\n".utf8))
                _exit(1)  // nothing to finish: no request was served; the database rolls back what was half done
            }
            stopRequested.signal()
        }
        watcher.name = "signals"
        watcher.start()
        let service = try WebhookService(configuration: configuration, logger: logger)
        try startup.withLock { starting in
            try service.start()
            starting = false
        }
        stopRequested.wait()
        logger.info("shutting down")
        service.stop(gracePeriod: .milliseconds(Int64(grace * 1000)))
        return 0
    })

/// Blocks until SIGTERM or SIGINT arrives. `main` blocks both signals before any thread starts, so every thread
/// inherits the mask and only this `sigwait` receives them.
func waitForTerminationSignal() {
    var signals = terminationSignals()
    var received: Int32 = 0
    sigwait(&signals, &received)
}

/// The set {SIGTERM, SIGINT}.
func terminationSignals() -> sigset_t {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    return signals
}

// MARK: migrate

let migrateCommand = Command(
    name: "migrate",
    synopsis: "donutwork-webhooks migrate [--database ...]",
    summary: "Applies the store's schema migrations and exits. `serve` also applies them at start.",
    // Logs at info by default: a `schema migration applied` line for each step, as it is applied.
    flags: storeFlags + [logLevelFlag],
    run: { options in
        let store = try openStoreForCommand(options)
        store.close()
        print("schema version \(store.schemaVersion)")
        print("migrations applied")
        return 0
    })
