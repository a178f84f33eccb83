import Foundation

/// Decides what follows a delivery attempt: success, another try later, giving up, or disabling the webhook.
///
/// ```swift
/// let schedule = RetrySchedule.parse("5s,5m,30m,2h,5h,10h,10h") ?? RetrySchedule()
/// var generator = SystemRandomNumberGenerator()
/// let outcome = schedule.decide(
///     attemptNumber: 1, result: .status(code: 503, retryAfter: "120"), now: Date(), random: &generator
/// )
/// // outcome == .retry(at: now + max(5 s ± 20 %, 120 s))
/// ```
///
/// After attempt `n` fails, the next one waits `delays[n - 1]`, varied by up to ± `jitter` of itself; once
/// every delay has been used, the delivery fails. With the default seven delays a delivery gets eight
/// attempts over about 27 hours, as the Standard Webhooks specification suggests.
public struct RetrySchedule: Sendable, Equatable {
    /// The most delays `parse` accepts.
    public static let maximumDelayCount = 50
    /// The reason `decide` gives when a receiver answers 410 Gone.
    public static let goneReason = "the endpoint answered 410 Gone"

    /// The wait before each retry, in seconds: `delays[0]` follows the first attempt.
    public var delays: [TimeInterval]
    /// The largest fraction by which a delay is lengthened or shortened at random; 0.2 means ± 20 %.
    public var jitter: Double
    /// The longest `Retry-After` honoured, in seconds.
    public var retryAfterCap: TimeInterval

    /// Creates a schedule.
    ///
    /// - Parameters:
    ///   - delays: the wait before each retry, in seconds; the values are used as given.
    ///   - jitter: the random variation of each delay as a fraction of it; `decide` keeps it within 0...1.
    ///   - retryAfterCap: the longest `Retry-After` honoured, in seconds.
    public init(
        delays: [TimeInterval] = [5, 300, 1800, 7200, 18000, 36000, 36000], jitter: Double = 0.2,
        retryAfterCap: TimeInterval = 3600
    ) {
        self.delays = delays
        self.jitter = jitter
        self.retryAfterCap = retryAfterCap
    }

    /// Reads the `--retry-schedule` flag: comma-separated durations such as `5s,5m,30m,2h,5h,10h,10h`.
    ///
    /// Each item is a decimal number (`1.5h` is allowed) with an optional lower-case unit `ms`, `s`, `m`, `h`
    /// or `d`; a bare number is seconds. Spaces around items are ignored.
    ///
    /// - Returns: a schedule with these delays and the default jitter and cap, or `nil` when the text is empty,
    ///   any item is malformed or not greater than zero, or there are more than `maximumDelayCount` items.
    public static func parse(_ text: String) -> RetrySchedule? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !items.isEmpty, items.count <= maximumDelayCount else { return nil }

        var delays = [TimeInterval]()
        for item in items {
            guard let delay = parseDuration(item.trimmingCharacters(in: .whitespaces)) else { return nil }
            delays.append(delay)
        }
        return RetrySchedule(delays: delays)
    }

    /// What follows attempt number `attemptNumber` (1 for the first) that ended with `result`.
    ///
    /// - 2xx: `.succeeded`.
    /// - 410: `.disableWebhook` with `goneReason`.
    /// - Any other status (3xx included: redirects are never followed) or a transport error: `.retry` at
    ///   `now` plus the jittered delay for this attempt, or `.failed` once all delays are used up. For 429 and
    ///   503 a valid `Retry-After` pushes the retry to at least `now + min(retryAfter, retryAfterCap)`; on other
    ///   statuses it is ignored.
    ///
    /// An `attemptNumber` below 1 counts as 1.
    public func decide(
        attemptNumber: Int, result: AttemptResult, now: Date, random: inout some RandomNumberGenerator
    ) -> AttemptOutcome {
        var retryAfter: TimeInterval?
        switch result {
        case .status(let code, _) where (200...299).contains(code):
            return .succeeded
        case .status(410, _):
            return .disableWebhook(reason: Self.goneReason)
        case .status(let code, let header) where code == 429 || code == 503:
            retryAfter = header.flatMap { Self.parseRetryAfter($0, now: now) }
        case .status, .transportError:
            break
        }

        let attempt = max(attemptNumber, 1)
        guard attempt <= delays.count else { return .failed }

        let spread = jitter.isNaN ? 0 : min(max(jitter, 0), 1)
        let factor = spread > 0 ? 1 + Double.random(in: -spread...spread, using: &random) : 1
        var next = now.addingTimeInterval(delays[attempt - 1] * factor)
        if let retryAfter {
            let earliest = now.addingTimeInterval(min(retryAfter, max(retryAfterCap, 0)))
            next = max(next, earliest)
        }
        return .retry(at: next)
    }

    /// The wait a `Retry-After` header value asks for, in seconds from `now`.
    ///
    /// Accepts delay-seconds (`120`: ASCII digits only) or an HTTP-date in IMF-fixdate form
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), with surrounding spaces. The obsolete RFC 850 and asctime forms are
    /// not accepted.
    ///
    /// - Returns: the wait, or `nil` when the value is malformed or the date is already past.
    public static func parseRetryAfter(_ text: String, now: Date) -> TimeInterval? {
        let value = text.trimmingCharacters(in: .whitespaces)
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { return nil }

        if bytes.allSatisfy(isDigit) {
            guard let seconds = Double(value), seconds.isFinite else { return nil }
            return seconds
        }
        guard let date = parseIMFFixdate(bytes) else { return nil }
        let wait = date - now.timeIntervalSince1970
        return wait >= 0 ? wait : nil
    }

    // MARK: - Durations

    /// One flag item: digits, an optional fraction, an optional unit; the result must be finite and positive.
    private static func parseDuration(_ item: String) -> TimeInterval? {
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
        ]
        var number = Substring(item)
        var scale: Double = 1
        // `ms` is checked before `s` and `m` so its suffix is taken whole.
        if let unit = units.first(where: { item.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.seconds
        }

        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isDigit) }) else {
            return nil
        }
        guard let value = Double(number) else { return nil }
        let seconds = value * scale
        return seconds.isFinite && seconds > 0 ? seconds : nil
    }

    // MARK: - HTTP dates

    private static let dayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) }
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .map { Array($0.utf8) }

    /// Seconds since 1970 of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, checked field by field.
    private static func parseIMFFixdate(_ bytes: [UInt8]) -> TimeInterval? {
        // Positions: day name 0-2, ", " 3-4, day 5-6, month 8-10, year 12-15, time 17-24, " GMT" 25-28.
        guard bytes.count == 29, dayNames.contains(Array(bytes[0..<3])), bytes[3] == UInt8(ascii: ","),
            bytes[4] == UInt8(ascii: " "), bytes[7] == UInt8(ascii: " "), bytes[11] == UInt8(ascii: " "),
            bytes[16] == UInt8(ascii: " "), bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":"),
            Array(bytes[25...]) == Array(" GMT".utf8),
            let monthIndex = monthNames.firstIndex(of: Array(bytes[8..<11])),
            let day = number(bytes[5..<7]), let year = number(bytes[12..<16]),
            let hour = number(bytes[17..<19]), let minute = number(bytes[20..<22]), let second = number(bytes[23..<25])
        else { return nil }

        let month = monthIndex + 1
        guard day >= 1, day <= UTCCalendar.daysInMonth(year: year, month: month), hour <= 23, minute <= 59,
            second <= 60
        else { return nil }

        let days = UTCCalendar.days(year: year, month: month, day: day)
        return TimeInterval(days * 86400 + hour * 3600 + minute * 60 + second)
    }

    /// The value of a run of ASCII digits, or `nil` if any byte is not one.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for digit in digits {
            guard isDigit(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
