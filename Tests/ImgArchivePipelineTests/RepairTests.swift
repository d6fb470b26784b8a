import Foundation
import ImgArchiveCore
import ImgArchiveStore
import Synchronization
import Testing

@testable import ImgArchivePipeline

/// Verify's repair on another `ObjectStore`, through the commit path fetch uses (`ArchiveWriter`).
@Suite(.timeLimit(.minutes(1)))
struct RepairTests {
    @Test func repairRefetchesAndRebuildsThroughTheStore() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let image = try fixtureJPEG(width: 320, height: 200, seed: 7)
        let server = try await TestServer.start(["/a.jpg": ("image/jpeg", image)])
        let stores = Mutex<[FaultyStore]>([])
        let factory = ObjectStoreFactory { root, durability in
            let store = try FaultyStore(root: root, durability: durability, faults: .init())
            stores.withLock { $0.append(store) }
            return store
        }
        let item = FetchItem(url: server.url("/a.jpg"), origin: server.url("/a.jpg"), widths: [100])
        let settings = settings(archive, store: factory)
        let fetched = try await FetchPipeline.run(items: [item], posts: [], settings: settings, logger: testLogger)
        let original = try #require(fetched.outcomes.first?.objectPath)
        #expect(fetched.thumbnailsMade == 1)

        // Damage both: the original corrupt (to quarantine, then re-fetched), the thumbnail missing (rebuilt).
        let thumbnail = try #require(try stores.withLock { $0[0] }.archivedFiles().first { $0 != original })
        try Data("not the image".utf8).write(to: archive.url.appendingPathComponent(original))
        try FileManager.default.removeItem(at: archive.url.appendingPathComponent(thumbnail))

        let report = try await Verification.repair(settings: settings, logger: testLogger)
        await server.stop()

        let repairs = Dictionary(uniqueKeysWithValues: report.problems.map { ($0.path, $0) })
        guard case .repaired(let from, let quarantined)? = repairs[original]?.repair else {
            Issue.record("the original was not repaired: \(String(describing: repairs[original]))")
            return
        }
        #expect(from == item.url)
        #expect(quarantined?.hasPrefix(Verification.quarantineFolder + "/") == true)
        guard case .repaired(_, nil)? = repairs[thumbnail]?.repair else {
            Issue.record("the thumbnail was not rebuilt: \(String(describing: repairs[thumbnail]))")
            return
        }
        #expect(!report.hasUnresolvedProblems)
        let repairStore = try #require(stores.withLock { $0.last })
        #expect(stores.withLock { $0.count } == 2)  // fetch's store, then repair's: both from the factory
        #expect(repairStore.calls("commitObject") == 1)
        #expect(repairStore.calls("commitDerivative") == 1)
        #expect(try await Verification.verify(archiveRoot: archive.url, objects: factory).problems.isEmpty)
    }
}
