import Foundation
import Synchronization
import Testing
import WebhookCore

@testable import Store

@Suite struct ConcurrencyTests {
    @Test(arguments: [8, 2])
    func concurrentInsertsAllSucceed(poolSize: Int) throws {
        try withTemporaryStore(poolSize: poolSize) { store, _ in
            let company = try store.findOrCreateCompany(slug: "acme")
            let perThread = 25
            let failures = Mutex<[String]>([])

            DispatchQueue.concurrentPerform(iterations: 8) { thread in
                for index in 0..<perThread {
                    do {
                        try store.insertWebhook(
                            makeWebhook(id: "wh_\(thread)_\(index)", companyID: company.id, events: ["a", "b"])
                        )
                        _ = try store.countWebhooks(companyID: company.id)
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }

            #expect(failures.withLock { $0 } == [])
            #expect(try store.countWebhooks(companyID: company.id) == 8 * perThread)
            #expect(try countRows(store, "webhook_events") == 2 * 8 * perThread)
        }
    }

    @Test func twoStoresOnOneFileShareData() throws {
        try withTemporaryStore { first, path in
            let second = try SQLiteStore(path: path, poolSize: 2, logger: quietLogger, cipher: testCipher)
            defer { second.close() }
            let company = try first.findOrCreateCompany(slug: "acme")
            #expect(try second.findOrCreateCompany(slug: "acme") == company)
        }
    }
}
