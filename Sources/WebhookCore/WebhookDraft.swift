import Foundation

/// A validated request to create a webhook, before it has an id or a token.
///
/// ```swift
/// switch WebhookDraft.parse(body: body, availableEvents: available, allowPrivate: false) {
/// case .success(let draft): store(draft)
/// case .failure(let error): respond(error.status, error.message)
/// }
/// ```
public struct WebhookDraft: Sendable, Equatable {
    /// The longest accepted name, in Unicode scalars after trimming (so combining marks count and the stored size
    /// stays bounded).
    public static let maximumNameLength = 255
    /// The longest accepted description, in Unicode scalars.
    public static let maximumDescriptionLength = 1024

    /// Display name, trimmed of surrounding whitespace.
    public var name: String
    /// Free text as given, or `nil` when absent or null.
    public var description: String?
    /// The normalised endpoint.
    public var endpoint: EndpointURL
    /// Subscribed event names, duplicates removed, in first-seen order.
    public var events: [String]

    /// Creates a draft from values already validated.
    ///
    /// - Parameters:
    ///   - name: the trimmed display name.
    ///   - description: the free-text description, if any.
    ///   - endpoint: the normalised endpoint.
    ///   - events: the subscribed event names.
    public init(name: String, description: String?, endpoint: EndpointURL, events: [String]) {
        self.name = name
        self.description = description
        self.endpoint = endpoint
        self.events = events
    }

    /// Validates a create request body `{"webhook": {"name", "url", "events", "description"}}`.
    ///
    /// Missing fields are reported first (400), then unacceptable ones (422), in a fixed order.
    public static func parse(
        body: [UInt8], availableEvents: Set<String>, allowPrivate: Bool
    ) -> Result<WebhookDraft, ValidationError> {
        guard let root = JSONText.parse(body) else {
            return .failure(ValidationError(status: 400, message: "The request body is not valid JSON."))
        }
        guard let object = root as? [String: Any], let fields = object["webhook"] as? [String: Any] else {
            let message = #"The request body must be an object with a "webhook" object."#
            return .failure(ValidationError(status: 400, message: message))
        }

        let name = fields["name"].flatMap(jsonString)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !name.isEmpty else { return .failure(missing("name")) }

        guard let rawURL = fields["url"].flatMap(jsonString), !rawURL.isEmpty else {
            return .failure(missing("url"))
        }

        guard let rawEvents = fields["events"], !isMissingEvents(rawEvents) else {
            return .failure(missing("events"))
        }

        guard name.unicodeScalars.count <= maximumNameLength else {
            return .failure(unacceptable(#"The "name" must be at most 255 characters."#))
        }
        // Neither store can keep U+0000 faithfully (PostgreSQL text refuses it), so it is refused up front.
        guard !name.unicodeScalars.contains("\0") else {
            return .failure(unacceptable(#"The "name" must not contain the NUL character (U+0000)."#))
        }

        let description: String?
        switch parseDescription(fields["description"]) {
        case .success(let text): description = text
        case .failure(let error): return .failure(error)
        }

        guard let requested = eventNames(rawEvents) else {
            return .failure(unacceptable(#"The "events" must be a string or an array of strings."#))
        }

        let endpoint: EndpointURL
        switch URLPolicy.normalize(rawURL) {
        case .success(let value): endpoint = value
        case .failure(let rejection): return .failure(unacceptable(rejection.message))
        }
        if let rejection = URLPolicy.check(endpoint, allowPrivate: allowPrivate) {
            return .failure(unacceptable(rejection.message))
        }

        let events = uniqued(requested)
        let unavailable = events.filter { !availableEvents.contains($0) }
        guard unavailable.isEmpty else {
            let error = ValidationError(
                status: 422, message: "Some events are not available", unavailableEvents: unavailable
            )
            return .failure(error)
        }
        return .success(WebhookDraft(name: name, description: description, endpoint: endpoint, events: events))
    }

    /// A JSON string, and never a number or boolean bridged to look like one.
    private static func jsonString(_ value: Any) -> String? {
        if value is NSNumber || value is NSNull { return nil }
        return value as? String
    }

    /// Absent in substance: null, an empty string or an empty array.
    private static func isMissingEvents(_ value: Any) -> Bool {
        if value is NSNull { return true }
        if let text = jsonString(value) { return text.isEmpty }
        if let list = value as? [Any] { return list.isEmpty }
        return false
    }

    /// One string or an array of strings as a list, or `nil` for anything else.
    private static func eventNames(_ value: Any) -> [String]? {
        if let text = jsonString(value) { return [text] }
        guard let list = value as? [Any] else { return nil }

        var names = [String]()
        for element in list {
            guard let text = jsonString(element) else { return nil }
            names.append(text)
        }
        return names
    }

    private static func parseDescription(_ value: Any?) -> Result<String?, ValidationError> {
        guard let value, !(value is NSNull) else { return .success(nil) }

        guard let text = jsonString(value) else {
            return .failure(unacceptable(#"The "description" must be a string."#))
        }
        guard text.unicodeScalars.count <= maximumDescriptionLength else {
            return .failure(unacceptable(#"The "description" must be at most 1024 characters."#))
        }
        guard !text.unicodeScalars.contains("\0") else {
            return .failure(unacceptable(#"The "description" must not contain the NUL character (U+0000)."#))
        }
        return .success(text)
    }

    private static func uniqued(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    private static func missing(_ field: String) -> ValidationError {
        ValidationError(status: 400, message: "A valid \"\(field)\" must be specified.")
    }

    private static func unacceptable(_ message: String) -> ValidationError {
        ValidationError(status: 422, message: message)
    }
}
