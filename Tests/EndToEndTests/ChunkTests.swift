import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import Logging
import Testing

@testable import ImgArchivePipeline

/// fetch, rewrite, revert and the job work on a site a chunk of posts at a time (`SitePosts.chunkSize`): whatever
/// the chunk's size, they do and report the same, and a URL in many chunks is fetched once per run.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChunkTests {
    static let logger = Logger(label: "imgarchive.chunk.tests")

    /// Nine posts whose URLs repeat across posts (and so across chunks of 2): each image is shown at 200 px by
    /// the first six, and `/2`, `/3` and `/4.jpg` at 100 px by the last three (thumbnails that only a later
    /// chunk asks for); `/gone.jpg` (a 404) is in three posts.
    static func writeSite(_ folder: TemporaryFolder, _ url: (String) -> String) throws {
        for p in 0..<9 {
            var text = "---\ntitle: p\(p)\n---\n\n![a](\(url("/\(p % 4).jpg")))\n\n"
            text += "<img src=\"\(url("/\((p + 1) % 5).jpg"))\" width=\"\(p >= 6 ? 100 : 200)\">\n"
            if p % 3 == 1 { text += "\n![gone](\(url("/gone.jpg")))\n" }
            try folder.write("_posts/p\(p).md", text)
        }
    }

    static func settings(_ folder: TemporaryFolder) -> FetchSettings {
        let loopback = ["127.0.0.0/8"].compactMap { AddressAllowance($0) }
        return FetchSettings(
            archiveRoot: URL(fileURLWithPath: folder.path + "/archive"),
            download: DownloadOptions(
                jobs: 4, retries: 0, connectTimeout: .seconds(5), totalTimeout: .seconds(20),
                allowAddresses: loopback))
    }

    static func rewriteSettings(_ folder: TemporaryFolder) -> RewriteSettings {
        RewriteSettings(
            archiveRoot: URL(fileURLWithPath: folder.path + "/archive"),
            linker: ArchiveLinker(style: .relative(archiveRoot: folder.path + "/archive")),
            scanner: PostScanner(options: ScanOptions()))
    }

    /// The posts' bytes and the archive's files (objects and thumbnails), by path inside the folder.
    static func tree(_ folder: TemporaryFolder) throws -> [String: Data] {
        var tree: [String: Data] = [:]
        for file in folder.files(under: "_posts") {
            tree["_posts/" + file] = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/_posts/" + file))
        }
        for file in folder.files(under: "archive") where file.hasPrefix("objects/") || file.hasPrefix("w") {
            tree["archive/" + file] = Data()
        }
        return tree
    }

    /// An outcome with its folder taken out of its post's path.
    static func shown(_ o: URLOutcome, _ folder: TemporaryFolder) -> String {
        "\(o.url) \(o.status) \(o.post?.replacingOccurrences(of: folder.path, with: "") ?? "-") \(o.objectPath ?? "-") "
            + "\(o.errorClass?.rawValue ?? "-")"
    }

    static func shown(_ p: PostRewriteOutcome, _ folder: TemporaryFolder) -> String {
        "\(p.post.replacingOccurrences(of: folder.path, with: "")) \(p.status) \(p.rewrites.map(\.replacement)) "
            + "\(p.leftRemote.map(\.kind))"
    }

    /// Runs `body` with the images `/0.jpg` to `/4.jpg` (and a 404 at `/gone.jpg`) served on loopback, `url` of a
    /// path on that server, and two empty folders (one for a run by chunks, one for a run in one chunk).
    static func withTwoSites(
        _ body: (ImageServer, @escaping (String) -> String, TemporaryFolder, TemporaryFolder) async throws -> Void
    ) async throws {
        let images = try (0..<5).map { try FixtureImages.jpeg(width: 320, height: 200, seed: $0) }
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [
            "/gone.jpg": { _ in reply(404, [:], Array("gone".utf8)) }
        ]
        for (i, image) in images.enumerated() {
            routes["/\(i).jpg"] = { _ in reply(200, ["Content-Type": "image/jpeg"], image) }
        }
        let server = try await ImageServer.start(routes)
        try await serving(server) {
            let chunked = try TemporaryFolder()
            let whole = try TemporaryFolder()
            defer {
                chunked.remove()
                whole.remove()
            }
            try await body(server, { "http://127.0.0.1:\(server.port)\($0)" }, chunked, whole)
        }
    }

    @Test("fetch and rewrite by chunks of 2 and 3 posts do what one chunk does; each URL is fetched once")
    func fetchAndRewrite() async throws {
        try await Self.withTwoSites { server, url, chunked, whole in
            var handed: [String: [[URLOutcome]]] = [:]
            var reports: [String: FetchReport] = [:]
            for (name, folder, size) in [("chunked", chunked, 2), ("whole", whole, 1_000)] {
                try Self.writeSite(folder, url)
                var chunks: [[URLOutcome]] = []
                let (report, unreadable) = try await Pipeline.fetch(
                    roots: [folder.path + "/_posts"], urlList: nil, scanOptions: ScanOptions(), archiveLinks: nil,
                    settings: Self.settings(folder), chunkSize: size, warn: { _ in }, logger: Self.logger,
                    progress: nil, keeping: { $0.status == .failed }, each: { chunks.append($0) })
                #expect(unreadable == 0)
                handed[name] = chunks
                reports[name] = report
                // Each URL once per run, though most are in several chunks.
                for path in ["/0.jpg", "/1.jpg", "/2.jpg", "/3.jpg", "/4.jpg", "/gone.jpg"] {
                    #expect(server.hitCount(path) == (name == "chunked" ? 1 : 2), "\(name) \(path)")
                }
            }
            let (c, w) = (try #require(reports["chunked"]), try #require(reports["whole"]))
            #expect(handed["chunked"]?.count == 5 && handed["whole"]?.count == 1)
            #expect(
                handed["chunked"]?.joined().map { Self.shown($0, chunked) }
                    == handed["whole"]?.joined().map { Self.shown($0, whole) })
            #expect(handed["whole"]?.joined().count == 6)
            #expect(c.counts == w.counts && c.counts[.archived] == 5 && c.counts[.failed] == 1)
            // Kept: the failed outcome only; counted: all.
            #expect(c.outcomes.map { Self.shown($0, chunked) } == w.outcomes.map { Self.shown($0, whole) })
            #expect(c.outcomes.count == 1 && c.failuresByClass == w.failuresByClass)
            // Every image at 200 px, and /2, /3 and /4 at 100 px too (asked for by later chunks only).
            #expect(c.thumbnailsMade == w.thumbnailsMade && c.thumbnailsMade == 8 && c.thumbnailFailures.isEmpty)
            #expect(try Self.tree(chunked) == Self.tree(whole))

            var outcomes: [String: [PostRewriteOutcome]] = [:]
            var totals: [String: RewriteReport.Totals] = [:]
            for (name, folder, size) in [("chunked", chunked, 3), ("whole", whole, 1_000)] {
                var posts: [PostRewriteOutcome] = []
                let (t, unreadable) = try await Pipeline.rewrite(
                    roots: [folder.path + "/_posts"], settings: Self.rewriteSettings(folder), chunkSize: size,
                    warn: { _ in }, logger: Self.logger, each: { posts += $0 })
                #expect(unreadable == 0)
                outcomes[name] = posts
                totals[name] = t
            }
            #expect(totals["chunked"] == totals["whole"])
            #expect(totals["chunked"]?.counts[.rewritten] == 9 && totals["chunked"]?.referencesRewritten == 18)
            #expect(totals["chunked"]?.leftRemoteByKind == ["failed": 3])
            #expect(
                outcomes["chunked"]?.map { Self.shown($0, chunked) } == outcomes["whole"]?.map { Self.shown($0, whole) }
            )
            let after = try Self.tree(chunked)
            #expect(after == (try Self.tree(whole)))
            #expect(after.filter { $0.key.hasPrefix("_posts/") }.allSatisfy { !$0.value.isEmpty })
        }
    }

    @Test("a revert by chunks of 2 posts reverts and reports what one chunk does, a renamed post and a missing one too")
    func revert() async throws {
        try await Self.withTwoSites { _, url, chunked, whole in
            var handed: [String: [[PostRewriteOutcome]]] = [:]
            var totals: [String: RewriteReport.Totals] = [:]
            var originals: [String: [String: Data]] = [:]
            for (name, folder, size) in [("chunked", chunked, 2), ("whole", whole, 1_000)] {
                try Self.writeSite(folder, url)
                originals[name] = try Self.tree(folder)
                let posts = folder.path + "/_posts/"
                _ = try await Pipeline.fetch(
                    roots: [posts], urlList: nil, scanOptions: ScanOptions(), archiveLinks: nil,
                    settings: Self.settings(folder), warn: { _ in }, logger: Self.logger, progress: nil)
                let (rewritten, _) = try await Pipeline.rewrite(
                    roots: [posts], settings: Self.rewriteSettings(folder), warn: { _ in }, logger: Self.logger)
                #expect(rewritten.counts[.rewritten] == 9)
                // Renamed (found by its bytes), deleted (missing), edited (one of its two links gone), and a
                // temporary post an interrupted run left.
                try FileManager.default.moveItem(atPath: posts + "p3.md", toPath: posts + "renamed.md")
                try FileManager.default.removeItem(atPath: posts + "p5.md")
                let p7 = try String(contentsOfFile: posts + "p7.md", encoding: .utf8)
                try p7.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("<img") }
                    .joined(separator: "\n").write(toFile: posts + "p7.md", atomically: true, encoding: .utf8)
                try "half a post".write(
                    toFile: posts + ".p0.md.imgarchive-999999-42.tmp", atomically: false, encoding: .utf8)
                var chunks: [[PostRewriteOutcome]] = []
                totals[name] = try await Pipeline.revert(
                    paths: [posts], settings: Self.rewriteSettings(folder), chunkSize: size, logger: Self.logger,
                    each: { chunks.append($0) })
                handed[name] = chunks
                #expect(!FileManager.default.fileExists(atPath: posts + ".p0.md.imgarchive-999999-42.tmp"))
                let manifest = try SQLiteManifest(
                    layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
                defer { try? manifest.close() }
                // The missing post keeps its records, and so do the links not found.
                #expect(try await manifest.rewrittenPosts() == ["_posts/p5.md", "_posts/p7.md"], "\(name)")
            }
            /// An outcome, its folder's name taken out of its path and message.
            func shown(_ p: PostRewriteOutcome, _ folder: TemporaryFolder) -> String {
                let name = URL(fileURLWithPath: folder.path).lastPathComponent
                return "\(p.post) \(p.status) \(p.reverted) \(p.notFound) \(p.message ?? "-")"
                    .replacingOccurrences(of: name, with: "SITE")
            }
            let (c, w) = (try #require(handed["chunked"]), try #require(handed["whole"]))
            // 9 posts with records by 2, then the missing ones; in one chunk, then the missing ones.
            #expect(c.map(\.count) == [2, 1, 1, 2, 1, 2] && w.map(\.count) == [7, 2])
            #expect(c.joined().map { shown($0, chunked) } == w.joined().map { shown($0, whole) })
            #expect(totals["chunked"] == totals["whole"])
            let t = try #require(totals["chunked"])
            #expect(t.counts == [.reverted: 8, .missing: 1] && t.posts == 9)
            #expect(t.referencesReverted == 15 && t.postsWithLinksNotFound == 1)
            let last = try #require(c.last)
            #expect(last.first?.post.hasSuffix("_posts/renamed.md") == true && last.first?.status == .reverted)
            #expect(last.first?.message?.contains("(was ") == true && last.last?.status == .missing)
            // The posts as they were, the renamed one under its new name, the edited one without its line.
            for (name, folder) in [("chunked", chunked), ("whole", whole)] {
                let after = try Self.tree(folder).filter { $0.key.hasPrefix("_posts/") }
                var expected = try #require(originals[name]).filter { $0.key.hasPrefix("_posts/") }
                expected["_posts/renamed.md"] = expected.removeValue(forKey: "_posts/p3.md")
                expected["_posts/p5.md"] = nil
                #expect(after.keys.sorted() == expected.keys.sorted(), "\(name)")
                for (post, bytes) in expected where post != "_posts/p7.md" {
                    #expect(after[post] == bytes, "\(name) \(post)")
                }
                let p7 = String(decoding: try #require(after["_posts/p7.md"]), as: UTF8.self)
                #expect(p7.contains(url("/3.jpg")) && !p7.contains("<img"), "\(name): \(p7)")
            }
        }
    }

    @Test("packed strings give back each string, in order")
    func packedStrings() {
        let strings = ["_posts/a.md", "", "été/ünïcode.md", "_posts/a.md", String(repeating: "x", count: 300)]
        let packed = PackedStrings(strings)
        #expect(packed.count == 5 && Array(packed) == strings)
        #expect(packed[2] == "été/ünïcode.md" && PackedStrings([String]()).isEmpty)
    }

    @Test("the job by chunks of 2 posts does and reports what one chunk does, and its rerun too")
    func job() async throws {
        try await Self.withTwoSites { _, url, chunked, whole in
            for folder in [chunked, whole] { try Self.writeSite(folder, url) }
            /// What a run's report says, its folder and times taken out.
            func summary(_ r: ArchiveJobReport, _ folder: TemporaryFolder) throws -> [String] {
                let path = try #require(r.reportPath)
                let json = try String(contentsOfFile: path, encoding: .utf8)
                    .replacingOccurrences(of: folder.path.replacingOccurrences(of: "/", with: "\\/"), with: "")
                    .split(separator: "\n").filter { !$0.contains("started_at") && !$0.contains("finished_at") }
                    .joined(separator: "\n")
                func sorted<K>(_ d: [K: Int]) -> String {
                    d.map { "\($0.key): \($0.value)" }.sorted().joined(separator: ", ")
                }
                return [
                    "\(sorted(r.fetch.counts)) \(r.fetch.thumbnailsMade) \(sorted(r.rewrite.counts)) "
                        + "\(r.rewrite.referencesRewritten) \(sorted(r.rewrite.leftRemoteByKind)) \(r.exitCode) \(r.isNews)",
                    "\(r.postsRewritten.map { "\($0.post.replacingOccurrences(of: folder.path, with: "")) \($0.references)" })",
                    "\(r.postsWaiting.map { "\($0.key.replacingOccurrences(of: folder.path, with: "")) \($0.value)" }.sorted())",
                    "\(r.newFailures.map { Self.shown($0, folder) })", json,
                ]
            }
            for round in 0..<2 {
                var summaries: [[String]] = []
                for (folder, size) in [(chunked, 2), (whole, 1_000)] {
                    let report = try await Pipeline.archive(
                        roots: [folder.path + "/_posts"], scanOptions: ScanOptions(), fetch: Self.settings(folder),
                        linker: ArchiveLinker(style: .relative(archiveRoot: folder.path + "/archive")),
                        chunkSize: size, warn: { _ in }, logger: Self.logger, progress: nil)
                    summaries.append(try summary(report, folder))
                    if round == 0 {
                        #expect(report.rewrite.counts[.rewritten] == 6 && report.postsWaiting.count == 3)
                        #expect(report.fetch.counts[.archived] == 5 && report.newFailures.count == 1)
                    } else {
                        #expect(report.fetch.counts[.archived] == nil && report.rewrite.counts[.rewritten] == nil)
                    }
                }
                #expect(summaries[0] == summaries[1], "round \(round)")
                #expect(try Self.tree(chunked) == Self.tree(whole), "round \(round)")
            }
        }
    }

    @Test("the job by chunks of 2 removes the stale temporary posts of every folder and forgets the posts deleted")
    func jobSweepsEveryFolderAndForgetsDeletedPosts() async throws {
        try await Self.withTwoSites { _, url, folder, _ in
            // Two posts in each of three folders: a chunk of 2 reaches at most two folders, so a later chunk
            // reaches the others. The second post of `b` and `c` waits (a 404): it has no rewrites.
            for (i, sub) in ["a", "b", "c"].enumerated() {
                try folder.write("_posts/\(sub)/p0.md", "![x](\(url("/\(i).jpg")))\n")
                try folder.write("_posts/\(sub)/p1.md", "![y](\(url(sub == "a" ? "/4.jpg" : "/gone.jpg")))\n")
            }
            let layout = ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive"))
            func run() async throws -> ArchiveJobReport {
                try await Pipeline.archive(
                    roots: [folder.path + "/_posts"], scanOptions: ScanOptions(), fetch: Self.settings(folder),
                    linker: ArchiveLinker(style: .relative(archiveRoot: folder.path + "/archive")),
                    chunkSize: 2, warn: { _ in }, logger: Self.logger, progress: nil)
            }
            func recorded() async throws -> [String] {
                let manifest = try SQLiteManifest(layout: layout)
                defer { try? manifest.close() }
                return try await manifest.postPaths(after: nil, limit: 100)
            }
            let first = try await run()
            #expect(first.rewrite.counts[.rewritten] == 4 && first.postsWaiting.count == 2)
            let all = ["a", "b", "c"].flatMap { ["_posts/\($0)/p0.md", "_posts/\($0)/p1.md"] }
            #expect(try await recorded().sorted() == all)

            let stale = ["a", "b", "c"].map { folder.path + "/_posts/\($0)/.p0.md.imgarchive-999999-42.tmp" }
            for file in stale { try "half a post".write(toFile: file, atomically: false, encoding: .utf8) }
            // Deleted: a post that waits (forgotten) and a rewritten one (kept: its rewrites are for revert).
            try FileManager.default.removeItem(atPath: folder.path + "/_posts/b/p1.md")
            try FileManager.default.removeItem(atPath: folder.path + "/_posts/a/p0.md")
            let rerun = try await run()
            #expect(rerun.postsWaiting.count == 1 && rerun.rewrite.counts[.rewritten] == nil)
            #expect(stale.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
            #expect(try await recorded().sorted() == all.filter { $0 != "_posts/b/p1.md" })
        }
    }

    @Test("a chunk's scan carries each post's name in the manifest, made once, as postKeys makes it")
    func scanCarriesPostKeys() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for name in ["a/x.md", "a/y.md", "b/z.md"] {
            try folder.write("_posts/" + name, "![](http://img.test/1.jpg)\n")
        }
        let layout = ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive"))
        let manifest = try SQLiteManifest(layout: layout)
        defer { try? manifest.close() }
        let site = SitePosts(roots: [folder.path + "/_posts"], scanOptions: ScanOptions(), warn: { _ in })
        let known = try await KnownScans.read(manifest, layout: layout, posts: Array(site.files))
        let (posts, _) = site.scan(site.files.indices, known: known, warn: { _ in })
        let made = layout.postKeys(posts.map(\.path))
        #expect(made.sorted() == ["_posts/a/x.md", "_posts/a/y.md", "_posts/b/z.md"])
        #expect(posts.map(\.key) == made)
        // Another chunk than the record's: its names are made for it.
        let (part, _) = site.scan(1..<3, known: known, warn: { _ in })
        #expect(part.map(\.key) == Array(made[1..<3]))
        // Without a record the scan carries none; `postKeys(of:)` uses the names carried and makes the others.
        let (bare, _) = site.scan(site.files.indices, known: nil, warn: { _ in })
        #expect(bare.allSatisfy { $0.key == nil } && layout.postKeys(of: bare) == made)
        var mixed = posts
        mixed[1].key = nil
        mixed[2].key = "carried"
        #expect(layout.postKeys(of: mixed) == [made[0], made[1], "carried"])
    }
}
