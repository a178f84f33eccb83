import Locking

/// A small set of Prometheus metrics, rendered in the text exposition format 0.0.4.
///
/// Families are registered once; each keeps its series (one per set of label values) behind its own lock, so
/// recording from any thread is cheap and a scrape only blocks one family at a time.
///
/// ```swift
/// let registry = MetricsRegistry()
/// let requests = registry.counter("app_requests_total", help: "Requests.", labels: ["status"])
/// requests.increment(["200"])
/// print(registry.render())
/// // # HELP app_requests_total Requests.
/// // # TYPE app_requests_total counter
/// // app_requests_total{status="200"} 1
/// ```
public final class MetricsRegistry: Sendable {
    private let families = Locked<[any MetricFamily]>([])

    /// The `Content-Type` of `render()`'s text.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init() {}

    /// Registers a counter: a value that only goes up.
    public func counter(_ name: String, help: String, labels: [String] = []) -> Counter {
        register(Counter(name: name, help: help, labelNames: labels))
    }

    /// Registers a gauge: a value set to whatever it is now.
    public func gauge(_ name: String, help: String, labels: [String] = []) -> Gauge {
        register(Gauge(name: name, help: help, labelNames: labels))
    }

    /// Registers a histogram with these upper bounds (sorted and deduplicated; `+Inf` is always added).
    public func histogram(
        _ name: String, help: String, labels: [String] = [], buckets: [Double] = Histogram.defaultBuckets
    ) -> Histogram {
        register(Histogram(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    /// Every family in registration order, each series sorted by its label values.
    public func render() -> String {
        let registered = families.withLock { $0 }
        var text = ""
        for family in registered {
            family.render(into: &text)
        }
        return text
    }

    private func register<Family: MetricFamily>(_ family: Family) -> Family {
        precondition(MetricText.isValidMetricName(family.name), "invalid metric name \(family.name)")
        for label in family.labelNames {
            precondition(MetricText.isValidLabelName(label), "invalid label name \(label)")
        }
        families.withLock { families in
            precondition(!families.contains { $0.name == family.name }, "metric \(family.name) registered twice")
            families.append(family)
        }
        return family
    }
}

/// What the registry needs of every family.
protocol MetricFamily: AnyObject, Sendable {
    var name: String { get }
    var labelNames: [String] { get }
    func render(into text: inout String)
}

/// A value that only goes up, per set of label values.
public final class Counter: MetricFamily {
    let name: String
    let help: String
    let labelNames: [String]
    private let series = Locked<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    /// Adds `amount` (not negative) to the series of these label values, one per label name.
    public func increment(_ labels: [String] = [], by amount: Double = 1) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        precondition(amount >= 0, "a counter cannot go down")
        series.withLock { $0[labels, default: 0] += amount }
    }

    /// Creates the series at 0 if it does not exist, so it is exported before its first event.
    public func initialize(_ labels: [String] = []) {
        increment(labels, by: 0)
    }

    /// The current value of one series (0 when it does not exist).
    public func value(_ labels: [String] = []) -> Double {
        series.withLock { $0[labels] ?? 0 }
    }

    func render(into text: inout String) {
        let snapshot = series.withLock { $0 }
        MetricText.header(name: name, help: help, type: "counter", into: &text)
        let rows = labelNames.isEmpty && snapshot.isEmpty ? [([String](), 0.0)] : MetricText.sorted(snapshot)
        for (labels, value) in rows {
            MetricText.sample(name, labelNames, labels, value, into: &text)
        }
    }
}

/// A value set to what it is now, per set of label values.
public final class Gauge: MetricFamily {
    let name: String
    let help: String
    let labelNames: [String]
    private let series = Locked<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    /// Sets the series of these label values.
    public func set(_ value: Double, _ labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        series.withLock { $0[labels] = value }
    }

    /// Removes every series, e.g. when their source could not be read: an absent value, not a stale one.
    public func clear() {
        series.withLock { $0.removeAll() }
    }

    /// The current value of one series, or `nil` when it is not set.
    public func value(_ labels: [String] = []) -> Double? {
        series.withLock { $0[labels] }
    }

    func render(into text: inout String) {
        let snapshot = series.withLock { $0 }
        MetricText.header(name: name, help: help, type: "gauge", into: &text)
        for (labels, value) in MetricText.sorted(snapshot) {
            MetricText.sample(name, labelNames, labels, value, into: &text)
        }
    }
}

/// Observations counted into buckets by upper bound, with their sum and count, per set of label values.
public final class Histogram: MetricFamily {
    /// Seconds, from 5 ms to 10 s, as most Prometheus clients use.
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Series {
        /// Observations per bucket (not cumulative); the last one is `+Inf`.
        var counts: [UInt64]
        var sum: Double = 0
    }

    let name: String
    let help: String
    let labelNames: [String]
    /// Finite upper bounds, ascending.
    let bounds: [Double]
    private let series = Locked<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        precondition(!labelNames.contains("le"), "a histogram cannot have a label named le")
        self.name = name
        self.help = help
        self.labelNames = labelNames
        bounds = Array(Set(buckets.filter(\.isFinite))).sorted()
    }

    /// Records one observation in the series of these label values.
    public func observe(_ value: Double, _ labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes \(labelNames.count) label values")
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        let empty = Series(counts: Array(repeating: 0, count: bounds.count + 1))
        series.withLock { series in
            series[labels, default: empty].counts[index] += 1
            series[labels, default: empty].sum += value
        }
    }

    /// How many observations one series has (0 when it does not exist).
    public func count(_ labels: [String] = []) -> UInt64 {
        series.withLock { $0[labels]?.counts.reduce(0, +) ?? 0 }
    }

    func render(into text: inout String) {
        let snapshot = series.withLock { $0 }
        MetricText.header(name: name, help: help, type: "histogram", into: &text)
        for (labels, entry) in MetricText.sorted(snapshot) {
            var cumulative: UInt64 = 0
            for (index, count) in entry.counts.enumerated() {
                cumulative += count
                let bound = index < bounds.count ? MetricText.number(bounds[index]) : "+Inf"
                MetricText.sample(
                    name + "_bucket", labelNames + ["le"], labels + [bound], Double(cumulative), into: &text)
            }
            MetricText.sample(name + "_sum", labelNames, labels, entry.sum, into: &text)
            MetricText.sample(name + "_count", labelNames, labels, Double(cumulative), into: &text)
        }
    }
}

/// The pieces of the text exposition format.
enum MetricText {
    static func header(name: String, help: String, type: String, into text: inout String) {
        text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    static func sample(
        _ name: String, _ labelNames: [String], _ labels: [String], _ value: Double, into text: inout String
    ) {
        text += name
        if !labelNames.isEmpty {
            text += "{"
            for (index, (label, value)) in zip(labelNames, labels).enumerated() {
                text += index == 0 ? "" : ","
                text += "\(label)=\"\(escapeLabelValue(value))\""
            }
            text += "}"
        }
        text += " \(number(value))\n"
    }

    /// A sample value: whole numbers without a fraction, `+Inf`, `-Inf`, `NaN`, otherwise Swift's shortest form.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// Help text escapes backslash and line feed.
    static func escapeHelp(_ help: String) -> String {
        var escaped = ""
        for character in help.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    static func sorted<Value>(_ series: [[String]: Value]) -> [([String], Value)] {
        series.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
    }

    static func isValidMetricName(_ name: String) -> Bool {
        isValidName(name, extra: ":")
    }

    static func isValidLabelName(_ name: String) -> Bool {
        isValidName(name, extra: "") && !name.hasPrefix("__")
    }

    private static func isValidName(_ name: String, extra: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func allowed(_ scalar: Unicode.Scalar, first: Bool) -> Bool {
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
                || extra.unicodeScalars.contains(scalar) || (!first && scalar >= "0" && scalar <= "9")
        }
        return allowed(first, first: true) && name.unicodeScalars.dropFirst().allSatisfy { allowed($0, first: false) }
    }
}
