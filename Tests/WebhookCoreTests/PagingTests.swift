import Testing

@testable import WebhookCore

@Suite("Paging parameters")
struct PagingTests {
    private func parsed(_ size: String?, _ page: String?) -> Paging? {
        if case .success(let value) = Paging.parse(size: size, page: page) { return value }
        return nil
    }

    private func error(_ size: String?, _ page: String?) -> PagingError? {
        if case .failure(let value) = Paging.parse(size: size, page: page) { return value }
        return nil
    }

    @Test func defaultsAreSize100Page1() {
        #expect(parsed(nil, nil) == Paging(size: 100, page: 1))
        #expect(parsed(nil, nil)?.offset == 0)
    }

    @Test func boundsAreAccepted() {
        #expect(parsed("1", "1") == Paging(size: 1, page: 1))
        #expect(parsed("100", "7") == Paging(size: 100, page: 7))
        #expect(parsed("007", "02") == Paging(size: 7, page: 2))
        #expect(parsed("25", "3")?.offset == 50)
    }

    @Test(arguments: ["0", "101", "", " 5", "5 ", "+5", "-1", "1.0", "1e2", "0x10", "٣", "99999999999999999999999"])
    func badSizesAreRefused(_ text: String) {
        #expect(error(text, nil) == .invalidSize)
    }

    @Test(arguments: ["0", "", " 1", "+1", "-1", "1.0", "abc", "99999999999999999999999"])
    func badPagesAreRefused(_ text: String) {
        #expect(error(nil, text) == .invalidPage)
    }

    @Test func sizeIsReportedBeforePage() {
        #expect(error("0", "0") == .invalidSize)
    }

    @Test func hugePagesSaturateTheOffset() {
        #expect(parsed("100", "9223372036854775807")?.offset == Int.max)
    }

    @Test func maxPageRoundsUpAndIsAtLeastOne() {
        let paging = Paging(size: 10, page: 1)
        #expect(paging.maxPage(count: 0) == 1)
        #expect(paging.maxPage(count: 1) == 1)
        #expect(paging.maxPage(count: 10) == 1)
        #expect(paging.maxPage(count: 11) == 2)
        #expect(paging.maxPage(count: 100) == 10)
        #expect(Paging().maxPage(count: 2) == 1)
    }

    @Test func messagesNameTheParameter() {
        #expect(PagingError.invalidSize.message == #""size" must be an integer from 1 to 100."#)
        #expect(PagingError.invalidPage.message == #""page" must be an integer of at least 1."#)
    }
}
