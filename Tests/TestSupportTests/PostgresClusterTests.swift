import Foundation
import TestSupport
import Testing

/// A test's own PostgreSQL server answers, stops, answers again after a restart, and leaves nothing when destroyed.
@Suite struct PostgresClusterTests {
    /// One query through `psql`; throws when the server does not answer.
    private func select(_ url: String) throws -> String {
        try Shell.run("psql", ["--no-psqlrc", "-At", "--dbname=\(url)", "--command=SELECT 40 + 2"])
    }

    @Test(.enabled(if: PostgresCluster.isAvailable, "needs PostgreSQL's server programs (scripts/setup test)"))
    func stopsStartsAgainOnTheSamePortAndIsDestroyed() throws {
        let cluster = try PostgresCluster()
        defer { cluster.destroy() }
        #expect(cluster.adminURL == "postgresql://postgres@127.0.0.1:\(cluster.port)/postgres")
        #expect(try select(cluster.adminURL) == "42\n")
        #expect(cluster.isRunning)

        try cluster.stop()
        #expect(!cluster.isRunning)
        #expect(throws: Shell.Failure.self) { try select(cluster.adminURL) }

        try cluster.start()
        #expect(try select(cluster.adminURL) == "42\n")

        cluster.destroy()
        #expect(!FileManager.default.fileExists(atPath: cluster.directory))
        #expect(throws: Shell.Failure.self) { try select(cluster.adminURL) }
    }
}
