public import Foundation
import ImgArchiveCore

/// Every ledger of one manifest at once, as the archive's stages open it: `SQLiteManifest` (the archive's own
/// file, the default) or `PostgresManifest` (a database shared by many workers).
public protocol ArchiveManifest: FetchLedger, RewriteLedger {
    /// Closes the manifest; later calls fail.
    func close() throws(StoreError)
}

extension SQLiteManifest: ArchiveManifest {}
extension PostgresManifest: ArchiveManifest {}

/// Where an archive's manifest lives: `manifest:` in `imgarchive.yml` or `--manifest`.
public enum ManifestLocation: Sendable, Hashable, CustomStringConvertible {
    /// `manifest.sqlite` in the archive folder.
    case archiveFolder
    /// A PostgreSQL database, by URL (`postgres://user@host:port/db`; the password from `PGPASSWORD` or
    /// `~/.pgpass`, never the URL).
    case postgres(String)

    /// Reads a `manifest:` value: `sqlite` (the archive folder's own file) or a `postgres://` URL without a
    /// password. Throws `.invalidArgument` with what to write instead.
    public init(parsing text: String) throws(StoreError) {
        if let problem = ConfigFile.manifestProblem(text) {
            throw StoreError(code: .invalidArgument, message: "manifest: \(problem)")
        }
        self = text == "sqlite" ? .archiveFolder : .postgres(text)
    }

    public var description: String {
        switch self {
        case .archiveFolder: "sqlite"
        case .postgres(let url): url
        }
    }
}

/// How the workers of one archive share its work: which URLs each fetches (claims) and how many requests
/// each host gets at once across all of them (host slots). With one process (SQLite, the archive lock)
/// everything is this process's (`LocalCoordinator`); with PostgreSQL the claims and slots live in the database
/// (`PostgresCoordinator`).
public protocol WorkCoordinator: Sendable {
    /// Claims up to `limit` of `urls` for this worker. Returns those claimed, and those some worker has tried
    /// since `since` (nothing left to do); the others are held by other workers for now: ask again later.
    func claim(_ urls: [String], limit: Int, since: Date) async throws(StoreError) -> ClaimBatch
    /// One of `limit` request slots of `host` (`scheme://host:port`), nil when all are taken now.
    func takeHostSlot(_ host: String, limit: Int) async throws(StoreError) -> HostSlot?
    /// Marks claimed URLs done that leave no row to record (a link left alone): settled for the other workers.
    func markDone(_ urls: [String], at date: Date) async throws(StoreError)
    /// Gives a slot back.
    func releaseHostSlot(_ slot: HostSlot) async
    /// Gives every claim of this worker back (its outcomes are recorded) and stops renewing them.
    func finish() async
}

/// URLs a worker claimed, and URLs already settled by some worker.
public struct ClaimBatch: Sendable, Hashable {
    /// This worker's to fetch.
    public var claimed: [String]
    /// Tried by some worker since this run began: nothing to do.
    public var settled: [String]

    /// Creates a batch.
    public init(claimed: [String], settled: [String]) {
        self.claimed = claimed
        self.settled = settled
    }
}

/// A request slot of one host, held by this worker.
public struct HostSlot: Sendable, Hashable {
    /// The host (`scheme://host:port`).
    public var host: String
    /// Which of its slots.
    public var index: Int
    /// The connection generation the slot was taken on (a slot dies with its connection).
    var generation: Int

    init(host: String, index: Int, generation: Int) {
        self.host = host
        self.index = index
        self.generation = generation
    }
}

/// One process on its own archive: every URL is its own, and its downloader enforces the per-host limits.
public struct LocalCoordinator: WorkCoordinator {
    /// The coordinator of a single process.
    public init() {}

    public func claim(_ urls: [String], limit: Int, since: Date) async throws(StoreError) -> ClaimBatch {
        ClaimBatch(claimed: Array(urls.prefix(limit)), settled: [])
    }

    public func takeHostSlot(_ host: String, limit: Int) async throws(StoreError) -> HostSlot? {
        HostSlot(host: host, index: 0, generation: 0)
    }

    public func markDone(_ urls: [String], at date: Date) async throws(StoreError) {}

    public func releaseHostSlot(_ slot: HostSlot) async {}

    public func finish() async {}
}
