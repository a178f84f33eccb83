import Foundation
import HTTPServer

/// The browser dashboard: static HTML, CSS and JavaScript shipped as resources and served as they are.
///
/// The page holds no data, so it needs no key: it asks the user for one and calls the API from the browser.
/// Every answer carries a strict Content-Security-Policy, so nothing but these files can run on the page.
enum DashboardAssets {
    /// The path the dashboard lives under.
    static let path = "/dashboard/"

    /// The files served, by name, with their content types.
    static let contentTypes: [String: String] = [
        "index.html": "text/html; charset=utf-8",
        "app.css": "text/css; charset=utf-8",
        "app.js": "application/javascript; charset=utf-8",
    ]

    /// Every file's bytes, read once from the bundle.
    static let files: [String: [UInt8]] = {
        guard let folder = Bundle.module.url(forResource: "dashboard", withExtension: nil) else { return [:] }
        var files: [String: [UInt8]] = [:]
        for name in contentTypes.keys {
            if let data = try? Data(contentsOf: folder.appendingPathComponent(name)) {
                files[name] = Array(data)
            }
        }
        return files
    }()

    /// The header fields of every dashboard answer.
    static func securityHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(
            name: "Content-Security-Policy",
            value: "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        headers.add(name: "Cache-Control", value: "no-cache")
        return headers
    }

    /// The answer for one file name (`""` is the page itself), or `nil` for a name that is not served.
    static func response(file: String) -> HTTPResponse? {
        let name = file.isEmpty ? "index.html" : file
        guard let type = contentTypes[name], let bytes = files[name] else { return nil }
        var headers = securityHeaders()
        headers.add(name: "Content-Type", value: type)
        return HTTPResponse(status: 200, headers: headers, body: bytes)
    }

    /// `GET /dashboard`: to the page, so its relative links resolve.
    static var redirect: HTTPResponse {
        var headers = securityHeaders()
        headers.add(name: "Location", value: path)
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        return HTTPResponse(status: 301, headers: headers, body: Array("See \(path)\n".utf8))
    }
}
