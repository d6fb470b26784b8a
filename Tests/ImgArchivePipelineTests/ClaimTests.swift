import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Synchronization
import Testing

@testable import ImgArchivePipeline
@testable import ImgArchiveStore

/// The runner with a coordinator that does not claim the URLs offered first, as with other workers on the manifest:
/// every URL is fetched once, and a URL another worker settled is not fetched.
@Suite(.timeLimit(.minutes(1)))
struct ClaimTests {
    /// Claims the offered URLs at odd positions first, then the even ones, and reports those in `settled` as settled
    /// by another worker.
    final class ScatteredCoordinator: WorkCoordinator {
        let settled: Set<String>
        private let claims = Mutex(0)
        var claimCount: Int { claims.withLock { $0 } }

        init(settled: Set<String>) { self.settled = settled }

        func claim(_ urls: [String], limit: Int, since: Date) async throws(StoreError) -> ClaimBatch {
            claims.withLock { $0 += 1 }
            let open = urls.filter { !settled.contains($0) }
            let odd = stride(from: 1, to: open.count, by: 2).map { open[$0] }
            let even = stride(from: 0, to: open.count, by: 2).map { open[$0] }
            return ClaimBatch(claimed: Array((odd + even).prefix(limit)), settled: urls.filter(settled.contains))
        }

        func takeHostSlot(_ host: String, limit: Int) async throws(StoreError) -> HostSlot? {
            HostSlot(host: host, index: 0, generation: 0)
        }
        func markDone(_ urls: [String], at date: Date) async throws(StoreError) {}
        func releaseHostSlot(_ slot: HostSlot) async {}
        func finish() async {}
    }

    @Test func urlsClaimedOutOfOrderAreFetchedOnceAndSettledOnesNotAtAll() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let images = try (0..<200).map { try fixtureJPEG(width: 16, height: 8, seed: $0) }
        let server = try await TestServer.start(
            Dictionary(uniqueKeysWithValues: images.indices.map { ("/\($0).jpg", ("image/jpeg", images[$0])) }))
        let items = images.indices.map { FetchItem(url: server.url("/\($0).jpg"), origin: server.url("/\($0).jpg")) }
        let settled = Set(stride(from: 0, to: items.count, by: 10).map { items[$0].url })
        let coordinator = ScatteredCoordinator(settled: settled)
        let log = EventLog()
        let backend = try await ArchiveBackend.open(
            root: archive.url, objects: .local, durability: .deferred, manifest: .archiveFolder)
        defer { backend.close() }
        let runner = Runner(
            settings: settings(archive, store: .local, observers: [log]), store: backend.objects,
            manifest: backend.manifest, coordinator: coordinator, logger: testLogger, progress: nil)
        let needs = Dictionary(uniqueKeysWithValues: items.map { ($0.url, FetchNeed(url: $0.url, reason: .new)) })
        let outcomes = try await runner.fetch(items: items, needs: needs)
        await server.stop()

        var asked: [String: Int] = [:]
        for case .requestSent(let url, _) in log.all { asked[url, default: 0] += 1 }
        for (item, outcome) in zip(items, outcomes) {
            if settled.contains(item.url) {
                #expect(outcome.status == .alreadyArchived && asked[item.url] == nil, "\(item.url)")
            } else {
                #expect(outcome.status == .archived && asked[item.url] == 1, "\(item.url)")
            }
        }
        #expect(coordinator.claimCount >= 4)  // a window of 64: claimed in several rounds
    }
}
