import Foundation
import Logging
import TestSupport
import Testing
import WebhookAPI
import WebhookCore

/// The delivery engine end to end: real HTTPS receivers on loopback, the real dispatcher, a real database.
@Suite(.serialized) struct DeliveryTests {
    let ca: TestCertificateAuthority

    init() throws {
        ca = try TestCertificateAuthority()
    }

    /// A service that delivers to loopback receivers quickly: short schedule, no jitter, fast polling.
    private func makeService(
        delays: [TimeInterval] = [0.3, 0.3, 0.3, 0.3], _ tweak: (inout ServiceConfigurationTweak) -> Void = { _ in }
    )
        throws -> TestService
    {
        let caFile = ca.caFile
        var extra = ServiceConfigurationTweak()
        tweak(&extra)
        let chosen = extra
        return try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.delivery.retrySchedule = RetrySchedule(delays: delays, jitter: 0)
            configuration.delivery.pollInterval = 0.1
            configuration.delivery.connectTimeout = chosen.connectTimeout
            configuration.delivery.totalTimeout = chosen.totalTimeout
            configuration.delivery.statusCheckInterval = chosen.statusCheckInterval
        }
    }

    private func receiver(_ statuses: [Int] = [204], headers: [String] = [], secretsFile: String? = nil) throws
        -> HTTPSReceiver
    {
        try HTTPSReceiver(
            certificate: ca.valid.certificate, key: ca.valid.key, statuses: statuses, headers: headers,
            secretsFile: secretsFile)
    }

    private func createWebhook(
        _ app: TestService, key: String, port: Int, events: String = #"["RecurringPayments.charge.paid"]"#
    ) async throws -> (id: String, token: String) {
        let response = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key,
            body: createBody(url: "https://localhost:\(port)/hook", events: events))
        #expect(response.status == 201)
        let json = try #require(response.json)
        return (try #require(json["id"] as? String), try #require(json["token"] as? String))
    }

    /// A webhook on `port` whose endpoint answers its first event 410: returns once that has disabled it.
    private func webhookDisabledByGone(_ app: TestService, key: String, port: Int) async throws -> (
        id: String, token: String
    ) {
        let webhook = try await createWebhook(app, key: key, port: port)
        _ = try await emit(app, key: key, data: #"{"n":1}"#)
        #expect(
            await eventually(timeoutSeconds: 10) {
                let shown = try? await app.send("GET", "/2026-02-01/webhooks/\(webhook.id).json", key: key)
                return shown?.json?["status"] as? String == "disabled"
            })
        return webhook
    }

    private func emit(_ app: TestService, key: String, type: String = "RecurringPayments.charge.paid", data: String)
        async throws -> [String: Any]
    {
        let response = try await app.send(
            "POST", "/2026-02-01/events.json", key: key, body: #"{"event":{"type":"\#(type)","data":\#(data)}}"#)
        #expect(response.status == 202)
        return try #require(response.json)
    }

    @Test func anEventReachesExactlyTheSubscribedWebhooksOfItsCompany() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let keyA = try app.makeFullKey(company: "company-a")
        let keyB = try app.makeFullKey(company: "company-b")
        let paidA = try receiver()
        let failedA = try receiver()
        let paidB = try receiver()
        defer { [paidA, failedA, paidB].forEach { $0.stop() } }
        _ = try await createWebhook(app, key: keyA, port: paidA.port)
        _ = try await createWebhook(app, key: keyA, port: failedA.port, events: #""RecurringPayments.charge.failed""#)
        _ = try await createWebhook(app, key: keyB, port: paidB.port)

        let accepted = try await emit(app, key: keyA, data: #"{"amount":1200,"currency":"EUR"}"#)
        #expect(accepted["deliveries"] as? Int == 1)
        let eventID = try #require(accepted["id"] as? String)
        let createdAt = try #require(accepted["created_at"] as? String)

        #expect(await eventually(timeoutSeconds: 10) { paidA.requests.count == 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(paidA.requests.count == 1)
        #expect(failedA.requests.isEmpty)
        #expect(paidB.requests.isEmpty)

        let request = try #require(paidA.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/hook")
        #expect(request.headers["webhook-id"] == eventID)
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["user-agent"]?.hasPrefix("Donutwork-Webhooks/") == true)
        #expect(
            String(decoding: request.body, as: UTF8.self)
                == #"{"id":"\#(eventID)","type":"RecurringPayments.charge.paid","created_at":"\#(createdAt)","data":{"amount":1200,"currency":"EUR"}}"#
        )
    }

    @Test func theOfficialVerifierAcceptsEveryDeliveryAndBothSecretsDuringARotation() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let secrets = app.directory + "/secrets.txt"
        let endpoint = try receiver(secretsFile: secrets)
        defer { endpoint.stop() }
        let webhook = try await createWebhook(app, key: key, port: endpoint.port)
        try (webhook.token + "\n").write(toFile: secrets, atomically: true, encoding: .utf8)

        let tricky =
            #"{"text":"héllo wörld 😀 \u2028 </script><script>alert(1)</script>","nested":{"z":1,"a":[true,null]}}"#
        _ = try await emit(app, key: key, data: tricky)
        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count == 1 })
        #expect(endpoint.requests.first?.verified == [true])
        let delivered = try #require(endpoint.requests.first)
        let envelope = try #require(try JSONSerialization.jsonObject(with: Data(delivered.body)) as? [String: Any])
        let data = try #require(envelope["data"] as? [String: Any])
        #expect(data["text"] as? String == "héllo wörld 😀 \u{2028} </script><script>alert(1)</script>")

        let rotated = try await app.send("POST", "/2026-02-01/webhooks/\(webhook.id)/token.json", key: key)
        #expect(rotated.status == 201)
        let newToken = try #require(rotated.json?["token"] as? String)
        #expect(newToken != webhook.token)
        try (webhook.token + "\n" + newToken + "\n").write(toFile: secrets, atomically: true, encoding: .utf8)

        _ = try await emit(app, key: key, data: #"{"after":"rotation"}"#)
        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count == 2 })
        let second = try #require(endpoint.requests.last)
        #expect(second.verified == [true, true])
        #expect(second.headers["webhook-signature"]?.split(separator: " ").count == 2)
    }

    @Test func intakeIsIdempotentAndValidated() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let other = try app.makeFullKey(company: "other")
        let endpoint = try receiver()
        defer { endpoint.stop() }
        _ = try await createWebhook(app, key: key, port: endpoint.port)

        let body = #"{"event":{"type":"RecurringPayments.charge.paid","data":{"n":1},"idempotency_key":"order-42"}}"#
        let first = try await app.send("POST", "/2026-02-01/events.json", key: key, body: body)
        #expect(first.status == 202)
        let again = try await app.send("POST", "/2026-02-01/events.json", key: key, body: body)
        #expect(again.status == 200)
        #expect(again.text == first.text)
        let elsewhere = try await app.send("POST", "/2026-02-01/events.json", key: other, body: body)
        #expect(elsewhere.status == 202)
        #expect(elsewhere.json?["deliveries"] as? Int == 0)
        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count == 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(endpoint.requests.count == 1)

        let unknown = try await app.send(
            "POST", "/2026-02-01/events.json", key: key, body: #"{"event":{"type":"Nope.x","data":{}}}"#)
        #expect(unknown.status == 422)
        #expect(unknown.text == #"{"error":"Some events are not available","unavailable_events":["Nope.x"]}"#)
        let notObject = try await app.send(
            "POST", "/2026-02-01/events.json", key: key,
            body: #"{"event":{"type":"RecurringPayments.charge.paid","data":[1]}}"#)
        #expect(notObject.status == 422)
        #expect(notObject.text == #"{"error":"The \"data\" must be a JSON object."}"#)
        let big =
            #"{"event":{"type":"RecurringPayments.charge.paid","data":{"x":""#
            + String(repeating: "a", count: 300_000) + #""}}}"#
        let tooBig = try await app.send("POST", "/2026-02-01/events.json", key: key, body: big)
        #expect(tooBig.status == 413)
        #expect(tooBig.text == #"{"error":"The \"data\" must be at most 262144 bytes."}"#)
        let readOnly = try app.makeKey(company: "acme", permissions: [.webhooksRead])
        let forbidden = try await app.send("POST", "/2026-02-01/events.json", key: readOnly, body: body)
        #expect(forbidden.status == 403)
        #expect(forbidden.text == #"{"error":"This API key lacks the \"events:write\" permission."}"#)
    }

    @Test func failingThreeTimesThenSucceedingMakesFourAttemptsWithTheSameIDAndBody() async throws {
        defer { ca.remove() }
        let app = try makeService(delays: [1.1, 1.1, 1.1, 1.1])
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([500, 500, 500, 204])
        defer { endpoint.stop() }
        let webhook = try await createWebhook(app, key: key, port: endpoint.port)
        _ = try await emit(app, key: key, data: #"{"n":1}"#)

        #expect(await eventually(timeoutSeconds: 15) { endpoint.requests.count == 4 })
        try await Task.sleep(for: .seconds(2))
        let requests = endpoint.requests
        #expect(requests.count == 4)
        #expect(Set(requests.map { $0.headers["webhook-id"] ?? "" }).count == 1)
        #expect(Set(requests.map(\.body)).count == 1)
        #expect(Set(requests.map { $0.headers["webhook-timestamp"] ?? "" }).count == 4)

        let list = try #require(
            try await app.send("GET", "/2026-02-01/webhooks/\(webhook.id)/deliveries.json", key: key).json)
        let element = try #require((list["elements"] as? [[String: Any]])?.first)
        #expect(element["status"] as? String == "succeeded")
        #expect(element["attempts_count"] as? Int == 4)
        let deliveryID = try #require(element["id"] as? String)
        let detail = try #require(try await app.send("GET", "/2026-02-01/deliveries/\(deliveryID).json", key: key).json)
        let attempts = try #require(detail["attempts"] as? [[String: Any]])
        #expect(attempts.map { $0["status_code"] as? Int } == [500, 500, 500, 204])
        #expect(attempts.map { $0["number"] as? Int } == [1, 2, 3, 4])
        #expect(attempts.first?["response_body"] as? String == "ok")
    }

    @Test func aRedirectIsNeverFollowed() async throws {
        defer { ca.remove() }
        let app = try makeService(delays: [30])
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let target = try receiver()
        let redirecting = try receiver([302], headers: ["Location: https://localhost:\(target.port)/elsewhere"])
        defer { [target, redirecting].forEach { $0.stop() } }
        let webhook = try await createWebhook(app, key: key, port: redirecting.port)
        _ = try await emit(app, key: key, data: "{}")

        #expect(await eventually(timeoutSeconds: 10) { redirecting.requests.count == 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(target.requests.isEmpty)
        let list = try #require(
            try await app.send("GET", "/2026-02-01/webhooks/\(webhook.id)/deliveries.json", key: key).json)
        let deliveryID = try #require((list["elements"] as? [[String: Any]])?.first?["id"] as? String)
        let detail = try #require(try await app.send("GET", "/2026-02-01/deliveries/\(deliveryID).json", key: key).json)
        #expect(detail["status"] as? String == "pending")
        let attempt = try #require((detail["attempts"] as? [[String: Any]])?.first)
        #expect(attempt["status_code"] as? Int == 302)
        #expect(attempt["error_kind"] as? String == "redirect")
        #expect(
            (attempt["response_headers"] as? [String: String])?["location"]
                == "https://localhost:\(target.port)/elsewhere")
    }

    @Test func goneDisablesTheWebhookAfterOneAttempt() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([410])
        defer { endpoint.stop() }
        let webhook = try await createWebhook(app, key: key, port: endpoint.port)
        _ = try await emit(app, key: key, data: "{}")

        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count == 1 })
        #expect(
            await eventually(timeoutSeconds: 5) {
                let shown = try? await app.send("GET", "/2026-02-01/webhooks/\(webhook.id).json", key: key)
                return shown?.json?["status"] as? String == "disabled"
            })
        let shown = try #require(try await app.send("GET", "/2026-02-01/webhooks/\(webhook.id).json", key: key).json)
        #expect(shown["disabled_reason"] as? String == "the endpoint answered 410 Gone")
        _ = try await emit(app, key: key, data: "{}")
        try await Task.sleep(for: .seconds(1.5))
        #expect(endpoint.requests.count == 1)

        let enabled = try await app.send("POST", "/2026-02-01/webhooks/\(webhook.id)/enable.json", key: key)
        #expect(enabled.status == 200)
        #expect(enabled.json?["status"] as? String == "enabled")
    }

    @Test func aWebhookEnabledAgainAfterGoneGetsNewEventsAtOnce() async throws {
        // The dispatcher stops sending to a webhook the moment it answers 410; enabling it again must lift that at
        // once, not leave new deliveries claimed and held until their lease runs out (70 s by default).
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([410, 204])
        defer { endpoint.stop() }
        let webhook = try await webhookDisabledByGone(app, key: key, port: endpoint.port)

        let enabled = try await app.send("POST", "/2026-02-01/webhooks/\(webhook.id)/enable.json", key: key)
        #expect(enabled.status == 200)
        _ = try await emit(app, key: key, data: #"{"n":2}"#)
        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count == 2 })
    }

    /// The same through another process: an API-only `serve --no-dispatcher` beside the delivering one (the
    /// README's scale-out layout), or any other process sharing the database. The delivering process remembered
    /// the 410 for a lease (70 s by default) and, meanwhile, gave back every new delivery of the webhook that its
    /// claims found, due again a poll later, over and over: the first new event went out 68 s after it was
    /// accepted, although `take` says work of a webhook "enabled again since, perhaps through another process,
    /// must not wait".
    @Test func aWebhookEnabledAgainThroughAnotherProcessGetsNewEventsSoon() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let apiOnly = try startAPIOnly(beside: app)
        defer { apiOnly.stop(gracePeriod: .seconds(1)) }

        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([410, 204])
        defer { endpoint.stop() }
        let webhook = try await webhookDisabledByGone(app, key: key, port: endpoint.port)

        let enabled = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(apiOnly.port)/2026-02-01/webhooks/\(webhook.id)/enable.json",
            headers: ["Authorization": "Bearer \(key)"], body: nil)
        #expect(enabled.status == 200)
        let sent = Date()
        let accepted = try await HTTPClient.send(
            "POST", "http://127.0.0.1:\(apiOnly.port)/2026-02-01/events.json",
            headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"],
            body: Array(#"{"event":{"type":"RecurringPayments.charge.paid","data":{"n":2}}}"#.utf8))
        #expect(accepted.status == 202)
        let delivered = await eventually(timeoutSeconds: 10) { endpoint.requests.count == 2 }
        #expect(delivered, "the new event was not sent within \(Date().timeIntervalSince(sent)) s")
    }

    @Test func retryAfterIsHonoured() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([429, 204], headers: ["Retry-After: 3"])
        defer { endpoint.stop() }
        _ = try await createWebhook(app, key: key, port: endpoint.port)
        _ = try await emit(app, key: key, data: "{}")

        #expect(await eventually(timeoutSeconds: 15) { endpoint.requests.count == 2 })
        let requests = endpoint.requests
        #expect(requests[1].receivedAt - requests[0].receivedAt >= 2.95)
    }

    @Test func aSilentReceiverDoesNotSlowAHealthyOne() async throws {
        defer { ca.remove() }
        let app = try makeService(delays: [60]) {
            $0.connectTimeout = 2; $0.totalTimeout = 3
        }
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let healthy = try receiver()
        let silent = try TCPListener()
        defer {
            healthy.stop()
            silent.stop()
        }
        _ = try await createWebhook(app, key: key, port: healthy.port)
        let silentHook = try await app.send(
            "POST", "/2026-02-01/webhooks.json", key: key,
            body: createBody(url: "https://localhost:\(silent.port)/hook"))
        // The TLS check of the silent endpoint times out, so store it directly as an operator could have.
        #expect(silentHook.status == 400)
        let company = try #require(try app.service.store.company(slug: "acme"))
        let silentID = Identifier.make(prefix: "wh")
        try app.service.store.insertWebhook(
            Webhook(
                id: silentID, companyID: company.id, name: "silent", description: nil,
                url: "https://localhost:\(silent.port)/hook", events: ["RecurringPayments.charge.paid"],
                token: WebhookToken.make(), createdAt: Date()))

        let started = Date()
        for index in 0..<100 {
            _ = try await emit(app, key: key, data: #"{"n":\#(index)}"#)
        }
        #expect(await eventually(timeoutSeconds: 15) { healthy.requests.count == 100 })
        print("healthy receiver had \(healthy.requests.count) deliveries after \(Date().timeIntervalSince(started)) s")
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(silent.connectionCount >= 1)

        let path = "/2026-02-01/webhooks/\(silentID)/deliveries.json?size=1"
        #expect(
            await eventually(timeoutSeconds: 10) {
                let list = try? await app.send("GET", path, key: key)
                let first = (list?.json?["elements"] as? [[String: Any]])?.first
                return (first?["attempts_count"] as? Int ?? 0) >= 1
            })
        let list = try #require(try await app.send("GET", path, key: key).json)
        let deliveryID = try #require((list["elements"] as? [[String: Any]])?.first?["id"] as? String)
        let detail = try #require(try await app.send("GET", "/2026-02-01/deliveries/\(deliveryID).json", key: key).json)
        let attempt = try #require((detail["attempts"] as? [[String: Any]])?.first)
        #expect(attempt["error_kind"] as? String == "timeout")
        #expect(attempt["status_code"] is NSNull)
    }

    /// What `calmEventBehindAFlood` saw.
    private struct CalmDelivery {
        /// Seconds from the calm event's 202 to its delivery, or nil when it was not sent within 10 s.
        var waited: Double?
        /// Whether the delivery carried the calm event's id.
        var carriedTheEvent: Bool
        /// Requests the slow receiver had by then.
        var slowRequests: Int
    }

    /// One company's webhook, on a receiver that answers after `slowSeconds` and with at most 2 deliveries in
    /// flight, gets 150 events; then another company's webhook gets one, due after all of them. Claims of 5 look
    /// at the oldest 100 due deliveries first, all of them the flood's.
    private func calmEventBehindAFlood(pollInterval: Double?, slowSeconds: Double) async throws -> CalmDelivery {
        defer { ca.remove() }
        let caFile = ca.caFile
        let app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            if let pollInterval {
                configuration.delivery.pollInterval = pollInterval
            }
            configuration.delivery.claimBatch = 5
            configuration.delivery.maxInFlightPerEndpoint = 2
        }
        defer { app.stop() }
        let slow = try HTTPSReceiver(
            certificate: ca.valid.certificate, key: ca.valid.key, statuses: [204], delaySeconds: slowSeconds)
        let quick = try receiver()
        defer {
            slow.stop()
            quick.stop()
        }
        let floodKey = try app.makeFullKey(company: "flood")
        let calmKey = try app.makeFullKey(company: "calm")
        _ = try await createWebhook(app, key: floodKey, port: slow.port)
        _ = try await createWebhook(app, key: calmKey, port: quick.port)
        for index in 0..<150 {
            _ = try await emit(app, key: floodKey, data: #"{"n":\#(index)}"#)
        }
        let sent = Date()
        let event = try await emit(app, key: calmKey, data: #"{"n":"calm"}"#)
        let delivered = await eventually(timeoutSeconds: 10) { quick.requests.count == 1 }
        let waited = Date().timeIntervalSince(sent)
        let eventID = try #require(event["id"] as? String)
        return CalmDelivery(
            waited: delivered ? waited : nil,
            carriedTheEvent: quick.requests.first.map { String(decoding: $0.body, as: UTF8.self).contains(eventID) }
                == true,
            slowRequests: slow.requests.count)
    }

    /// 148 of the flood wait for a receiver that takes 2 a second: the calm company's event is due after all of
    /// them, and is still sent at once (it waited about 25 s behind the first 100 before).
    @Test func oneCompanysBacklogDoesNotHoldBackAnothersDelivery() async throws {
        let calm = try await calmEventBehindAFlood(pollInterval: 0.1, slowSeconds: 1)
        print("calm delivery after \(calm.waited ?? .infinity) s; the slow receiver had \(calm.slowRequests) requests")
        #expect(calm.waited != nil)
        #expect(calm.carriedTheEvent)
        #expect(calm.slowRequests < 100)
    }

    /// With the default poll interval (1 s): a claim woken by the calm event right after a pass that found nothing
    /// is held back from the pass by the pacer, and the dispatcher claims again when the pass may run (within
    /// 100 ms), not at its next poll. Before, the calm delivery went out a whole second later.
    @Test func aPacedPassIsRunBeforeTheNextPoll() async throws {
        let calm = try await calmEventBehindAFlood(pollInterval: nil, slowSeconds: 5)
        let waited = try #require(calm.waited, "the calm event was not delivered within 10 s")
        #expect(waited < 0.8, "the calm delivery went out \(waited) s after its event")
        #expect(calm.carriedTheEvent)
    }

    /// A claim that fills `maxInFlight` used to leave the next claim due at once while there was no room to claim
    /// into: the delivery thread spun (about a core's worth of CPU) until an attempt finished. Waiting for slow
    /// receivers now costs next to nothing.
    @Test func aFullDispatcherWaitsWithoutSpinning() async throws {
        defer { ca.remove() }
        let caFile = ca.caFile
        let app = try TestService { configuration in
            configuration.allowPrivateTargets = true
            configuration.caFile = caFile
            configuration.delivery.maxInFlight = 4
            configuration.delivery.claimBatch = 4
        }
        defer { app.stop() }
        let slow = try HTTPSReceiver(
            certificate: ca.valid.certificate, key: ca.valid.key, statuses: [204], delaySeconds: 6)
        defer { slow.stop() }
        let key = try app.makeFullKey(company: "acme")
        _ = try await createWebhook(app, key: key, port: slow.port)
        for index in 0..<8 {
            _ = try await emit(app, key: key, data: #"{"n":\#(index)}"#)
        }
        #expect(await eventually(timeoutSeconds: 5) { slow.requests.count == 4 })

        // Two seconds with four attempts in flight and four more due: the process should be all but idle.
        let before = processCPUSeconds()
        try await Task.sleep(for: .seconds(2))
        let used = processCPUSeconds() - before
        #expect(used < 0.5, "the process used \(used) CPU seconds in 2 s while it waited for its receiver")
        #expect(slow.requests.count == 4)
    }

    @Test func nothingIsSentAfterTheDeleteIsAnswered() async throws {
        defer { ca.remove() }
        let app = try makeService(delays: Array(repeating: 0.2, count: 40))
        defer { app.stop() }
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try receiver([500])
        defer { endpoint.stop() }
        let webhook = try await createWebhook(app, key: key, port: endpoint.port)
        for _ in 0..<5 {
            _ = try await emit(app, key: key, data: "{}")
        }
        #expect(await eventually(timeoutSeconds: 10) { endpoint.requests.count >= 10 })

        let deleted = try await app.send("DELETE", "/2026-02-01/webhooks/\(webhook.id).json", key: key)
        #expect(deleted.status == 200)
        let answeredAt = Date().timeIntervalSince1970
        try await Task.sleep(for: .seconds(2))
        let late = endpoint.requests.filter { $0.receivedAt > answeredAt }
        #expect(late.isEmpty)
    }

    /// The same delete answered by another process: an API-only `serve --no-dispatcher` beside the delivering one
    /// (the README's scale-out layout). The delivering process hears of it through its look at the webhooks it has
    /// work for (once a second) and stops its attempts before they send (their handshakes take 3 s). Before, it sent
    /// every one of them after the answer.
    @Test func attemptsUnderWayStopWhenAnotherProcessDeletesTheWebhook() async throws {
        defer { ca.remove() }
        let late = try await requestsAfterADeleteThroughAnotherProcess(handshakeSeconds: 3, watchSeconds: 5)
        #expect(late.count == 0, "\(late.count) requests arrived up to \(late.max() ?? 0) s after the answer")
    }

    /// The same with the once-a-second look an hour apart: the delivering process hears of the delete from the
    /// database itself (PostgreSQL's LISTEN/NOTIFY) and stops its attempts, which would send a second after the
    /// answer, at once. Before, they all went out.
    @Test(.enabled(if: TestStoreKind.current == .postgres, "runs on PostgreSQL only: SQLite has no feed of changes"))
    func attemptsUnderWayStopAtOnceWhenAnotherProcessDeletesTheWebhook() async throws {
        defer { ca.remove() }
        let late = try await requestsAfterADeleteThroughAnotherProcess(
            statusCheckInterval: 3600, handshakeSeconds: 1.5, watchSeconds: 2.5)
        #expect(late.count == 0, "\(late.count) requests arrived up to \(late.max() ?? 0) s after the answer")
    }

    /// Attempts under way but not yet sent (connected to a slow endpoint whose TLS handshake takes 2 s) are
    /// aborted by the delete.
    @Test func nothingIsSentAfterADeleteAnsweredWhileAttemptsAreUnderWay() async throws {
        defer { ca.remove() }
        let app = try makeService()
        defer { app.stop() }
        let late = try await requestsAfterADelete(
            app, deletingThrough: app.baseURL, handshakeSeconds: 2, watchSeconds: 4)
        #expect(late.count == 0, "\(late.count) requests arrived up to \(late.max() ?? 0) s after the answer")
    }

    /// `requestsAfterADelete` with the delete answered by an API-only process beside the delivering one, whose
    /// status check runs every `statusCheckInterval` seconds.
    private func requestsAfterADeleteThroughAnotherProcess(
        statusCheckInterval: Double = 1, handshakeSeconds: Double, watchSeconds: Double
    ) async throws -> [Double] {
        let app = try makeService { $0.statusCheckInterval = statusCheckInterval }
        defer { app.stop() }
        let apiOnly = try startAPIOnly(beside: app)
        defer { apiOnly.stop(gracePeriod: .seconds(1)) }
        return try await requestsAfterADelete(
            app, deletingThrough: "http://127.0.0.1:\(apiOnly.port)", handshakeSeconds: handshakeSeconds,
            watchSeconds: watchSeconds)
    }

    /// An API-only `serve --no-dispatcher` on `app`'s database.
    private func startAPIOnly(beside app: TestService) throws -> WebhookService {
        var configuration = ServiceConfiguration(listen: "127.0.0.1:0", database: app.database.url, threads: 1)
        configuration.masterKeyFile = app.database.masterKeyFile
        configuration.runsDispatcher = false
        let apiOnly = try WebhookService(configuration: configuration, logger: Logger(label: "test", level: .error))
        try apiOnly.start()
        return apiOnly
    }

    /// Five events to a webhook whose endpoint takes `handshakeSeconds` over each TLS handshake, so their attempts
    /// are under way but not yet sent when the webhook is deleted through `base` (the API of `app` or of another
    /// process); returns when each request that still arrived came, in seconds after the delete was answered.
    private func requestsAfterADelete(
        _ app: TestService, deletingThrough base: String, handshakeSeconds: Double, watchSeconds: Double
    ) async throws -> [Double] {
        let key = try app.makeFullKey(company: "acme")
        let endpoint = try HTTPSReceiver(
            certificate: ca.valid.certificate, key: ca.valid.key, statuses: [204],
            handshakeDelaySeconds: handshakeSeconds)
        defer { endpoint.stop() }
        let webhook = try await createWebhook(app, key: key, port: endpoint.port)
        for _ in 0..<5 {
            _ = try await emit(app, key: key, data: "{}")
        }
        // The attempts are under way: connected, waiting for the handshake.
        try await Task.sleep(for: .seconds(0.5))
        #expect(endpoint.requests.isEmpty)

        let deleted = try await HTTPClient.send(
            "DELETE", "\(base)/2026-02-01/webhooks/\(webhook.id).json", headers: ["Authorization": "Bearer \(key)"],
            body: nil)
        #expect(deleted.status == 200)
        let answeredAt = Date().timeIntervalSince1970
        try await Task.sleep(for: .seconds(watchSeconds))
        return endpoint.requests.map { $0.receivedAt - answeredAt }.filter { $0 > 0 }
    }
}

/// Delivery settings a test may change.
struct ServiceConfigurationTweak {
    var connectTimeout: Double = 5
    var totalTimeout: Double = 15
    var statusCheckInterval: Double = 1
}

/// User and system CPU time this test process has used, in seconds.
private func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
