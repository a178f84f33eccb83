import CSQLite
import Foundation
import WebhookCore

extension SQLiteStore {
    /// The company with this slug, creating it when it does not exist yet.
    public func findOrCreateCompany(slug: String) throws -> Company {
        if let company = try company(slug: slug) {
            return company
        }
        return try withWriteTransaction("findOrCreateCompany") { connection in
            // Another process may have created it since the read above; DO NOTHING keeps theirs.
            try connection.run(
                "INSERT INTO companies (slug, created_at) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING",
                [slug, Timestamp.format(Date())]
            )
            guard let company = try connection.row(Self.companyBySlug, [slug], Self.readCompany) else {
                throw SQLiteError(code: SQLITE_INTERNAL, message: "company vanished inside its transaction")
            }
            return company
        }
    }

    /// The company with this slug, or `nil`.
    public func company(slug: String) throws -> Company? {
        try withConnection("company") { connection in
            try connection.row(Self.companyBySlug, [slug], Self.readCompany)
        }
    }

    /// Stores a new key's hash and prefix. Throws `StoreError.conflict` if the prefix is taken.
    public func insertAPIKey(
        companyID: Int64, prefix: String, hash: String, permissions: Set<Permission>
    ) throws -> APIKey {
        let createdAt = Timestamp.rounded(Date())
        return try withWriteTransaction("insertAPIKey") { connection in
            try connection.run(
                """
                INSERT INTO api_keys (company_id, prefix, hash, permissions, created_at)
                VALUES (?, ?, ?, ?, ?)
                """,
                [companyID, prefix, hash, Permission.storedList(permissions), Timestamp.format(createdAt)]
            )
            return APIKey(
                id: connection.lastInsertedRowID, companyID: companyID, prefix: prefix, hash: hash,
                permissions: permissions, createdAt: createdAt
            )
        }
    }

    /// The key with this SHA-256 hash (revoked or not) and its company, or `nil`.
    public func apiKey(hash: String) throws -> (key: APIKey, company: Company)? {
        try withConnection("apiKey") { connection in
            try connection.row(
                """
                SELECT k.id, k.company_id, k.prefix, k.hash, k.permissions, k.created_at, k.revoked_at,
                       c.id, c.slug, c.created_at
                FROM api_keys k JOIN companies c ON c.id = k.company_id
                WHERE k.hash = ?
                """,
                [hash]
            ) { row in
                let key = try Self.readAPIKey(row)
                let company = Company(
                    id: row.int64(at: 7), slug: row.string(at: 8), createdAt: try Self.date(row, at: 9)
                )
                return (key, company)
            }
        }
    }

    /// Every key of a company, oldest first, revoked ones included.
    public func apiKeys(companyID: Int64) throws -> [APIKey] {
        try withConnection("apiKeys") { connection in
            try connection.rows(
                """
                SELECT id, company_id, prefix, hash, permissions, created_at, revoked_at
                FROM api_keys WHERE company_id = ? ORDER BY id
                """,
                [companyID],
                Self.readAPIKey
            )
        }
    }

    /// Marks the key with this prefix revoked. Returns `false` when no unrevoked key has it.
    public func revokeAPIKey(prefix: String) throws -> Bool {
        try withWriteTransaction("revokeAPIKey") { connection in
            try connection.run(
                "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                [Timestamp.format(Date()), prefix]
            ) > 0
        }
    }

    // MARK: Helpers

    private static let companyBySlug = "SELECT id, slug, created_at FROM companies WHERE slug = ?"

    private static func readCompany(_ row: Statement) throws -> Company {
        Company(id: row.int64(at: 0), slug: row.string(at: 1), createdAt: try date(row, at: 2))
    }

    /// Reads columns 0–6: id, company_id, prefix, hash, permissions, created_at, revoked_at.
    private static func readAPIKey(_ row: Statement) throws -> APIKey {
        APIKey(
            id: row.int64(at: 0), companyID: row.int64(at: 1), prefix: row.string(at: 2), hash: row.string(at: 3),
            permissions: Permission.parseStoredList(row.string(at: 4)), createdAt: try date(row, at: 5),
            revokedAt: try optionalDate(row, at: 6)
        )
    }
}
