import Foundation
import ImgArchiveCore
import ImgArchiveStore
import Testing

@testable import ImgArchivePipeline

/// `StatusReport` reads the manifest a chunk of posts at a time: the report is the same whatever the chunk's
/// size, and each post comes out once, in path order.
@Suite struct StatusChunkTests {
    private static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    private static func digest(_ n: Int) -> String { String(format: "%064x", n) }

    @Test func theReportIsTheSameWhateverTheChunkSize() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let layout = ArchiveLayout(root: archive.url)
        let manifest = try SQLiteManifest(layout: layout)
        defer { try? manifest.close() }
        // Seven posts: archived, failed, not fetched, a thumbnail made and one missing, a rewritten post.
        var posts: [PostReferences] = []
        for p in 0..<7 {
            let references = (0..<3).map { r in
                let url = "https://img.example/\((p * 3 + r) % 10).jpg"
                return ReferenceRecord(
                    rangeStart: r * 50, rangeEnd: r * 50 + 30, line: r + 1, column: 3, kind: "markdown-image",
                    written: url, url: url, width: r == 2 ? 100 : nil)
            }
            posts.append(
                PostReferences(post: "_posts/p\(p).md", contentSHA256: Self.digest(100 + p), references: references))
        }
        try await manifest.replaceReferences(posts, scannedAt: Self.t0)
        for n in 0..<8 {
            let url = "https://img.example/\(n).jpg"
            if n == 5 {
                try await manifest.record(
                    .failed(
                        .init(
                            url: url, failureClass: .http4xx, message: "HTTP 404", httpStatus: 404, attempts: 1,
                            at: Self.t0)))
                continue
            }
            let object = ObjectRecord(
                sha256: Self.digest(n), format: .jpeg, bytes: 1000, width: 640, height: 480,
                path: try ArchiveLayout.objectPath(sha256: Self.digest(n), format: .jpeg), createdAt: Self.t0)
            try await manifest.record(
                .archived(.init(url: url, archivedFrom: url, object: object, httpStatus: 200, attempts: 1, at: Self.t0))
            )
            if n % 2 == 0 {
                try await manifest.recordThumbnail(
                    ThumbnailRecord(
                        objectSHA256: Self.digest(n), width: 100, sha256: Self.digest(50 + n), height: 75,
                        format: .jpeg,
                        bytes: 10, path: "w100/\(Self.digest(50 + n).prefix(2))/\(Self.digest(50 + n)).jpg",
                        createdAt: Self.t0))
            }
        }
        let span = RewriteRecord(
            rangeStart: 0, rangeEnd: 20, replacement: "/archive/objects/0.jpg",
            original: Data("https://img.example/0.jpg".utf8),
            url: "https://img.example/0.jpg", rewrittenAt: Self.t0.addingTimeInterval(1))
        let g = try await manifest.recordRewrite(
            post: "_posts/p0.md", inputSHA256: Self.digest(100), outputSHA256: Self.digest(200), rewrites: [span],
            at: Self.t0.addingTimeInterval(1))
        try await manifest.markRewriteApplied(post: "_posts/p0.md", generation: g)

        func report(chunkSize: Int, paths: [String] = []) async throws -> ([[StatusReport.Entry]], StatusReport.Totals)
        {
            var posts: [[StatusReport.Entry]] = []
            let totals = try await StatusReport.make(
                ledger: manifest, layout: layout, paths: paths, chunkSize: chunkSize
            ) { posts.append($0) }
            return (posts, totals)
        }
        let (whole, totals) = try await report(chunkSize: 1000)
        #expect(whole.count == 7 && totals.posts == 7 && totals.references == 21)
        // A post at a time, each once, in path order.
        let shown = whole.map { $0[0].post }
        #expect(Set(shown).count == 7 && shown == shown.sorted() && whole.allSatisfy { Set($0.map(\.post)).count == 1 })
        #expect(totals.counts[.rewritten] == 1 && totals.counts[.failed, default: 0] > 0)
        #expect(totals.counts[.notFetched, default: 0] > 0)
        #expect(whole.joined().contains { $0.thumbnailMissing == 100 })
        #expect(whole.joined().contains { $0.state == .archived && $0.objectPath != nil && $0.thumbnailMissing == nil })
        for size in [1, 2, 3, 7, 8] {
            let (chunked, chunkedTotals) = try await report(chunkSize: size)
            #expect(chunked == whole, "chunks of \(size)")
            #expect(chunkedTotals == totals, "chunks of \(size)")
        }
        // A path filter keeps the posts it names, whatever the chunk.
        let p3 = layout.postBase + "/_posts/p3.md"
        for size in [1, 2, 1000] {
            let (only, onlyTotals) = try await report(chunkSize: size, paths: [p3])
            #expect(only == [whole[3]] && onlyTotals.posts == 1, "chunks of \(size)")
        }
    }
}
