import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct EventIntakeTests {
    static let day: TimeInterval = 86_400

    @Test func oneDeliveryPerEnabledWebhookSubscribedToTheExactType() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id, events: ["other", paidType]))
            try store.insertWebhook(makeWebhook(id: "wh_c", companyID: acme.id, events: ["other"]))
            try store.insertWebhook(makeWebhook(id: "wh_d", companyID: acme.id, events: [paidType + ".more"]))
            var disabled = makeWebhook(id: "wh_e", companyID: acme.id)
            disabled.status = .disabled
            try store.insertWebhook(disabled)
            try store.insertWebhook(makeWebhook(id: "wh_g", companyID: globex.id))

            let event = makeEvent("evt_1", companyID: acme.id, at: startTime.addingTimeInterval(0.000_4))
            let intake = try store.acceptEvent(event, idempotencyWindow: Self.day)

            #expect(!intake.replayed)
            #expect(intake.deliveryCount == 2)
            #expect(intake.event.id == "evt_1")
            #expect(intake.event.payload == event.payload)
            #expect(intake.event.createdAt == startTime)
            for webhookID in ["wh_a", "wh_b"] {
                let listed = try #require(
                    try store.deliveries(webhookID: webhookID, companyID: acme.id, status: nil, offset: 0, limit: 10)
                )
                #expect(listed.total == 1)
                let delivery = try #require(listed.page.first)
                #expect(delivery.status == .pending)
                #expect(delivery.nextAttemptAt == startTime)
                #expect(delivery.attemptCount == 0)
                #expect(delivery.eventID == "evt_1")
                #expect(Identifier.isWellFormed(delivery.id, prefix: "dlv"))
            }
            #expect(try database.countRows("deliveries") == 2)
        }
    }

    @Test func replayWithinTheWindowReturnsTheFirstEventAndStoresNothing() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id))

            let first = try store.acceptEvent(
                makeEvent("evt_1", companyID: acme.id, key: "order-7"), idempotencyWindow: Self.day
            )
            // A webhook deleted since then takes its delivery along, but the replay still reports the first count.
            #expect(try store.deleteWebhook(id: "wh_b", companyID: acme.id))
            let later = startTime.addingTimeInterval(Self.day - 0.001)
            let replay = try store.acceptEvent(
                makeEvent("evt_2", companyID: acme.id, type: "other", at: later, key: "order-7"),
                idempotencyWindow: Self.day
            )

            #expect(replay.replayed)
            #expect(replay.event == first.event)
            #expect(replay.deliveryCount == 2)
            #expect(try database.countRows("events") == 1)
            #expect(try database.countRows("deliveries") == 1)
        }
    }

    @Test func keyIsPerCompanyAndExpiresWithTheWindow() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            try store.insertWebhook(makeWebhook(id: "wh_g", companyID: globex.id))

            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id, key: "k"), idempotencyWindow: Self.day)
            let other = try store.acceptEvent(
                makeEvent("evt_2", companyID: globex.id, key: "k"), idempotencyWindow: Self.day
            )
            #expect(!other.replayed)
            #expect(other.deliveryCount == 1)

            let expired = try store.acceptEvent(
                makeEvent("evt_3", companyID: acme.id, at: startTime.addingTimeInterval(Self.day), key: "k"),
                idempotencyWindow: Self.day
            )
            #expect(!expired.replayed)
            #expect(expired.event.id == "evt_3")

            // The newest use of the key is the one a replay answers with.
            let replay = try store.acceptEvent(
                makeEvent("evt_4", companyID: acme.id, at: startTime.addingTimeInterval(Self.day + 1), key: "k"),
                idempotencyWindow: Self.day
            )
            #expect(replay.replayed)
            #expect(replay.event.id == "evt_3")
            #expect(try database.countRows("events") == 3)
        }
    }

    @Test func eventsWithoutAKeyAreNeverReplays() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            for id in ["evt_1", "evt_2"] {
                let intake = try store.acceptEvent(makeEvent(id, companyID: acme.id), idempotencyWindow: Self.day)
                #expect(!intake.replayed)
                #expect(intake.deliveryCount == 0)
            }
            #expect(try database.countRows("events") == 2)
        }
    }

    @Test func takenEventIdIsAConflict() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            _ = try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            let error = #expect(throws: StoreError.self) {
                try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            }
            #expect(error.map(isConflict) == true)
        }
    }

    @Test func aFailureMidwayRollsEverythingBack() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            try store.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id))
            // The second delivery insert fails, after the event and the first delivery were written.
            switch database.kind {
            case .sqlite:
                try database.execute(
                    """
                    CREATE TRIGGER fail_second_delivery BEFORE INSERT ON deliveries
                    WHEN (SELECT COUNT(*) FROM deliveries) >= 1
                    BEGIN SELECT RAISE(ABORT, 'simulated failure'); END
                    """
                )
            case .postgres:
                try database.execute(
                    """
                    CREATE FUNCTION fail_second_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF (SELECT COUNT(*) FROM deliveries) >= 1 THEN RAISE EXCEPTION 'simulated failure'; END IF;
                        RETURN NEW;
                    END $$;
                    CREATE TRIGGER fail_second_delivery BEFORE INSERT ON deliveries
                    FOR EACH ROW EXECUTE FUNCTION fail_second_delivery();
                    """
                )
            }

            #expect(throws: StoreError.self) {
                try store.acceptEvent(makeEvent("evt_1", companyID: acme.id), idempotencyWindow: Self.day)
            }
            #expect(try database.countRows("events") == 0)
            #expect(try database.countRows("deliveries") == 0)
        }
    }

    // SQLite only: the store's own intake runs on a connection of the test's, which then closes without COMMIT.
    @Test func aConnectionClosedBeforeCommitLeavesNothing() throws {
        try withTemporarySQLiteStore { store, path in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))

            // What a crash looks like to the database: the work is done inside the transaction, then the
            // connection goes away without COMMIT.
            let connection = try SQLiteConnection(path: path)
            try connection.execute("BEGIN IMMEDIATE")
            let intake = try SQLiteStore.acceptEvent(
                makeEvent("evt_1", companyID: acme.id, key: "k"), idempotencyWindow: Self.day, on: connection
            )
            #expect(intake.deliveryCount == 1)
            connection.close()

            #expect(try countRows(store, "events") == 0)
            #expect(try countRows(store, "deliveries") == 0)
            let again = try store.acceptEvent(
                makeEvent("evt_1", companyID: acme.id, key: "k"), idempotencyWindow: Self.day
            )
            #expect(!again.replayed)
            #expect(again.deliveryCount == 1)
        }
    }
}
