import Foundation
import ImgArchiveFetch
import ImgArchiveStore
import Logging
import Synchronization

/// Writes a run's manifest rows in batches, off the task that collects results.
///
/// Objects are committed with `.deferred` durability (rename only). Each archived row's object file is synced
/// (`fsync`) on the flush queue as the row arrives; a flush, queued behind those syncs, syncs the folders the
/// batch's files left and entered, then records the batch in one transaction. A batch holds only rows of objects
/// committed before it was taken, so a manifest row never points at a file that has not reached stable storage.
/// The syncs are scoped to the run's files: `syncfs` would also write out, and wait for, whatever other programs
/// left dirty on the file system. A flush starts once the oldest pending row is `interval` old (so a
/// killed run loses at most that much manifest progress; its objects stay and are found by content address on
/// the next run) and at the end of the run. One flush runs at a time, on its own queue.
final class Recorder: Sendable {
    /// How long a row may wait before a flush starts.
    static let interval: Duration = .milliseconds(500)

    private struct Entry: Sendable {
        var index: Int
        var outcome: URLOutcome
        var row: FetchOutcome
    }

    private struct State {
        var pending: [Entry] = []
        var oldest: ContinuousClock.Instant?
        var flushing: Task<Void, Never>?
        var corrections: [(Int, URLOutcome)] = []
        /// Set by `finish`: no flush starts after it (it writes what is left itself).
        var finishing = false
    }

    private let store: any ObjectStore
    private let manifest: Manifest
    private let logger: Logger
    private let temporaryFolders: [String]
    private let queue = DispatchQueue(label: "imgarchive.fetch.recorder")
    private let state = Mutex(State())
    /// Entries (by index) whose object file could not be synced, until their batch is written.
    private let syncFailures = Mutex<[Int: any Error]>([:])

    /// Told every error that fails a row; true when it is a full disk.
    private let noteError: @Sendable (any Error) -> Bool

    init(
        store: any ObjectStore, manifest: Manifest, logger: Logger, temporaryFolders: [String],
        noteError: @escaping @Sendable (any Error) -> Bool
    ) {
        self.noteError = noteError
        self.store = store
        self.manifest = manifest
        self.logger = logger
        self.temporaryFolders = temporaryFolders
    }

    /// Queues the row of one finished URL; starts a flush when the oldest pending row is old enough and no
    /// flush is running.
    func add(_ row: FetchOutcome, index: Int, outcome: URLOutcome) {
        // The object's file is synced at once, on the flush queue: any batch holding this row is queued after
        // it, so its file is durable (or its failure known) before the batch is written.
        if case .archived(_, _, let object, _, _, _, _, _) = row {
            queue.async { [self] in
                do {
                    try store.makeDurable(object: object.path)
                } catch {
                    syncFailures.withLock { $0[index] = error }
                }
            }
        }
        let first = state.withLock { state in
            state.pending.append(Entry(index: index, outcome: outcome, row: row))
            let first = state.oldest == nil
            if first { state.oldest = ContinuousClock.now }
            startFlushIfDue(&state)
            return first
        }
        // Rows also get written when no other row follows (slow downloads): a flush once the first is old enough.
        if first { scheduleCheck() }
    }

    private func scheduleCheck() {
        Task { [self] in
            try? await Task.sleep(for: Self.interval)
            let again = state.withLock { state in
                startFlushIfDue(&state)
                return !state.pending.isEmpty && state.flushing != nil
            }
            if again { scheduleCheck() }
        }
    }

    /// Starts a flush of the pending rows when the oldest has waited long enough and no flush is running.
    private func startFlushIfDue(_ state: inout State) {
        guard !state.finishing, let oldest = state.oldest, ContinuousClock.now - oldest >= Self.interval,
            state.flushing == nil
        else { return }
        let batch = state.pending
        state.pending = []
        state.oldest = nil
        state.flushing = Task { [self] in
            let corrections = await self.write(batch)
            let more = self.state.withLock { state in
                state.corrections += corrections
                state.flushing = nil
                return !state.pending.isEmpty
            }
            if more { self.scheduleCheck() }
        }
    }

    /// Waits for a running flush, writes what is left, and returns the outcomes to replace: URLs whose row
    /// could not be recorded (or whose objects could not be made durable) become failures of class `io`.
    func finish() async -> [(Int, URLOutcome)] {
        let running = state.withLock { state in
            state.finishing = true
            return state.flushing
        }
        if let running { await running.value }
        let rest = state.withLock { state in
            let batch = state.pending
            state.pending = []
            state.oldest = nil
            return batch
        }
        let last = await write(rest)
        return state.withLock { $0.corrections } + last
    }

    private func write(_ batch: [Entry]) async -> [(Int, URLOutcome)] {
        guard !batch.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.writeNow(batch)) }
        }
    }

    /// Makes the batch's objects durable (their files were synced when their rows arrived; now the folders
    /// that hold them), then writes the rows in one transaction; if the transaction fails, each row alone, so one
    /// bad row fails only its URL.
    private func writeNow(_ batch: [Entry]) -> [(Int, URLOutcome)] {
        let corrections = writeRows(batch)
        let failed = Set(corrections.map(\.0))
        removeUnrecorded(batch.filter { failed.contains($0.index) })
        return corrections
    }

    private func writeRows(_ batch: [Entry]) -> [(Int, URLOutcome)] {
        var corrections: [(Int, URLOutcome)] = []
        let unsynced = syncFailures.withLock { failures in
            batch.compactMap { entry in failures.removeValue(forKey: entry.index).map { (entry.index, $0) } }
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
        let objects = rows.compactMap { entry -> String? in
            guard case .archived(_, _, let object, _, _, _, _, _) = entry.row else { return nil }
            return object.path
        }
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
            try manifest.record(rows.map(\.row))
            return corrections
        } catch {
            logger.info("manifest batch failed; recording one by one", metadata: ["error": "\(error)"])
        }
        for entry in rows {
            do {
                try manifest.record([entry.row])
            } catch {
                if case .failed = entry.row { continue }  // the URL is reported failed already
                corrections.append((entry.index, failure(entry.outcome, error)))
            }
        }
        return corrections
    }

    /// After rows could not be written: removes each object file that no row names, so a failed run leaves no
    /// file the manifest does not know (kept when the manifest cannot even say).
    private func removeUnrecorded(_ entries: [Entry]) {
        for entry in entries {
            guard case .archived(_, _, let object, _, _, _, _, _) = entry.row,
                let known = try? manifest.objects(sha256s: [object.sha256]), known[object.sha256] == nil
            else { continue }
            try? store.removeUnrecorded(object.path)
        }
    }

    private func failure(_ outcome: URLOutcome, _ error: any Error) -> URLOutcome {
        var failed = outcome
        failed.status = .failed
        failed.errorClass = noteError(error) ? Runner.diskFullClass : FetchError.Code.io.name
        failed.objectPath = nil
        failed.message =
            "the download could not be recorded in the archive (\(error)); check free space and permissions"
        return failed
    }
}
