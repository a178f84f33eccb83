import CSQLite
import Foundation
import Logging
import WebhookCore

// Tokens at rest: sealed with the store's `TokenCipher` under the webhook id, opened on the way out.
extension SQLiteStore {
    /// The text stored for a webhook's token: sealed, bound to the webhook id so it cannot be moved to another row.
    func sealToken(_ token: String, webhookID: String) -> String {
        cipher.seal(token, associatedData: webhookID)
    }

    /// The token in clear from its stored text.
    func openToken(_ stored: String, webhookID: String) throws -> String {
        do {
            return try cipher.open(stored, associatedData: webhookID)
        } catch {
            throw SQLiteError(code: SQLITE_AUTH, message: "webhook token does not open with the configured key")
        }
    }

    // MARK: Helpers

    /// Seals every token still in clear, then checks that a sealed one opens with `cipher`.
    ///
    /// Runs at every open, in its own write transaction: after a v1 → v2 migration it seals what v1 stored, and
    /// on a database sealed with another key it refuses to start rather than fail every later delivery.
    static func sealPlaintextTokens(_ connection: SQLiteConnection, cipher: TokenCipher, logger: Logger) throws {
        let sealed = try connection.writeTransaction { () -> Int in
            let plain = try connection.rows(
                """
                SELECT seq, id, token, previous_token FROM webhooks
                WHERE substr(token, 1, 3) <> 'v1:' OR substr(previous_token, 1, 3) <> 'v1:'
                """
            ) { row in
                (
                    seq: row.int64(at: 0), id: row.string(at: 1), token: row.string(at: 2),
                    previous: row.optionalString(at: 3)
                )
            }

            for webhook in plain {
                let token =
                    TokenCipher.isSealed(webhook.token)
                    ? webhook.token : cipher.seal(webhook.token, associatedData: webhook.id)
                let previous = webhook.previous.map {
                    TokenCipher.isSealed($0) ? $0 : cipher.seal($0, associatedData: webhook.id)
                }
                try connection.run(
                    "UPDATE webhooks SET token = ?, previous_token = ? WHERE seq = ?", [token, previous, webhook.seq])
            }
            return plain.count
        }
        if sealed > 0 {
            logger.info("webhook tokens sealed", ["count": sealed])
        }

        let sample = try connection.row("SELECT id, token FROM webhooks ORDER BY seq LIMIT 1") { row in
            (id: row.string(at: 0), token: row.string(at: 1))
        }
        if let sample, (try? cipher.open(sample.token, associatedData: sample.id)) == nil {
            throw StoreError.wrongMasterKey
        }
    }
}
