// donutwork-webhooks: the command line. `serve` runs the API; `keys`, `event-types` and `migrate` manage the
// store directly. Flags may also come from `DONUTWORK_<NAME>` environment variables; flags win.

import Foundation

/// One flag a command accepts.
struct FlagSpec: Sendable {
    var name: String
    var help: String
    var takesValue = true
    var defaultValue: String?

    /// The environment variable that may carry it, e.g. `DONUTWORK_CA_FILE` for `--ca-file`.
    var environmentName: String {
        "DONUTWORK_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}

/// A command line problem: the message and the usage to print, exit status 2.
struct UsageError: Error {
    var message: String
}

/// Flags and positional arguments after parsing, with environment fallbacks applied.
struct ParsedOptions: Sendable {
    private var values: [String: String]
    /// Every value given on the command line for each flag, in order (for repeatable flags such as `--secret`).
    private var allValues: [String: [String]]
    var positional: [String]
    var helpRequested: Bool

    /// Parses `arguments` against `specs`; unknown flags and missing values are usage errors.
    init(_ arguments: [String], specs: [FlagSpec], environment: [String: String]) throws {
        values = [:]
        allValues = [:]
        positional = []
        helpRequested = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" {
                helpRequested = true
                continue
            }
            guard argument.hasPrefix("--") else {
                positional.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError(message: "unknown flag --\(name)")
            }
            if spec.takesValue {
                if let inlineValue {
                    values[name] = inlineValue
                } else if index < arguments.count {
                    values[name] = arguments[index]
                    index += 1
                } else {
                    throw UsageError(message: "--\(name) needs a value")
                }
                allValues[name, default: []].append(values[name] ?? "")
            } else {
                values[name] = inlineValue ?? "true"
            }
        }
        for spec in specs where values[spec.name] == nil {
            if let fromEnvironment = environment[spec.environmentName] {
                values[spec.name] = fromEnvironment
            } else if let fallback = spec.defaultValue {
                values[spec.name] = fallback
            }
        }
    }

    func string(_ name: String) -> String? {
        values[name]
    }

    /// Every value of a repeatable flag: those on the command line, or else its environment variable or default
    /// split at commas and white space.
    func strings(_ name: String) -> [String] {
        if let given = allValues[name] { return given }
        guard let text = values[name] else { return [] }
        return text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    func bool(_ name: String) throws -> Bool {
        guard let text = values[name] else { return false }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off", "": return false
        default: throw UsageError(message: "--\(name) takes true or false, not \"\(text)\"")
        }
    }

    func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                message: "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func double(_ name: String, range: ClosedRange<Double>) throws -> Double? {
        guard let text = values[name] else { return nil }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            throw UsageError(message: "--\(name) must be a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// Formats a command's usage text from its flags.
func usageText(_ synopsis: String, _ summary: String, _ specs: [FlagSpec]) -> String {
    var text = "usage: \(synopsis)\n\n\(summary)\n"
    if !specs.isEmpty {
        text += "\nflags:\n"
        for spec in specs {
            let flag = spec.takesValue ? "--\(spec.name) VALUE" : "--\(spec.name)"
            var line = "  \(flag.padding(toLength: max(flag.count, 30), withPad: " ", startingAt: 0)) \(spec.help)"
            if let value = spec.defaultValue {
                line += " (default: \(value))"
            }
            line += " [\(spec.environmentName)]"
            text += line + "\n"
        }
    }
    text += "  --help                         show this help\n"
    return text
}
