import FlyingFox
import Foundation
import ImgArchiveImage
import Synchronization
import Testing

@testable import ImgArchiveStore

/// `imgarchive status` and `imgarchive verify [--repair]` on the built binary, after a real fetch from a real
/// HTTP server on 127.0.0.1 (the posts' CDN host routed there with `--connect-to`).
@Suite(.serialized, .timeLimit(.minutes(5))) struct StatusVerifyTests {
    static let host = "img.example-cdn.com"

    /// Switches what the server sends for `/a.jpg`: the archived bytes, or a re-encoded image.
    final class Switch: Sendable {
        private let state = Mutex(false)
        var on: Bool { state.withLock { $0 } }
        func set(_ value: Bool) { state.withLock { $0 = value } }
    }

    struct Fixture {
        let folder: TemporaryFolder
        let server: ImageServer
        let photo: [UInt8]
        let png: [UInt8]
        let serveOther: Switch
        var archive: String { folder.path + "/archive" }
        var connect: [String] { ["--connect-to", server.connectTo(StatusVerifyTests.host)] }
        static func cdn(_ path: String) -> String { "http://\(StatusVerifyTests.host)\(path)" }

        func objectPath(of bytes: [UInt8], ext: String) -> String {
            let sha = ArchiveStore.sha256(of: bytes)
            return "objects/\(sha.prefix(2))/\(sha).\(ext)"
        }

        func manifest() throws -> SQLiteManifest {
            try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
        }
    }

    /// Three posts: `a.md` shows a JPEG at 200 px (a thumbnail is made); `b.md` has a PNG and an image the
    /// server answers 404 for; `c.md` has only the PNG.
    static func makeFixture() async throws -> Fixture {
        let photo = try FixtureImages.jpeg(width: 480, height: 360, seed: 4)
        let other = try FixtureImages.jpeg(width: 480, height: 360, seed: 5)
        let png = try FixtureImages.png(width: 160, height: 120, seed: 6)
        let serveOther = Switch()
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], serveOther.on ? other : photo) },
            "/b.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
            "/gone.jpg": { _ in reply(404, [:], Array("not here".utf8)) },
        ])
        let folder = try TemporaryFolder()
        try folder.write("_posts/a.md", "# A\n\n<img width=\"200\" src=\"\(Fixture.cdn("/a.jpg"))\">\n")
        try folder.write("_posts/b.md", "![b](\(Fixture.cdn("/b.png")))\n\n![gone](\(Fixture.cdn("/gone.jpg")))\n")
        try folder.write("_posts/c.md", "intro\n\n![b](\(Fixture.cdn("/b.png")))\n")
        return Fixture(folder: folder, server: server, photo: photo, png: png, serveOther: serveOther)
    }

    func fetch(_ f: Fixture) async throws -> RunResult {
        try await runImgarchive(["fetch", "--retries", "0"] + f.connect + ["."], in: f.folder.path)
    }

    @Test func statusShowsFailuresPerPostAndJSONLines() async throws {
        let f = try await Self.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {

            let none = try await runImgarchive(["status"], in: f.folder.path)
            #expect(none.status == 2)
            #expect(none.stderr.contains("no archive at") && none.stderr.contains("run imgarchive fetch first"))
            #expect(!FileManager.default.fileExists(atPath: f.archive), "status creates no archive")

            #expect(try await fetch(f).status == 1)
            // What the manifest can also hold: a post recorded but whose URL was never tried (a run that died),
            // and a rewrite of c.md recorded after its scan (the rewrite command's bookkeeping).
            let manifest = try f.manifest()
            try await manifest.replaceReferences(
                post: "_posts/d.md", contentSHA256: String(repeating: "0", count: 64), scannedAt: Date(),
                references: [
                    ReferenceRecord(
                        rangeStart: 5, rangeEnd: 30, line: 3, column: 6, kind: "markdown-inline",
                        written: Fixture.cdn("/new.jpg"), url: Fixture.cdn("/new.jpg"), origin: nil, width: nil,
                        wrapped: false)
                ])
            let cRefs = try await manifest.references(post: "_posts/c.md")
            try #require(cRefs.count == 1)
            let cGeneration = try await manifest.recordRewrite(
                post: "_posts/c.md", inputSHA256: String(repeating: "0", count: 64),
                outputSHA256: String(repeating: "1", count: 64),
                rewrites: [
                    RewriteRecord(
                        rangeStart: cRefs[0].rangeStart, rangeEnd: cRefs[0].rangeStart + 20,
                        replacement: "/archive/x.png",
                        original: Data(cRefs[0].written.utf8), url: cRefs[0].url,
                        rewrittenAt: Date().addingTimeInterval(1))
                ], at: Date().addingTimeInterval(1))
            try await manifest.markRewriteApplied(post: "_posts/c.md", generation: cGeneration)
            try manifest.close()

            // Read-only: no lock needed, so it works while a run holds the archive.
            let lock = try ArchiveLock.acquire(URL(fileURLWithPath: f.archive))
            let text = try await runImgarchive(["status"], in: f.folder.path)
            lock.release()
            #expect(text.status == 1, "a reference failed: \(text.stderr)")
            #expect(text.stdout.contains("_posts/b.md\n"))
            #expect(text.stdout.contains("failed      \(Fixture.cdn("/gone.jpg"))"))
            #expect(text.stdout.contains("http-4xx (HTTP 404)"))
            #expect(text.stdout.contains("_posts/d.md\n"))
            #expect(text.stdout.contains("not-fetched \(Fixture.cdn("/new.jpg"))"))
            #expect(!text.stdout.contains("_posts/a.md"), "a post with everything archived is not listed")
            #expect(!text.stdout.contains("_posts/c.md"), "a rewritten post is not listed")
            #expect(text.stdout.contains("4 posts, 5 references: 1 rewritten, 2 archived, 1 failed, 1 not-fetched"))

            let all = try await runImgarchive(["status", "--all"], in: f.folder.path)
            #expect(all.stdout.contains("_posts/a.md\n") && all.stdout.contains("_posts/c.md\n"))
            #expect(all.stdout.contains(f.objectPath(of: f.photo, ext: "jpg")))
            #expect(all.stdout.contains("      linked as /archive/x.png\n"), "where the rewritten post points now")

            let json = try await runImgarchive(["status", "--format", "json"], in: f.folder.path)
            #expect(json.status == 1)
            let lines = json.jsonLines
            #expect(lines.count == 5)
            func line(_ post: String, _ url: String) -> [String: Any]? {
                lines.first { $0["post"] as? String == post && $0["url"] as? String == url }
            }
            let gone = try #require(line("_posts/b.md", Fixture.cdn("/gone.jpg")))
            #expect(gone["state"] as? String == "failed")
            #expect(gone["errorClass"] as? String == "http-4xx")
            #expect(gone["httpStatus"] as? Int == 404)
            #expect(gone["line"] as? Int == 3 && gone["column"] is Int)
            #expect((gone["message"] as? String)?.isEmpty == false)
            let a = try #require(line("_posts/a.md", Fixture.cdn("/a.jpg")))
            #expect(a["state"] as? String == "archived")
            let objectPath = try #require(a["objectPath"] as? String)
            #expect(objectPath == f.objectPath(of: f.photo, ext: "jpg"))
            #expect(FileManager.default.fileExists(atPath: f.archive + "/" + objectPath))
            let c = try #require(line("_posts/c.md", Fixture.cdn("/b.png")))
            #expect(c["state"] as? String == "rewritten")
            #expect(c["link"] as? String == "/archive/x.png")
            #expect(a["link"] is NSNull, "an archived reference not rewritten links nowhere yet")
            #expect(line("_posts/d.md", Fixture.cdn("/new.jpg"))?["state"] as? String == "not-fetched")

            // Only the posts under the paths given; a.md has nothing failed.
            let one = try await runImgarchive(["status", "--format", "json", "_posts/a.md"], in: f.folder.path)
            #expect(one.status == 0)
            #expect(one.jsonLines.count == 1)
            let folder = try await runImgarchive(["status", "--format", "json", "_posts"], in: f.folder.path)
            #expect(folder.jsonLines.count == 5)

            // A post scanned again after its rewrite lists only what is still remote (nothing, here); the rewrite
            // table still reports the rewritten reference, without a position.
            let again = try f.manifest()
            let now = Date()
            let aGeneration = try await again.recordRewrite(
                post: "_posts/a.md", inputSHA256: String(repeating: "0", count: 64),
                outputSHA256: String(repeating: "2", count: 64),
                rewrites: [
                    RewriteRecord(
                        rangeStart: 20, rangeEnd: 52, replacement: "/archive/a.jpg",
                        original: Data(Fixture.cdn("/a.jpg").utf8),
                        url: Fixture.cdn("/a.jpg"), rewrittenAt: now)
                ], at: now)
            try await again.markRewriteApplied(post: "_posts/a.md", generation: aGeneration)
            try await again.replaceReferences(
                post: "_posts/a.md", contentSHA256: String(repeating: "3", count: 64),
                scannedAt: now.addingTimeInterval(5),
                references: [])
            try again.close()
            let rescanned = try await runImgarchive(["status", "--format", "json", "_posts/a.md"], in: f.folder.path)
            #expect(rescanned.status == 0)
            let only = try #require(rescanned.jsonLines.first)
            #expect(rescanned.jsonLines.count == 1)
            #expect(only["state"] as? String == "rewritten" && only["url"] as? String == Fixture.cdn("/a.jpg"))
            #expect(only["line"] is NSNull)
            #expect(only["objectPath"] as? String == f.objectPath(of: f.photo, ext: "jpg"))
            #expect(only["link"] as? String == "/archive/a.jpg")
        }
    }

    @Test func verifyFindsDamageAndRepairRestoresIt() async throws {
        let f = try await Self.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            #expect(try await fetch(f).status == 1)

            let running = try ArchiveLock.acquire(URL(fileURLWithPath: f.archive))
            let clean = try await runImgarchive(["verify"], in: f.folder.path)
            running.release()
            #expect(clean.status == 0, "verify without --repair needs no lock: \(clean.stdout)\(clean.stderr)")
            #expect(
                clean.stdout.contains(
                    "checked 2 originals and 1 thumbnails: 0 missing, 0 corrupt, 0 unrecorded; manifest intact"))

            let photoPath = f.objectPath(of: f.photo, ext: "jpg")
            let pngPath = f.objectPath(of: f.png, ext: "png")
            let thumbnails = f.folder.files(under: "archive/w200")
            try #require(thumbnails.count == 1)
            let thumbPath = "w200/" + thumbnails[0]
            let thumbBytes = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/" + thumbPath))
            let pngBytes = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/" + pngPath))
            try FileManager.default.removeItem(atPath: f.archive + "/" + photoPath)
            var damaged = thumbBytes
            damaged[damaged.count / 2] ^= 0xFF
            try damaged.write(to: URL(fileURLWithPath: f.archive + "/" + thumbPath))
            var damagedPNG = pngBytes
            damagedPNG[damagedPNG.count - 5] ^= 0x01  // same size: a bit flip
            try damagedPNG.write(to: URL(fileURLWithPath: f.archive + "/" + pngPath))
            let hitsBefore = f.server.hitCount("/a.jpg")

            let broken = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(broken.status == 1)
            #expect(broken.stdout.contains("missing original \(photoPath)\n"))
            #expect(broken.stdout.contains("corrupt thumbnail \(thumbPath)\n"))
            #expect(broken.stdout.contains("corrupt original \(pngPath)\n"))
            #expect(broken.stdout.contains("from \(Fixture.cdn("/a.jpg"))"))
            #expect(broken.stdout.contains("from \(Fixture.cdn("/b.png"))"))
            #expect(broken.stdout.contains("1 missing, 2 corrupt"))
            #expect(f.server.hitCount("/a.jpg") == hitsBefore, "verify alone fetches nothing")

            let json = try await runImgarchive(["verify", "--format", "json"], in: f.folder.path)
            #expect(json.status == 1)
            let problems = json.jsonLines.filter { $0["file"] != nil }
            #expect(problems.count == 3)
            let thumb = try #require(problems.first { $0["file"] as? String == thumbPath })
            #expect(thumb["kind"] as? String == "thumbnail" && thumb["problem"] as? String == "corrupt")
            #expect(thumb["actualSHA256"] as? String == ArchiveStore.sha256(of: [UInt8](damaged)))
            #expect(thumb["objectPath"] as? String == photoPath)

            let lock = try ArchiveLock.acquire(URL(fileURLWithPath: f.archive))
            let locked = try await runImgarchive(["verify", "--repair"] + f.connect, in: f.folder.path)
            #expect(locked.status == 75)
            #expect(locked.stderr.contains("lock"))
            lock.release()

            let repaired = try await runImgarchive(["verify", "--repair"] + f.connect, in: f.folder.path)
            #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
            #expect(repaired.stdout.contains("3 repaired"))
            #expect(f.server.hitCount("/a.jpg") == hitsBefore + 1)
            let restored = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/" + photoPath))
            #expect([UInt8](restored) == f.photo)
            let restoredPNG = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/" + pngPath))
            #expect([UInt8](restoredPNG) == f.png)
            let rebuilt = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/" + thumbPath))
            #expect(rebuilt != damaged)
            #expect(try imageInfo(path: f.archive + "/" + thumbPath).width == 200)
            // The corrupt files were moved aside, not deleted.
            let quarantined = f.folder.files(under: "archive/quarantine")
            #expect(quarantined.count == 2)
            #expect(quarantined.contains { $0.hasSuffix("/" + thumbPath) })
            #expect(quarantined.contains { $0.hasSuffix("/" + pngPath) })
            if let q = quarantined.first(where: { $0.hasSuffix("/" + pngPath) }) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: f.archive + "/quarantine/" + q)) == damagedPNG)
            }
            #expect(f.folder.files(under: "archive/tmp").isEmpty)

            let after = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(after.status == 0, "\(after.stdout)")
        }
    }

    @Test func repairKeepsNothingWhenTheServerNowSendsOtherBytes() async throws {
        let f = try await Self.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            #expect(try await fetch(f).status == 1)
            let photoPath = f.objectPath(of: f.photo, ext: "jpg")
            try FileManager.default.removeItem(atPath: f.archive + "/" + photoPath)
            f.serveOther.set(true)

            let r = try await runImgarchive(["verify", "--repair", "--format", "json"] + f.connect, in: f.folder.path)
            #expect(r.status == 1)
            let problems = r.jsonLines.filter { $0["file"] != nil }
            let photo = try #require(problems.first { $0["file"] as? String == photoPath })
            #expect(photo["repair"] as? String == "failed")
            let why = photo["repairMessage"] as? String ?? ""
            #expect(
                why.contains("the server now serves different bytes") && why.contains("imgarchive fetch --revalidate"))
            // Its thumbnail is intact, so only the original is listed.
            #expect(problems.count == 1)
            #expect(
                !FileManager.default.fileExists(atPath: f.archive + "/" + photoPath), "other bytes are not committed")
            #expect(f.folder.files(under: "archive/objects").count == 1)
            #expect(f.folder.files(under: "archive/tmp").isEmpty)

            let text = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(text.status == 1)
            #expect(text.stdout.contains("missing original \(photoPath)"))
        }
    }
}
