import FlyingFox
import Foundation
import Testing

/// Linked originals (`link-image`) through the built binary, against a loopback server.
@Suite(.serialized, .timeLimit(.minutes(5))) struct LinkImageEndToEndTests {
    static let host = "img.example.test"
    static func url(_ path: String) -> String { "http://\(host)\(path)" }

    @Test func linkedOriginalsAreArchivedFullSizeAndPagesAreLeftAlone() async throws {
        let small = try FixtureImages.jpeg(width: 80, height: 60, seed: 11)
        let full = try FixtureImages.jpeg(width: 400, height: 300, seed: 12)
        let photo = try FixtureImages.png(width: 300, height: 200, seed: 13)
        let server = try await ImageServer.start([
            "/small.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], small) },
            "/full.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], full) },
            "/photo/1": { _ in reply(200, ["Content-Type": "image/png"], photo) },
            "/page": { _ in reply(200, ["Content-Type": "text/html"], Array("<html>a page</html>".utf8)) },
            "/gone": { _ in reply(404, ["Content-Type": "text/html"], Array("not found".utf8)) },
            "/busy": { _ in reply(503, [:], Array("busy".utf8)) },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("_config.yml", "title: t\n")
            let original = """
                [![small](\(Self.url("/small.jpg")))](\(Self.url("/full.jpg")) "Full size")

                [![to a page](\(Self.url("/small.jpg")))](\(Self.url("/page")))

                <a href="\(Self.url("/photo/1"))"><img src="\(Self.url("/small.jpg"))" width="40"></a>

                [![dead link](\(Self.url("/small.jpg")))](\(Self.url("/gone"))) [![busy](\(Self.url("/small.jpg")))](\(Self.url("/busy")))

                """
            let postPath = folder.path + "/_posts/2024-01-01-a.md"
            try folder.write("_posts/2024-01-01-a.md", original)
            let args = ["archive", "--retries", "0", "--connect-to", server.connectTo(Self.host)]

            let first = try await runImgarchive(args, in: folder.path)
            #expect(first.status == 0, "a link to a page is no failure: \(first.stdout) \(first.stderr)")
            #expect(!first.stdout.contains("failure"), "\(first.stdout)")
            let post = try String(contentsOfFile: postPath, encoding: .utf8)
            #expect(!post.contains(Self.url("/full.jpg")) && !post.contains(Self.url("/photo/1")), "\(post)")
            #expect(post.contains("](/archive/objects/"), "the original, not a thumbnail: \(post)")
            #expect(post.contains("<a href=\"/archive/objects/"), "\(post)")
            #expect(post.contains("](\(Self.url("/page"))"), "the page link stays: \(post)")
            #expect(post.contains("<img src=\"/archive/w40/"), "the image itself is still thumbnailed: \(post)")
            #expect(!post.contains("/w400/") && !post.contains("/w300/"))
            #expect(server.hitCount("/page") == 1)
            #expect(post.contains("](\(Self.url("/gone")))") && post.contains("](\(Self.url("/busy")))"))

            let status = try await runImgarchive(["status", "--format", "json"], in: folder.path)
            #expect(status.status == 0, "\(status.stdout)")
            #expect(!status.stdout.contains("/page"), "a page is not an image reference: \(status.stdout)")
            #expect(status.jsonLines.allSatisfy { $0["state"] as? String != "failed" })

            // The next run does not ask the page again, and says nothing.
            let second = try await runImgarchive(args, in: folder.path)
            #expect(second.status == 0)
            #expect(second.stdout.isEmpty, "\(second.stdout)")
            #expect(server.hitCount("/page") == 1, "a known page is not fetched every run")
            #expect(server.hitCount("/gone") == 1, "nor a link without an image sign that answered 404")
            #expect(server.hitCount("/busy") == 2, "one that could not be checked is asked again")

            let revert = try await runImgarchive(["rewrite", "--revert"], in: folder.path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(try String(contentsOfFile: postPath, encoding: .utf8) == original)
        }
    }

    @Test func fetchReportsALinkToAPageAsNoFailure() async throws {
        let server = try await ImageServer.start([
            "/page": { _ in reply(200, ["Content-Type": "text/html"], Array("<html>page</html>".utf8)) },
            "/fake.png": { _ in reply(200, ["Content-Type": "image/png"], Array("not really".utf8)) },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("p.md", "[![](/local.png)](\(Self.url("/page"))) and [broken](\(Self.url("/fake.png")))\n")
            let args = [
                "fetch", "--retries", "0", "--format", "json", "--connect-to", server.connectTo(Self.host), "p.md",
            ]
            let run = try await runImgarchive(args, in: folder.path)
            let byURL = Dictionary(
                run.jsonLines.compactMap { line in (line["url"] as? String).map { ($0, line) } },
                uniquingKeysWith: { a, _ in a })
            #expect(byURL[Self.url("/page")]?["status"] as? String == "not-an-image-link", "\(run.stdout)")
            // An image/* answer that is no image is a real failure.
            #expect(byURL[Self.url("/fake.png")]?["status"] as? String == "failed")
            #expect(run.status == 1)

            // Turned off, neither is a reference.
            try folder.write("imgarchive.yml", "link-images: false\n")
            let scan = try await runImgarchive(["scan", "--format", "json", "p.md"], in: folder.path)
            #expect(scan.jsonLines.filter { $0["kind"] as? String == "link-image" }.isEmpty, "\(scan.stdout)")
        }
    }
}
