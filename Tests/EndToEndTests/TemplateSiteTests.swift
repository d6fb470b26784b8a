import FlyingFox
import Foundation
import Testing

/// Sites whose posts show images through template syntax: a Hugo site (built with Debian's `hugo` after the
/// archive run) and a Hexo site (checked by content: Hexo needs Node). Images come from a real HTTP server on
/// 127.0.0.1 under a CDN-like host name routed with `--connect-to`.
@Suite(.serialized, .timeLimit(.minutes(5))) struct TemplateSiteTests {
    static let host = "img.example.test"
    static func url(_ path: String) -> String { "http://\(host)\(path)" }

    static func startServer() async throws -> ImageServer {
        let jpeg = try FixtureImages.jpeg(width: 800, height: 500, seed: 3)
        let png = try FixtureImages.png(width: 600, height: 400, seed: 4)
        let other = try FixtureImages.jpeg(width: 700, height: 400, seed: 5)
        return try await ImageServer.start([
            "/img/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) },
            "/img/b.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
            "/img/pic": { _ in reply(200, ["Content-Type": "image/jpeg"], other) },
        ])
    }

    static func write(_ folder: TemporaryFolder, _ files: [String: String]) throws {
        for (path, text) in files { try folder.write(path, text) }
    }

    static let hugo: String? = ["/usr/bin/hugo", "/usr/local/bin/hugo"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let hugoPost = """
        ---
        title: "Trip"
        ---
        The lake, with Hugo's own figure over several lines:

        {{< figure
          src="\(url("/img/a.jpg"))?size=large"
          link="\(url("/img/a.jpg"))"
          width="550"
          caption="The lake" >}}

        A theme's shortcode with positional parameters: {{< photo "\(url("/img/b.png"))" "Hills" >}}

        {{% pic url="\(url("/img/pic"))" width="300" %}}

        How to write one (escaped, so Hugo shows it as text):

        ```
        {{</* figure src="\(url("/img/escaped.jpg"))" */>}}
        ```

        """

    /// After `imgarchive archive`, the Hugo site still builds and its pages show only archived images.
    @Test(.enabled(if: Self.hugo != nil, "hugo is not installed (.ci/install-deps --test-tools installs it)"))
    func archivedHugoSiteBuildsWithLocalImagesOnly() async throws {
        let server = try await Self.startServer()
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let path = folder.path
            try Self.write(
                folder,
                [
                    "hugo.toml":
                        "baseURL = \"https://example.org/\"\ntitle = \"Fixture\"\n"
                        + "disableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n"
                        + "[markup.goldmark.renderer]\nunsafe = true\n",
                    "imgarchive.yml": "archive: static/archive\ntemplates:\n  pic: [url]\n",
                    "layouts/_default/single.html": "<html><body>{{ .Content }}</body></html>\n",
                    "layouts/_default/list.html": "<html><body>{{ range .Pages }}{{ .Title }}{{ end }}</body></html>\n",
                    "layouts/shortcodes/photo.html": "<img src=\"{{ .Get 0 }}\" alt=\"{{ .Get 1 }}\">\n",
                    "layouts/shortcodes/pic.html": "<img src=\"{{ .Get \"url\" }}\" width=\"{{ .Get \"width\" }}\">\n",
                    "content/posts/trip.md": Self.hugoPost,
                ])

            let scan = try await runImgarchive(["scan", "--format", "json", "content"], in: path)
            #expect(scan.jsonLines.count == 4, "\(scan.stdout)")
            #expect(scan.jsonLines.allSatisfy { $0["kind"] as? String == "template" })

            let archive = try await runImgarchive(
                ["archive", "--connect-to", server.connectTo(Self.host), "content"], in: path)
            #expect(archive.status == 0, "\(archive.stdout) \(archive.stderr)")
            let post = try String(contentsOfFile: path + "/content/posts/trip.md", encoding: .utf8)
            #expect(post.contains("  src=\"/archive/w550/"), "the figure shows the 550 px thumbnail: \(post)")
            #expect(post.contains("  link=\"/archive/objects/"))
            #expect(post.contains("{{% pic url=\"/archive/w300/"))
            #expect(post.contains("{{</* figure src=\"\(Self.url("/img/escaped.jpg"))\" */>}}"), "escaped text stays")

            let hugo = try #require(Self.hugo)
            let build = Process()
            build.executableURL = URL(fileURLWithPath: hugo)
            build.arguments = ["--quiet", "--source", path, "--destination", path + "/public"]
            build.environment = ["HOME": path, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
            build.standardOutput = FileHandle.nullDevice
            try build.run()
            await withCheckedContinuation { c in
                DispatchQueue.global().async {
                    build.waitUntilExit()
                    c.resume()
                }
            }
            #expect(build.terminationStatus == 0)
            let html = try String(contentsOfFile: path + "/public/posts/trip/index.html", encoding: .utf8)
            let sources = RewriteEndToEndTests.imageSources(in: html)
            #expect(sources.count == 3, "\(html)")
            for src in sources {
                #expect(src.hasPrefix("/archive/"), "\(src)")
                #expect(FileManager.default.fileExists(atPath: path + "/public" + src), "\(src)")
            }
            let remote = html.components(separatedBy: Self.url("/")).count - 1
            #expect(remote == 1 && html.contains(Self.url("/img/escaped.jpg")), "only the escaped text: \(html)")

            let revert = try await runImgarchive(["rewrite", "--revert", "--archive", "static/archive"], in: path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(try String(contentsOfFile: path + "/content/posts/trip.md", encoding: .utf8) == Self.hugoPost)
        }
    }

    static let hexoPost = """
        ---
        title: Trip
        ---
        {% img left shadow \(url("/img/a.jpg")) 550 300 "The lake" "A lake at dusk" %}

        {%- img \(url("/img/pic")) 300 -%}

        {% asset_img hills.png 200 "A local one" %}

        ```
        {% img \(url("/img/b.png")) %}
        ```

        """

    /// A Hexo site, checked by content: `{% img %}` tags point at the archive after `archive`, the positional
    /// width picks the thumbnail, code and asset images stay, and revert gives the original bytes.
    @Test func archivedHexoSitePointsItsImageTagsAtTheArchive() async throws {
        let server = try await Self.startServer()
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let path = folder.path
            let original = Array(Self.hexoPost.replacingOccurrences(of: "\n", with: "\r\n").utf8)
            try Self.write(
                folder,
                [
                    "_config.yml": "title: Fixture\nurl: https://example.org\nroot: /\n",
                    "scaffolds/post.md": "---\ntitle: {{ title }}\n---\n",
                    "imgarchive.yml": "archive: source/archive\n",
                    "source/_posts/trip.md": "",
                ])
            try Data(original).write(to: URL(fileURLWithPath: path + "/source/_posts/trip.md"))

            let all = try await runImgarchive(["scan", "--all", "--format", "json", "source/_posts"], in: path)
            let urls = all.jsonLines.compactMap { $0["url"] as? String }
            #expect(urls == [Self.url("/img/a.jpg"), Self.url("/img/pic"), "hills.png"], "\(all.stdout)")

            let archive = try await runImgarchive(
                ["archive", "--connect-to", server.connectTo(Self.host), "source/_posts"], in: path)
            #expect(archive.status == 0, "\(archive.stdout) \(archive.stderr)")
            let post = try String(contentsOfFile: path + "/source/_posts/trip.md", encoding: .utf8)
            #expect(post.contains("{% img left shadow /archive/w550/"), "\(post)")
            #expect(post.contains(".jpg 550 300 \"The lake\" \"A lake at dusk\" %}\r\n"))
            #expect(post.contains("{%- img /archive/w300/"))
            #expect(post.contains("{% asset_img hills.png 200 \"A local one\" %}"))
            #expect(post.contains("{% img \(Self.url("/img/b.png")) %}"), "code stays")
            for link in RewriteEndToEndTests.links(in: post, prefix: "/archive/") {
                #expect(FileManager.default.fileExists(atPath: path + "/source/archive/" + link), "\(link)")
            }
            #expect(server.hitCount("/img/b.png") == 0, "an image in code is not fetched")

            let revert = try await runImgarchive(["rewrite", "--revert", "--archive", "source/archive"], in: path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/source/_posts/trip.md"))) == original)
        }
    }
}
