import Dispatch
import Foundation
import ImgArchiveFetch
import ImgArchiveStore
import Logging

/// A serial executor on one dedicated Dispatch queue: the blocking work of an actor that uses it (SQLite
/// transactions, `fsync`) runs on that queue's thread, never on the cooperative pool.
final class BlockingExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

/// Writes a run's manifest rows in batches: one child task of the run (`run`) consuming the rows the runner
/// publishes (`FetchEvent.outcome`), on its own thread (`BlockingExecutor`).
///
/// Objects are committed with `.deferred` durability (rename only). Each archived row's object file is synced
/// (`ObjectStore.makeDurable(object:)`, an `fsync`) as the row arrives; a flush syncs the folders the batch's
/// files left and entered, then records the batch in one transaction. The recorder is serial, so a batch holds
/// only rows whose files were synced before it, and a manifest row never points at a file that has not reached
/// stable storage. The syncs are scoped to the run's files: `syncfs` would also write out, and wait for,
/// whatever other programs left dirty on the file system. A flush starts once the oldest pending row is
/// `interval` old (a clock tick every `tick` checks the deadline while no row arrives; so a killed run loses
/// at most that much manifest progress, its objects stay and are found by content address on the next run)
/// and when the stream ends (`finish`).
actor Recorder: FetchObserver {
    /// How long a row may wait before a flush starts.
    static let interval: Duration = .milliseconds(500)
    /// How often the deadline is checked while no row arrives.
    static let tick: Duration = .milliseconds(100)

    struct Entry: Sendable {
        var index: Int
        var outcome: URLOutcome
        var row: FetchOutcome
    }

    private enum Message: Sendable {
        case row(Entry)
        case tick
    }

    private nonisolated let executor = BlockingExecutor(label: "imgarchive.fetch.recorder")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private nonisolated let messages: AsyncStream<Message>
    private nonisolated let input: AsyncStream<Message>.Continuation
    private let store: any ObjectStore
    private let manifest: any FetchLedger
    private let logger: Logger
    private let temporaryFolders: [String]
    /// Told every error that fails a row; true when it is a full disk.
    private let noteError: @Sendable (any Error) -> Bool

    private var pending: [Entry] = []
    private var oldest: ContinuousClock.Instant?
    private var corrections: [(Int, URLOutcome)] = []
    /// Entries (by index) whose object file could not be synced, until their batch is written.
    private var syncFailures: [Int: any Error] = [:]

    init(
        store: any ObjectStore, manifest: any FetchLedger, logger: Logger, temporaryFolders: [String],
        noteError: @escaping @Sendable (any Error) -> Bool
    ) {
        (messages, input) = AsyncStream.makeStream(of: Message.self)
        self.noteError = noteError
        self.store = store
        self.manifest = manifest
        self.logger = logger
        self.temporaryFolders = temporaryFolders
    }

    /// Takes the row of each finished URL; returns at once.
    nonisolated func observe(_ event: FetchEvent) {
        guard case .outcome(let index, let outcome, let row?) = event else { return }
        input.yield(.row(Entry(index: index, outcome: outcome, row: row)))
    }

    /// Ends the stream: `run` writes what is left and returns.
    nonisolated func finish() {
        input.finish()
    }

    /// The recorder's life, as a child task of the run: takes rows until `finish` (or cancellation), flushing
    /// at each deadline, then writes what is left. Returns the outcomes to replace: URLs whose row could not be
    /// recorded (or whose objects could not be made durable) become failures of class `io`.
    func run() async -> [(Int, URLOutcome)] {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [input] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.tick)
                    input.yield(.tick)
                }
            }
            for await message in messages {
                if case .row(let entry) = message { accept(entry) }
                if let oldest, ContinuousClock.now - oldest >= Self.interval { await flush() }
            }
            group.cancelAll()
        }
        await flush()
        return corrections
    }

    /// Queues one row; an archived row's object file is synced at once, so any batch holding it finds its
    /// file durable (or its failure known).
    private func accept(_ entry: Entry) {
        if let object = entry.row.archivedObject {
            do {
                try store.makeDurable(object: object.path)
            } catch {
                syncFailures[entry.index] = error
            }
        }
        pending.append(entry)
        if oldest == nil { oldest = ContinuousClock.now }
    }

    /// Writes the pending rows.
    private func flush() async {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        oldest = nil
        corrections += await writeNow(batch)
    }

    /// Makes the batch's objects durable (their files were synced when their rows arrived; now the folders
    /// that hold them), then writes the rows in one transaction; if the transaction fails, each row alone, so one
    /// bad row fails only its URL.
    private func writeNow(_ batch: [Entry]) async -> [(Int, URLOutcome)] {
        let corrections = await writeRows(batch)
        let failed = Set(corrections.map(\.0))
        await removeUnrecorded(batch.filter { failed.contains($0.index) })
        return corrections
    }

    private func writeRows(_ batch: [Entry]) async -> [(Int, URLOutcome)] {
        var corrections: [(Int, URLOutcome)] = []
        let unsynced = batch.compactMap { entry in
            syncFailures.removeValue(forKey: entry.index).map { (entry.index, $0) }
        }
        var rows = batch
        if !unsynced.isEmpty {
            let failed = Dictionary(unsynced, uniquingKeysWith: { a, _ in a })
            logger.info("archive sync failed", metadata: ["count": "\(failed.count)"])
            rows = batch.filter { failed[$0.index] == nil }
            corrections += batch.compactMap { entry in
                failed[entry.index].map { (entry.index, failure(entry.outcome, $0)) }
            }
        }
        let objects = rows.compactMap { $0.row.archivedObject?.path }
        do {
            try store.makeDurable(objects: objects, movedFrom: temporaryFolders)
        } catch {
            logger.info("archive sync failed", metadata: ["error": "\(error)"])
            corrections += rows.compactMap { entry in
                guard case .archived = entry.row else { return nil }
                return (entry.index, failure(entry.outcome, error))
            }
            rows = rows.filter { if case .archived = $0.row { false } else { true } }
        }
        do {
            try await manifest.record(rows.map(\.row))
            return corrections
        } catch {
            logger.info("manifest batch failed; recording one by one", metadata: ["error": "\(error)"])
        }
        for entry in rows {
            do {
                try await manifest.record(entry.row)
            } catch {
                if case .failed = entry.row { continue }  // the URL is reported failed already
                corrections.append((entry.index, failure(entry.outcome, error)))
            }
        }
        return corrections
    }

    /// After rows could not be written: removes each object file that no row names, so a failed run leaves no
    /// file the manifest does not know. A file is kept when the manifest cannot even say (logged).
    private func removeUnrecorded(_ entries: [Entry]) async {
        for entry in entries {
            guard let object = entry.row.archivedObject else { continue }
            let known: [String: ObjectRecord]
            do {
                known = try await manifest.objects(sha256s: [object.sha256])
            } catch {
                logger.info(
                    "unrecorded object kept: the manifest could not say whether a row names it",
                    metadata: ["path": "\(object.path)", "error": "\(error)"])
                continue
            }
            guard known[object.sha256] == nil else { continue }
            try? store.removeUnrecorded(object.path)
        }
    }

    private func failure(_ outcome: URLOutcome, _ error: any Error) -> URLOutcome {
        var failed = outcome
        failed.status = .failed
        failed.errorClass = noteError(error) ? Runner.diskFullClass : .io
        failed.objectPath = nil
        failed.message =
            "the download could not be recorded in the archive (\(error)); check free space and permissions"
        return failed
    }
}
