import Foundation
import Store
import WebhookAPI

let commands = [
    serveCommand, keysCreateCommand, keysListCommand, keysRevokeCommand, eventTypesListCommand,
    eventTypesAddCommand, migrateCommand, emitCommand, listenCommand, demoCommand,
]

let topUsage = """
    usage: donutwork-webhooks COMMAND [flags]

    Donutwork Webhooks: register HTTPS endpoints, deliver platform events to them.

    commands:
      serve                 run the API (default store: sqlite:donutwork.db)
      keys create           create an API key for a company and print it
      keys list             list a company's keys (prefixes only)
      keys revoke PREFIX    revoke a key
      event-types list      list event types
      event-types add NAME  add an event type, for all companies or one
      migrate               apply schema migrations
      emit                  accept an event for a company (delivered by serve)
      listen                run a local HTTPS receiver that verifies and prints webhooks
      demo                  run the service and a receiver together and show events arriving

    Run `donutwork-webhooks COMMAND --help` for a command's flags.

    """

/// Finds the command named by the first one or two words and runs it; returns the exit status.
@MainActor
func runCommandLine(_ arguments: [String]) -> Int32 {
    guard let first = arguments.first else {
        FileHandle.standardError.write(Data(topUsage.utf8))
        return 2
    }
    if first == "--help" || first == "-h" || first == "help" {
        print(topUsage, terminator: "")
        return 0
    }
    let twoWords = arguments.count > 1 ? "\(first) \(arguments[1])" : first
    let command = commands.first { $0.name == twoWords } ?? commands.first { $0.name == first }
    guard let command else {
        let group = commands.filter { $0.name.hasPrefix(first + " ") }
        if !group.isEmpty && (arguments.count == 1 || arguments[1] == "--help" || arguments[1] == "-h") {
            let text = "usage:\n" + group.map { "  \($0.synopsis)\n" }.joined()
            if arguments.count == 1 {
                FileHandle.standardError.write(Data(text.utf8))
                return 2
            }
            print(text, terminator: "")
            return 0
        }
        FileHandle.standardError.write(Data("error: unknown command \"\(twoWords)\"\n\n\(topUsage)".utf8))
        return 2
    }
    // Commands that run until stopped wait for SIGTERM and SIGINT with `sigwait`; the others die of them.
    if ![serveCommand.name, listenCommand.name, demoCommand.name].contains(command.name) {
        var signals = terminationSignals()
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
    let rest = Array(arguments.dropFirst(command.name.split(separator: " ").count))
    let usage = usageText(command.synopsis, command.summary, command.flags)
    do {
        let options = try ParsedOptions(rest, specs: command.flags, environment: ProcessInfo.processInfo.environment)
        if options.helpRequested {
            print(usage, terminator: "")
            return 0
        }
        return try command.run(options)
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("error: \(error.message)\n\n\(usage)".utf8))
        return 2
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("error: \(error.description)\n\n\(usage)".utf8))
        return 2
    } catch let error as StoreError {
        switch error {
        case .invalidLocation, .invalidSetting:
            FileHandle.standardError.write(Data("error: \(error.description)\n\n\(usage)".utf8))
            return 2
        default:
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            return 1
        }
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return 1
    }
}

// A peer that hangs up must cost a failed write, not the process.
signal(SIGPIPE, SIG_IGN)
var blocked = terminationSignals()
pthread_sigmask(SIG_BLOCK, &blocked, nil)
exit(runCommandLine(Array(CommandLine.arguments.dropFirst())))
