public import Foundation
import GRDB
import ImgArchiveCore

/// The archive's SQLite manifest (`manifest.sqlite`, WAL mode, through GRDB): URLs, objects, thumbnails,
/// posts, their references and rewrites, and runs. It is every ledger at once (`FetchLedger`,
/// `RewriteLedger`, `ArchiveLedgerReader`), one file per use case (`SQLiteManifest+Fetch.swift`,
/// `+Rewrite.swift`, `+Reading.swift`); this file opens it, and holds what only SQLite has (snapshots,
/// `PRAGMA` checks).
///
/// Several processes may open the same manifest: each write is one IMMEDIATE transaction, and a writer
/// waits up to `busyTimeout` for another process's write to finish. The ledger methods run on GRDB's
/// queues (its async `read` and `write`), never on Swift's cooperative pool.
public final class SQLiteManifest: Sendable {
    /// How long a write waits for another connection's write before failing with `.busy`.
    public static let busyTimeout: TimeInterval = 5

    /// The manifest file's path.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating when missing) the manifest of an archive and brings its schema up to date. Throws
    /// `.manifestLost` when the archive holds originals but its manifest is missing or empty (a new manifest
    /// would silently forget them), and says how to restore a damaged one.
    public convenience init(layout: ArchiveLayout) throws(StoreError) {
        try FileSystem.makeDirectory(layout.rootPath)
        _ = try layout.hasManifest()
        try self.init(url: layout.manifestURL)
    }

    /// Opens the manifest of an archive as `init(layout:)` does, on a thread of its own: opening and migrating
    /// block, so they stay off Swift's cooperative pool.
    public static func open(layout: ArchiveLayout) async throws(StoreError) -> SQLiteManifest {
        try await offPool { () throws(StoreError) in try SQLiteManifest(layout: layout) }
    }

    /// Opens the manifest file at `url` as `init(url:)` does, on a thread of its own.
    public static func open(url: URL) async throws(StoreError) -> SQLiteManifest {
        try await offPool { () throws(StoreError) in try SQLiteManifest(url: url) }
    }

    /// Opens (creating when missing) the manifest file at `url` and brings its schema up to date.
    public init(url: URL) throws(StoreError) {
        path = url.standardizedFileURL.path
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "imgarchive.manifest"
        // WAL + synchronous=NORMAL: a commit is safe against a process crash; a power loss may drop the last
        // commits but never corrupts. Objects are fsynced before they are recorded, so a lost row only means
        // a URL is fetched again. Rewrite records are the exception (`durableWrite`).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        // Two processes creating or migrating the same new file race on the schema: the loser's "table already
        // exists", "duplicate column" or busy error is retried, and then finds the migration applied. Each loss is
        // on a migration another process has just applied, so a process loses at most once per migration.
        let attempts = ManifestSchema.migrator.migrations.count + 1
        var attempt = 0
        while true {
            attempt += 1
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                let migrator = ManifestSchema.migrator
                let superseded = try pool.read { db in try migrator.hasBeenSuperseded(db) }
                if superseded {
                    throw StoreError(
                        code: .unsupportedVersion, path: path,
                        message: "\(path) was written by a newer imgarchive; upgrade imgarchive to use this archive")
                }
                try migrator.migrate(pool)
                self.pool = pool
                return
            } catch let error as StoreError {
                throw error
            } catch {
                var mapped = StoreError.database(error, path: path, operation: "opening")
                if mapped.code == .corrupt { mapped.message += "; " + ArchiveLayout.wayOut }
                if attempt >= attempts || mapped.code == .corrupt { throw mapped }
            }
        }
    }

    // MARK: Health

    /// Whether SQLite's `PRAGMA integrity_check` answers "ok" and `PRAGMA foreign_key_check` finds nothing.
    public func integrityCheck() async throws(StoreError) -> Bool {
        try await read("checking integrity") { db in
            let answers = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            let danglingKeys = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            return answers == ["ok"] && danglingKeys.isEmpty
        }
    }

    /// The identifiers of the migrations applied to this manifest, in order.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        try await read("reading the schema version") { db in try ManifestSchema.migrator.appliedMigrations(db) }
    }

    /// Writes a consistent copy of the manifest to `destination` (a new file) with SQLite's online backup:
    /// readers and writers may go on meanwhile. The copy is a self-contained rollback-journal database.
    public func backup(to destination: String) async throws(StoreError) {
        try await Self.offPool { () throws(StoreError) in
            do {
                let copy = try DatabaseQueue(path: destination)
                try self.pool.backup(to: copy)
                try copy.close()
            } catch {
                throw StoreError.database(error, path: destination, operation: "writing a snapshot")
            }
        }
    }

    /// Closes the manifest's connections; later calls fail.
    public func close() throws(StoreError) {
        do { try pool.close() } catch { throw StoreError.database(error, path: path, operation: "closing") }
    }

    /// Test support: runs `body` while this connection holds an open write transaction of `rows` new runs,
    /// with a tiny page cache so the uncommitted pages spill into the WAL, then rolls it back.
    func withUncommittedWriteForTesting(rows: Int, _ body: () throws -> Void) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = 8")
            defer { try? db.execute(sql: "PRAGMA cache_size = -2000") }
            try db.execute(sql: "BEGIN IMMEDIATE")
            defer { try? db.execute(sql: "ROLLBACK") }
            try db.execute(
                sql: """
                    INSERT INTO run (command, started_at)
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                    SELECT 'uncommitted ' || i || ' ' || hex(randomblob(64)), '2027-01-15 08:00:00.000' FROM n
                    """,
                arguments: [rows])
            try body()
        }
    }

    // MARK: - Plumbing

    /// A read transaction on GRDB's reader queue.
    func read<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws(StoreError)
        -> T
    {
        do {
            return try await pool.read(body)
        } catch {
            throw StoreError.database(error, path: path, operation: operation)
        }
    }

    /// A write transaction (IMMEDIATE) on GRDB's writer queue.
    func write<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws(StoreError)
        -> T
    {
        do {
            return try await pool.write(body)
        } catch {
            throw StoreError.database(error, path: path, operation: operation)
        }
    }

    /// A write whose commit is on disk when it returns (`synchronous = FULL` for it: the WAL is fsynced), for
    /// rows that must survive a power loss because a file change follows them (a post's rewrite record).
    func durableWrite<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T)
        async throws(StoreError) -> T
    {
        let path = path
        do {
            return try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                defer { try? db.execute(sql: "PRAGMA synchronous = NORMAL") }
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                guard let result else {
                    throw StoreError(code: .database, path: path, message: "\(operation): no result")
                }
                return result
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(error, path: path, operation: operation)
        }
    }

    /// Runs blocking work (opening, migrating, backing up) on a Dispatch thread, off Swift's cooperative pool.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError)
        -> T
    {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(StoreError) in try work() })
            }
        }
        return try result.get()
    }
}

extension StoreError {
    /// The SQLite extended result code of a GRDB error, nil for other errors.
    static func sqliteResultCode(of error: any Error) -> Int32? {
        (error as? DatabaseError)?.extendedResultCode.rawValue
    }
}
