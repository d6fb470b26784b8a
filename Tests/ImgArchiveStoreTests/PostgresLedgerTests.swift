import Foundation
import ImgArchiveCore
import TestServices
import Testing

@testable import ImgArchiveStore

/// The PostgreSQL manifest against a real PostgreSQL 15 (`PG_URL`, from `.ci/services up`): the same calls on
/// it and on `SQLiteManifest` leave the same records, read back through every reader.
@Suite(.timeLimit(.minutes(2))) struct PostgresLedgerTests {
    private static let t0 = Date(timeIntervalSince1970: 1_800_000_000.123)
    private static func digest(_ n: Int) -> String { String(format: "%064x", n) }
    private static func object(_ n: Int, format: ImageFormat = .jpeg) throws -> ObjectRecord {
        ObjectRecord(
            sha256: digest(n), format: format, bytes: 100 + Int64(n), width: nil, height: nil,
            path: try ArchiveLayout.objectPath(sha256: digest(n), format: format), createdAt: t0)
    }

    @Test func theSameCallsLeaveTheSameRecordsAsOnSQLite() async throws {
        let folder = try TemporaryFolder()
        let sqlite = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        defer { try? sqlite.close() }
        let postgres = try await PostgresManifest.open(url: try await TestServices.postgresDatabase())
        defer { postgres.close() }

        let sqliteRun = try await Self.exercise(sqlite)
        let postgresRun = try await Self.exercise(postgres)
        #expect(sqliteRun == postgresRun)
        let sqliteState = try await Self.contents(sqlite)
        let postgresState = try await Self.contents(postgres)
        #expect(sqliteState == postgresState)
        // The calls did leave something to compare.
        #expect(sqliteState.urls.count == 4 && sqliteState.objects.count == 5 && !sqliteState.generations.isEmpty)
        #expect(sqliteState.objectPages == sqliteState.objects, "the objects read a page at a time are all of them")
        #expect(sqliteState.someURLs["https://g.example/old.jpg"]?.rescue != nil)
        #expect(sqliteState.urls.contains { $0.url == "https://c.example/z.gif" && $0.rescueCheckedAt != nil })
        #expect(sqliteState.scans["posts/b.md"]?.file != nil && !sqliteState.allReferences.isEmpty)
        // A chunk's reads give what the whole site's give of its posts.
        #expect(sqliteState.chunkScans == sqliteState.scans.filter { $0.key == "posts/a.md" || $0.key == "posts/b.md" })
        #expect(sqliteState.chunkScans.count == 2)
        #expect(
            sqliteState.chunkReferences
                == sqliteState.allReferences.filter { $0.key == "posts/a.md" || $0.key == "posts/b.md" })
        #expect(sqliteState.chunkReferences["posts/a.md"] == sqliteState.references)
        #expect(sqliteState.chunkGenerations == sqliteState.eachGenerations)
        #expect(
            sqliteState.chunkGenerations.keys.sorted() == ["posts/a.md", "posts/b.md"]
                && sqliteState.chunkGenerations.values.allSatisfy { $0.contains { !$0.spans.isEmpty } })
        // The standings join what the other reads give apart.
        #expect(sqliteState.standings == sqliteState.standingsAtOnce)
        #expect(sqliteState.standings.map(\.post) == sqliteState.posts)
        let a = try #require(sqliteState.standings.first { $0.post.path == "posts/a.md" })
        #expect(a.references.map(\.url) == sqliteState.references.map(\.url))
        #expect(
            a.references.first?.standing?.objectPath == sqliteState.objects.first { $0.sha256 == Self.digest(3) }?.path)
        #expect(
            a.references.last?.standing?.objectFormat == .png && a.references.last?.standing?.svgRefusal == "not an SVG"
        )
        let b = try #require(sqliteState.standings.first { $0.post.path == "posts/b.md" })
        #expect(b.links.map(\.replacement) == ["/archive/x.jpg"] && b.links.first?.standing?.status == .archived)
        #expect(try await postgres.integrityCheck())
        #expect(try await postgres.appliedMigrations() == (try await sqlite.appliedMigrations()))
    }

    @Test func aNotModifiedAnswerForAURLWithNothingArchivedIsRefused() async throws {
        let postgres = try await PostgresManifest.open(url: try await TestServices.postgresDatabase())
        defer { postgres.close() }
        await #expect(throws: StoreError.self) {
            try await postgres.record(.notModified(.init(url: "https://a.example/none.jpg", at: Self.t0)))
        }
        // The failed transaction left the connection usable.
        #expect(try await postgres.urlRecord("https://a.example/none.jpg") == nil)
    }

    @Test func workersOpeningANewDatabaseTogetherMigrateItOnce() async throws {
        let url = try await TestServices.postgresDatabase()
        let manifests = try await withThrowingTaskGroup(of: PostgresManifest.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresManifest.open(url: url) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for manifest in manifests {
            #expect(try await manifest.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"])
            manifest.close()
        }
    }

    /// Every write of the ledgers, in an order a real archive sees them; returns what the calls answered.
    private static func exercise(_ m: some FetchLedger & RewriteLedger) async throws -> [String] {
        var answers: [String] = []
        let run = try await m.startRun(command: "fetch", at: t0)
        answers.append("run \(run)")
        try await m.replaceReferences(
            [
                PostReferences(
                    post: "posts/a.md", contentSHA256: digest(100),
                    references: [
                        ReferenceRecord(
                            rangeStart: 3, rangeEnd: 40, line: 1, column: 4, kind: "markdown-image",
                            written: "https://a.example/x.jpg", url: "https://a.example/x.jpg"),
                        ReferenceRecord(
                            rangeStart: 50, rangeEnd: 90, line: 2, column: 1, kind: "html-img",
                            written: "https://cdn.example/y.png?w=300", url: "https://cdn.example/y.png?w=300",
                            origin: "https://b.example/y.png", width: 300, wrapped: true),
                    ]),
                PostReferences(
                    post: "posts/b.md", contentSHA256: digest(101), references: [],
                    file: FileStamp(size: 120, modified: 1_800_000_000_123_456_789, changed: 1_800_000_001, inode: 7),
                    scannedWith: "scanner-1"),
                PostReferences(post: "posts/gone.md", contentSHA256: digest(102), references: []),
            ], scannedAt: t0)
        try await m.removePost("posts/gone.md")
        let needs = try await m.urlsNeedingFetch(
            candidates: ["https://a.example/x.jpg", "https://cdn.example/y.png?w=300", "https://a.example/x.jpg"],
            revalidation: .never)
        answers.append("\(needs)")
        try await m.record([
            .archived(
                .init(
                    url: "https://a.example/x.jpg", archivedFrom: "https://a.example/x.jpg", object: try object(1),
                    httpStatus: 200, etag: "\"e1\"", lastModified: "Tue, 01 Dec 2026 10:00:00 GMT", attempts: 1,
                    at: t0)),
            .archived(
                .init(
                    url: "https://cdn.example/y.png?w=300", archivedFrom: "https://b.example/y.png",
                    object: try object(2, format: .png), httpStatus: 200, attempts: 2, at: t0.addingTimeInterval(1))),
            .failed(
                .init(
                    url: "https://c.example/z.gif", failureClass: .http4xx, message: "HTTP 404: gone", httpStatus: 404,
                    attempts: 1, at: t0.addingTimeInterval(2), rescueCheckedAt: t0.addingTimeInterval(2))),
            .archived(
                .init(
                    url: "https://g.example/old.jpg",
                    archivedFrom: "http://127.0.0.1:9/web/20200101000000id_/https://g.example/old.jpg",
                    object: try object(5), httpStatus: 200, attempts: 1, at: t0,
                    rescue: MementoProvenance(
                        timegate: "http://127.0.0.1:9/web/",
                        memento: "http://127.0.0.1:9/web/20200101000000id_/https://g.example/old.jpg",
                        capturedAt: t0.addingTimeInterval(-86_400)))),
            .linkPage(
                .init(url: "https://d.example/page", httpStatus: 200, contentType: "text/html", at: t0)),
        ])
        try await m.record(
            .failed(
                .init(
                    url: "https://c.example/z.gif", failureClass: .timeout, message: "timed out", attempts: 3,
                    at: t0.addingTimeInterval(3))))
        try await m.record(.notModified(.init(url: "https://a.example/x.jpg", at: t0.addingTimeInterval(4))))
        try await m.record(
            .archived(
                .init(
                    url: "https://a.example/x.jpg", archivedFrom: "https://a.example/x.jpg", object: try object(3),
                    httpStatus: 200, attempts: 1, at: t0.addingTimeInterval(5))))
        try await m.setObjectSize(sha256: digest(1), width: 640, height: 480)
        try await m.recordThumbnail(
            ThumbnailRecord(
                objectSHA256: digest(1), width: 300, sha256: digest(11), height: 225, format: .jpeg, bytes: 42,
                path: "w300/\(digest(11).prefix(2))/\(digest(11)).jpg", createdAt: t0))
        try await m.recordSanitizedSVG(
            SanitizedSVGRecord(
                objectSHA256: digest(2), sha256: nil, bytes: nil, path: nil, removed: 0, error: "not an SVG",
                createdAt: t0))
        answers.append("adopted \(try await m.adoptObject(try object(4)))")
        answers.append("adopted again \(try await m.adoptObject(try object(4)))")
        let needsLater = try await m.urlsNeedingFetch(
            candidates: ["https://a.example/x.jpg", "https://c.example/z.gif", "https://e.example/new.jpg"],
            revalidation: .all)
        answers.append("\(needsLater)")
        try await m.finishRun(id: run, at: t0.addingTimeInterval(9), counts: ["archived": 2, "failed": 1], exitCode: 1)

        // Rewrites: two generations, one discarded, spans forgotten, then a full revert of another post.
        let span = RewriteRecord(
            rangeStart: 3, rangeEnd: 20, replacement: "/archive/x.jpg", original: Data("https://a.example/x.jpg".utf8),
            url: "https://a.example/x.jpg", rewrittenAt: t0, contextBefore: Data([0, 1, 0xFF]), contextAfter: Data())
        var second = span
        second.rangeStart = 30
        second.rangeEnd = 44
        let g1 = try await m.recordRewrite(
            post: "posts/a.md", inputSHA256: digest(100), outputSHA256: digest(103), rewrites: [span, second], at: t0)
        try await m.markRewriteApplied(post: "posts/a.md", generation: g1)
        let g2 = try await m.recordRewrite(
            post: "posts/a.md", inputSHA256: digest(103), outputSHA256: digest(104), rewrites: [span], at: t0)
        try await m.discardRewrite(post: "posts/a.md", generation: g2)
        let g3 = try await m.recordRewrite(
            post: "posts/a.md", inputSHA256: digest(103), outputSHA256: digest(105), rewrites: [second],
            at: t0.addingTimeInterval(1))
        try await m.markRewriteApplied(post: "posts/a.md", generation: g3)
        try await m.forgetRewriteSpans(post: "posts/a.md", spans: [(generation: g1, rangeStart: 30)])
        answers.append("generations \(g1) \(g2) \(g3)")
        let g4 = try await m.recordRewrite(
            post: "posts/b.md", inputSHA256: digest(101), outputSHA256: digest(106), rewrites: [span], at: t0)
        try await m.markRewriteApplied(post: "posts/b.md", generation: g4)
        try await m.recordRevert(post: "posts/b.md", contentSHA256: digest(101))
        // A batch is all or none: one post never scanned, nothing of it recorded.
        do {
            _ = try await m.recordRewrites([
                PostRewrite(
                    post: "posts/a.md", inputSHA256: digest(105), outputSHA256: digest(107), rewrites: [span], at: t0),
                PostRewrite(
                    post: "posts/never.md", inputSHA256: digest(1), outputSHA256: digest(2), rewrites: [], at: t0),
            ])
            answers.append("a batch with a post never scanned was recorded")
        } catch {
            answers.append("batch refused \(error.code)")
        }
        let batch = try await m.recordRewrites([
            PostRewrite(
                post: "posts/a.md", inputSHA256: digest(105), outputSHA256: digest(108), rewrites: [span], at: t0),
            PostRewrite(
                post: "posts/b.md", inputSHA256: digest(101), outputSHA256: digest(109), rewrites: [second], at: t0),
        ])
        answers.append("batch \(batch) pending \(try await m.postsWithPendingRewrites())")
        try await m.markRewritesApplied([("posts/b.md", batch[1])])
        answers.append("pending \(try await m.postsWithPendingRewrites())")
        do {
            _ = try await m.recordRewrite(
                post: "posts/never.md", inputSHA256: digest(1), outputSHA256: digest(2), rewrites: [], at: t0)
            answers.append("a post never scanned was rewritten")
        } catch {
            answers.append("refused \(error.code)")
        }
        return answers
    }

    /// Everything the readers answer.
    private struct Contents: Equatable {
        var urls: [URLRecord]
        var someURLs: [String: URLRecord]
        var linkPages: [String: Date]
        var history: [String]
        var archivedAs: [String]
        var objects: [ObjectRecord]
        /// `objects(after:limit:)` two at a time.
        var objectPages: [ObjectRecord]
        var someObjects: [String: ObjectRecord]
        var thumbnails: [ThumbnailRecord]
        var someThumbnails: [String: [Int: ThumbnailRecord]]
        var svgs: [SanitizedSVGRecord]
        var posts: [PostRecord]
        var references: [ReferenceRecord]
        var referencing: [String]
        var generations: [RewriteGeneration]
        var rewritten: [String]
        var runs: [RunRecord]
        var scans: [String: RecordedScan]
        var allReferences: [String: [ReferenceRecord]]
        /// The rewrites of a chunk of posts (a post never rewritten among them), and of each post apart.
        var chunkGenerations: [String: [RewriteGeneration]]
        var eachGenerations: [String: [RewriteGeneration]]
        var pending: [String]
        /// `postStandings` a post at a time, then all in one chunk.
        var standings: [PostStanding]
        var standingsAtOnce: [PostStanding]
        /// The reads of a chunk of posts (a post never scanned among them), and the posts' paths a post at a time.
        var chunkScans: [String: RecordedScan]
        var chunkReferences: [String: [ReferenceRecord]]
        var paths: [String]
    }

    private static func contents(_ m: some ArchiveLedgerReader) async throws -> Contents {
        Contents(
            urls: try await m.allURLRecords(),
            someURLs: try await m.urlRecords([
                "https://a.example/x.jpg", "https://g.example/old.jpg", "https://nowhere.example/",
            ]),
            linkPages: try await m.linkPages(),
            history: try await m.objectHistory(url: "https://a.example/x.jpg"),
            archivedAs: try await m.urls(archivedAs: digest(1)).map { "\($0.url) \($0.archivedFrom)" },
            objects: try await m.objects(),
            objectPages: try await objectPages(m, limit: 2),
            someObjects: try await m.objects(sha256s: [digest(1), digest(9)]),
            thumbnails: try await m.thumbnails(),
            someThumbnails: try await m.thumbnails(sha256s: [digest(1)]),
            svgs: try await m.sanitizedSVGs(),
            posts: try await m.posts(),
            references: try await m.references(post: "posts/a.md"),
            referencing: try await m.posts(referencing: "https://b.example/y.png"),
            generations: try await m.rewriteGenerations(post: "posts/a.md")
                + (try await m.rewriteGenerations(post: "posts/b.md")),
            rewritten: try await m.rewrittenPosts(),
            runs: try await m.runs(),
            scans: try await m.recordedScans(),
            allReferences: try await m.allReferences(),
            chunkGenerations: try await m.rewriteGenerations(posts: ["posts/b.md", "posts/a.md", "posts/never.md"]),
            eachGenerations: try await generations(m, posts: ["posts/b.md", "posts/a.md", "posts/never.md"]),
            pending: try await (m as? any RewriteLedger)?.postsWithPendingRewrites() ?? [],
            standings: try await standings(m, limit: 1),
            standingsAtOnce: try await m.postStandings(after: nil, limit: 100),
            chunkScans: try await m.recordedScans(posts: ["posts/b.md", "posts/a.md", "posts/never.md"]),
            chunkReferences: try await m.references(posts: ["posts/b.md", "posts/a.md", "posts/never.md"]),
            paths: try await paths(m))
    }

    /// `rewriteGenerations(post:)` of each post that has some.
    static func generations(_ m: some ArchiveLedgerReader, posts: [String]) async throws
        -> [String: [RewriteGeneration]]
    {
        var all: [String: [RewriteGeneration]] = [:]
        for post in posts {
            let generations = try await m.rewriteGenerations(post: post)
            if !generations.isEmpty { all[post] = generations }
        }
        return all
    }

    /// Every post's path, read a post at a time.
    static func paths(_ m: some ArchiveLedgerReader) async throws -> [String] {
        var all: [String] = []
        while let next = try await m.postPaths(after: all.last, limit: 1).first { all.append(next) }
        #expect(all == (try await m.posts().map(\.path)))
        return all
    }

    /// Every post's standing, read `limit` posts at a time.
    static func objectPages(_ m: some ArchiveLedgerReader, limit: Int) async throws -> [ObjectRecord] {
        var all: [ObjectRecord] = []
        while true {
            let page = try await m.objects(after: all.last?.sha256, limit: limit)
            guard !page.isEmpty else { return all }
            #expect(page.count <= limit)
            all += page
        }
    }

    static func standings(_ m: some ArchiveLedgerReader, limit: Int) async throws -> [PostStanding] {
        var all: [PostStanding] = []
        while true {
            let chunk = try await m.postStandings(after: all.last?.post.path, limit: limit)
            guard !chunk.isEmpty else { return all }
            #expect(chunk.count <= limit)
            all += chunk
        }
    }
}
