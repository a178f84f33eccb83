import Foundation
import Logging
import Store
import WebhookCore

/// The key that encrypts webhook tokens at rest: read from `--master-key-file`, or generated once beside the
/// SQLite file with owner-only permissions.
enum MasterKey {
    /// Loads the key for a database, generating it when allowed.
    static func load(path: String?, database: DatabaseLocation, logger: Logger) throws -> TokenCipher {
        if let path {
            return try TokenCipher(key: try read(path))
        }
        guard case .sqlite(let databasePath) = database else {
            throw ConfigurationError("--master-key-file is required with a PostgreSQL database")
        }
        let generatedPath = databasePath + ".master-key"
        if FileManager.default.fileExists(atPath: generatedPath) {
            return try TokenCipher(key: try read(generatedPath))
        }
        let key = TokenCipher.generateKey()
        let text = Data(key).base64EncodedString() + "\n"
        guard
            FileManager.default.createFile(
                atPath: generatedPath, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw ConfigurationError("could not write a new master key to \(generatedPath)")
        }
        logger.warning(
            "generated a master key for webhook tokens; back it up with the database, or pass --master-key-file",
            ["path": generatedPath])
        return try TokenCipher(key: key)
    }

    /// Reads a key file: base64 of 32 bytes, surrounding white space ignored.
    private static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the master key file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let key = Data(base64Encoded: text), key.count == 32 else {
            throw ConfigurationError("the master key file \(path) must hold base64 of 32 bytes")
        }
        return Array(key)
    }
}
