import CCurl
import Foundation
import Logging
import Store
import Synchronization
import WebhookCore

/// Sends due deliveries: claims them from the store under a lease, runs up to `maxInFlight` signed POSTs at once
/// (at most `maxInFlightPerEndpoint` per webhook) on one libcurl multi handle, and records every attempt.
///
/// One thread runs the transfers and never waits on the database: its claims, attempt records and releases go to
/// a `StoreWorker` on a thread of its own, which records finished attempts in batches. Other threads only
/// `wake()` the loop or `cancel(webhookSeq:)`.
public final class Dispatcher: Sendable {
    /// Operator settings of the delivery engine.
    public struct Configuration: Sendable {
        public var maxInFlight: Int
        public var maxInFlightPerEndpoint: Int
        /// Seconds to establish a connection (TCP and TLS).
        public var connectTimeout: Double
        /// Seconds for a whole attempt.
        public var totalTimeout: Double
        public var allowPrivateTargets: Bool
        public var caFile: String?
        public var retrySchedule: RetrySchedule
        /// Seconds a webhook may keep failing without a success before it is disabled.
        public var disableAfter: TimeInterval
        /// Longest sleep between looks at the queue when nothing wakes the loop.
        public var pollInterval: Double
        /// Deliveries claimed per store round trip.
        public var claimBatch: Int
        public var userAgent: String
        /// Seconds between asks of the store whether the webhooks with attempts here are still enabled: the bound on
        /// how late a delete or disable through another process stops them when the store's feed of such changes
        /// (`Store.watchStoppedWebhooks`) is down or missing.
        public var statusCheckInterval: Double = 1

        public init(
            maxInFlight: Int = 1000, maxInFlightPerEndpoint: Int = 20, connectTimeout: Double = 5,
            totalTimeout: Double = 15, allowPrivateTargets: Bool = false, caFile: String? = nil,
            retrySchedule: RetrySchedule = RetrySchedule(), disableAfter: TimeInterval = 5 * 86_400,
            pollInterval: Double = 1, claimBatch: Int = 100, userAgent: String = "Donutwork-Webhooks/0.1"
        ) {
            self.maxInFlight = maxInFlight
            self.maxInFlightPerEndpoint = maxInFlightPerEndpoint
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.allowPrivateTargets = allowPrivateTargets
            self.caFile = caFile
            self.retrySchedule = retrySchedule
            self.disableAfter = disableAfter
            self.pollInterval = pollInterval
            self.claimBatch = claimBatch
            self.userAgent = userAgent
        }

        /// How long a claim is held: longer than the longest attempt plus the longest wait for a free slot of its
        /// endpoint (queued jobs wait for at most one attempt), so a slow attempt is never claimed twice.
        public var lease: TimeInterval {
            2 * (connectTimeout + totalTimeout) + 30
        }
    }

    /// A webhook the loop sends nothing to: deleted or disabled through this process, disabled by a 410 it got, or
    /// deleted or disabled through another process (heard from the store's feed, `Store.watchStoppedWebhooks`, or
    /// found by the status check, `DispatchLoop.checkStatus`).
    ///
    /// A claim that raced the change may still bring the webhook's work, so the loop drops that work until a claim
    /// made after the change has been answered; from then on the store, which claims only for enabled webhooks,
    /// decides (a webhook enabled again, perhaps through another process, gets its new work at once).
    struct Cancellation {
        /// When the store says so (on the monotonic clock): the delete or disable committed, or the 410 attempt
        /// recorded (which disables the webhook in the same transaction); `nil` until then, and for good when that
        /// record was lost.
        var settledAt: DispatchTime?
        /// When to forget it regardless: a lease after the change, when no claim from before it can be held.
        var expires: Date
        /// Whether the loop has dropped the webhook's work since: only then may a later claim's answer end it.
        var applied = false
        /// A 410 whose record the store worker has not reported yet (it may be retried while the database is away,
        /// for longer than a lease): kept past `expires` until then, so that a claim made when the database is back
        /// but before the disable lands cannot send to the webhook again.
        var awaitingRecord = false
    }

    /// Requests from other threads, read by the loop.
    private struct Inbox {
        var running = true
        var woken = false
        /// Webhooks whose work the loop drops, by webhook.
        var cancelled: [Int64: Cancellation] = [:]
        /// Callers of `cancel` waiting until the loop has dropped their webhook's work.
        var acknowledgements: [DispatchSemaphore] = []
        /// Attempts were recorded since the last look: their leases ended, so their webhooks have room again.
        var recorded = false
        /// The store worker's answer to the loop's claim.
        var claimAnswer: StoreWorker.ClaimAnswer?
    }

    /// Told of every finished attempt once the store worker has recorded it (or logged that it could not), on the
    /// worker's thread: its outcome and how long it took in seconds. Keep it short (e.g. count it).
    public typealias AttemptObserver = @Sendable (_ outcome: AttemptOutcome, _ seconds: Double) -> Void

    private let store: any Store
    private let configuration: Configuration
    private let logger: Logger
    private let onAttempt: AttemptObserver?
    private let inbox = Mutex(Inbox())
    private let multi: Multi
    private let finished = DispatchSemaphore(value: 0)
    private let inFlightCount = Atomic<Int>(0)
    private let worker: StoreWorker
    /// The store's feed of webhooks deleted or disabled anywhere, from `start()` to `stop()`.
    private let watch = Mutex<(any StoreWatch)?>(nil)

    /// Creates a dispatcher; nothing is sent before `start()`.
    public init(store: any Store, configuration: Configuration, logger: Logger, onAttempt: AttemptObserver? = nil) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.onAttempt = onAttempt
        worker = StoreWorker(store: store, configuration: configuration, logger: logger)
        CurlGlobal.initialize
        multi = Multi()
    }

    /// Attempts on the wire right now (not those waiting for a free slot of their endpoint).
    public var attemptsInFlight: Int { inFlightCount.load(ordering: .relaxed) }

    /// Starts the delivery thread and its store worker.
    public func start() {
        worker.start(
            StoreWorker.Observers(
                recorded: { [self] batch in
                    for attempt in batch {
                        onAttempt?(attempt.record.outcome, attempt.seconds)
                    }
                    let now = DispatchTime.now()
                    inbox.withLock { inbox in
                        inbox.recorded = true
                        for attempt in batch {
                            if case .disableWebhook = attempt.record.outcome {
                                inbox.cancelled[attempt.record.webhookSeq]?.awaitingRecord = false
                                if attempt.committed {
                                    inbox.cancelled[attempt.record.webhookSeq]?.settledAt = now
                                }
                            }
                        }
                    }
                    curl_multi_wakeup(multi.handle)
                },
                claimed: { [self] answer in
                    inbox.withLock { $0.claimAnswer = answer }
                    curl_multi_wakeup(multi.handle)
                },
                checked: { [self] answer in
                    stopped(answer.stopped, settledAt: answer.startedAt)
                }))
        let feed = store.watchStoppedWebhooks { [self] webhookSeq in
            // The notification comes after the change committed: a claim that starts from now on sees it.
            stopped([webhookSeq], settledAt: .now())
        }
        watch.withLock { $0 = feed }
        let thread = Thread { [self] in
            var loop = DispatchLoop(dispatcher: self)
            loop.run()
            finished.signal()
        }
        thread.name = "dispatcher"
        thread.start()
    }

    /// Cancels webhooks that the store says were deleted or disabled (through any process) by `settledAt`.
    private func stopped(_ webhookSeqs: Set<Int64>, settledAt: DispatchTime) {
        guard !webhookSeqs.isEmpty else { return }
        let expires = Date().addingTimeInterval(configuration.lease)
        inbox.withLock { inbox in
            for webhookSeq in webhookSeqs {
                guard var cancellation = inbox.cancelled[webhookSeq] else {
                    inbox.cancelled[webhookSeq] = Cancellation(settledAt: settledAt, expires: expires)
                    continue
                }
                // Already cancelled, perhaps for an earlier change (then enabled again meanwhile): this one holds
                // until a claim after it is answered. A 410 whose record is pending stays pending.
                if let earlier = cancellation.settledAt, earlier < settledAt {
                    cancellation.settledAt = settledAt
                }
                cancellation.expires = max(cancellation.expires, expires)
                inbox.cancelled[webhookSeq] = cancellation
            }
        }
        curl_multi_wakeup(multi.handle)
    }

    /// Looks at the queue now instead of at the next poll (after intake or a manual retry).
    public func wake() {
        inbox.withLock { $0.woken = true }
        curl_multi_wakeup(multi.handle)
    }

    /// Drops queued and in-flight attempts of a webhook that was deleted or disabled, and returns once the loop
    /// has done so: after this, nothing more is sent to it. Blocks (up to `timeout`); call it off the event loops.
    public func cancel(webhookSeq: Int64, timeout: Double = 5) {
        let acknowledged = DispatchSemaphore(value: 0)
        inbox.withLock { inbox in
            // Called once the store has the change.
            inbox.cancelled[webhookSeq] = Cancellation(
                settledAt: .now(), expires: Date().addingTimeInterval(configuration.lease))
            inbox.acknowledgements.append(acknowledged)
        }
        curl_multi_wakeup(multi.handle)
        if acknowledged.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("the dispatcher did not confirm a cancellation in time", ["webhook_seq": webhookSeq])
        }
    }

    /// Sends to a webhook again that a 410 (or `cancel`) stopped, now that it was enabled again through this
    /// process: its work is taken from the next claim on (an enable through another process is seen a claim later).
    public func resume(webhookSeq: Int64) {
        inbox.withLock { inbox in
            inbox.cancelled[webhookSeq] = nil
            inbox.woken = true
        }
        curl_multi_wakeup(multi.handle)
    }

    /// Stops claiming, gives back what is in flight or queued (to be sent again), records the attempts that
    /// finished, and returns.
    public func stop() {
        watch.withLock { $0 }?.stop()
        inbox.withLock { $0.running = false }
        curl_multi_wakeup(multi.handle)
        finished.wait()
        worker.stop()
    }

    // MARK: For the loop

    /// The multi handle, owned by the dispatcher so `wake()` can reach it from any thread.
    final class Multi: @unchecked Sendable {
        // @unchecked: libcurl allows curl_multi_wakeup from any thread; every other use is on the loop thread.
        let handle: UnsafeMutableRawPointer

        init() {
            handle = curl_multi_init()
        }

        deinit {
            curl_multi_cleanup(handle)
        }
    }

    fileprivate var loopConfiguration: Configuration { configuration }
    fileprivate var loopStore: any Store { store }
    fileprivate var loopWorker: StoreWorker { worker }
    fileprivate var loopLogger: Logger { logger }
    fileprivate var multiHandle: UnsafeMutableRawPointer { multi.handle }

    /// Takes what other threads asked for since the last look.
    fileprivate func takeInbox(now: Date) -> (
        running: Bool, woken: Bool, recorded: Bool, claimAnswer: StoreWorker.ClaimAnswer?, cancelled: Set<Int64>,
        acknowledgements: [DispatchSemaphore]
    ) {
        inbox.withLock { inbox in
            let (woken, recorded, claimAnswer) = (inbox.woken, inbox.recorded, inbox.claimAnswer)
            let acknowledgements = inbox.acknowledgements
            inbox.woken = false
            inbox.recorded = false
            inbox.claimAnswer = nil
            inbox.acknowledgements.removeAll()
            inbox.cancelled = inbox.cancelled.filter { _, cancellation in
                if cancellation.applied, let answer = claimAnswer, case .success = answer.claim,
                    let settled = cancellation.settledAt, settled <= answer.startedAt
                {
                    return false  // this claim saw the change: the store decides now
                }
                return cancellation.expires > now || cancellation.awaitingRecord
            }
            for webhookSeq in inbox.cancelled.keys {
                inbox.cancelled[webhookSeq]?.applied = true
            }
            return (inbox.running, woken, recorded, claimAnswer, Set(inbox.cancelled.keys), acknowledgements)
        }
    }

    /// The answer to the loop's last claim, if it came; for the shutdown, which must give those jobs back too.
    fileprivate func takeClaimAnswer() -> StoreWorker.ClaimAnswer? {
        inbox.withLock { inbox in
            defer { inbox.claimAnswer = nil }
            return inbox.claimAnswer
        }
    }

    fileprivate func publishInFlight(_ count: Int) {
        inFlightCount.store(count, ordering: .relaxed)
    }

    fileprivate func rememberCancelled(_ webhookSeq: Int64, now: Date) {
        inbox.withLock {
            $0.cancelled[webhookSeq] = Cancellation(
                settledAt: nil, expires: now.addingTimeInterval(configuration.lease), awaitingRecord: true)
        }
    }
}

/// The state of the delivery thread: what is in flight and what waits for a free slot of its endpoint.
private struct DispatchLoop {
    let dispatcher: Dispatcher
    let configuration: Dispatcher.Configuration
    let logger: Logger
    var inFlight: [UnsafeMutableRawPointer: DeliveryTransfer] = [:] {
        didSet { dispatcher.publishInFlight(inFlight.count) }
    }
    var inFlightPerEndpoint: [Int64: Int] = [:]
    var waiting: [DeliveryJob] = []
    var nextClaim = Date.distantPast
    /// When the store was last asked for work.
    var lastClaim = Date.distantPast
    /// A claim was asked of the store worker and its answer has not come yet: one claim at a time.
    var claimPending = false
    /// Intake or a retry woke the loop: claim as soon as no claim is pending.
    var claimWanted = false
    /// When the store was last asked whether the webhooks with work here are still enabled.
    var lastStatusCheck = Date.distantPast
    /// Attempts were recorded since the last claim: their leases ended and their webhooks have room under the cap
    /// (counted by the store across every process), so the next claim comes as soon as `refillDelay` allows
    /// instead of at the next poll.
    var finishedSinceClaim = false
    var random = SystemRandomNumberGenerator()
    /// While the store is away every claim fails: one warning a second says so, with how many it stands for.
    let claimFailureLog = OncePerSecond()

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
        configuration = dispatcher.loopConfiguration
        logger = dispatcher.loopLogger
    }

    mutating func run() {
        while true {
            let now = Date()
            let inbox = dispatcher.takeInbox(now: now)
            dropCancelled(inbox.cancelled, now: now)
            inbox.acknowledgements.forEach { $0.signal() }
            if let answer = inbox.claimAnswer {
                claimPending = false
                take(answer, cancelled: inbox.cancelled)
            }
            guard inbox.running else { break }
            if inbox.recorded {
                finishedSinceClaim = true
            }
            if inbox.woken {
                claimWanted = true
            }
            let refill = finishedSinceClaim && now >= lastClaim.addingTimeInterval(Self.refillDelay)
            if !claimPending && (claimWanted || now >= nextClaim || refill) {
                askForClaim(now: now)
            }
            startWaiting(cancelled: inbox.cancelled)
            checkStatus(now: now)
            perform()
            // While a claim is out, its answer wakes the loop.
            var wakeAt = claimPending ? now.addingTimeInterval(configuration.pollInterval) : nextClaim
            if finishedSinceClaim && !claimPending {
                wakeAt = min(wakeAt, lastClaim.addingTimeInterval(Self.refillDelay))
            }
            if !inFlight.isEmpty || !waiting.isEmpty {
                wakeAt = min(wakeAt, lastStatusCheck.addingTimeInterval(statusCheckEvery))
            }
            let sleep = max(0, min(wakeAt.timeIntervalSinceNow, configuration.pollInterval))
            // Rounded up: a wait cut short by the rounding would wake the loop before its time, and again and again
            // with a zero wait until that time came.
            curl_multi_poll(dispatcher.multiHandle, nil, 0, Int32((sleep * 1000).rounded(.up)), nil)
        }
        shutDown()
    }

    /// Asks the store worker, every `Configuration.statusCheckInterval` while there is work, which of its webhooks are
    /// no longer enabled; the answer cancels them like `Dispatcher.cancel`. It runs whether or not the store's feed
    /// of such changes (`Store.watchStoppedWebhooks`) is up: it bounds how late a change the feed missed (while it
    /// was down, or on a store without one) stops the attempts here.
    private mutating func checkStatus(now: Date) {
        guard !inFlight.isEmpty || !waiting.isEmpty, now >= lastStatusCheck.addingTimeInterval(statusCheckEvery)
        else { return }
        lastStatusCheck = now
        var webhooks = Set(waiting.map(\.webhookSeq))
        for transfer in inFlight.values {
            webhooks.insert(transfer.job.webhookSeq)
        }
        dispatcher.loopWorker.check(webhooks)
    }

    /// `Configuration.statusCheckInterval`, kept from asking the store in a tight loop.
    private var statusCheckEvery: TimeInterval { max(0.05, configuration.statusCheckInterval) }

    /// The shortest gap between two claims prompted by finished attempts: slots freed within it are refilled
    /// together, so a busy endpoint costs the store at most fifty claims a second per process.
    static let refillDelay: TimeInterval = 0.02

    private mutating func askForClaim(now: Date) {
        claimWanted = false
        // Attempts waiting to be recorded count too: the worker's queue cannot outgrow the in-flight limit.
        let room = configuration.maxInFlight - inFlight.count - waiting.count - dispatcher.loopWorker.pendingCount
        guard room > 0 else {
            // Nothing can be taken until attempts are recorded, and each record wakes the loop for a refill; until
            // then look again at the poll, not at once (a wake time left in the past would spin the loop).
            finishedSinceClaim = false
            nextClaim = now.addingTimeInterval(configuration.pollInterval)
            return
        }
        lastClaim = now
        finishedSinceClaim = false
        claimPending = true
        dispatcher.loopWorker.claim(limit: min(room, configuration.claimBatch))
    }

    /// Queues what a claim brought, except work of webhooks cancelled meanwhile.
    private mutating func take(_ answer: StoreWorker.ClaimAnswer, cancelled: Set<Int64>) {
        let claim: DeliveryClaim
        switch answer.claim {
        case .success(let claimed):
            claim = claimed
        case .failure(let error):
            if let held = claimFailureLog.admit(now: answer.claimedAt) {
                logger.warning("claim failed", ["error": String(describing: error), "also_failed": held])
            }
            nextClaim = answer.claimedAt.addingTimeInterval(configuration.pollInterval)
            return
        }

        var queuedPerEndpoint: [Int64: Int] = [:]
        for job in waiting {
            queuedPerEndpoint[job.webhookSeq, default: 0] += 1
        }
        for job in claim.jobs {
            // Given back rather than held until its lease expires: work of a webhook cancelled here by a claim that
            // raced the change (a deleted or disabled webhook's deliveries are no longer pending, so giving them back
            // changes nothing; see `Dispatcher.Cancellation`), and more than one round of work for an endpoint.
            if cancelled.contains(job.webhookSeq)
                || queuedPerEndpoint[job.webhookSeq, default: 0] >= configuration.maxInFlightPerEndpoint
            {
                dispatcher.loopWorker.release(
                    job, dueAt: answer.claimedAt.addingTimeInterval(configuration.pollInterval))
                continue
            }
            queuedPerEndpoint[job.webhookSeq, default: 0] += 1
            waiting.append(job)
        }
        // A full claim may have left more: claim again at once. Otherwise at the next poll, or when the store's
        // webhook-by-webhook pass, held back this time, may run again (whatever a capped backlog hides is found
        // within `FairPassPacer.pause`, not a poll interval, later).
        if claim.jobs.count == answer.limit {
            nextClaim = Date()
        } else {
            nextClaim = answer.claimedAt.addingTimeInterval(configuration.pollInterval)
            if let held = claim.passHeldUntil {
                nextClaim = min(nextClaim, held)
            }
        }
    }

    private mutating func startWaiting(cancelled: Set<Int64>) {
        guard !waiting.isEmpty else { return }
        var stillWaiting: [DeliveryJob] = []
        let now = Date()
        for job in waiting where !cancelled.contains(job.webhookSeq) {
            guard inFlightPerEndpoint[job.webhookSeq, default: 0] < configuration.maxInFlightPerEndpoint,
                let transfer = DeliveryTransfer(job: job, configuration: configuration, now: now)
            else {
                stillWaiting.append(job)
                continue
            }
            inFlight[transfer.easy] = transfer
            inFlightPerEndpoint[job.webhookSeq, default: 0] += 1
            curl_multi_add_handle(dispatcher.multiHandle, transfer.easy)
        }
        waiting = stillWaiting
    }

    private mutating func perform() {
        var running: Int32 = 0
        curl_multi_perform(dispatcher.multiHandle, &running)
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(dispatcher.multiHandle, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = inFlight[easy]
            else { continue }
            let code = dw_curl_msg_result(message)
            finish(transfer, code: code)
        }
    }

    private mutating func finish(_ transfer: DeliveryTransfer, code: CURLcode) {
        curl_multi_remove_handle(dispatcher.multiHandle, transfer.easy)
        inFlight[transfer.easy] = nil
        inFlightPerEndpoint[transfer.job.webhookSeq, default: 1] -= 1

        let job = transfer.job
        let now = Date()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - transfer.startNanoseconds) / 1_000_000_000
        var attempt = DeliveryAttempt(
            number: job.attemptNumber, attemptedAt: transfer.startedAt, statusCode: nil, errorKind: nil,
            errorMessage: nil, latencyMilliseconds: transfer.elapsedMilliseconds,
            responseHeaders: transfer.responseHeaders, responseBody: transfer.responseBody)
        let result: AttemptResult
        if code == CURLE_OK {
            var status = 0
            dw_curl_easy_getinfo_long(transfer.easy, CURLINFO_RESPONSE_CODE, &status)
            attempt.statusCode = status
            if (300...399).contains(status) {
                attempt.errorKind = "redirect"
                let target = transfer.responseHeaders["location"].map { " to \($0)" } ?? ""
                attempt.errorMessage = "The endpoint answered \(status)\(target); redirects are not followed."
            } else if !(200...299).contains(status) {
                attempt.errorMessage = "The endpoint answered \(status)."
            }
            result = .status(code: status, retryAfter: transfer.responseHeaders["retry-after"])
        } else {
            let (kind, message) = DispatchLoop.describe(code, transfer)
            attempt.errorKind = kind
            attempt.errorMessage = message
            result = .transportError(kind: kind)
        }

        let outcome = configuration.retrySchedule.decide(
            attemptNumber: job.attemptNumber, result: result, now: now, random: &random)
        if case .disableWebhook = outcome {
            dispatcher.rememberCancelled(job.webhookSeq, now: now)
        }
        dispatcher.loopWorker.record(
            StoreWorker.Finished(
                record: AttemptRecord(
                    deliverySeq: job.deliverySeq, webhookSeq: job.webhookSeq, attempt: attempt, outcome: outcome,
                    finishedAt: now),
                deliveryID: job.deliveryID,
                logFields: [
                    ("webhook_id", job.webhookID), ("event_id", job.eventID), ("attempt", String(job.attemptNumber)),
                    ("status", attempt.statusCode.map { String($0) } ?? "-"), ("error", attempt.errorKind ?? "-"),
                    ("ms", String(attempt.latencyMilliseconds)), ("outcome", DispatchLoop.describe(outcome)),
                    ("reason", attempt.errorMessage ?? "-"),
                ],
                seconds: seconds))
    }

    private mutating func dropCancelled(_ cancelled: Set<Int64>, now: Date) {
        guard !cancelled.isEmpty else { return }
        waiting.removeAll { cancelled.contains($0.webhookSeq) }
        for (easy, transfer) in inFlight where cancelled.contains(transfer.job.webhookSeq) {
            curl_multi_remove_handle(dispatcher.multiHandle, easy)
            inFlight[easy] = nil
            inFlightPerEndpoint[transfer.job.webhookSeq, default: 1] -= 1
            logger.info(
                "attempt cancelled", ["delivery_id": transfer.job.deliveryID, "webhook_id": transfer.job.webhookID])
        }
    }

    private func release(_ job: DeliveryJob, dueAt: Date) {
        do {
            try dispatcher.loopStore.releaseDelivery(deliverySeq: job.deliverySeq, dueAt: dueAt)
        } catch {
            logger.warning("release failed; the lease will expire", ["delivery_id": job.deliveryID])
        }
    }

    /// Aborts what is in flight and gives every claim back, due at once, so a restart (or another process)
    /// resumes without waiting for leases to expire. An aborted attempt may have reached its receiver: it will be
    /// sent again, which at-least-once delivery allows.
    private mutating func shutDown() {
        // A claim still out holds leases too: wait for its answer (the worker makes it before it stops).
        while claimPending {
            if let answer = dispatcher.takeClaimAnswer() {
                claimPending = false
                if case .success(let claim) = answer.claim {
                    waiting += claim.jobs
                }
            } else {
                usleep(5_000)
            }
        }
        let now = Date()
        for (easy, transfer) in inFlight {
            curl_multi_remove_handle(dispatcher.multiHandle, easy)
            release(transfer.job, dueAt: now)
        }
        inFlight.removeAll()
        for job in waiting {
            release(job, dueAt: now)
        }
        waiting.removeAll()
    }

    private static func describe(_ code: CURLcode, _ transfer: DeliveryTransfer) -> (String, String) {
        if transfer.connectGuard.refused {
            return (
                "blocked", "The endpoint resolved to an address that is not public; private targets are not allowed."
            )
        }
        let reason = transfer.errorText(code)
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return ("timeout", "The attempt timed out: \(reason).")
        case CURLE_COULDNT_RESOLVE_HOST: return ("dns", "The endpoint's host could not be resolved: \(reason).")
        case CURLE_COULDNT_CONNECT: return ("connect", "Could not connect to the endpoint: \(reason).")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR: return ("tls", "TLS failed: \(reason).")
        default: return ("network", "The attempt failed: \(reason).")
        }
    }

    private static func describe(_ outcome: AttemptOutcome) -> String {
        switch outcome {
        case .succeeded: "succeeded"
        case .retry(let at): "retry_in_\(Int(max(0, at.timeIntervalSinceNow)))s"
        case .failed: "failed"
        case .disableWebhook: "webhook_disabled"
        }
    }
}
