import Foundation
import Store
import WebhookAPI
import WebhookCore

let keysCreateCommand = Command(
    name: "keys create",
    synopsis: "donutwork-webhooks keys create --company SLUG --permissions LIST [--database ...]",
    summary: """
        Creates an API key for a company (creating the company if it is new) and prints only the key.
        LIST is comma-separated from webhooks:read, webhooks:write, events:write. The key is shown once;
        only its SHA-256 hash and its first 12 characters are stored.
        """,
    flags: [
        FlagSpec(name: "company", help: "company slug: 1-64 of a-z, 0-9, - and _"),
        FlagSpec(name: "permissions", help: "comma-separated permissions"),
    ] + storeFlags + [quietLogLevelFlag],
    run: { options in
        let slug = try companySlug(options)
        guard let list = options.string("permissions") else { throw UsageError(message: "--permissions is required") }
        guard let permissions = Permission.parseList(list) else {
            let known = Permission.allCases.map(\.rawValue).joined(separator: ", ")
            throw UsageError(message: "--permissions must be a comma-separated list of \(known)")
        }
        let store = try openStoreForCommand(options)
        defer { store.close() }
        let company = try store.findOrCreateCompany(slug: slug)
        let material = APIKeyMaterial.make()
        _ = try store.insertAPIKey(
            companyID: company.id, prefix: material.prefix, hash: material.hash, permissions: permissions)
        print(material.key)
        return 0
    })

let keysListCommand = Command(
    name: "keys list",
    synopsis: "donutwork-webhooks keys list --company SLUG [--database ...]",
    summary: "Lists a company's keys: prefix, permissions, creation time and revocation time. Never the keys.",
    flags: [FlagSpec(name: "company", help: "company slug")] + storeFlags + [quietLogLevelFlag],
    run: { options in
        let slug = try companySlug(options)
        let store = try openStoreForCommand(options, existingOnly: true)
        defer { store.close() }
        guard let company = try store.company(slug: slug) else {
            FileHandle.standardError.write(Data("error: no company \(slug)\n".utf8))
            return 1
        }
        let keys = try store.apiKeys(companyID: company.id)  // before any output: a failure prints no header
        let formatter = ISO8601DateFormatter()
        print("PREFIX\tPERMISSIONS\tCREATED\tREVOKED")
        for key in keys {
            let permissions = key.permissions.map(\.rawValue).sorted().joined(separator: ",")
            let revoked = key.revokedAt.map { formatter.string(from: $0) } ?? "-"
            print("\(key.prefix)\t\(permissions)\t\(formatter.string(from: key.createdAt))\t\(revoked)")
        }
        return 0
    })

let keysRevokeCommand = Command(
    name: "keys revoke",
    synopsis: "donutwork-webhooks keys revoke PREFIX [--database ...]",
    summary: "Revokes the key that starts with PREFIX (as shown by `keys list`). Requests with it get 401 at once.",
    flags: storeFlags + [quietLogLevelFlag],
    run: { options in
        guard options.positional.count == 1, let given = options.positional.first else {
            throw UsageError(message: "keys revoke takes exactly one PREFIX")
        }
        // A whole key names its own prefix.
        let prefix = String(given.prefix(APIKeyMaterial.prefixLength))
        let store = try openStoreForCommand(options, existingOnly: true)
        defer { store.close() }
        guard try store.revokeAPIKey(prefix: prefix) else {
            FileHandle.standardError.write(Data("error: no active key with prefix \(prefix)\n".utf8))
            return 1
        }
        print("revoked \(prefix)")
        return 0
    })

let eventTypesListCommand = Command(
    name: "event-types list",
    synopsis: "donutwork-webhooks event-types list [--database ...]",
    summary: "Lists event types: name, and the id and slug of the company it is limited to (* for every company).",
    flags: storeFlags + [quietLogLevelFlag],
    run: { options in
        let store = try openStoreForCommand(options, existingOnly: true)
        defer { store.close() }
        let types = try store.allEventTypes()  // before any output: a failure prints no header
        print("NAME\tCOMPANY_ID\tCOMPANY")
        for type in types {
            print("\(type.name)\t\(type.companyID.map { String($0) } ?? "*")\t\(type.companySlug ?? "*")")
        }
        return 0
    })

let eventTypesAddCommand = Command(
    name: "event-types add",
    synopsis: "donutwork-webhooks event-types add NAME [--company SLUG] [--database ...]",
    summary: "Adds an event type for every company, or only for --company.",
    flags: [
        FlagSpec(name: "company", help: "limit the type to this company")
    ] + storeFlags + [quietLogLevelFlag],
    run: { options in
        guard options.positional.count == 1, let name = options.positional.first else {
            throw UsageError(message: "event-types add takes exactly one NAME")
        }
        guard EventTypeName.isValid(name) else {
            throw UsageError(message: "NAME must be 1-255 characters of letters, digits, '.', '_' and '-'")
        }
        let store = try openStoreForCommand(options)
        defer { store.close() }
        var companyID: Int64?
        if options.string("company") != nil {
            companyID = try store.findOrCreateCompany(slug: try companySlug(options)).id
        }
        let added = try store.addEventType(name: name, companyID: companyID)
        print(added ? "added \(name)" : "\(name) already exists")
        return 0
    })

/// The `--company` flag, checked.
func companySlug(_ options: ParsedOptions) throws -> String {
    guard let slug = options.string("company") else { throw UsageError(message: "--company is required") }
    let allowed = slug.utf8.allSatisfy { byte in
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
    }
    guard (1...64).contains(slug.utf8.count), allowed else {
        throw UsageError(message: "--company must be 1-64 characters of a-z, 0-9, - and _")
    }
    return slug
}

/// What an event type name may look like.
enum EventTypeName {
    static func isValid(_ name: String) -> Bool {
        (1...255).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
    }
}

let emitCommand = Command(
    name: "emit",
    synopsis: "donutwork-webhooks emit --company SLUG --type TYPE --data JSON [--idempotency-key KEY]",
    summary: """
        Accepts an event for a company as POST /2026-02-01/events.json does, and prints the result. A running
        `serve` on the same database delivers it.
        """,
    flags: [
        FlagSpec(name: "company", help: "company slug"),
        FlagSpec(name: "type", help: "event type name"),
        FlagSpec(name: "data", help: "the event's data: a JSON object"),
        FlagSpec(name: "idempotency-key", help: "the same key within 24 hours returns the first event"),
    ] + storeFlags + [quietLogLevelFlag],
    run: { options in
        let slug = try companySlug(options)
        guard let type = options.string("type") else { throw UsageError(message: "--type is required") }
        guard let data = options.string("data") else { throw UsageError(message: "--data is required") }
        guard let dataObject = try? JSONSerialization.jsonObject(with: Data(data.utf8)) else {
            throw UsageError(message: "--data must be JSON")
        }
        var event: [String: Any] = ["type": type, "data": dataObject]
        if let key = options.string("idempotency-key") {
            event["idempotency_key"] = key
        }
        let body = try JSONSerialization.data(withJSONObject: ["event": event])

        let store = try openStoreForCommand(options)
        defer { store.close() }
        guard let company = try store.company(slug: slug) else {
            FileHandle.standardError.write(Data("error: no company \(slug)\n".utf8))
            return 1
        }
        switch try emitEvent(store: store, companyID: company.id, body: Array(body)) {
        case .failure(let error):
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            return 1
        case .success(let intake):
            let verb = intake.replayed ? "replayed" : "accepted"
            print("\(verb) \(intake.event.id) \(intake.event.type) deliveries=\(intake.deliveryCount)")
            return 0
        }
    })
