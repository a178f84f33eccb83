import Foundation
import HTTPServer

/// The OpenAPI 3.1 description of the API, shipped as a resource and served as it is.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else { return Array("{}".utf8) }
        return Array(data)
    }()

    static var response: HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, body: bytes)
    }
}
