import HTTPServer
import Testing

@Suite struct RouterTests {
    private func makeRouter() -> Router<String> {
        var router = Router<String>()
        router.add("GET", "/v/webhooks.json", "list")
        router.add("POST", "/v/webhooks.json", "create")
        router.add("GET", "/v/webhooks/types.json", "types")
        router.add("GET", "/v/webhooks/{id}.json", "show")
        router.add("DELETE", "/v/webhooks/{id}.json", "delete")
        return router
    }

    @Test func matchesLiteralAndParameterRoutes() {
        let router = makeRouter()
        guard case .matched(let value, let parameters) = router.match(method: "GET", path: "/v/webhooks/wh_1.json")
        else {
            Issue.record("expected a match")
            return
        }
        #expect(value == "show")
        #expect(parameters == ["id": "wh_1"])
    }

    @Test func literalSegmentBeatsParameter() {
        guard case .matched(let value, _) = makeRouter().match(method: "GET", path: "/v/webhooks/types.json") else {
            Issue.record("expected a match")
            return
        }
        #expect(value == "types")
    }

    @Test func wrongMethodListsAllowedMethods() {
        guard case .methodNotAllowed(let allowed) = makeRouter().match(method: "PUT", path: "/v/webhooks.json") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == ["GET", "POST", "HEAD"])
    }

    @Test func headFallsBackToGet() {
        guard case .matched(let value, _) = makeRouter().match(method: "HEAD", path: "/v/webhooks.json") else {
            Issue.record("expected a match")
            return
        }
        #expect(value == "list")
    }

    @Test func unknownPathsAndEmptyParametersAreNotFound() {
        let router = makeRouter()
        for path in ["/", "/v/webhooks", "/v/webhooks/.json", "/v/webhooks/a/b.json", "/v/webhooks.json/", ""] {
            guard case .notFound = router.match(method: "GET", path: path) else {
                Issue.record("expected 404 for \(path)")
                continue
            }
        }
    }

    @Test func patternNamesTheRouteWhateverTheMethod() {
        let router = makeRouter()
        #expect(router.pattern(matching: "/v/webhooks/wh_1.json") == "/v/webhooks/{id}.json")
        #expect(router.pattern(matching: "/v/webhooks/types.json") == "/v/webhooks/types.json")
        #expect(router.pattern(matching: "/v/nothing") == nil)
    }
}
