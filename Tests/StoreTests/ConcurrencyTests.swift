import Foundation
import Synchronization
import TestSupport
import Testing
import WebhookCore

@testable import Store

@Suite struct ConcurrencyTests {
    /// Eight threads insert and count at once; every insert lands.
    private func insertConcurrently(into store: any Store, countingWith count: (String) throws -> Int) throws {
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
        #expect(try count("webhook_events") == 2 * 8 * perThread)
    }

    @Test func concurrentInsertsAllSucceed() throws {
        try withTemporaryStore { store, database in
            try insertConcurrently(into: store) { try database.countRows($0) }
        }
    }

    // SQLite only: fewer pooled connections than threads, so callers wait for a connection.
    @Test func concurrentInsertsAllSucceedOnASmallPool() throws {
        try withTemporarySQLiteStore(poolSize: 2) { store, _ in
            try insertConcurrently(into: store) { try countRows(store, $0) }
        }
    }

    @Test func twoStoresOnOneDatabaseShareData() throws {
        try withTemporaryStore { first, database in
            let second = try openStore(database.location, logger: quietLogger, cipher: testCipher)
            defer { second.close() }
            let company = try first.findOrCreateCompany(slug: "acme")
            #expect(try second.findOrCreateCompany(slug: "acme") == company)
        }
    }
}
