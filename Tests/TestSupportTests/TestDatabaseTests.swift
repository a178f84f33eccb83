import Foundation
import Logging
import Store
import TestSupport
import Testing
import WebhookCore

/// `TestDatabase` on the store this run uses: each database is new and empty, and `drop()` leaves nothing behind.
@Suite struct TestDatabaseTests {
    @Test func eachDatabaseIsFreshAndDropLeavesNothingBehind() throws {
        let first = try TestDatabase.make()
        let second = try TestDatabase.make()
        #expect(first.kind == TestStoreKind.current)
        #expect(first.url != second.url)
        #expect(try DatabaseLocation(parsing: first.url) == first.location)
        #expect(try first.isUntouched())

        switch first.kind {
        case .sqlite:
            #expect(first.url == "sqlite:\(first.directory)/test.db")
            #expect(first.masterKeyFile == nil)
            #expect(first.arguments == ["--database", first.url])
        case .postgres:
            let name = try #require(first.url.split(separator: "/").last.map(String.init))
            #expect(name.wholeMatch(of: /dw_test_[0-9a-f]{16}/) != nil, "\(first.url)")
            #expect(try first.psql("SELECT current_database()") == "\(name)\n")
            #expect(try first.psql("SELECT NULL, 'x'") == "\\N|x\n")
            let keyFile = try #require(first.masterKeyFile)
            #expect(first.arguments == ["--database", first.url, "--master-key-file", keyFile])
            let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            _ = try first.cipher()
            _ = try first.psql("CREATE TABLE marks (text TEXT); INSERT INTO marks VALUES ('findable')")
            #expect(try !first.isUntouched())
            #expect(try first.contents().range(of: Data("findable".utf8)) != nil)
        }

        first.drop()
        second.drop()
        #expect(!FileManager.default.fileExists(atPath: first.directory))
        if first.kind == .postgres, let admin = TestDatabase.postgresAdminURL {
            let left = try Shell.run(
                "psql", ["--no-psqlrc", "-At", "--dbname=\(admin)", "--command=SELECT datname FROM pg_database"])
            for database in [first, second] {
                let name = database.url.split(separator: "/").last.map(String.init) ?? ""
                #expect(!left.split(separator: "\n").contains(Substring(name)), "\(name) is still there")
            }
        }
    }

    @Test func aStoreOpenedOnItIsNoLongerUntouched() throws {
        let database = try TestDatabase.make()
        defer { database.drop() }
        let logger = Logger(label: "test", level: .error, sink: { _ in })
        let cipher = try TokenCipher(key: [UInt8](repeating: 7, count: 32))
        // Until the PostgreSQL store lands, openStore refuses a postgres:// location; that is the store's to fix.
        let store = try openStore(database.location, logger: logger, cipher: cipher)
        defer { store.close() }
        _ = try store.findOrCreateCompany(slug: "acme")
        #expect(try !database.isUntouched())
        #expect(try database.contents().range(of: Data("acme".utf8)) != nil)
    }
}
