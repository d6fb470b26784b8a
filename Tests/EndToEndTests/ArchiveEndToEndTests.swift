import FlyingFox
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveStore

/// The scheduled job and the demo, on the built binary.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ArchiveEndToEndTests {
    static let host = "img.example.test"
    static func url(_ path: String) -> String { "http://\(host)\(path)" }

    @Test func demoArchivesTheSampleBlogWithoutANetwork() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let r = try await runImgarchive(["demo", "blog"], in: folder.path)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("rewrote blog/_posts/2019-03-12-spring-trip.md"))
        #expect(r.stdout.contains("What to look at"))
        let post = try String(contentsOfFile: folder.path + "/blog/_posts/2019-03-12-spring-trip.md", encoding: .utf8)
        #expect(post.contains("![The lake](/archive/w550/"), "the wrapped URL is one line, at the 550 px thumbnail")
        #expect(post.contains("![a photo](https://example.com/this-is-code-not-an-image.jpg)"), "code stays")
        #expect(post.contains("cover: /archive/objects/"))
        let gallery = try String(contentsOfFile: folder.path + "/blog/_posts/2020-07-01-gallery.html", encoding: .utf8)
        #expect(gallery.contains(".jpg 640w, /archive/"))
        #expect(!gallery.contains("http://i.imgur.com"))
        let scan = try await runImgarchive(["scan", "--format", "json", "blog"], in: folder.path)
        #expect(scan.jsonLines.isEmpty, "no remote image is left: \(scan.stdout)")
        #expect(folder.files(under: "blog/archive/reports").count == 1)

        // Again: the earlier demo is replaced; any other non-empty folder is refused.
        let again = try await runImgarchive(["demo", "blog"], in: folder.path)
        #expect(again.status == 0, "\(again.stderr)")
        try folder.write("other/notes.txt", "mine")
        let refused = try await runImgarchive(["demo", "other"], in: folder.path)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("not an earlier demo"))
        #expect(FileManager.default.fileExists(atPath: folder.path + "/other/notes.txt"))
    }

    final class Switch: Sendable {
        let on = Mutex(false)
    }

    @Test func secondRunFetchesNothingChangesNothingAndSaysNothing() async throws {
        let jpeg = try FixtureImages.jpeg(width: 400, height: 300, seed: 1)
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("_config.yml", "title: t\n")
            try folder.write("_posts/2024-01-01-a.md", "![a](\(Self.url("/a.jpg"))?imageView&thumbnail=200x0)\n")
            let args = ["archive", "--connect-to", server.connectTo(Self.host)]

            let first = try await runImgarchive(args, in: folder.path)
            #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
            #expect(first.stdout.contains("rewrote _posts/2024-01-01-a.md"))
            let post = try String(contentsOfFile: folder.path + "/_posts/2024-01-01-a.md", encoding: .utf8)
            #expect(post.hasPrefix("![a](/archive/w200/"))
            let hits = server.totalHits

            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 0)
            #expect(second.stdout.isEmpty, "silent when nothing changed: \(second.stdout)")
            #expect(second.stderr.isEmpty)
            #expect(server.totalHits == hits, "nothing fetched again")
            #expect(try String(contentsOfFile: folder.path + "/_posts/2024-01-01-a.md", encoding: .utf8) == post)
            #expect(folder.files(under: "archive/backups").count == 1, "a run that changed nothing takes no snapshot")
            let reports = folder.files(under: "archive/reports")
            #expect(reports.count == 2)
            let last = try #require(reports.last)
            let json =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: folder.path + "/archive/reports/" + last)))
                as? [String: Any]
            let counts = try #require(json?["counts"] as? [String: Int])
            // The rewritten post references no remote image any more: nothing to fetch, nothing to rewrite.
            #expect(counts["archived"] == 0 && counts["failed"] == 0 && counts["posts_rewritten"] == 0)

            // With a revalidation age, the job re-checks what it archived, also for posts it already rewrote.
            try folder.write("imgarchive.yml", "revalidate-after: 0s\n")
            let third = try await runImgarchive(args, in: folder.path)
            #expect(third.status == 0, "\(third.stderr)")
            #expect(server.hitCount("/a.jpg") == 2, "the original was asked again (once by the first run, once now)")
            #expect(try String(contentsOfFile: folder.path + "/_posts/2024-01-01-a.md", encoding: .utf8) == post)
            let manifest = try SQLiteManifest(
                layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
            #expect(try await manifest.runs().map(\.exitCode) == [0, 0, 0])
            try manifest.close()

            // A post edited since is news for the manifest: that run takes a snapshot.
            try folder.write("imgarchive.yml", "")
            let snapshots = folder.files(under: "archive/backups").count
            try folder.write("_posts/2024-01-01-a.md", post + "More text.\n")
            let fourth = try await runImgarchive(args, in: folder.path)
            #expect(fourth.status == 0, "\(fourth.stderr)")
            #expect(folder.files(under: "archive/backups").count == snapshots + 1)
        }
    }

    @Test func aSecondRunAtOnceExits75() async throws {
        let jpeg = try FixtureImages.jpeg(width: 64, height: 48, seed: 2)
        let server = try await ImageServer.start([
            "/slow.jpg": { _ in
                try? await Task.sleep(for: .seconds(3))
                return reply(200, ["Content-Type": "image/jpeg"], jpeg)
            }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("p.md", "![a](\(Self.url("/slow.jpg")))\n")
            let args = ["archive", "--connect-to", server.connectTo(Self.host)]
            async let first = runImgarchive(args, in: folder.path)
            // Wait until the first run holds the lock (its request reached the server).
            for _ in 0..<200 where server.hitCount("/slow.jpg") == 0 { try await Task.sleep(for: .milliseconds(25)) }
            try #require(
                server.hitCount("/slow.jpg") > 0, "the first run's request did not reach the server within 5 s")
            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 75)
            #expect(second.stderr.contains("another imgarchive run holds"))
            #expect(try await first.status == 0)
        }
    }

    @Test func aBadConfigurationKeyNamesTheFileTheLineAndTheFix() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("imgarchive.yml", "jobs: 4\nrevalidate_after: 30d\n")
        try folder.write("p.md", "![a](\(Self.url("/a.jpg")))\n")
        let r = try await runImgarchive(["archive"], in: folder.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("imgarchive.yml:2"), "\(r.stderr)")
        #expect(r.stderr.contains("did you mean 'revalidate-after'"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/archive"), "nothing is done")
    }

    @Test func whenTheServerStartsFailingThosePostsWaitAndStatusSaysWhy() async throws {
        let jpeg = try FixtureImages.jpeg(width: 120, height: 90, seed: 3)
        let other = try FixtureImages.jpeg(width: 120, height: 90, seed: 4)
        let broken = Switch()
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) },
            "/b.jpg": { _ in
                broken.on.withLock { $0 }
                    ? reply(503, [:], Array("down".utf8)) : reply(200, ["Content-Type": "image/jpeg"], other)
            },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("_config.yml", "title: t\n")
            try folder.write("_posts/2024-01-01-a.md", "![a](\(Self.url("/a.jpg")))\n")
            let args = ["archive", "--retries", "0", "--connect-to", server.connectTo(Self.host)]
            let first = try await runImgarchive(args, in: folder.path)
            #expect(first.status == 0, "\(first.stderr)")

            broken.on.withLock { $0 = true }
            let waiting = "![a](\(Self.url("/a.jpg"))) and ![b](\(Self.url("/b.jpg")))\n"
            try folder.write("_posts/2024-02-01-b.md", waiting)
            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 1)
            #expect(second.stdout.contains("new failure http-5xx: \(Self.url("/b.jpg"))"), "\(second.stdout)")
            #expect(second.stdout.contains("waiting: _posts/2024-02-01-b.md"))
            #expect(
                try String(contentsOfFile: folder.path + "/_posts/2024-02-01-b.md", encoding: .utf8) == waiting,
                "a post with an image that failed is not rewritten")

            let status = try await runImgarchive(["status", "--format", "json"], in: folder.path)
            #expect(status.status == 1)
            let failed = status.jsonLines.filter { $0["state"] as? String == "failed" }
            #expect(failed.count == 1)
            #expect(failed.first?["url"] as? String == Self.url("/b.jpg"))
            #expect(failed.first?["errorClass"] as? String == "http-5xx")

            // Still failing the next night: exit 1, but no mail (nothing new).
            let third = try await runImgarchive(args, in: folder.path)
            #expect(third.status == 1)
            #expect(third.stdout.isEmpty, "\(third.stdout)")

            // Back up: the waiting post is rewritten.
            broken.on.withLock { $0 = false }
            let fourth = try await runImgarchive(args, in: folder.path)
            #expect(fourth.status == 0, "\(fourth.stdout) \(fourth.stderr)")
            #expect(fourth.stdout.contains("rewrote _posts/2024-02-01-b.md"))
        }
    }

    @Test func anOriginGoneAfterArchivingKeepsTheCopyAndTheJobSucceeds() async throws {
        let jpeg = try FixtureImages.jpeg(width: 120, height: 90, seed: 6)
        let gone = Switch()
        let server = try await ImageServer.start([
            "/a.jpg": { _ in
                gone.on.withLock { $0 }
                    ? reply(404, [:], Array("gone".utf8)) : reply(200, ["Content-Type": "image/jpeg"], jpeg)
            }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("p.md", "![a](\(Self.url("/a.jpg")))\n")
            let fetch = try await runImgarchive(
                ["fetch", "--connect-to", server.connectTo(Self.host), "p.md"], in: folder.path)
            #expect(fetch.status == 0)
            gone.on.withLock { $0 = true }
            try folder.write("imgarchive.yml", "revalidate-after: 0s\n")
            let args = ["archive", "--retries", "0", "--connect-to", server.connectTo(Self.host)]
            let first = try await runImgarchive(args, in: folder.path)
            #expect(first.status == 0, "the copy is kept: \(first.stdout) \(first.stderr)")
            #expect(first.stdout.contains("origin gone, archived copy kept: \(Self.url("/a.jpg"))"), "\(first.stdout)")
            #expect(first.stdout.contains("rewrote p.md"))
            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 0)
            #expect(second.stdout.isEmpty, "told once: \(second.stdout)")
        }
    }

    @Test func linksUnderAnArchiveURLAreNotFetchedOrRewrittenAgain() async throws {
        let jpeg = try FixtureImages.jpeg(width: 120, height: 90, seed: 7)
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("p.md", "![a](\(Self.url("/a.jpg")))\n")
            try folder.write("imgarchive.yml", "archive-url: http://\(Self.host)/archive\n")
            let args = ["archive", "--connect-to", server.connectTo(Self.host)]
            let first = try await runImgarchive(args, in: folder.path)
            #expect(first.status == 0, "\(first.stderr)")
            let post = try String(contentsOfFile: folder.path + "/p.md", encoding: .utf8)
            #expect(post.hasPrefix("![a](http://\(Self.host)/archive/objects/"))
            let hits = server.totalHits
            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 0)
            #expect(second.stdout.isEmpty, "\(second.stdout)")
            #expect(server.totalHits == hits, "its own links are not fetched")
            #expect(try String(contentsOfFile: folder.path + "/p.md", encoding: .utf8) == post)
        }
    }
}
