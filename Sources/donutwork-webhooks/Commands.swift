import Dispatch
import Foundation
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

func openStoreForCommand(_ options: ParsedOptions) throws -> any Store {
    let logger = try makeLogger(options, label: "store")
    return try openStore(
        try DatabaseLocation(parsing: options.string("database") ?? "sqlite:donutwork.db"), logger: logger)
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
        logLevelFlag,
    ],
    run: { options in
        var configuration = ServiceConfiguration()
        configuration.listen = options.string("listen") ?? configuration.listen
        configuration.database = options.string("database") ?? configuration.database
        configuration.threads = try options.int("threads", range: 1...256) ?? configuration.threads
        configuration.caFile = options.string("ca-file").flatMap { $0.isEmpty ? nil : $0 }
        configuration.allowPrivateTargets = try options.bool("allow-private-targets")
        configuration.tlsCheckTimeout = try options.double("tls-check-timeout", range: 0.1...120) ?? 10
        configuration.maxBodySize = try options.int("max-body-size", range: 1024...(64 << 20)) ?? (1 << 20)
        configuration.rateLimit = try options.double("rate-limit", range: 0...1_000_000) ?? 100
        configuration.rateBurst = try options.double("rate-burst", range: 1...1_000_000) ?? 200
        if let caFile = configuration.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw UsageError(message: "--ca-file \(caFile) is not a readable file")
        }

        let logger = try makeLogger(options, label: "serve")
        let service = try WebhookService(configuration: configuration, logger: logger)
        try service.start()
        waitForTerminationSignal()
        logger.info("shutting down")
        service.stop()
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
    flags: [databaseFlag, quietLogLevelFlag],
    run: { options in
        let store = try openStoreForCommand(options)
        store.close()
        print("migrations applied")
        return 0
    })
