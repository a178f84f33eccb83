// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "donutwork-webhooks",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "donutwork-webhooks", targets: ["donutwork-webhooks"])
    ],
    targets: [
        // C libraries from Debian, each wrapped in a module map and a shim header.
        .systemLibrary(name: "CLibEvent", pkgConfig: "libevent_pthreads", providers: [.apt(["libevent-dev"])]),
        .systemLibrary(
            name: "CLibEventOpenSSL", pkgConfig: "libevent_openssl", providers: [.apt(["libevent-dev", "libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CIDN2", pkgConfig: "libidn2", providers: [.apt(["libidn2-dev"])]),

        // Our modules, from transport to domain to storage to handlers.
        .target(name: "Logging", dependencies: ["Locking"]),
        .target(name: "Locking"),
        .target(name: "Metrics", dependencies: ["Locking"]),
        .target(name: "HTTPServer", dependencies: ["CLibEvent", "CLibEventOpenSSL", "Logging", "Locking"]),
        .target(name: "WebhookCore", dependencies: ["COpenSSL", "CIDN2", "CCurl"]),
        .target(name: "Store", dependencies: ["WebhookCore", "CSQLite", "CPostgres", "Logging", "Locking"]),
        .target(name: "Delivery", dependencies: ["WebhookCore", "Store", "CCurl", "Logging", "Locking"]),
        .target(
            name: "WebhookAPI",
            dependencies: ["HTTPServer", "WebhookCore", "Store", "Delivery", "Logging", "Metrics", "Locking"],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/dashboard")]
        ),
        .executableTarget(
            name: "donutwork-webhooks",
            dependencies: ["WebhookAPI", "HTTPServer", "WebhookCore", "Store", "Delivery", "Logging", "Locking"]
        ),

        // Test support: test CA, receivers, server launcher.
        .target(
            name: "TestSupport",
            dependencies: ["WebhookAPI", "Store", "WebhookCore", "Logging", "CCurl"],
            resources: [.copy("Resources/receiver.py")]
        ),
        .testTarget(name: "WebhookCoreTests", dependencies: ["WebhookCore"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Logging", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "WebhookCore", "Logging", "Locking", "TestSupport"]),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport", "Store", "WebhookCore", "Logging"]),
        .testTarget(
            name: "WebhookAPITests",
            dependencies: ["WebhookAPI", "TestSupport", "Store", "WebhookCore", "Delivery", "Logging"]
        ),
    ]
)
