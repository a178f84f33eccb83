import Foundation
import WebhookCore

@testable import Store

/// The instant tests start from, on a whole second.
let startTime = Date(timeIntervalSince1970: 1_767_225_600)

/// The default catalog's first type, which `makeWebhook` subscribes to.
let paidType = "RecurringPayments.charge.paid"

/// An event of `companyID` with a small payload naming it.
func makeEvent(
    _ id: String, companyID: Int64, type: String = paidType, at createdAt: Date = startTime, key: String? = nil
) -> Event {
    Event(
        id: id, companyID: companyID, type: type, createdAt: createdAt,
        payload: Array(#"{"id":"\#(id)","type":"\#(type)","data":{}}"#.utf8), idempotencyKey: key
    )
}

/// An attempt answered with `statusCode` (500 unless told), with a header and a body to round-trip.
func makeAttempt(number: Int, at attemptedAt: Date, statusCode: Int? = 500) -> DeliveryAttempt {
    DeliveryAttempt(
        number: number, attemptedAt: attemptedAt, statusCode: statusCode, errorKind: nil, errorMessage: nil,
        latencyMilliseconds: 42, responseHeaders: ["content-type": "text/plain"], responseBody: Array("no".utf8)
    )
}

/// The first column of the first row of a test query on an SQLite store's own pool, as text (`nil` for NULL or no
/// row). `TestDatabase.queryText` reads any store.
func queryText(_ store: SQLiteStore, _ sql: String, _ values: [any SQLiteBindable] = []) throws -> String? {
    try store.withConnection("test") { connection in
        try connection.row(sql, values) { $0.optionalString(at: 0) } ?? nil
    }
}

/// Claims everything due at `now` with a one-minute lease.
func claimAll(_ store: any Store, at now: Date, limit: Int = 100) throws -> [DeliveryJob] {
    try store.claimDueDeliveries(now: now, leaseUntil: now.addingTimeInterval(60), limit: limit)
}
