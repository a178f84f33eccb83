import HTTPServer
import WebhookCore

extension WebhookAPI {
    /// Checks the bearer key, its permission and its rate limit.
    func authenticate(_ request: HTTPRequest, needing permission: Permission) async throws -> Caller {
        guard let header = request.headers["Authorization"] else { throw APIError.missingKey }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.missingKey }
        let key = parts[1].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.utf8.count <= 256 else { throw APIError.invalidKey }

        let hash = APIKeyMaterial.hash(of: key)
        guard let found = try await withStore({ try $0.apiKey(hash: hash) }), found.key.revokedAt == nil else {
            throw APIError.invalidKey
        }
        guard found.key.permissions.contains(permission) else {
            throw APIError.missingPermission(permission.rawValue)
        }
        if case .limited(let retryAfter) = rateLimiter.admit(keyID: found.key.id) {
            throw APIError.rateLimited(retryAfter: retryAfter)
        }
        return Caller(key: found.key, company: found.company)
    }
}
