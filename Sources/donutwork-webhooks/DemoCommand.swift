import Dispatch
import Foundation
import Logging
import Store
import Synchronization
import WebhookAPI
import WebhookCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One call to the demo's own API over HTTP: status and body.
private func callAPI(_ method: String, _ url: String, key: String, body: String? = nil) throws -> (
    status: Int, json: [String: Any]
) {
    guard let address = URL(string: url) else { throw CommandFailure("bad URL \(url)") }
    var request = URLRequest(url: address, timeoutInterval: 30)
    request.httpMethod = method
    request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
    if let body {
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
    }
    final class Outcome: Sendable {
        let value = Mutex<(Int, Data, (any Error)?)>((0, Data(), nil))
    }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    URLSession.shared.dataTask(with: request) { data, response, error in
        outcome.value.withLock { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data(), error) }
        done.signal()
    }.resume()
    done.wait()
    let (status, data, error) = outcome.value.withLock { $0 }
    if let error { throw CommandFailure("\(method) \(url): \(error.localizedDescription)") }
    let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return (status, json)
}

/// The sample events the demo emits.
private let demoEvents: [(type: String, data: String)] = [
    ("RecurringPayments.charge.paid", #"{"amount":1250,"currency":"EUR","customer":"cus_demo_1"}"#),
    (
        "RecurringPayments.charge.failed",
        #"{"amount":4900,"currency":"EUR","customer":"cus_demo_2","reason":"card_declined"}"#
    ),
    ("RecurringPayments.charge.paid", #"{"amount":4900,"currency":"EUR","customer":"cus_demo_2","retry":true}"#),
]

let demoCommand = Command(
    name: "demo",
    synopsis: "donutwork-webhooks demo [--port P] [--receiver-port P]",
    summary: """
        Runs the service (on a temporary SQLite file, private targets allowed) and a `listen` receiver in one
        process, creates an API key and a webhook through the API, emits 3 sample events and shows them arrive
        verified, then prints curl commands to go on with. Runs until SIGTERM or SIGINT, then removes its
        temporary directory.
        """,
    flags: [
        FlagSpec(name: "port", help: "port of the API on 127.0.0.1 (0 picks a free one)", defaultValue: "0"),
        FlagSpec(name: "receiver-port", help: "port of the receiver (0 picks a free one)", defaultValue: "0"),
    ],
    run: { options in
        guard options.positional.isEmpty else {
            throw UsageError(message: "demo takes no arguments, only flags (got \"\(options.positional[0])\")")
        }
        let apiPort = try options.int("port", range: 0...65535) ?? 0
        let receiverPort = try options.int("receiver-port", range: 0...65535) ?? 0

        let directory = try makeTemporaryDirectory("dw-demo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        writeStandardError("demo directory: \(directory) (removed on exit)\n")
        let certificates = try LocalCertificates.make(in: "\(directory)")

        // The receiver starts without a secret: the webhook's token exists only once the webhook does.
        let arrived = DispatchSemaphore(value: 0)
        let receiver = WebhookReceiver(
            host: "127.0.0.1", port: receiverPort,
            tls: .init(certificateFile: certificates.certificateFile, keyFile: certificates.keyFile), secrets: [],
            onEvent: { event in
                writeStandardOutput(event.block)
                arrived.signal()
            },
            onRejection: { writeStandardError("rejected: \($0)\n") })
        try receiver.start()
        defer { receiver.stop() }

        // The token key lives with the throwaway database (written here, so the service has nothing to warn about).
        let masterKeyFile = "\(directory)/master-key"
        try Data(SecureRandom.bytes(32)).base64EncodedString().write(
            toFile: masterKeyFile, atomically: true, encoding: .utf8)
        var configuration = ServiceConfiguration(
            listen: "127.0.0.1:\(apiPort)", database: "sqlite:\(directory)/demo.db", threads: 2,
            caFile: certificates.caFile, allowPrivateTargets: true)
        configuration.masterKeyFile = masterKeyFile
        let service = try WebhookService(configuration: configuration, logger: Logger(label: "demo", level: .warning))
        try service.start()
        defer { service.stop(gracePeriod: .seconds(2)) }
        let api = "http://127.0.0.1:\(service.port)/2026-02-01"
        let receiverURL = "https://localhost:\(receiver.port)/"
        writeStandardOutput("service:  \(api)\nreceiver: \(receiverURL) (CA file \(certificates.caFile))\n")

        // A key, as `keys create` makes it; everything else goes through the API.
        let company = try service.store.findOrCreateCompany(slug: "demo")
        let material = APIKeyMaterial.make()
        _ = try service.store.insertAPIKey(
            companyID: company.id, prefix: material.prefix, hash: material.hash, permissions: Set(Permission.allCases))
        let key = material.key
        writeStandardOutput("API key:  \(key) (company demo)\n")

        let create = try callAPI(
            "POST", "\(api)/webhooks.json", key: key,
            body: """
                {"webhook":{"name":"Demo receiver","description":"donutwork-webhooks demo","url":"\(receiverURL)",\
                "events":["RecurringPayments.charge.paid","RecurringPayments.charge.failed"]}}
                """)
        guard create.status == 201, let webhookID = create.json["id"] as? String,
            let token = create.json["token"] as? String, let secret = WebhookToken.secretBytes(token)
        else {
            throw CommandFailure("creating the webhook failed: \(create.status) \(create.json["error"] ?? "")")
        }
        receiver.setSecrets([secret])
        writeStandardOutput("webhook:  \(webhookID) -> \(receiverURL) (token \(token))\n\n")

        for sample in demoEvents {
            let emitted = try callAPI(
                "POST", "\(api)/events.json", key: key,
                body: #"{"event":{"type":"\#(sample.type)","data":\#(sample.data)}}"#)
            guard emitted.status == 202, let id = emitted.json["id"] as? String else {
                throw CommandFailure("emitting an event failed: \(emitted.status) \(emitted.json["error"] ?? "")")
            }
            writeStandardOutput("emitted  \(id) \(sample.type)\n")
        }
        writeStandardOutput("\n")
        for _ in demoEvents {
            guard arrived.wait(timeout: .now() + 30) == .success else {
                throw CommandFailure("the sample events did not all arrive within 30 s")
            }
        }

        writeStandardOutput(
            """

            All \(demoEvents.count) events arrived and verified. Go on from another terminal:

              KEY=\(key)
              API=\(api)
              curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -X POST $API/events.json \\
                -d '{"event":{"type":"RecurringPayments.charge.paid","data":{"amount":990}}}'
              curl -s -H "Authorization: Bearer $KEY" $API/webhooks.json
              curl -s -H "Authorization: Bearer $KEY" "$API/webhooks/\(webhookID)/deliveries.json?size=10"
              curl -s -H "Authorization: Bearer $KEY" $API/webhooks/types.json

            Events you emit are printed here as they arrive. Ctrl-C stops the demo and removes \(directory).

            """)
        waitForTerminationSignal()
        writeStandardError("stopping\n")
        return 0
    })
