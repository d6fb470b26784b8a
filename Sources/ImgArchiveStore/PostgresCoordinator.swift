public import Foundation
import GRDB
import Synchronization

/// The work of many workers on one PostgreSQL manifest (docs/scale-out.md), on a connection of its own:
///
/// - Claims: a row per URL in `url_claim`, taken with `FOR UPDATE SKIP LOCKED` (workers claiming at once get
///   different URLs and never wait for each other) and held for a lease that this worker renews while it
///   lives; a killed worker's claims expire and go to the others.
/// - Host slots: session advisory locks, `(hashtext(host), slot)` for slot in `0..<limit`: held by this
///   worker's connection, so a worker that dies (or loses its connection) frees its slots at once.
public final class PostgresCoordinator: WorkCoordinator {
    /// How long a claim lasts unless renewed (renewed every third of it). `IMGARCHIVE_CLAIM_LEASE` (seconds)
    /// changes it.
    public let lease: TimeInterval
    /// This worker's name in the claims: host, process and a random part.
    public let worker: String
    private let session: PostgresSession
    private let held = HeldSlots()
    private let renewal = Mutex<Task<Void, Never>?>(nil)

    /// Connects to the manifest's database for claims and slots, and starts renewing this worker's claims.
    public static func open(url: String, lease: TimeInterval? = nil) async throws(StoreError) -> PostgresCoordinator {
        let session = try await PostgresSession.connect(url: url, label: "imgarchive.postgres.coordination")
        let fromEnvironment = ProcessInfo.processInfo.environment["IMGARCHIVE_CLAIM_LEASE"].flatMap(TimeInterval.init)
        let coordinator = PostgresCoordinator(session: session, lease: lease ?? fromEnvironment ?? 60)
        coordinator.startRenewing()
        return coordinator
    }

    private init(session: PostgresSession, lease: TimeInterval) {
        self.session = session
        self.lease = max(1, lease)
        let host = ProcessInfo.processInfo.hostName
        worker = "\(host):\(getpid()):\(UUID().uuidString.prefix(8))"
    }

    public func claim(_ urls: [String], limit: Int, since: Date) async throws(StoreError) -> ClaimBatch {
        guard !urls.isEmpty, limit > 0 else { return ClaimBatch(claimed: [], settled: []) }
        let keys = PostgresConnection.textArray(urls)
        let (worker, lease) = (worker, lease)
        return try await session.transaction("claiming URLs") { c throws(StoreError) in
            // Settled: tried by some worker since this run planned them (their rows say so; GRDB's date text
            // compares in time order), or done without a row to record.
            let settled = try c.execute(
                """
                SELECT url FROM url WHERE url = ANY(?::text[]) AND last_checked_at >= ?
                UNION SELECT url FROM link_page WHERE url = ANY(?::text[]) AND checked_at >= ?
                UNION SELECT url FROM url_claim WHERE url = ANY(?::text[]) AND done_at >= ?
                """, [keys, since, keys, since, keys, since]
            ).column(String.self)
            let done = Set(settled)
            let open = PostgresConnection.textArray(urls.filter { !done.contains($0) })
            try c.execute(
                """
                INSERT INTO url_claim (url, worker, expires_at)
                SELECT u, '', '-infinity' FROM unnest(?::text[]) u ON CONFLICT DO NOTHING
                """, [open])
            // Rows another worker is claiming right now are skipped, not waited for.
            let claimed = try c.execute(
                """
                WITH free AS (
                    SELECT url FROM url_claim WHERE url = ANY(?::text[]) AND expires_at < now()
                    ORDER BY url LIMIT ? FOR UPDATE SKIP LOCKED)
                UPDATE url_claim c SET worker = ?, expires_at = now() + make_interval(secs => ?), done_at = NULL
                FROM free WHERE c.url = free.url RETURNING c.url
                """, [open, limit, worker, lease]
            ).column(String.self)
            return ClaimBatch(claimed: claimed, settled: settled)
        }
    }

    public func markDone(_ urls: [String], at date: Date) async throws(StoreError) {
        guard !urls.isEmpty else { return }
        let (keys, worker) = (PostgresConnection.textArray(urls), worker)
        try await session.transaction("settling claims") { c throws(StoreError) in
            _ = try c.execute(
                "UPDATE url_claim SET done_at = ? WHERE url = ANY(?::text[]) AND worker = ?", [date, keys, worker])
        }
    }

    public func takeHostSlot(_ host: String, limit: Int) async throws(StoreError) -> HostSlot? {
        let (session, held) = (session, held)
        return try await session.run("taking a host slot") { c throws(StoreError) in
            // Advisory locks are re-entrant within a session: the slots this worker holds already are skipped.
            // Read and noted here, on the session's queue, so two takes of this worker never get the same slot.
            let mine = held.withLock { $0.filter { $0.host == host }.map(\.index) }
            let skip = "{" + mine.map(String.init).joined(separator: ",") + "}"
            guard
                let index = try c.execute(
                    """
                    SELECT k FROM generate_series(0, ? - 1) k
                    WHERE CASE WHEN k = ANY(?::int[]) THEN false ELSE pg_try_advisory_lock(hashtext(?), k) END
                    LIMIT 1
                    """, [limit, skip, host]
                ).column(Int.self).first
            else { return nil }
            let slot = HostSlot(host: host, index: index, generation: session.generation)
            held.withLock { _ = $0.insert(slot) }
            return slot
        }
    }

    public func releaseHostSlot(_ slot: HostSlot) async {
        let (session, held) = (session, held)
        _ = try? await session.run("giving a host slot back") { c throws(StoreError) in
            held.withLock { _ = $0.remove(slot) }
            // A slot taken on a connection since lost went with it.
            guard session.generation == slot.generation else { return false }
            return try c.execute("SELECT pg_advisory_unlock(hashtext(?), ?)", [slot.host, slot.index]).rows.isEmpty
        }
    }

    public func finish() async {
        renewal.withLock {
            $0?.cancel()
            $0 = nil
        }
        let worker = worker
        _ = try? await session.transaction("giving claims back") { c throws(StoreError) in
            try c.execute("DELETE FROM url_claim WHERE worker = ?", [worker]).changes
        }
        session.close()
    }

    /// Renews this worker's claims every third of the lease, while it runs.
    private func startRenewing() {
        let (session, worker, lease) = (session, worker, lease)
        let task = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(lease / 3))
                guard !Task.isCancelled else { return }
                _ = try? await session.transaction("renewing claims") { c throws(StoreError) in
                    try c.execute(
                        "UPDATE url_claim SET expires_at = now() + make_interval(secs => ?) WHERE worker = ?",
                        [lease, worker]
                    ).changes
                }
            }
        }
        renewal.withLock { $0 = task }
    }
}

/// The host slots this worker holds (shared by its tasks; changed on the session's queue).
final class HeldSlots: Sendable {
    private let slots = Mutex<Set<HostSlot>>([])

    func withLock<T>(_ body: (inout Set<HostSlot>) -> T) -> T { slots.withLock { body(&$0) } }
}
