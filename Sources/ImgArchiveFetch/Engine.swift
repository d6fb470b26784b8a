internal import CCurl
import Foundation
import ImgArchiveCore
import Logging
import Synchronization

/// A request handed to the curl thread, with the continuation that receives its result.
struct Submission: Sendable {
    let id: UInt64
    let request: DownloadRequest
    let continuation: CheckedContinuation<Result<Download, FetchError>, Never>
}

/// A request's state across attempts. Lives on the curl thread only.
final class Job {
    let id: UInt64
    let request: DownloadRequest
    let continuation: CheckedContinuation<Result<Download, FetchError>, Never>
    let host: String
    /// HTTP attempts started so far.
    var attempts = 0
    /// Retries spent (timeouts, broken connections, 408, 429, 5xx).
    var retriesUsed = 0
    /// -1 while the caller's own headers are used; then the index of the Referer ladder rung in use.
    var ladderIndex = -1
    /// When a delayed retry may start.
    var due = ContinuousClock.Instant.now

    init(_ submission: Submission) {
        id = submission.id
        request = submission.request
        continuation = submission.continuation
        host = Self.hostKey(submission.request.url)
    }

    /// `scheme://host:port` of a URL (lowercased, user info dropped): the unit of per-host politeness. A URL with
    /// no authority (it fails at once in libcurl) is its own unit.
    static func hostKey(_ url: String) -> String {
        guard let authority = URLAuthority(url) else { return url.lowercased() }
        return authority.scheme + "://" + authority.hostAndPort
    }
}

/// The jobs waiting for one host, and how many of its transfers are running.
struct HostQueue {
    private var jobs: [Job] = []
    private var head = 0
    var inFlight = 0

    var isEmpty: Bool { head == jobs.count }

    mutating func append(_ job: Job) { jobs.append(job) }

    /// Puts a retried job first, so retries do not wait behind the whole backlog.
    mutating func prepend(_ job: Job) {
        if head > 0 {
            head -= 1
            jobs[head] = job
        } else {
            jobs.insert(job, at: 0)
        }
    }

    mutating func popFirst() -> Job? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    mutating func remove(id: UInt64) -> Job? {
        guard let index = jobs[head...].firstIndex(where: { $0.id == id }) else { return nil }
        return jobs.remove(at: index)
    }

    mutating func removeAll() -> [Job] {
        let rest = Array(jobs[head...])
        jobs.removeAll()
        head = 0
        return rest
    }
}

/// Owns the libcurl multi handle and the one thread that drives it.
///
/// Invariants (see docs/concurrency.md): everything below "curl thread only" is touched only by the thread
/// running `run()`; other threads touch only `inbox` (under its lock), `nextID` (atomic) and call
/// `curl_multi_wakeup` on `multi`, which libcurl documents as callable from any thread. That is why the
/// class is `@unchecked Sendable`.
final class Engine: @unchecked Sendable {
    private struct Inbox {
        var submissions: [Submission] = []
        var cancellations: [UInt64] = []
        var shuttingDown = false
        var shutdownWaiter: CheckedContinuation<Void, Never>?
    }

    private let inbox = Mutex(Inbox())
    private let nextID = Atomic<UInt64>(1)
    private let multi: UnsafeMutableRawPointer
    private let options: DownloadOptions
    private let logger: Logger
    /// Hashes and writes bodies off the curl thread; every result is delivered through its queue.
    private let writer: BodyWriter

    // Curl thread only.
    private let connectTo: UnsafeMutablePointer<curl_slist>?
    private let addressPolicy: AddressPolicy
    private var hosts: [String: HostQueue] = [:]
    private var readyHosts: [String] = []
    private var cursor = 0
    private var queued = 0
    private var running: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idle: [Transfer] = []
    private var delayed: [Job] = []  // sorted by `due`

    /// `lanes` (the body writer's, one per core up to 4 by default) and `laneGate` (called on a lane before each
    /// block is stored) are for tests that hold a lane up.
    init(
        options: DownloadOptions, logger: Logger, lanes: Int? = nil, laneGate: (@Sendable (String) -> Void)? = nil
    ) throws(FetchError) {
        _ = curlGlobalInit
        guard let multi = curl_multi_init() else {
            throw FetchError(code: .other, url: "", attempts: 0, message: "libcurl could not create a multi handle")
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for entry in options.connectTo {
            guard !entry.contains(where: \.isNewline), let appended = curl_slist_append(list, entry) else {
                if let list { curl_slist_free_all(list) }
                curl_multi_cleanup(multi)
                throw FetchError(
                    code: .invalidRequest, url: "", attempts: 0, message: "bad --connect-to entry \"\(entry)\"")
            }
            list = appended
        }
        self.multi = multi
        self.connectTo = list
        addressPolicy = AddressPolicy(allow: options.allowAddresses, connectTo: options.connectTo)
        self.options = options
        self.logger = logger
        // Each running transfer holds at most one block; the rest are queued to the writer or free.
        // A lane that frees a block a paused transfer waits for wakes the curl thread, which resumes it.
        let wakeable = MultiHandle(pointer: multi)
        // Only a body a WARC record will copy (its transfer sets `digestHead`) keeps its blocks (`Download.heldBody`).
        writer = BodyWriter(
            capacity: 2 * options.jobs + 2,
            lanes: lanes ?? min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)),
            holdCapacity: options.heldBodyBytes / BodyWriter.blockCapacity, imageSize: options.imageSize,
            wake: { curl_multi_wakeup(wakeable.pointer) }, gate: laneGate)
        // libcurl counts a host's connections by where they go: through a proxy or a --connect-to entry, every
        // host of the run shares one count, so a limit of `perHost` there would leave 4 connections for all
        // hosts, each new host's transfer closing another's idle connection (58 % of the requests of
        // site-bench's fetch opened a connection). The engine's own queues keep `perHost` per URL host.
        let funnelled = !options.connectTo.isEmpty || !options.proxyEnvironment.isEmpty
        _ = CCurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, funnelled ? options.jobs : options.perHost)
        _ = CCurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.jobs)
        _ = CCurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, options.jobs)
    }

    /// Starts the curl thread.
    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "imgarchive-curl"
        thread.start()
    }

    func makeID() -> UInt64 {
        nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Hands a request to the curl thread. Runs inside the caller's task, so the cancellation check under
    /// the lock pairs with `cancel(_:)`: a submission is either refused here or findable by its id.
    ///
    /// Only the submission that finds the inbox empty wakes the thread: the thread takes the whole inbox at
    /// once, so a non-empty inbox means a wakeup is already pending.
    func submit(_ submission: Submission) {
        let (refused, wake): (FetchError?, Bool) = inbox.withLock { state in
            if state.shuttingDown {
                let error = FetchError(
                    code: .cancelled, url: submission.request.url, attempts: 0,
                    message: "the downloader has shut down")
                return (error, false)
            }
            if Task.isCancelled {
                let error = FetchError(
                    code: .cancelled, url: submission.request.url, attempts: 0, message: "the download was cancelled")
                return (error, false)
            }
            let wasEmpty = state.submissions.isEmpty
            state.submissions.append(submission)
            return (nil, wasEmpty)
        }
        if let refused {
            submission.continuation.resume(returning: .failure(refused))
        } else if wake {
            curl_multi_wakeup(multi)
        }
    }

    /// Asks the curl thread to stop a request (its task was cancelled).
    func cancel(_ id: UInt64) {
        inbox.withLock { $0.cancellations.append(id) }
        curl_multi_wakeup(multi)
    }

    /// Fails whatever is left with `cancelled`, frees every handle and waits for the thread to end.
    func shutdown() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            inbox.withLock { state in
                state.shuttingDown = true
                state.shutdownWaiter = waiter
            }
            curl_multi_wakeup(multi)
        }
    }

    // MARK: - The curl thread

    private func run() {
        var submissions: [Submission] = []
        var cancellations: [UInt64] = []
        while true {
            let stopping = inbox.withLock { state in
                swap(&submissions, &state.submissions)
                swap(&cancellations, &state.cancellations)
                return state.shuttingDown
            }
            for submission in submissions { enqueue(Job(submission)) }
            for id in cancellations { cancelJob(id) }
            submissions.removeAll(keepingCapacity: true)
            cancellations.removeAll(keepingCapacity: true)
            if stopping { break }

            promoteDueRetries()
            startTransfers()
            resumePaused()
            var stillRunning: Int32 = 0
            _ = curl_multi_perform(multi, &stillRunning)
            collectFinished()
            startTransfers()
            _ = curl_multi_poll(multi, nil, 0, pollTimeout(), nil)
        }
        tearDown()
    }

    /// Resumes the transfers whose write callback paused them for room in the body writer, where there is room
    /// now (the lane that freed it woke this thread). libcurl delivers the data it kept, here or in the next
    /// `curl_multi_perform`; a transfer that still finds no room pauses again, and asks to be woken again.
    private func resumePaused() {
        for transfer in running.values where transfer.isPaused && transfer.body.hasRoom {
            transfer.isPaused = false
            _ = curl_easy_pause(transfer.easy, CURLPAUSE_RECV_CONT | CURLPAUSE_SEND_CONT)
        }
    }

    private func pollTimeout() -> Int32 {
        guard let next = delayed.first else { return 1000 }
        let wait = ContinuousClock.now.duration(to: next.due)
        return Int32(min(1000, max(0, wait.milliseconds)))
    }

    private func enqueue(_ job: Job, first: Bool = false) {
        if hosts[job.host] == nil { hosts[job.host] = HostQueue() }
        if hosts[job.host]?.isEmpty == true { readyHosts.append(job.host) }
        if first { hosts[job.host]?.prepend(job) } else { hosts[job.host]?.append(job) }
        queued += 1
    }

    private func promoteDueRetries() {
        guard !delayed.isEmpty else { return }
        let now = ContinuousClock.now
        var count = 0
        while count < delayed.count && delayed[count].due <= now { count += 1 }
        guard count > 0 else { return }
        let due = delayed[..<count]
        delayed.removeFirst(count)
        for job in due { enqueue(job, first: true) }
    }

    private func startTransfers() {
        while running.count < options.jobs && queued > 0, let host = nextHostWithRoom() {
            guard let job = hosts[host]?.popFirst() else { break }
            queued -= 1
            if hosts[host]?.isEmpty == true, let index = readyHosts.firstIndex(of: host) {
                readyHosts.remove(at: index)
                if cursor > index { cursor -= 1 }
            }
            start(job)
        }
    }

    /// The next host, round robin, that has jobs waiting and fewer than `perHost` transfers running.
    private func nextHostWithRoom() -> String? {
        let count = readyHosts.count
        guard count > 0 else { return nil }
        for step in 0..<count {
            let index = (cursor + step) % count
            let host = readyHosts[index]
            if let queue = hosts[host], queue.inFlight < options.perHost {
                cursor = (index + 1) % count
                return host
            }
        }
        return nil
    }

    private func start(_ job: Job) {
        job.attempts += 1
        guard let transfer = idle.popLast() ?? Transfer(writer: writer) else {
            finish(
                job,
                .failure(
                    FetchError(
                        code: .other, url: job.request.url, attempts: job.attempts,
                        message: "libcurl could not create a handle")))
            return
        }
        if let error = transfer.configure(
            for: job, options: options, connectTo: connectTo, policy: addressPolicy)
        {
            transfer.recycle()
            idle.append(transfer)
            finish(job, .failure(error))
            return
        }
        let added = curl_multi_add_handle(multi, transfer.easy)
        guard added == CURLM_OK else {
            transfer.recycle()
            idle.append(transfer)
            finish(
                job,
                .failure(
                    FetchError(
                        code: .other, url: job.request.url, attempts: job.attempts,
                        message: "libcurl refused the transfer",
                        detail: String(cString: curl_multi_strerror(added)))))
            return
        }
        running[transfer.easy] = transfer
        hosts[job.host]?.inFlight += 1
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            guard let transfer = running.removeValue(forKey: easy) else { continue }
            _ = curl_multi_remove_handle(multi, easy)
            guard let job = transfer.job else {
                transfer.recycle()
                idle.append(transfer)
                continue
            }
            release(job.host)
            let outcome = transfer.outcome(of: result, job: job)
            if case .success(let download, hasBody: true) = outcome {
                complete(job, download, body: transfer.body)
            }
            transfer.recycle()
            idle.append(transfer)
            decide(job, outcome)
        }
    }

    /// Success, a Referer fallback, a scheduled retry, or a final failure.
    private func decide(_ job: Job, _ outcome: Transfer.Outcome) {
        switch outcome {
        case .success(_, hasBody: true):
            break  // `complete` delivers it once the writer has closed the file
        case .success(let download, hasBody: false):
            finish(job, .success(download))
        case .failure(let error, let retriable, let retryAfter):
            if error.httpStatus == 403 && job.ladderIndex + 1 < job.request.refererLadder.count {
                job.ladderIndex += 1
                logger.debug(
                    "fetch.referer-fallback",
                    metadata: ["url": "\(job.request.url)", "rung": "\(job.ladderIndex)"])
                enqueue(job, first: true)
                return
            }
            if retriable && job.retriesUsed < options.retries {
                job.retriesUsed += 1
                let wait = RetryPolicy.delay(
                    retry: job.retriesUsed, base: options.backoffBase, maxBackoff: options.maxBackoff,
                    retryAfter: retryAfter, maxRetryAfter: options.maxRetryAfter, unit: Double.random(in: 0..<1))
                job.due = ContinuousClock.now + wait
                logger.debug(
                    "fetch.retry",
                    metadata: [
                        "url": "\(job.request.url)", "class": "\(error.code.rawValue)",
                        "retry": "\(job.retriesUsed)", "wait-ms": "\(wait.milliseconds)",
                    ])
                let index = delayed.firstIndex(where: { $0.due > job.due }) ?? delayed.endIndex
                delayed.insert(job, at: index)
                return
            }
            finish(job, .failure(error))
        }
    }

    /// Delivers a result after everything queued to the writer so far, so a failed attempt's file is deleted
    /// before its caller hears of the failure.
    private func finish(_ job: Job, _ result: Result<Download, FetchError>) {
        if case .failure(let error) = result {
            logger.debug("fetch.failed", metadata: ["url": "\(job.request.url)", "class": "\(error.code.rawValue)"])
        }
        let continuation = job.continuation
        writer.afterQueued { continuation.resume(returning: result) }
    }

    /// Hands a successful body to the writer: the caller gets the download with its file and digest once the
    /// file is closed, or an `io` failure when it could not be written.
    private func complete(_ job: Job, _ download: Download, body: BodyFile) {
        let continuation = job.continuation
        let url = job.request.url
        let attempts = job.attempts
        body.complete { completion in
            switch completion {
            case .written(let path, let sha256, let headed, let held, let imageSize):
                var download = download
                download.temporaryFile = path
                download.sha256 = sha256
                download.headedDigest = headed
                download.heldBody = held
                download.imageSize = imageSize
                continuation.resume(returning: .success(download))
            case .failed(let code):
                let error = FetchError(
                    code: .io, url: url, httpStatus: download.httpStatus, attempts: attempts,
                    message: "the temporary file could not be written; check the archive's disk",
                    detail: String(cString: strerror(code)))
                continuation.resume(returning: .failure(error))
            }
        }
    }

    private func release(_ host: String) {
        hosts[host]?.inFlight -= 1
        if let queue = hosts[host], queue.inFlight == 0, queue.isEmpty { hosts[host] = nil }
    }

    private func cancelled(_ job: Job) -> Result<Download, FetchError> {
        .failure(
            FetchError(
                code: .cancelled, url: job.request.url, attempts: job.attempts, message: "the download was cancelled"))
    }

    private func cancelJob(_ id: UInt64) {
        if let (easy, transfer) = running.first(where: { $0.value.job?.id == id }), let job = transfer.job {
            running[easy] = nil
            _ = curl_multi_remove_handle(multi, easy)
            transfer.recycle()
            idle.append(transfer)
            release(job.host)
            finish(job, cancelled(job))
            return
        }
        if let index = delayed.firstIndex(where: { $0.id == id }) {
            let job = delayed.remove(at: index)
            finish(job, cancelled(job))
            return
        }
        for host in readyHosts {
            if let job = hosts[host]?.remove(id: id) {
                queued -= 1
                if hosts[host]?.isEmpty == true, let index = readyHosts.firstIndex(of: host) {
                    readyHosts.remove(at: index)
                    if cursor > index { cursor -= 1 }
                    if let queue = hosts[host], queue.inFlight == 0 { hosts[host] = nil }
                }
                finish(job, cancelled(job))
                return
            }
        }
    }

    private func tearDown() {
        let (late, waiter) = inbox.withLock { state in
            let late = state.submissions
            state.submissions = []
            let waiter = state.shutdownWaiter
            state.shutdownWaiter = nil
            return (late, waiter)
        }
        var leftovers = late.map(Job.init)
        for (easy, transfer) in running {
            _ = curl_multi_remove_handle(multi, easy)
            if let job = transfer.job { leftovers.append(job) }
            transfer.recycle()
        }
        running.removeAll()
        for host in readyHosts { leftovers += hosts[host]?.removeAll() ?? [] }
        leftovers += delayed
        delayed.removeAll()
        hosts.removeAll()
        readyHosts.removeAll()
        queued = 0
        for job in leftovers {
            finish(
                job,
                .failure(
                    FetchError(
                        code: .cancelled, url: job.request.url, attempts: job.attempts,
                        message: "the downloader shut down before this download finished")))
        }
        idle.removeAll()  // curl_easy_cleanup in Transfer.deinit
        writer.drain()  // every file closed or deleted, every result delivered
        if let connectTo { curl_slist_free_all(connectTo) }
        curl_multi_cleanup(multi)
        waiter?.resume()
    }
}

/// The multi handle, for the one call other threads may make on it (`curl_multi_wakeup`): it outlives every lane's
/// work, since the engine drains the writer before `curl_multi_cleanup`.
private struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// libcurl's global set-up, done once before the first handle (Swift runs a global's initializer once); the
/// downloader's engine and the S3 client both touch it first.
let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))
