import Foundation
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct TokenAtRestTests {
    @Test func tokensAreSealedInTheDatabaseAndClearAboveTheStore() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            var webhook = makeWebhook(id: "wh_a", companyID: acme.id)
            webhook.previousToken = "whsec_b2xk"
            webhook.previousTokenValidUntil = startTime
            try store.insertWebhook(webhook)

            let stored = try #require(try database.queryText("SELECT token FROM webhooks"))
            let storedPrevious = try #require(try database.queryText("SELECT previous_token FROM webhooks"))
            #expect(stored.hasPrefix("v1:"))
            #expect(!stored.contains("dG9rZW4"))
            #expect(try testCipher.open(stored, associatedData: "wh_a") == "whsec_dG9rZW4=")
            #expect(try testCipher.open(storedPrevious, associatedData: "wh_a") == "whsec_b2xk")
            #expect(try store.webhook(id: "wh_a", companyID: acme.id) == webhook)
            #expect(try store.webhooks(companyID: acme.id, offset: 0, limit: 5) == [webhook])
        }
    }

    @Test func rotatingWithAPastValidityDropsThePreviousToken() throws {
        try withTemporaryStore { store, database in
            let acme = try store.findOrCreateCompany(slug: "acme")
            try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
            let rotated = try #require(
                try store.rotateToken(
                    id: "wh_a", companyID: acme.id, newToken: "whsec_bmV3", previousValidUntil: startTime,
                    now: startTime
                )
            )
            #expect(rotated.token == "whsec_bmV3")
            #expect(rotated.previousToken == nil)
            #expect(rotated.previousTokenValidUntil == nil)
            #expect(try database.queryText("SELECT token FROM webhooks")?.hasPrefix("v1:") == true)
        }
    }

    // SQLite only: a file written by the first schema, before tokens were sealed.
    @Test func aVersionOneDatabaseHasItsTokensSealedOnUpgrade() throws {
        let directory = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: directory.databasePath)
        try connection.writeTransaction {
            try connection.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            try Migration.v1.apply(connection)
            try connection.run("INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00.000Z')")
            try connection.run("INSERT INTO companies (slug, created_at) VALUES ('acme', '2026-01-01T00:00:00.000Z')")
            for id in ["wh_1", "wh_2"] {
                try connection.run(
                    """
                    INSERT INTO webhooks (id, company_id, name, url, token, created_at)
                    VALUES (?, 1, 'n', 'https://example.com/', ?, '2026-01-01T00:00:00.000Z')
                    """,
                    [id, "whsec_\(id)"]
                )
            }
        }
        connection.close()

        let store = try SQLiteStore(path: directory.databasePath, logger: quietLogger, cipher: testCipher)
        defer { store.close() }
        #expect(store.schemaVersion == 6)
        for id in ["wh_1", "wh_2"] {
            let stored = try #require(try queryText(store, "SELECT token FROM webhooks WHERE id = ?", [id]))
            #expect(stored.hasPrefix("v1:"))
            #expect(try store.webhook(id: id, companyID: 1)?.token == "whsec_\(id)")
            #expect(try store.webhook(id: id, companyID: 1)?.status == .enabled)
        }
    }

    @Test func anotherKeyRefusesToOpenTheDatabase() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let store = try openStore(database.location, logger: quietLogger, cipher: testCipher)
        let acme = try store.findOrCreateCompany(slug: "acme")
        try store.insertWebhook(makeWebhook(id: "wh_a", companyID: acme.id))
        store.close()

        let otherKey = try TokenCipher(key: TokenCipher.generateKey())
        let error = #expect(throws: StoreError.self) {
            try openStore(database.location, logger: quietLogger, cipher: otherKey)
        }
        #expect(error == .wrongMasterKey)
        #expect(error?.description.contains("--master-key-file") == true)

        // A sealed token moved to another row no longer opens either.
        let reopened = try openStore(database.location, logger: quietLogger, cipher: testCipher)
        defer { reopened.close() }
        try reopened.insertWebhook(makeWebhook(id: "wh_b", companyID: acme.id))
        try database.execute(
            "UPDATE webhooks SET token = (SELECT token FROM webhooks WHERE id = 'wh_a') WHERE id = 'wh_b'")
        #expect(throws: StoreError.self) { try reopened.webhook(id: "wh_b", companyID: acme.id) }
    }
}
