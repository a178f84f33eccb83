import WebhookCore

extension SQLiteStore {
    /// Names of the event types a company may subscribe to, sorted by name.
    public func availableEventTypes(companyID: Int64) throws -> [String] {
        try withConnection("availableEventTypes") { connection in
            try connection.rows(
                """
                SELECT DISTINCT name FROM event_types
                WHERE company_id IS NULL OR company_id = ?
                ORDER BY name
                """,
                [companyID]
            ) { $0.string(at: 0) }
        }
    }

    /// Every event type with its scope, sorted by name then company (global first).
    public func allEventTypes() throws -> [EventType] {
        try withConnection("allEventTypes") { connection in
            try connection.rows(
                """
                SELECT t.name, t.company_id, c.slug FROM event_types t LEFT JOIN companies c ON c.id = t.company_id
                ORDER BY t.name, t.company_id
                """
            ) { row in
                EventType(
                    name: row.string(at: 0), companyID: row.isNull(at: 1) ? nil : row.int64(at: 1),
                    companySlug: row.isNull(at: 2) ? nil : row.string(at: 2))
            }
        }
    }

    /// Adds an event type for every company (`companyID == nil`) or for one. Returns `false` if it existed.
    public func addEventType(name: String, companyID: Int64?) throws -> Bool {
        try withWriteTransaction("addEventType") { connection in
            // DO NOTHING covers only uniqueness; an unknown company still fails as a conflict.
            try connection.run(
                "INSERT INTO event_types (name, company_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [name, companyID]
            ) > 0
        }
    }
}
