import Foundation
import ImgArchiveCore
import ImgArchiveStore
import Testing

@testable import ImgArchivePipeline

/// The recorder alone, on a real archive and manifest: batches, the row-by-row fallback, and its stream's end.
@Suite(.timeLimit(.minutes(1)))
struct RecorderTests {
    /// Commits `bytes` as an original and returns its row.
    private func archivedRow(_ url: String, _ bytes: [UInt8], store: ArchiveStore) throws -> FetchOutcome {
        let temporary = store.makeTemporaryFileURL(suffix: "jpg")
        try Data(bytes).write(to: temporary)
        let sha = ArchiveStore.sha256(of: bytes)
        let path = try store.commitObject(temporaryFile: temporary, sha256: sha, format: .jpeg)
        let object = ObjectRecord(
            sha256: sha, format: .jpeg, bytes: Int64(bytes.count), width: nil, height: nil, path: path,
            createdAt: Date())
        return .archived(
            .init(
                url: url, archivedFrom: url, object: object, httpStatus: 200, etag: nil, lastModified: nil, attempts: 1,
                at: Date()))
    }

    @Test func aFailedBatchFallsBackRowByRow() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let backend = try await ArchiveBackend.open(root: archive.url, durability: .deferred)
        defer { backend.close() }
        let store = try ArchiveStore(root: archive.url, durability: .deferred)
        let recorder = Recorder(
            store: backend.objects, manifest: backend.manifest, logger: testLogger,
            temporaryFolders: [store.temporaryDirectory.path], noteError: { _ in false })
        async let recorded = recorder.run()
        let good = try archivedRow("http://a.test/good.jpg", [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9], store: store)
        // A 304 for a URL with nothing archived: the manifest refuses it, which fails the whole transaction.
        let bad = FetchOutcome.notModified(.init(url: "http://a.test/never.jpg", httpStatus: 304, at: Date()))
        let failed = FetchOutcome.failed(
            .init(
                url: "http://a.test/gone.jpg", failureClass: .http4xx, message: "gone", httpStatus: 404, attempts: 1,
                at: Date()))
        for (index, row) in [good, bad, failed].enumerated() {
            let url = ["http://a.test/good.jpg", "http://a.test/never.jpg", "http://a.test/gone.jpg"][index]
            recorder.observe(.outcome(index: index, outcome: URLOutcome(url: url, status: .archived), row: row))
        }
        recorder.finish()
        let corrections = await recorded

        // Only the bad row's URL is corrected (to an io failure); the others are recorded one by one.
        #expect(corrections.map(\.0) == [1])
        #expect(corrections.first?.1.status == .failed)
        #expect(corrections.first?.1.errorClass == .io)
        #expect(try await backend.manifest.urlRecord("http://a.test/good.jpg")?.status == .archived)
        #expect(try await backend.manifest.urlRecord("http://a.test/gone.jpg")?.status == .failed)
        #expect(try await backend.manifest.urlRecord("http://a.test/never.jpg") == nil)
    }

    @Test func rowsAreWrittenAtTheDeadlineWithoutWaitingForTheEnd() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let backend = try await ArchiveBackend.open(root: archive.url, durability: .deferred)
        defer { backend.close() }
        let store = try ArchiveStore(root: archive.url, durability: .deferred)
        let recorder = Recorder(
            store: backend.objects, manifest: backend.manifest, logger: testLogger,
            temporaryFolders: [store.temporaryDirectory.path], noteError: { _ in false })
        async let recorded = recorder.run()
        let url = "http://a.test/slow.jpg"
        let row = try archivedRow(url, [0xFF, 0xD8, 9, 9, 0xFF, 0xD9], store: store)
        recorder.observe(.outcome(index: 0, outcome: URLOutcome(url: url, status: .archived), row: row))
        // No other row follows and the stream stays open: the clock alone must flush it. A bounded wait (10 s,
        // twenty times the deadline) that fails rather than carrying on.
        var written = false
        for _ in 0..<200 where !written {
            try await Task.sleep(for: .milliseconds(50))
            written = try await backend.manifest.urlRecord(url)?.status == .archived
        }
        recorder.finish()
        let corrections = await recorded
        #expect(written, "the row was not written within 10 s of its deadline")
        #expect(corrections.isEmpty)
    }
}
