import Foundation

/// A throwaway certificate authority made with the `openssl` command for one test: its CA file and leaf
/// certificates for `localhost` that are valid, expired, for the wrong host, or from an untrusted issuer.
public struct TestCertificateAuthority: Sendable {
    /// A certificate and its private key, as PEM files.
    public struct Leaf: Sendable {
        public var certificate: String
        public var key: String
    }

    public let directory: String
    /// The CA certificate to pass as `--ca-file`.
    public let caFile: String
    public let valid: Leaf
    public let expired: Leaf
    public let wrongHost: Leaf
    public let untrusted: Leaf

    /// Makes the CA and its leaves in a new temporary directory.
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dw-ca-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = directory
        caFile = "\(dir)/ca.pem"

        try Shell.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "\(dir)/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=Donutwork Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try Self.writeCAConfig(dir)

        valid = try Self.issue(dir, name: "valid", hosts: "DNS:localhost,IP:127.0.0.1", dates: nil)
        expired = try Self.issue(
            dir, name: "expired", hosts: "DNS:localhost,IP:127.0.0.1", dates: ("20200101000000Z", "20210101000000Z"))
        wrongHost = try Self.issue(dir, name: "wrong-host", hosts: "DNS:wrong.example", dates: nil)

        untrusted = Leaf(certificate: "\(dir)/untrusted.pem", key: "\(dir)/untrusted.key")
        try Shell.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", untrusted.key, "-out", untrusted.certificate, "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
    }

    /// Removes the directory.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func writeCAConfig(_ dir: String) throws {
        try "".write(toFile: "\(dir)/index.txt", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: "\(dir)/serial", atomically: true, encoding: .utf8)
        let config = """
            [ ca ]
            default_ca = test_ca
            [ test_ca ]
            dir = \(dir)
            database = \(dir)/index.txt
            serial = \(dir)/serial
            new_certs_dir = \(dir)
            certificate = \(dir)/ca.pem
            private_key = \(dir)/ca.key
            default_md = sha256
            policy = anything
            unique_subject = no
            copy_extensions = copy
            [ anything ]
            commonName = supplied
            [ leaf ]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth

            """
        try config.write(toFile: "\(dir)/ca.cnf", atomically: true, encoding: .utf8)
    }

    private static func issue(_ dir: String, name: String, hosts: String, dates: (String, String)?) throws -> Leaf {
        let leaf = Leaf(certificate: "\(dir)/\(name).pem", key: "\(dir)/\(name).key")
        try Shell.run(
            "openssl",
            [
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", leaf.key, "-out", "\(dir)/\(name).csr", "-subj", "/CN=\(name)",
                "-addext", "subjectAltName=\(hosts)",
            ])
        var arguments = [
            "ca", "-batch", "-config", "\(dir)/ca.cnf", "-extensions", "leaf", "-in", "\(dir)/\(name).csr",
            "-out", leaf.certificate, "-notext",
        ]
        if let (start, end) = dates {
            arguments += ["-startdate", start, "-enddate", end]
        } else {
            arguments += ["-days", "2"]
        }
        try Shell.run("openssl", arguments)
        return leaf
    }
}
