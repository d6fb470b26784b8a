import FlyingFox
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveImage
@testable import ImgArchiveStore

/// `imgarchive fetch` as a user runs it: the built binary, a site in a temporary folder, real-looking CDN host
/// names routed with `--connect-to` to a real HTTP server on 127.0.0.1, real JPEG and PNG bytes.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FetchEndToEndTests {
    static let host = "cms-bucket.ws.126.net"

    struct Fixture {
        let folder: TemporaryFolder
        let server: ImageServer
        let photo: [UInt8]
        let png: [UInt8]
        var archive: String { folder.path + "/archive" }
        func cdn(_ path: String) -> String { "http://\(FetchEndToEndTests.host)\(path)" }
        var connect: [String] { ["--connect-to", server.connectTo(FetchEndToEndTests.host)] }
    }

    /// A site whose one post references: a CDN thumbnail whose original exists; a thumbnail whose original is
    /// gone (only the URL as written works); one PNG under two URLs; an HTML page served as an image; and an
    /// image inside a code block.
    static func makeFixture(extraRoutes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]) async throws
        -> Fixture
    {
        let photo = try FixtureImages.jpeg(width: 640, height: 480, seed: 1)
        let other = try FixtureImages.jpeg(width: 500, height: 400, seed: 2)
        let png = try FixtureImages.png(width: 320, height: 240, seed: 3)
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [
            "/photos/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], photo) },
            // The original is gone; only the resized URL answers.
            "/photos/b.jpg": { request in
                request.query.contains { $0.name.hasPrefix("imageView") }
                    ? reply(200, ["Content-Type": "image/jpeg"], other) : reply(404, [:], Array("gone".utf8))
            },
            "/dup1.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
            "/dup2.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
            "/page.jpg": { _ in
                reply(200, ["Content-Type": "image/jpeg"], Array("<!doctype html><p>hotlinking</p>".utf8))
            },
            "/code.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], photo) },
        ]
        for (k, v) in extraRoutes { routes[k] = v }
        let server = try await ImageServer.start(routes)
        let folder = try TemporaryFolder()
        let f = Fixture(folder: folder, server: server, photo: photo, png: png)
        try folder.write(
            "_posts/2024-01-01-a.md",
            """
            ---
            title: A
            cover: \(f.cdn("/dup1.png"))
            ---
            ![a](\(f.cdn("/photos/a.jpg"))?imageView&thumbnail=300x0)

            <img width="200" src="\(f.cdn("/photos/b.jpg"))?imageView&amp;thumbnail=400x0">

            ![dup](\(f.cdn("/dup2.png")))

            ![html](\(f.cdn("/page.jpg")))

            ```
            ![code](\(f.cdn("/code.jpg")))
            ```

            """)
        return f
    }

    func statuses(_ r: RunResult) -> [String: String] {
        Dictionary(
            r.jsonLines.compactMap { line in
                (line["url"] as? String).map { ($0, line["status"] as? String ?? "") }
            }, uniquingKeysWith: { a, _ in a })
    }

    @Test func fetchArchivesOriginalsFallsBackAndMakesThumbnails() async throws {
        let f = try await Self.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {

            let r = try await runImgarchive(
                ["fetch", "--format", "json", "--retries", "0"] + f.connect + ["."], in: f.folder.path)
            #expect(r.status == 1, "one reference cannot be archived: \(r.stderr)")
            let lines = r.jsonLines
            let byURL = Dictionary(
                lines.compactMap { l in (l["url"] as? String).map { ($0, l) } }, uniquingKeysWith: { a, _ in a })
            let a = try #require(byURL[f.cdn("/photos/a.jpg") + "?imageView&thumbnail=300x0"])
            #expect(a["status"] as? String == "archived")
            #expect(a["archived_from"] as? String == f.cdn("/photos/a.jpg"), "the original comes first")
            let b = try #require(byURL[f.cdn("/photos/b.jpg") + "?imageView&thumbnail=400x0"])
            #expect(b["status"] as? String == "archived")
            #expect(b["archived_from"] as? String == f.cdn("/photos/b.jpg") + "?imageView&thumbnail=400x0")
            let page = try #require(byURL[f.cdn("/page.jpg")])
            #expect(page["status"] as? String == "failed")
            #expect(page["error_class"] as? String == "not-an-image")
            #expect(f.server.hitCount("/code.jpg") == 0, "images in code blocks are not fetched")
            let summary = try #require(lines.last?["summary"] as? [String: Any])
            #expect(summary["archived"] as? Int == 4)
            #expect(summary["failed"] as? Int == 1)

            // Objects: a.jpg, b.jpg (as written) and the PNG once, although two URLs gave it.
            let objects = f.folder.files(under: "archive/objects")
            #expect(objects.count == 3)
            #expect(objects.filter { $0.hasSuffix(".png") }.count == 1)
            let pngSHA = objects.first { $0.hasSuffix(".png") }.map {
                ($0 as NSString).lastPathComponent.split(separator: ".")[0]
            }
            #expect(pngSHA.map(String.init) == ArchiveStore.sha256(of: f.png))
            for object in objects {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: f.archive + "/objects/" + object))
                #expect(
                    ArchiveStore.sha256(of: [UInt8](bytes)) + "." + (object as NSString).pathExtension
                        == (object as NSString).lastPathComponent)
            }
            // Thumbnails at the widths the post shows: 300 from the URL, 200 from the <img width> hint.
            let w300 = f.folder.files(under: "archive/w300")
            let w200 = f.folder.files(under: "archive/w200")
            #expect(w300.count == 1 && w200.count == 1)
            if let t = w300.first { #expect(try imageInfo(path: f.archive + "/w300/" + t).width == 300) }
            if let t = w200.first { #expect(try imageInfo(path: f.archive + "/w200/" + t).width == 200) }
            #expect(f.folder.files(under: "archive/tmp").isEmpty)

            let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: f.archive)))
            #expect(try await manifest.integrityCheck())
            #expect(try await manifest.references(post: "_posts/2024-01-01-a.md").count == 5)
            // Each object's size as its file's header gives it (the fetch reads it from the body's first block).
            let objectRecords = try await manifest.objects()
            #expect(objectRecords.count == 3)
            for o in objectRecords {
                let info = try imageInfo(path: f.archive + "/" + o.path)
                #expect(o.width == info.width && o.height == info.height, "\(o.path)")
            }
            #expect(
                Set(objectRecords.map { "\($0.width ?? 0)x\($0.height ?? 0)" }) == ["640x480", "500x400", "320x240"])
            try manifest.close()
        }
    }

    @Test func secondRunFetchesNothingNewAndRevalidationUses304() async throws {
        let etagged = try FixtureImages.jpeg(width: 100, height: 80, seed: 9)
        let f = try await Self.makeFixture(extraRoutes: [
            "/etag.jpg": { request in
                request.headers[HTTPHeader("If-None-Match")] == "\"v1\""
                    ? reply(304, ["ETag": "\"v1\""])
                    : reply(200, ["Content-Type": "image/jpeg", "ETag": "\"v1\""], etagged)
            }
        ])
        defer { f.folder.remove() }
        try await serving(f.server) {
            try f.folder.write("_posts/b.md", "![e](\(f.cdn("/etag.jpg")))\n")
            let args = ["fetch", "--format", "json", "--retries", "0"] + f.connect
            _ = try await runImgarchive(args, in: f.folder.path)
            let hitsAfterFirst = f.server.hitCount("/photos/a.jpg")
            #expect(hitsAfterFirst == 1)

            let second = try await runImgarchive(args, in: f.folder.path)
            let s = statuses(second)
            #expect(s[f.cdn("/photos/a.jpg") + "?imageView&thumbnail=300x0"] == "already-archived")
            #expect(s[f.cdn("/etag.jpg")] == "already-archived")
            #expect(s[f.cdn("/page.jpg")] == "failed", "failures are tried again")
            // A URL archived before still names its object, as the run that archived it did.
            let objects = Dictionary(
                second.jsonLines.compactMap { line in
                    (line["url"] as? String).flatMap { url in (line["object"] as? String).map { (url, $0) } }
                }, uniquingKeysWith: { a, _ in a })
            let etagObject = try #require(objects[f.cdn("/etag.jpg")])
            #expect(f.folder.files(under: "archive/objects").contains(String(etagObject.dropFirst("objects/".count))))
            #expect(f.server.hitCount("/photos/a.jpg") == hitsAfterFirst)

            let third = try await runImgarchive(args + ["--revalidate"], in: f.folder.path)
            #expect(statuses(third)[f.cdn("/etag.jpg")] == "not-modified")
            #expect(f.folder.files(under: "archive/objects").count == 4)
        }
    }

    @Test func urlListDryRunAndLock() async throws {
        let f = try await Self.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            try f.folder.write("list.txt", "# images\n\(f.cdn("/photos/a.jpg"))\n\nnot a url\n\(f.cdn("/dup1.png"))\n")

            let dry = try await runImgarchive(
                ["fetch", "--dry-run", "--urls", "list.txt"] + f.connect, in: f.folder.path)
            #expect(dry.status == 0)
            #expect(dry.stdout.contains("would fetch \(f.cdn("/photos/a.jpg"))"))
            #expect(!FileManager.default.fileExists(atPath: f.archive), "a dry run writes nothing")
            #expect(f.server.totalHits == 0)

            let lock = try ArchiveLock.acquire(URL(fileURLWithPath: f.archive))
            let locked = try await runImgarchive(["fetch", "--urls", "list.txt"] + f.connect, in: f.folder.path)
            #expect(locked.status == 75)
            #expect(locked.stderr.contains("lock"))
            lock.release()

            let r = try await runImgarchive(
                ["fetch", "--urls", "list.txt", "--format", "json"] + f.connect, in: f.folder.path)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("list.txt:4: not an http(s) URL"))
            #expect(statuses(r).values.sorted() == ["archived", "archived"])
        }
    }

    /// The issue's politeness proof, through the command: 500 URLs over 3 hosts with `--jobs 16 --per-host 4`.
    /// Each host is its own server, which counts the requests it is serving at once (HTTP/1.1 without
    /// pipelining: one per connection); it never sees more than 4, and all 500 URLs are archived. Answers take
    /// 40 ms, so the 16 jobs would crowd every host past 4 (5 or 6 at once with `--per-host 8`) if the limit
    /// did not hold.
    @Test func fiveHundredURLsOverThreeHostsNeverExceedFourAtOnce() async throws {
        let images = try (0..<10).map { try FixtureImages.jpeg(width: 24, height: 16, seed: 400 + $0) }
        let hosts = ["a.polite.test", "b.polite.test", "c.polite.test"]
        let busy = hosts.map { _ in InFlight() }
        var servers: [ImageServer] = []
        for index in hosts.indices {
            let counter = busy[index]
            var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
            for n in 0..<500 where n % 3 == index {
                let bytes = images[n % images.count]
                routes["/\(n).jpg"] = { _ in
                    counter.enter()
                    try? await Task.sleep(for: .milliseconds(40))
                    counter.leave()
                    return reply(200, ["Content-Type": "image/jpeg"], bytes)
                }
            }
            servers.append(try await ImageServer.start(routes))
        }
        let started = servers
        defer { Task { for server in started { await server.stop() } } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("list.txt", (0..<500).map { "http://\(hosts[$0 % 3])/\($0).jpg" }.joined(separator: "\n"))
        let connect = hosts.indices.flatMap { ["--connect-to", servers[$0].connectTo(hosts[$0])] }
        let run = try await runImgarchive(
            ["fetch", "--urls", "list.txt", "--jobs", "16", "--per-host", "4"] + connect, in: folder.path)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        for index in hosts.indices {
            let most = busy[index].most
            #expect(most <= 4, "\(hosts[index]) served \(most) requests at once")
            #expect(most >= 3, "\(hosts[index]) was fetched from in parallel, up to its limit")
        }
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
        defer { try? manifest.close() }
        #expect(try await manifest.allURLRecords().filter { $0.status == .archived }.count == 500)
        #expect(try await manifest.objects().count == images.count, "the same bytes are stored once")
    }

    /// A host profile from `imgarchive.yml` reaches the requests, and a 403 climbs the Referer ladder in the
    /// issue's order: no Referer, then the image host's own origin, then the site's URL.
    @Test func hostProfilesAndTheRefererLadderComeFromTheConfiguration() async throws {
        let image = try FixtureImages.jpeg(width: 24, height: 16, seed: 500)
        let seen = Mutex<[String: [String]]>([:])
        @Sendable func headers(_ request: HTTPRequest) -> String {
            let referer = request.headers[HTTPHeader("Referer")] ?? "-"
            return referer + " | " + (request.headers[HTTPHeader("User-Agent")] ?? "-")
        }
        let server = try await ImageServer.start([
            "/weibo.jpg": { request in
                seen.withLock { $0["weibo", default: []].append(headers(request)) }
                return reply(200, ["Content-Type": "image/jpeg"], image)
            },
            "/guarded.jpg": { request in
                seen.withLock { $0["guarded", default: []].append(headers(request)) }
                let ok = request.headers[HTTPHeader("Referer")] == "https://blog.example.org/"
                return ok ? reply(200, ["Content-Type": "image/jpeg"], image) : reply(403, [:], Array("no".utf8))
            },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write(
                "imgarchive.yml",
                """
                site-url: https://blog.example.org/
                hosts:
                  "*.sinaimg.cn":
                    referer: https://weibo.com/
                    user-agent: Mozilla/5.0 (test) imgarchive
                """)
            try folder.write("list.txt", "http://wx1.sinaimg.cn/weibo.jpg\nhttp://img.guard.test/guarded.jpg\n")
            let run = try await runImgarchive(
                [
                    "fetch", "--urls", "list.txt", "--connect-to", server.connectTo("wx1.sinaimg.cn"), "--connect-to",
                    server.connectTo("img.guard.test"),
                ], in: folder.path)
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let requests = seen.withLock { $0 }
            #expect(requests["weibo"] == ["https://weibo.com/ | Mozilla/5.0 (test) imgarchive"])
            let guarded = try #require(requests["guarded"])
            // No profile: the first request has no Referer, so the ladder goes on from the origin.
            #expect(
                guarded.map { String($0.prefix(while: { $0 != " " })) } == [
                    "-", "http://img.guard.test/", "https://blog.example.org/",
                ])
            #expect(guarded.allSatisfy { $0.contains("imgarchive/") }, "the default User-Agent names imgarchive")
        }
    }

    @Test func badOptionsAndConfigurationExitTwo() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(try await runImgarchive(["fetch", "--jobs", "0"], in: folder.path).status == 2)
        #expect(try await runImgarchive(["fetch", "--connect-to", "nonsense"], in: folder.path).status == 2)
        try folder.write("imgarchive.yml", "jobs: 4\nper_host: 2\n")
        let r = try await runImgarchive(["fetch"], in: folder.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("imgarchive.yml:2: unknown key 'per_host' (did you mean 'per-host'?)"))
    }
}

/// How many requests a server is serving at once, and the most it ever served at once.
private final class InFlight: Sendable {
    private let state = Mutex((now: 0, most: 0))

    func enter() {
        state.withLock {
            $0.now += 1
            $0.most = max($0.most, $0.now)
        }
    }

    func leave() { state.withLock { $0.now -= 1 } }

    var most: Int { state.withLock { $0.most } }
}
