import Foundation
import TestSupport
import Testing

/// The dashboard's static files over real HTTP: no key needed, right content types, a strict policy.
@Suite(.serialized) struct DashboardTests {
    @Test func pageScriptAndStylesAreServedWithAStrictPolicy() async throws {
        let app = try TestService()
        defer { app.stop() }

        let page = try await app.send("GET", "/dashboard/")
        #expect(page.status == 200)
        #expect(page.header("content-type") == "text/html; charset=utf-8")
        #expect(page.header("content-security-policy")?.hasPrefix("default-src 'self'") == true)
        #expect(page.header("x-content-type-options") == "nosniff")
        #expect(page.text.contains("<script src=\"app.js\""))

        let script = try await app.send("GET", "/dashboard/app.js")
        #expect(script.status == 200)
        #expect(script.header("content-type") == "application/javascript; charset=utf-8")
        #expect(script.header("content-security-policy")?.hasPrefix("default-src 'self'") == true)
        #expect(!script.text.contains("innerHTML"))

        let styles = try await app.send("GET", "/dashboard/app.css")
        #expect(styles.status == 200)
        #expect(styles.header("content-type") == "text/css; charset=utf-8")
    }

    @Test func bareDashboardPathRedirectsAndUnknownFilesAreNotFound() async throws {
        let app = try TestService()
        defer { app.stop() }

        let bare = try await app.send("GET", "/dashboard")
        #expect(bare.status == 301)
        #expect(bare.header("location") == "/dashboard/")

        let unknown = try await app.send("GET", "/dashboard/secret.txt")
        #expect(unknown.status == 404)
        #expect(unknown.text == #"{"error":"There is no such path: GET /dashboard/secret.txt."}"#)

        let wrongMethod = try await app.send("POST", "/dashboard/app.js", body: "{}")
        #expect(wrongMethod.status == 405)
    }
}
