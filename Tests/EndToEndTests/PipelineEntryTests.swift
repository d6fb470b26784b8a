import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import Logging
import Testing

@testable import ImgArchivePipeline

/// The pipeline's entries (`Pipeline`), called as the executable calls them: what stops each command is one
/// `PipelineError`, whose exit code is the one docs/operations.md documents.
@Suite("Pipeline entries")
struct PipelineEntryTests {
    /// The rows of docs/operations.md's exit-code table: code -> meaning.
    static let documentedExitCodes: [Int32: String] = {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../docs/operations.md")
        guard let text = try? String(contentsOf: docs, encoding: .utf8) else { return [:] }
        var rows: [Int32: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.count >= 2, let code = Int32(cells[0]) { rows[code] = cells[1] }
        }
        return rows
    }()

    @Test(
        "each code exits as documented",
        arguments: [
            (PipelineError.Code.archiveLocked, Int32(75), "another imgarchive run holds"),
            (.usage, 2, "usage or set-up error"), (.unusableArchive, 2, "an unusable archive"),
            (.setUp, 2, "usage or set-up error"),
        ])
    func exitCodes(_ code: PipelineError.Code, _ exit: Int32, _ documented: String) throws {
        #expect(PipelineError(code: code, message: "m").exitCode == exit)
        let row = try #require(Self.documentedExitCodes[exit], "docs/operations.md has no row for exit \(exit)")
        #expect(row.contains(documented), "docs/operations.md, exit \(exit): \(row)")
    }

    static let logger = Logger(label: "test")

    /// Settings for an archive in `folder` that fetch nothing from the network (the posts hold no remote URL).
    static func settings(_ folder: TemporaryFolder) -> FetchSettings {
        FetchSettings(
            archiveRoot: URL(fileURLWithPath: folder.path + "/archive"),
            download: DownloadOptions(userAgent: "imgarchive-test"))
    }

    @Test("another run's lock stops every command that takes it with the same error, exit 75")
    func lockedArchive() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let settings = Self.settings(folder)
        let root = settings.archiveRoot
        // An archive with a manifest (a fetch with nothing to fetch makes one): rewrite and revert lock only then.
        let first = try await Pipeline.fetch(
            roots: [folder.path], urlList: nil, scanOptions: ScanOptions(), archiveLinks: nil, settings: settings,
            warn: { _ in }, logger: Self.logger)
        #expect(first.report.outcomes.isEmpty)
        try folder.write("post.md", "![](http://img.test/a.jpg)\n")
        let lock = try ArchiveLock.acquire(root)
        defer { lock.release() }
        let linker = ArchiveLinker(style: .relative(archiveRoot: root.path))
        let rewrite = RewriteSettings(archiveRoot: root, linker: linker, scanner: PostScanner())
        let tryAgain = "another imgarchive run holds \(root.path)/lock; try again when it has finished"

        var stops: [(String, PipelineError?)] = []
        func stop(_ name: String, _ body: () async throws(PipelineError) -> Void) async {
            do {
                try await body()
                stops.append((name, nil))
            } catch {
                stops.append((name, error))
            }
        }
        await stop("fetch") { () async throws(PipelineError) in
            _ = try await Pipeline.fetch(
                roots: [folder.path], urlList: nil, scanOptions: ScanOptions(), archiveLinks: nil, settings: settings,
                warn: { _ in }, logger: Self.logger)
        }
        await stop("rewrite") { () async throws(PipelineError) in
            _ = try await Pipeline.rewrite(roots: [folder.path], settings: rewrite, warn: { _ in }, logger: Self.logger)
        }
        await stop("revert") { () async throws(PipelineError) in
            _ = try await Pipeline.revert(paths: [folder.path], settings: rewrite, logger: Self.logger)
        }
        await stop("verify --repair") { () async throws(PipelineError) in
            _ = try await Pipeline.verify(settings: settings, repair: true, logger: Self.logger)
        }
        for (name, error) in stops {
            #expect(error?.code == .archiveLocked, "\(name)")
            #expect(error?.exitCode == 75, "\(name)")
            #expect(error?.message == tryAgain, "\(name)")
        }

        // The scheduled job says it did nothing: cron mails the line.
        do {
            _ = try await Pipeline.archive(
                roots: [folder.path], scanOptions: ScanOptions(), fetch: settings, linker: linker, warn: { _ in },
                logger: Self.logger)
            Issue.record("the job ran under another run's lock")
        } catch {
            #expect(error.code == .archiveLocked)
            #expect(error.exitCode == 75)
            #expect(error.message == "another imgarchive run holds \(root.path)/lock; this run did nothing (exit 75)")
        }
    }

    @Test("no archive yet: status and verify stop as an unusable archive, exit 2, naming the folder")
    func noArchive() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let settings = Self.settings(folder)
        do {
            _ = try await Pipeline.status(archiveRoot: settings.archiveRoot, paths: [])
            Issue.record("status read an archive that does not exist")
        } catch {
            #expect(error.code == .unusableArchive)
            #expect(error.exitCode == 2)
            #expect(error.message.contains(settings.archiveRoot.path))
        }
        do {
            _ = try await Pipeline.verify(settings: settings, repair: false, logger: Self.logger)
            Issue.record("verify checked an archive that does not exist")
        } catch {
            #expect(error.code == .unusableArchive)
            #expect(error.exitCode == 2)
        }
    }

    @Test("the URL list is its own source: its URLs join the posts', its bad lines are said with file and line")
    func urlListSource() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("post.md", "![](http://img.test/a.jpg) ![](http://img.test/b.jpg?x=1&amp;y=2)\n")
        try folder.write("list.txt", "http://img.test/b.jpg?x=1&amp;y=2\nhttp://img.test/c.jpg\n\nmailto:someone\n")
        var warnings: [String] = []
        let site = try SiteScan.collect(
            roots: [folder.path + "/post.md"], urlList: folder.path + "/list.txt", scanOptions: ScanOptions(),
            warn: { warnings.append($0) })
        // The post's `&amp;` is Markdown's entity (decoded); the list's line is the URL as it is.
        #expect(
            site.items.map(\.url) == [
                "http://img.test/a.jpg", "http://img.test/b.jpg?x=1&y=2", "http://img.test/b.jpg?x=1&amp;y=2",
                "http://img.test/c.jpg",
            ])
        #expect(site.items.map { $0.post != nil } == [true, true, false, false])
        #expect(site.posts.count == 1)
        #expect(warnings == ["\(folder.path)/list.txt:4: not an http(s) URL, skipped: mailto:someone"])

        do {
            _ = try SiteScan.collect(
                roots: [], urlList: folder.path + "/missing.txt", scanOptions: ScanOptions(), warn: { _ in })
            Issue.record("a missing list was read")
        } catch {
            #expect(error.code == .usage)
            #expect(error.exitCode == 2)
            #expect(error.message.hasPrefix("--urls \(folder.path)/missing.txt: cannot read the list"))
        }
    }

    @Test(
        "a post unchanged since its recorded scan is not read again; new bytes, another scanner or a diagnostic mean a new scan"
    )
    func unchangedPostsAreNotReadAgain() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("_posts/a.md", "![](http://img.test/a.jpg)\n")
        try folder.write("_posts/b.md", "<img src=\"http://img.test/b.jpg\" width=\"160\"> ![](local.png)\n")
        try folder.write("_posts/c.md", "---\ntitle: never closed\n![](http://img.test/c.jpg)\n")
        let archive = URL(fileURLWithPath: folder.path + "/archive")
        let layout = ArchiveLayout(root: archive)
        // Seen from 3 s later, every file's stamp is settled (written more than FileStamp.settleTime before).
        let later = FileStamp.now() + 3_000_000_000
        func collect(_ options: ScanOptions = ScanOptions()) async throws -> (site: SiteScan, warnings: [String]) {
            var warnings: [String] = []
            let manifest = try SQLiteManifest(layout: layout)
            defer { try? manifest.close() }
            // The records of the posts the scan finds, as the job reads them for each chunk.
            let known = try await KnownScans.read(
                manifest, layout: layout, posts: Array(SiteWalker.posts(in: [folder.path + "/_posts"]).posts))
            let site = try SiteScan.collect(
                roots: [folder.path + "/_posts"], scanOptions: options, known: known, now: later,
                warn: { warnings.append($0) })
            return (site, warnings)
        }
        // What the fetch records of a scan.
        func record(_ site: SiteScan) async throws {
            let manifest = try SQLiteManifest(layout: layout)
            defer { try? manifest.close() }
            let posts = site.posts.filter { !$0.unchanged }
            try await manifest.replaceReferences(
                zip(layout.postKeys(posts.map(\.path)), posts).map { key, post in
                    PostReferences(
                        post: key, contentSHA256: post.contentSHA256,
                        references: post.references.filter(\.remote).map(FetchPipeline.referenceRecord),
                        file: post.file,
                        scannedWith: post.scannedWith)
                }, scannedAt: Date())
        }

        let first = try await collect()
        #expect(first.site.posts.map(\.unchanged) == [false, false, false])
        #expect(first.site.posts.map { $0.file != nil } == [true, true, true])
        #expect(first.site.posts.map { $0.scannedWith != nil } == [true, true, false], "c.md's scan has a diagnostic")
        #expect(first.warnings.count == 1)
        try await record(first.site)

        let second = try await collect()
        #expect(second.site.posts.map(\.unchanged) == [true, true, false])
        #expect(second.warnings == first.warnings, "the diagnostic is told on every run")
        for (now, before) in zip(second.site.posts, first.site.posts).prefix(2) {
            #expect(now.references == before.references.filter(\.remote))
            #expect(now.contentSHA256 == before.contentSHA256)
        }
        #expect(second.site.items.map(\.url) == first.site.items.map(\.url))
        #expect(second.site.items.map(\.widths) == first.site.items.map(\.widths))

        // a.md saved anew (another file, by rename): read and scanned again.
        try Data("![](http://img.test/z.jpg)\n".utf8).write(
            to: URL(fileURLWithPath: folder.path + "/_posts/a.md"), options: .atomic)
        let third = try await collect()
        #expect(third.site.posts.map(\.unchanged) == [false, true, false])
        #expect(
            third.site.items.map(\.url) == ["http://img.test/z.jpg", "http://img.test/b.jpg", "http://img.test/c.jpg"])

        // Another scanner setup: nothing recorded stands in for its scan.
        let fourth = try await collect(ScanOptions(templates: [:]))
        #expect(fourth.site.posts.map(\.unchanged) == [false, false, false])
        #expect(fourth.site.posts[1].references.count == 2, "b.md scanned again: its local image too")
    }

    @Test("absolute links need a site, and an archive inside what the generator publishes")
    func linkPolicy() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let archive = URL(fileURLWithPath: folder.path + "/archive")
        #expect(throws: PipelineError.self) {
            try LinkPolicy.linker(archiveURL: nil, choice: .absolute, site: nil, archiveRoot: archive)
        }
        #expect(
            try LinkPolicy.linker(archiveURL: nil, choice: nil, site: nil, archiveRoot: archive)
                == ArchiveLinker(style: .relative(archiveRoot: archive.path)))
        #expect(
            try LinkPolicy.linker(archiveURL: "/blog/archive", choice: .absolute, site: nil, archiveRoot: archive)
                == ArchiveLinker(style: .prefix("/blog/archive")))
        try folder.write("hugo.toml", "baseURL = 'https://example.org/blog/'\n")
        let hugo = try #require(SiteInfo.discover(from: folder.path))
        do {
            _ = try LinkPolicy.linker(archiveURL: nil, choice: nil, site: hugo, archiveRoot: archive)
            Issue.record("absolute links to an archive Hugo does not publish")
        } catch {
            #expect(error.code == .usage)
            #expect(error.message.contains("Hugo publishes"))
        }
        let inside = URL(fileURLWithPath: folder.path + "/static/archive")
        #expect(
            try LinkPolicy.linker(archiveURL: nil, choice: nil, site: hugo, archiveRoot: inside)
                == ArchiveLinker(style: .prefix(hugo.basePath + "/archive")))
    }
}
