import Foundation
import Testing
import WebhookCore

@testable import Store

@Suite struct CompanyAndKeyTests {
    @Test func findOrCreateCompanyIsIdempotent() throws {
        try withTemporaryStore { store, _ in
            #expect(try store.company(slug: "acme") == nil)
            let created = try store.findOrCreateCompany(slug: "acme")
            let found = try store.findOrCreateCompany(slug: "acme")
            #expect(created == found)
            #expect(try store.company(slug: "acme") == created)
            #expect(try store.findOrCreateCompany(slug: "globex").id != created.id)
        }
    }

    @Test func apiKeyInsertLookupAndRevoke() throws {
        try withTemporaryStore { store, _ in
            let company = try store.findOrCreateCompany(slug: "acme")
            let permissions: Set<Permission> = [.webhooksRead, .eventsWrite]
            let key = try store.insertAPIKey(
                companyID: company.id, prefix: "dw_ab12", hash: "h1", permissions: permissions
            )
            #expect(key.revokedAt == nil)

            let found = try #require(try store.apiKey(hash: "h1"))
            #expect(found.key == key)
            #expect(found.company == company)
            #expect(try store.apiKey(hash: "other") == nil)

            #expect(try store.revokeAPIKey(prefix: "dw_ab12"))
            #expect(try !store.revokeAPIKey(prefix: "dw_ab12"))
            #expect(try !store.revokeAPIKey(prefix: "dw_none"))

            let revoked = try #require(try store.apiKey(hash: "h1"))
            #expect(revoked.key.revokedAt != nil)
            #expect(revoked.key.permissions == permissions)
            #expect(try store.apiKeys(companyID: company.id) == [revoked.key])
        }
    }

    @Test func apiKeysAreListedOldestFirst() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            let first = try store.insertAPIKey(companyID: acme.id, prefix: "p1", hash: "h1", permissions: [])
            _ = try store.insertAPIKey(companyID: globex.id, prefix: "p2", hash: "h2", permissions: [.webhooksRead])
            let third = try store.insertAPIKey(
                companyID: acme.id, prefix: "p3", hash: "h3", permissions: Set(Permission.allCases)
            )
            #expect(try store.apiKeys(companyID: acme.id) == [first, third])
        }
    }

    @Test func takenPrefixOrHashIsAConflict() throws {
        try withTemporaryStore { store, _ in
            let company = try store.findOrCreateCompany(slug: "acme")
            _ = try store.insertAPIKey(companyID: company.id, prefix: "dw_same", hash: "h1", permissions: [])

            let prefixError = #expect(throws: StoreError.self) {
                try store.insertAPIKey(companyID: company.id, prefix: "dw_same", hash: "h2", permissions: [])
            }
            guard case .conflict(let operation, _) = prefixError else {
                Issue.record("expected a conflict, got \(String(describing: prefixError))")
                return
            }
            #expect(operation == "insertAPIKey")

            let hashError = #expect(throws: StoreError.self) {
                try store.insertAPIKey(companyID: company.id, prefix: "dw_other", hash: "h1", permissions: [])
            }
            #expect(hashError.map(isConflict) == true)
            #expect(try store.apiKeys(companyID: company.id).count == 1)
        }
    }

    @Test func keyForUnknownCompanyIsAConflict() throws {
        try withTemporaryStore { store, _ in
            let error = #expect(throws: StoreError.self) {
                try store.insertAPIKey(companyID: 999, prefix: "p", hash: "h", permissions: [])
            }
            #expect(error.map(isConflict) == true)
        }
    }
}

func isConflict(_ error: StoreError) -> Bool {
    if case .conflict = error { return true }
    return false
}
