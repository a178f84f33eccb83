import Foundation
import Testing
import WebhookAPI

/// `--retention` values.
@Suite struct RetentionFlagTests {
    @Test(arguments: [
        ("30d", 30 * 86_400.0), ("12h", 12 * 3_600.0), ("90m", 5_400.0), ("45s", 45.0), ("1d", 86_400.0),
        ("36500d", 36_500 * 86_400.0),
    ])
    func aDurationWithAUnitIsSeconds(text: String, seconds: TimeInterval) throws {
        #expect(try ServiceConfiguration.parseRetention(text) == seconds)
    }

    @Test(arguments: ["0", "off", "OFF", "0d", "0s"])
    func zeroOrOffTurnsPurgingOff(text: String) throws {
        #expect(try ServiceConfiguration.parseRetention(text) == nil)
    }

    @Test(arguments: [
        "", "30", "d", "30x", "1.5d", "-1d", "+1d", " 30d", "30d ", "30 d", "30D", "of", "never", "1w", "30dd",
        "36501d", "99999999999999999999d", "٣٠d",
    ])
    func anythingElseIsRefusedWithOneLine(text: String) throws {
        let error = #expect(throws: ConfigurationError.self) { try ServiceConfiguration.parseRetention(text) }
        #expect(
            error?.description
                == "--retention must be a whole number of s, m, h or d up to 36500d (e.g. 90m, 12h, 30d), "
                + "or 0 or off, not \"\(text)\""
        )
    }

    @Test func theDefaultKeepsThirtyDaysAndPurgesEveryMinute() {
        let configuration = ServiceConfiguration()
        #expect(configuration.retention == TimeInterval(30 * 86_400))
        #expect(configuration.retentionInterval == 60)
    }
}
