import WebhookCore

// How both stores keep a key's permissions: one comma-separated text column.
extension Permission {
    /// Names in a fixed order, so equal sets store equal text.
    static func storedList(_ permissions: Set<Permission>) -> String {
        allCases.filter(permissions.contains).map(\.rawValue).joined(separator: ",")
    }

    /// Unknown names (from a newer build) grant nothing rather than failing the lookup.
    static func parseStoredList(_ text: String) -> Set<Permission> {
        Set(text.split(separator: ",").compactMap { Permission(rawValue: String($0)) })
    }
}
