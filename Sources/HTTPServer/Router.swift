/// Maps a method and a path to a value, with `{name}` parameters in path segments.
///
/// A segment pattern is a literal (`webhooks`) or a parameter with an optional literal suffix (`{id}.json`).
/// When several patterns match a path, the one with the most literal segments wins, so `types.json` beats
/// `{id}.json`; the method is then looked up on that pattern alone. `HEAD` falls back to `GET`.
///
/// ```swift
/// var router = Router<String>()
/// router.add("GET", "/2026-02-01/webhooks/{id}.json", "show")
/// router.match(method: "GET", path: "/2026-02-01/webhooks/wh_1.json")  // .matched("show", ["id": "wh_1"])
/// ```
public struct Router<Value: Sendable>: Sendable {
    /// The outcome of a lookup.
    public enum Match {
        case matched(Value, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(name: String, suffix: String)
    }

    private struct Route: Sendable {
        var pattern: String
        var segments: [Segment]
        var handlers: [(method: String, value: Value)]

        var literalCount: Int {
            segments.count { if case .literal = $0 { true } else { false } }
        }
    }

    private var routes: [Route] = []

    public init() {}

    /// Registers `value` for `method` on `pattern`.
    public mutating func add(_ method: String, _ pattern: String, _ value: Value) {
        let segments = Router.parse(pattern)
        if let index = routes.firstIndex(where: { $0.segments == segments }) {
            routes[index].handlers.append((method, value))
        } else {
            routes.append(Route(pattern: pattern, segments: segments, handlers: [(method, value)]))
        }
    }

    /// Finds the value for a request.
    public func match(method: String, path: String) -> Match {
        guard let (route, parameters) = bestRoute(path) else { return .notFound }

        let wanted = method == "HEAD" ? ["HEAD", "GET"] : [method]
        for candidate in wanted {
            if let handler = route.handlers.first(where: { $0.method == candidate }) {
                return .matched(handler.value, parameters: parameters)
            }
        }
        var allowed = route.handlers.map(\.method)
        if allowed.contains("GET") && !allowed.contains("HEAD") {
            allowed.append("HEAD")
        }
        return .methodNotAllowed(allowed: allowed)
    }

    /// The pattern, as registered, that a path matches whatever the method (e.g. to label a 405); `nil` for none.
    public func pattern(matching path: String) -> String? {
        bestRoute(path)?.route.pattern
    }

    private func bestRoute(_ path: String) -> (route: Route, parameters: [String: String])? {
        let parts = Router.split(path)
        var best: (route: Route, parameters: [String: String])?
        for route in routes {
            guard let parameters = Router.bind(route.segments, to: parts) else { continue }
            if best == nil || route.literalCount > best!.route.literalCount {
                best = (route, parameters)
            }
        }
        return best
    }

    private static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }

    private static func parse(_ pattern: String) -> [Segment] {
        split(pattern).map { part in
            guard part.hasPrefix("{"), let close = part.firstIndex(of: "}") else {
                return .literal(String(part))
            }
            let name = part[part.index(after: part.startIndex)..<close]
            let suffix = part[part.index(after: close)...]
            return .parameter(name: String(name), suffix: String(suffix))
        }
    }

    private static func bind(_ segments: [Segment], to parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                guard part == text else { return nil }
            case .parameter(let name, let suffix):
                guard part.hasSuffix(suffix), part.count > suffix.count else { return nil }
                parameters[name] = String(part.dropLast(suffix.count))
            }
        }
        return parameters
    }
}
