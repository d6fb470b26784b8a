import FlyingFox
import Foundation
import Testing

@testable import ImgArchiveStore

/// `imgarchive rewrite` on the built binary: a fixture site with every reference kind and encoding oddity,
/// images fetched from a real HTTP server on 127.0.0.1 under real-looking CDN host names.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RewriteEndToEndTests {
    static let host = "cms-bucket.ws.126.net"
    static func cdn(_ path: String) -> String { "http://\(host)\(path)" }

    struct Site: Stoppable {
        let folder: TemporaryFolder
        let server: ImageServer
        /// The posts as first written, by path relative to the site.
        let originals: [String: [UInt8]]
        var connect: [String] { ["--connect-to", server.connectTo(RewriteEndToEndTests.host)] }

        func bytes(_ post: String) throws -> [UInt8] {
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + post)))
        }

        func stop() async {
            await server.stop()
            folder.remove()
        }
    }

    /// A Jekyll site: posts with inline, wrapped, reference, `<img>`/srcset, front-matter, CSS and include images, CRLF
    /// line endings, a BOM, invalid UTF-8, code that must stay, and one image the server does not have.
    static func makeSite(extraPosts: [String: [UInt8]] = [:]) async throws -> Site {
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for (i, name) in ["a", "b", "c", "d", "e", "f", "g"].enumerated() {
            let jpeg = try FixtureImages.jpeg(width: 800, height: 500, seed: i)
            routes["/img/\(name).jpg"] = { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) }
        }
        let png = try FixtureImages.png(width: 600, height: 400, seed: 9)
        routes["/img/p.png"] = { _ in reply(200, ["Content-Type": "image/png"], png) }
        routes["/img/gone.jpg"] = { _ in reply(404, [:], Array("gone".utf8)) }
        let server = try await ImageServer.start(routes)
        let folder = try TemporaryFolder()
        var posts: [String: [UInt8]] = [
            "_posts/2019-03-12-inline.md": Array(
                """
                ---
                layout: default
                title: "Inline"
                cover: \(cdn("/img/a.jpg"))
                header:
                  image: '\(cdn("/img/b.jpg"))'   # a comment stays
                ---

                The lake, wrapped by a converter:

                ![The lake](http://cms-
                bucket.ws.126.net/img/c.jpg?imageView&thumbnail=550x0)

                ![The hills](\(cdn("/img/d.jpg"))?imageView&thumbnail=300x0 "Hills at dusk")  
                A map: ![Route map][map] and a lost one: ![lost](\(cdn("/img/gone.jpg")))

                ```markdown
                ![a photo](\(cdn("/img/e.jpg")))
                ```

                {% include image.html url="\(cdn("/img/f.jpg"))" alt="A figure" %}

                [map]: <\(cdn("/img/p.png"))> 'Route'

                """.utf8),
            "_posts/2020-07-01-gallery.html": Array(
                """
                ---
                layout: default
                title: Gallery
                ---
                <p><img width="200" alt="a &amp; b" src="\(cdn("/img/e.jpg"))"
                  srcset="\(cdn("/img/e.jpg")) 1x, \(cdn("/img/f.jpg")) 2x"></p>
                <div style="background: url('\(cdn("/img/g.jpg"))')">x</div>

                """.utf8),
            "_posts/2021-01-01-crlf.md": Array("\u{FEFF}---\r\ntitle: CRLF\r\nlayout: default\r\n---\r\n".utf8)
                + Array("![one](\(cdn("/img/a.jpg")))\r\n\r\ncaf".utf8) + [0xE9, 0x0D, 0x0A]
                + Array("<img src=\"\(cdn("/img/b.jpg"))\">\r\n".utf8),
        ]
        for (k, v) in extraPosts { posts[k] = v }
        try folder.write("_config.yml", "title: Fixture\nbaseurl: \"/blog\"\n")
        try folder.write("_layouts/default.html", "<html><body>{{ content }}</body></html>\n")
        try folder.write("_includes/image.html", "<img src=\"{{ include.url }}\" alt=\"{{ include.alt }}\">\n")
        for (path, bytes) in posts {
            try folder.write(path, "")
            try Data(bytes).write(to: URL(fileURLWithPath: folder.path + "/" + path))
        }
        return Site(folder: folder, server: server, originals: posts)
    }

    /// Remote references left in a post, by the binary's own scan.
    func remoteURLs(_ site: Site, _ post: String) async throws -> [String] {
        let r = try await runImgarchive(["scan", "--format", "json", post], in: site.folder.path)
        return r.jsonLines.compactMap { $0["url"] as? String }
    }

    @Test func rewriteIsExactIdempotentAndReverts() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            chmod(path + "/_posts/2020-07-01-gallery.html", 0o640)

            let fetch = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            #expect(fetch.status == 1, "one image is gone: \(fetch.stdout) \(fetch.stderr)")

            let dry = try await runImgarchive(["rewrite", "--dry-run"], in: path)
            #expect(dry.stdout.contains("--- a/_posts/2019-03-12-inline.md"))
            #expect(dry.stdout.contains("+![The lake](/blog/archive/w550/"), "\(dry.stdout)")
            for (post, bytes) in site.originals { #expect(try site.bytes(post) == bytes, "a dry run writes nothing") }

            let first = try await runImgarchive(["rewrite", "--format", "json"], in: path)
            #expect(first.status == 1, "the lost image stays remote: \(first.stderr)")
            let summary = try #require(first.jsonLines.last?["summary"] as? [String: Any])
            #expect(summary["posts_changed"] as? Int == 3)
            #expect((summary["left_remote"] as? [String: Int])?["failed"] == 1)

            // Only the lost image and the code block's text are still remote.
            #expect(try await remoteURLs(site, "_posts/2019-03-12-inline.md") == [Self.cdn("/img/gone.jpg")])
            #expect(try await remoteURLs(site, "_posts/2020-07-01-gallery.html").isEmpty)
            #expect(try await remoteURLs(site, "_posts/2021-01-01-crlf.md").isEmpty)
            let inline = String(decoding: try site.bytes("_posts/2019-03-12-inline.md"), as: UTF8.self)
            #expect(inline.contains("![a photo](\(Self.cdn("/img/e.jpg")))"), "code blocks never change")
            #expect(inline.contains("  image: '/blog/archive/objects/"), "front matter keeps its quotes")
            #expect(inline.contains("'   # a comment stays"))
            #expect(inline.contains("![The lake](/blog/archive/w550/"), "the wrapped URL is one line again")
            #expect(inline.contains(".jpg \"Hills at dusk\")  \n"), "titles and trailing spaces stay")
            #expect(inline.contains("{% include image.html url=\"/blog/archive/objects/"), "the include's URL is local")
            let gallery = String(decoding: try site.bytes("_posts/2020-07-01-gallery.html"), as: UTF8.self)
            #expect(gallery.contains(".jpg 1x, /blog/archive/objects/"), "each srcset candidate keeps its descriptor")
            #expect(gallery.contains("alt=\"a &amp; b\""))
            var info = stat()
            stat(path + "/_posts/2020-07-01-gallery.html", &info)
            #expect(info.st_mode & 0o777 == 0o640, "the post keeps its permissions")
            let crlf = try site.bytes("_posts/2021-01-01-crlf.md")
            #expect(crlf.starts(with: [0xEF, 0xBB, 0xBF]))
            #expect(
                crlf.filter { $0 == 0x0D }.count
                    == site.originals["_posts/2021-01-01-crlf.md"]?.filter { $0 == 0x0D }.count
            )
            #expect(crlf.contains(0xE9), "invalid UTF-8 stays byte for byte")
            // Every local link points at a file in the archive.
            for text in [inline, gallery, String(decoding: crlf, as: UTF8.self)] {
                for link in Self.links(in: text, prefix: "/blog/archive/") {
                    #expect(FileManager.default.fileExists(atPath: path + "/archive/" + link), "\(link)")
                }
            }

            let rewritten = try site.originals.keys.map { try site.bytes($0) }
            let second = try await runImgarchive(["rewrite"], in: path)
            #expect(second.stdout.contains("nothing changed"), "\(second.stdout)")
            #expect(try site.originals.keys.map { try site.bytes($0) } == rewritten, "a second run changes nothing")

            let revert = try await runImgarchive(["rewrite", "--revert"], in: path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            for (post, bytes) in site.originals {
                #expect(try site.bytes(post) == bytes, "revert is byte-identical: \(post)")
            }
            let again = try await runImgarchive(["rewrite", "--revert"], in: path)
            #expect(again.stdout.contains("nothing to revert"))
            let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: path + "/archive")))
            #expect(try await manifest.rewrittenPosts().isEmpty)
            #expect(try await manifest.integrityCheck())
            try manifest.close()
        }
    }

    @Test func revertKeepsLaterEditsAndAPostEditedMeanwhileIsLeftAlone() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            _ = try await runImgarchive(["rewrite", "_posts/2020-07-01-gallery.html"], in: path)
            // The author edits the post after the rewrite.
            let post = path + "/_posts/2020-07-01-gallery.html"
            let edited = Array("<h1>New heading</h1>\n".utf8) + (try site.bytes("_posts/2020-07-01-gallery.html"))
            try Data(edited).write(to: URL(fileURLWithPath: post))
            let revert = try await runImgarchive(["rewrite", "--revert", "_posts"], in: path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(revert.stdout.contains("found by content"))
            let expected =
                Array("<h1>New heading</h1>\n".utf8) + (site.originals["_posts/2020-07-01-gallery.html"] ?? [])
            #expect(try site.bytes("_posts/2020-07-01-gallery.html") == expected, "the edit stays, the URLs come back")
        }
    }

    @Test func revertWorksFromAnyFolderAndFindsARenamedPost() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            // Rewritten as ./_posts, from the site root.
            let r = try await runImgarchive(["rewrite", "./_posts"], in: path)
            #expect(r.status == 1, "one image is gone: \(r.stderr)")
            // A post renamed by its author afterwards.
            try FileManager.default.moveItem(
                atPath: path + "/_posts/2020-07-01-gallery.html", toPath: path + "/_posts/2020-07-02-gallery.html")
            // Reverted from inside _posts, naming the archive relatively.
            let revert = try await runImgarchive(
                ["rewrite", "--revert", "--archive", "../archive", "."], in: path + "/_posts")
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(
                revert.stdout.contains("found as 2020-07-02-gallery.html (was 2020-07-01-gallery.html)"),
                "\(revert.stdout)"
            )
            #expect(try site.bytes("_posts/2019-03-12-inline.md") == site.originals["_posts/2019-03-12-inline.md"])
            #expect(
                try site.bytes("_posts/2020-07-02-gallery.html") == site.originals["_posts/2020-07-01-gallery.html"])
            #expect(try site.bytes("_posts/2021-01-01-crlf.md") == site.originals["_posts/2021-01-01-crlf.md"])
            let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: path + "/archive")))
            #expect(try await manifest.rewrittenPosts().isEmpty)
            let names = try await manifest.posts().map(\.path)
            #expect(names.allSatisfy { !$0.hasPrefix(".") && !$0.hasPrefix("/") }, "names are site-relative: \(names)")
            #expect(
                names.contains("_posts/2020-07-02-gallery.html") && !names.contains("_posts/2020-07-01-gallery.html"))
            try manifest.close()
        }
    }

    @Test func aPostEditedThenRenamedIsRevertedWhenNamed() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            _ = try await runImgarchive(["rewrite", "_posts/2020-07-01-gallery.html"], in: path)
            let edited = Array("<h2>Edited</h2>\n".utf8) + (try site.bytes("_posts/2020-07-01-gallery.html"))
            try Data(edited).write(to: URL(fileURLWithPath: path + "/_posts/2020-07-09-moved.html"))
            try FileManager.default.removeItem(atPath: path + "/_posts/2020-07-01-gallery.html")
            let unnamed = try await runImgarchive(["rewrite", "--revert"], in: path)
            #expect(unnamed.status == 1, "a post it cannot find is a failure: \(unnamed.stdout)")
            #expect(unnamed.stdout.contains("give its new path"))
            let named = try await runImgarchive(["rewrite", "--revert", "_posts/2020-07-09-moved.html"], in: path)
            #expect(named.status == 0, "\(named.stdout) \(named.stderr)")
            #expect(
                try site.bytes("_posts/2020-07-09-moved.html")
                    == Array("<h2>Edited</h2>\n".utf8) + (site.originals["_posts/2020-07-01-gallery.html"] ?? []))
        }
    }

    @Test func aRewriteKilledAfterTheRenameIsStillRevertedAfterAnEdit() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            _ = try await runImgarchive(["rewrite", "_posts/2020-07-01-gallery.html"], in: path)
            // Make the last generation pending, as a kill between the rename and its confirmation leaves it.
            let layout = ArchiveLayout(root: URL(fileURLWithPath: path + "/archive"))
            let manifest = try SQLiteManifest(layout: layout)
            let key = "_posts/2020-07-01-gallery.html"
            let generation = try #require(try await manifest.rewriteGenerations(post: key).last)
            try await manifest.discardRewrite(post: key, generation: generation.generation)
            let pending = try await manifest.recordRewrite(
                post: key, inputSHA256: generation.inputSHA256, outputSHA256: generation.outputSHA256,
                rewrites: generation.spans, at: generation.rewrittenAt)
            #expect(try await manifest.rewriteGenerations(post: key).map(\.applied) == [false])
            #expect(pending == generation.generation)
            try manifest.close()
            // The author edits the post before the next run.
            let edited = Array("<h2>Edited</h2>\n".utf8) + (try site.bytes(key))
            try Data(edited).write(to: URL(fileURLWithPath: path + "/" + key))
            let revert = try await runImgarchive(["rewrite", "--revert"], in: path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(try site.bytes(key) == Array("<h2>Edited</h2>\n".utf8) + (site.originals[key] ?? []))
        }
    }

    @Test func relativeLinksResolveFromThePostsFolder() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            let r = try await runImgarchive(["rewrite", "--links", "relative"], in: path)
            #expect(r.status == 1, "\(r.stderr)")
            var checked = 0
            for post in site.originals.keys {
                let text = String(decoding: try site.bytes(post), as: UTF8.self)
                let folder = (path + "/" + post as NSString).deletingLastPathComponent
                for link in Self.links(in: text, prefix: "../archive/") {
                    #expect(FileManager.default.fileExists(atPath: folder + "/../archive/" + link), "\(post): \(link)")
                    checked += 1
                }
            }
            #expect(checked >= 10)
        }
    }

    @Test func absoluteLinksNeedThePublishedFolder() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("hugo.toml", "baseURL = 'https://example.org/blog/'\n")
        try folder.write("content/post.md", "![a](http://img.example/a.jpg)\n")
        let outside = try await runImgarchive(["rewrite", "--links", "absolute"], in: folder.path)
        #expect(outside.status == 2)
        #expect(outside.stderr.contains("static/archive"), "\(outside.stderr)")
        let inside = try await runImgarchive(
            ["rewrite", "--links", "absolute", "--archive", "static/archive", "--dry-run"], in: folder.path)
        #expect(inside.status == 1, "nothing is archived yet: \(inside.stderr)")
        #expect(inside.stdout.contains("not archived yet"))
    }

    /// The rewritten site builds with Jekyll, and every `<img src>` in the built pages is a file in `_site`.
    @Test(.enabled(if: Self.jekyll != nil, "jekyll is not installed (.ci/run installs it)"))
    func rewrittenSiteBuildsWithJekyll() async throws {
        let site = try await Self.makeSite()
        try await serving(site) {
            let path = site.folder.path
            _ = try await runImgarchive(["fetch", "--retries", "0"] + site.connect, in: path)
            _ = try await runImgarchive(["rewrite"], in: path)
            let jekyll = try #require(Self.jekyll)
            let build = Process()
            build.executableURL = URL(fileURLWithPath: jekyll)
            build.arguments = ["build", "--quiet", "--safe", "--source", path, "--destination", path + "/_site"]
            build.environment = ["HOME": path, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
            build.standardOutput = FileHandle.nullDevice
            try build.run()
            await withCheckedContinuation { c in
                DispatchQueue.global().async {
                    build.waitUntilExit(); c.resume()
                }
            }
            #expect(build.terminationStatus == 0)
            var checked = 0
            for page in site.folder.files(under: "_site") where page.hasSuffix(".html") {
                let html = try String(contentsOfFile: path + "/_site/" + page, encoding: .utf8)
                for src in Self.imageSources(in: html) where !src.hasPrefix("http") {
                    #expect(src.hasPrefix("/blog/archive/"), "\(page): \(src)")
                    let file = path + "/_site/" + src.dropFirst("/blog/".count)
                    #expect(FileManager.default.fileExists(atPath: file), "\(page): \(src)")
                    checked += 1
                }
            }
            #expect(checked >= 7, "the built pages show the archived images")
            let pages = site.folder.files(under: "_site").filter { $0.hasSuffix(".html") }
            let included = try pages.map { try String(contentsOfFile: path + "/_site/" + $0, encoding: .utf8) }
                .first { $0.contains("alt=\"A figure\"") }
            #expect(
                included?.contains("<img src=\"/blog/archive/objects/") == true, "the include shows the archived image")
        }
    }

    static let jekyll: String? = ["/usr/bin/jekyll", "/usr/local/bin/jekyll"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The archive-relative paths of the links in `text` that start with `prefix`.
    static func links(in text: String, prefix: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let r = rest.range(of: prefix) {
            let tail = rest[r.upperBound...]
            let end = tail.firstIndex { $0.isWhitespace || "\"')>,".contains($0) } ?? tail.endIndex
            out.append(String(tail[..<end]))
            rest = tail[end...]
        }
        return out
    }

    /// Every `src` and `srcset` URL of the `<img>` tags in `html`.
    static func imageSources(in html: String) -> [String] {
        var out: [String] = []
        var rest = Substring(html)
        while let tag = rest.range(of: "<img") {
            let end = rest[tag.upperBound...].firstIndex(of: ">") ?? rest.endIndex
            let attributes = rest[tag.upperBound..<end]
            for name in [" src=\"", " srcset=\""] {
                guard let a = attributes.range(of: name) else { continue }
                let value = attributes[a.upperBound...].prefix { $0 != "\"" }
                for candidate in value.split(separator: ",") {
                    if let url = candidate.split(separator: " ").first { out.append(String(url)) }
                }
            }
            rest = rest[end...]
        }
        return out
    }
}
