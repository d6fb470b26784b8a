public import Foundation
import GRDB

/// The manifest in PostgreSQL (`manifest: postgres://user@host:port/db`), shared by every worker of one archive
/// (docs/scale-out.md): the same tables and migrations as `SQLiteManifest` (`PostgresSchema`), every ledger at
/// once, one file per use case (`PostgresManifest+Fetch.swift`, `+Rewrite.swift`, `+Reading.swift`).
///
/// One libpq connection per manifest, owned by a serial Dispatch queue: every call runs there, off Swift's
/// cooperative pool. Each ledger call is one transaction. When the server goes away (restarted, connection
/// lost) a call reconnects and runs its transaction again, for up to `reconnectPatience`, then fails with
/// `.unavailable`; every write is an upsert or keyed by what it changes, so running one again after a commit
/// whose answer was lost leaves the same rows (a run's start is the exception: it may be recorded twice).
public final class PostgresManifest: Sendable {
    /// How long a call keeps reconnecting to a server that went away before it fails with `.unavailable`.
    public static let reconnectPatience: TimeInterval = 60

    /// The database's URL without its password.
    public let location: String
    let session: PostgresSession

    /// Connects to the database at `url` and brings its schema up to date, on a thread of its own.
    public static func open(url: String) async throws(StoreError) -> PostgresManifest {
        // A process's first connection waits less for a server that does not answer (a wrong port waits that
        // long before it says so) than a connection made mid-run, which rides out a restart.
        let session = try await PostgresSession.connect(url: url, patience: 10)
        let manifest = PostgresManifest(session: session)
        try await manifest.migrate()
        return manifest
    }

    private init(session: PostgresSession) {
        self.session = session
        location = session.location
    }

    /// Whether `text` names a PostgreSQL database (`postgres://` or `postgresql://`).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    private func migrate() async throws(StoreError) {
        let location = location
        try await session.transaction("migrating the manifest") { connection throws(StoreError) in
            try connection.execute("SELECT pg_advisory_xact_lock(?)", [PostgresSchema.migrationLock])
            try connection.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            let applied = Set(try connection.execute("SELECT identifier FROM grdb_migrations").column(String.self))
            let known = Set(
                PostgresSchema.migrations.map(\.identifier) + PostgresCoordination.migrations.map(\.identifier))
            guard applied.isSubset(of: known) else {
                throw StoreError(
                    code: .unsupportedVersion, path: location,
                    message: "\(location) was written by a newer imgarchive; upgrade imgarchive to use this archive")
            }
            for migration in PostgresSchema.migrations + PostgresCoordination.migrations
            where !applied.contains(migration.identifier) {
                try connection.executeScript(migration.sql)
                try connection.execute("INSERT INTO grdb_migrations (identifier) VALUES (?)", [migration.identifier])
            }
        }
    }

    /// The identifiers of the migrations applied, in the order applied.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        let applied = try await read("reading the schema version") { connection throws(StoreError) in
            Set(try connection.execute("SELECT identifier FROM grdb_migrations").column(String.self))
        }
        return PostgresSchema.migrations.map(\.identifier).filter(applied.contains)
    }

    /// Whether PostgreSQL's own checks find the manifest's rows consistent: every foreign key is enforced by
    /// the server, so this checks that the server answers and that no URL names an object missing from `object`.
    public func integrityCheck() async throws(StoreError) -> Bool {
        try await read("checking integrity") { connection throws(StoreError) in
            try connection.execute(
                """
                SELECT 1 FROM url u WHERE u.object_sha256 IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM object o WHERE o.sha256 = u.object_sha256) LIMIT 1
                """
            ).rows.isEmpty
        }
    }

    /// Closes the connection; later calls fail.
    public func close() { session.close() }

    /// Test support: creates a new, empty database on the server of `url` and returns its URL (the tests' own
    /// database each, on the server `.ci/services up` started).
    public static func makeDatabaseForTesting(server url: String) async throws(StoreError) -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let session = try await PostgresSession.connect(url: url)
        defer { session.close() }
        try await session.run("creating a database") { c throws(StoreError) in
            _ = try c.execute("CREATE DATABASE \(name)")
        }
        guard var components = URLComponents(string: url) else {
            throw StoreError(code: .invalidArgument, message: "not a URL: \(url)")
        }
        components.path = "/" + name
        return components.string ?? url
    }

    // MARK: - Plumbing

    /// A read (one transaction) on the manifest's connection.
    func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await session.transaction(operation, body)
    }

    /// A write (one transaction) on the manifest's connection; committed (and durable: PostgreSQL's
    /// `synchronous_commit` is on by default) when it returns.
    func write<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await session.transaction(operation, body)
    }
}

/// A libpq connection and the serial queue that owns it: every call runs on the queue (libpq blocks), inside
/// one transaction, reconnecting while the server is away (up to `PostgresManifest.reconnectPatience`).
final class PostgresSession: @unchecked Sendable {
    /// The URL without its password.
    let location: String
    private let url: String
    private let queue: DispatchQueue
    // Touched only on `queue`.
    private var connection: PostgresConnection?
    private var closed = false
    /// How many times the connection was made again after it was lost (read on `queue`: what a session-level
    /// lock was taken on dies with its connection).
    private(set) var generation = 0

    private init(url: String, connection: PostgresConnection, label: String) {
        self.url = url
        location = connection.location
        self.connection = connection
        queue = DispatchQueue(label: label)
    }

    /// Connects on a Dispatch thread, trying again while the server does not answer (restarting, say) for up to
    /// `patience` seconds, then throws `.unavailable`.
    static func connect(
        url: String, label: String = "imgarchive.postgres", patience: TimeInterval = PostgresManifest.reconnectPatience
    ) async throws(StoreError) -> PostgresSession {
        try await SQLiteManifest.offPool { () throws(StoreError) in
            let deadline = Date().addingTimeInterval(patience)
            var pause: TimeInterval = 0.1
            while true {
                do throws(StoreError) {
                    return PostgresSession(url: url, connection: try PostgresConnection(url: url), label: label)
                } catch  where error.code == .unavailable && Date() < deadline {
                    Thread.sleep(forTimeInterval: pause)
                    pause = min(pause * 2, 2)
                }
            }
        }
    }

    /// Runs `body` in a transaction on the queue; runs it again after reconnecting when the server went away.
    func transaction<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await run(operation) { connection throws(StoreError) in
            try connection.execute("BEGIN")
            do throws(StoreError) {
                let value = try body(connection)
                try connection.execute("COMMIT")
                return value
            } catch {
                if connection.isOpen { _ = try? connection.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs `body` on the queue with a live connection (no transaction of its own).
    func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(StoreError) in try self.onQueue(operation, body) })
            }
        }
        return try result.get()
    }

    private func onQueue<T>(_ operation: String, _ body: (PostgresConnection) throws(StoreError) -> T)
        throws(StoreError) -> T
    {
        let deadline = Date().addingTimeInterval(PostgresManifest.reconnectPatience)
        var pause: TimeInterval = 0.1
        while true {
            guard !closed else {
                throw StoreError(
                    code: .invalidArgument, path: location, message: "\(operation): the manifest is closed")
            }
            do {
                let connection = try live()
                return try body(connection)
            } catch  where error.code == .unavailable && Date() < deadline {
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 2)
            } catch {
                var error = error
                if !error.message.hasPrefix(operation) { error.message = "\(operation): \(error.message)" }
                throw error
            }
        }
    }

    /// The connection, reconnected when it was lost.
    private func live() throws(StoreError) -> PostgresConnection {
        if let connection, connection.isOpen { return connection }
        if let connection {
            try connection.reconnect()
            generation += 1
            return connection
        }
        let fresh = try PostgresConnection(url: url)
        connection = fresh
        return fresh
    }

    /// Closes the connection (after the calls already queued).
    func close() {
        queue.sync {
            closed = true
            connection = nil
        }
    }
}
