import Testing
import WebhookCore

@testable import Store

@Suite struct EventTypeTests {
    @Test func companySeesGlobalTypesAndItsOwnOnly() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")
            #expect(try store.addEventType(name: "Acme.thing.happened", companyID: acme.id))
            #expect(try store.addEventType(name: "Globex.secret", companyID: globex.id))
            #expect(try store.addEventType(name: "Platform.new", companyID: nil))

            let expected = (EventType.defaultCatalog + ["Acme.thing.happened", "Platform.new"]).sorted()
            #expect(try store.availableEventTypes(companyID: acme.id) == expected)
            #expect(try !store.availableEventTypes(companyID: acme.id).contains("Globex.secret"))
        }
    }

    @Test func addingADuplicateReturnsFalse() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            let globex = try store.findOrCreateCompany(slug: "globex")

            #expect(try !store.addEventType(name: EventType.defaultCatalog[0], companyID: nil))
            #expect(try store.addEventType(name: "Custom", companyID: acme.id))
            #expect(try !store.addEventType(name: "Custom", companyID: acme.id))
            #expect(try store.addEventType(name: "Custom", companyID: globex.id))

            let custom = try store.allEventTypes().filter { $0.name == "Custom" }
            #expect(
                custom == [
                    EventType(name: "Custom", companyID: acme.id, companySlug: "acme"),
                    EventType(name: "Custom", companyID: globex.id, companySlug: "globex"),
                ])
        }
    }

    @Test func namesShadowingGlobalTypesAreListedOnce() throws {
        try withTemporaryStore { store, _ in
            let acme = try store.findOrCreateCompany(slug: "acme")
            #expect(try store.addEventType(name: EventType.defaultCatalog[0], companyID: acme.id))
            #expect(try store.availableEventTypes(companyID: acme.id) == EventType.defaultCatalog.sorted())
        }
    }
}
