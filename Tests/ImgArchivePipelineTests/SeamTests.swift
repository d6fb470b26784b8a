import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import Synchronization
import Testing

@testable import ImgArchivePipeline

/// The fetch pipeline on another `ObjectStore` (`FaultyStore`), against a real server on loopback: the runner,
/// the recorder and the thumbnails reach files only through the protocol, and its failures end as outcomes.
@Suite(.timeLimit(.minutes(1)))
struct SeamTests {
    @Test func pipelineRunsUnchangedOnAnotherObjectStore() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let images = try (0..<3).map { try fixtureJPEG(width: 320, height: 200, seed: $0) }
        let server = try await TestServer.start(
            Dictionary(uniqueKeysWithValues: images.indices.map { ("/\($0).jpg", ("image/jpeg", images[$0])) }))
        let stores = Mutex<[FaultyStore]>([])
        let factory = ObjectStoreFactory { root, durability in
            let store = try FaultyStore(root: root, durability: durability, faults: .init())
            stores.withLock { $0.append(store) }
            return store
        }
        let log = EventLog()
        let items = images.indices.map {
            FetchItem(url: server.url("/\($0).jpg"), origin: server.url("/\($0).jpg"), widths: [100])
        }
        let report = try await FetchPipeline.run(
            items: items, posts: [], settings: settings(archive, store: factory, observers: [log]), logger: testLogger)
        await server.stop()

        #expect(report.outcomes.map(\.status) == [.archived, .archived, .archived])
        #expect(report.thumbnailsMade == 3)
        let store = try #require(stores.withLock { $0.first })
        #expect(store.calls("commitObject") == 3)
        #expect(store.calls("makeDurable(object:)") == 3)
        #expect(store.calls("makeDurable(objects:)") >= 1)
        #expect(store.calls("commitDerivative") == 3)
        #expect(store.calls("fileForReading") >= 3)

        // The manifest (read back through the same backend) names the files the store holds.
        let backend = try await ArchiveBackend.open(root: archive.url)
        defer { backend.close() }
        for (index, outcome) in report.outcomes.enumerated() {
            let record = try #require(try await backend.manifest.urlRecord(outcome.url))
            #expect(record.objectSHA256 == ArchiveStore.sha256(of: images[index]))
            #expect(try store.verify(try #require(outcome.objectPath), sha256: record.objectSHA256 ?? "") == .intact)
        }

        // Every request published its exchange: the request, the raw head, the body; then one outcome per URL.
        let events = log.all
        for (index, item) in items.enumerated() {
            #expect(
                events.contains {
                    if case .requestSent(let url, let headers) = $0 {
                        url == item.url && headers.contains { $0.hasPrefix("User-Agent: imgarchive/") }
                    } else {
                        false
                    }
                })
            #expect(
                events.contains {
                    if case .responseHead(let url, let status, let lines) = $0 {
                        url == item.url && status == 200 && lines.first?.hasPrefix("HTTP/1.1 200") == true
                            && lines.contains { $0.lowercased() == "content-type: image/jpeg" }
                    } else {
                        false
                    }
                })
            #expect(
                events.contains {
                    if case .body(let url, let bytes, let sha) = $0 {
                        url == item.url && bytes == images[index].count && sha == ArchiveStore.sha256(of: images[index])
                    } else {
                        false
                    }
                })
        }
        let outcomes = events.compactMap { if case .outcome(let index, _, _) = $0 { index } else { nil } }
        #expect(outcomes.sorted() == [0, 1, 2])
    }

    @Test func anFsyncErrorFailsOnlyItsURLAndLeavesNoUnrecordedFile() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let good = try fixtureJPEG(width: 64, height: 48, seed: 1)
        let bad = try fixtureJPEG(width: 64, height: 48, seed: 2)
        let server = try await TestServer.start(["/good.jpg": ("image/jpeg", good), "/bad.jpg": ("image/jpeg", bad)])
        let badSHA = ArchiveStore.sha256(of: bad)
        let stores = Mutex<[FaultyStore]>([])
        let factory = ObjectStoreFactory { root, durability in
            let store = try FaultyStore(root: root, durability: durability, faults: .init(fsyncFails: [badSHA]))
            stores.withLock { $0.append(store) }
            return store
        }
        let items = ["/good.jpg", "/bad.jpg"].map { FetchItem(url: server.url($0), origin: server.url($0)) }
        let report = try await FetchPipeline.run(
            items: items, posts: [], settings: settings(archive, store: factory), logger: testLogger)
        await server.stop()

        #expect(report.outcomes[0].status == .archived)
        #expect(report.outcomes[1].status == .failed)
        #expect(report.outcomes[1].errorClass == .io)
        #expect(report.outcomes[1].message?.contains("could not be recorded") == true)
        #expect(report.outcomes[1].objectPath == nil)
        #expect(report.diskFull == nil)
        let backend = try await ArchiveBackend.open(root: archive.url)
        defer { backend.close() }
        #expect(try await backend.manifest.urlRecord(items[0].url)?.status == .archived)
        #expect(try await backend.manifest.urlRecord(items[1].url) == nil)
        #expect(try await backend.manifest.objects(sha256s: [badSHA]).isEmpty)
        // The unsynced file was removed: the archive holds no file the manifest does not know.
        let store = try #require(stores.withLock { $0.first })
        #expect(store.calls("removeUnrecorded") == 1)
        #expect(try store.archivedFiles() == [try #require(report.outcomes[0].objectPath)])
    }

    @Test func aFullDiskStopsTheRunOnceWithNoRows() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let images = try (0..<3).map { try fixtureJPEG(width: 32, height: 32, seed: $0) }
        let server = try await TestServer.start(
            Dictionary(uniqueKeysWithValues: images.indices.map { ("/\($0).jpg", ("image/jpeg", images[$0])) }))
        let factory = ObjectStoreFactory { root, durability in
            try FaultyStore(root: root, durability: durability, faults: .init(diskFullOnCommit: true))
        }
        let items = images.indices.map { FetchItem(url: server.url("/\($0).jpg"), origin: server.url("/\($0).jpg")) }
        let report = try await FetchPipeline.run(
            items: items, posts: [], settings: settings(archive, store: factory), logger: testLogger)
        await server.stop()

        let message = try #require(report.diskFull)
        #expect(message.contains("disk is full"))
        #expect(report.outcomes.allSatisfy { $0.status == .failed && $0.errorClass == .diskFull })
        let backend = try await ArchiveBackend.open(root: archive.url)
        defer { backend.close() }
        for item in items { #expect(try await backend.manifest.urlRecord(item.url) == nil) }
        #expect(try backend.objects.archivedFiles().isEmpty)
    }
}
