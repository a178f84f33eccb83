/// A validated page request: which slice of a creation-ordered list to return.
public struct Paging: Sendable, Equatable {
    /// The default and largest page size.
    public static let maximumSize = 100

    /// Records per page, 1 to 100.
    public let size: Int
    /// The 1-based page index.
    public let page: Int

    /// How many records come before this page; saturates instead of overflowing for absurd page numbers.
    public var offset: Int {
        let (product, overflow) = (page - 1).multipliedReportingOverflow(by: size)
        return overflow ? Int.max : product
    }

    /// Creates a page request from values already known to be in range.
    ///
    /// - Parameters:
    ///   - size: records per page, 1 to 100.
    ///   - page: the 1-based page index.
    public init(size: Int = Paging.maximumSize, page: Int = 1) {
        self.size = min(max(size, 1), Paging.maximumSize)
        self.page = max(page, 1)
    }

    /// Parses the `size` and `page` query parameters; an absent parameter takes its default.
    public static func parse(size: String?, page: String?) -> Result<Paging, PagingError> {
        var sizeValue = maximumSize
        if let size {
            guard let value = decimal(size), (1...maximumSize).contains(value) else { return .failure(.invalidSize) }
            sizeValue = value
        }

        var pageValue = 1
        if let page {
            guard let value = decimal(page), value >= 1 else { return .failure(.invalidPage) }
            pageValue = value
        }
        return .success(Paging(size: sizeValue, page: pageValue))
    }

    /// The number of the last page for `count` records: `max(1, ceil(count / size))`.
    public func maxPage(count: Int) -> Int {
        guard count > 0 else { return 1 }
        return count / size + (count % size == 0 ? 0 : 1)
    }

    /// A non-negative integer written with ASCII digits only; `nil` on anything else or on overflow.
    private static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}
