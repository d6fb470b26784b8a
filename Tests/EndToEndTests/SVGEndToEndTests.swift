import FlyingFox
import Foundation
import Testing

@testable import ImgArchiveStore

/// SVGs and polyglots through the built binary, served from 127.0.0.1: the original is stored as received, posts
/// link only its sanitized copy, an SVG that cannot be parsed leaves its post remote with the reason, and bytes
/// that are an image and a page at once are refused.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SVGEndToEndTests {
    static let host = "img.blog-cdn.example"
    static func cdn(_ path: String) -> String { "http://\(host)\(path)" }

    static let evil = Array(
        """
        <?xml version="1.0"?>
        <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="40"
             onload="alert(document.cookie)">
          <script>alert(1)</script>
          <foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="http://evil.example/"/></body></foreignObject>
          <image xlink:href="http://evil.example/track.png" width="1" height="1"/>
          <a href="&#106;avascript:alert(2)"><rect width="40" height="40" fill="teal"/></a>
        </svg>

        """.utf8)
    static let broken = Array("<svg xmlns=\"http://www.w3.org/2000/svg\"><g><rect width=\"4\"/></svg>\n".utf8)
    static let polyglot: [UInt8] =
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 26] + Array("tEXt<script>alert(1)</script>".utf8)

    static let posts = [
        "_posts/2024-01-01-evil.md": "# Evil\n\n![a drawing](\(cdn("/img/evil.svg")) \"Drawing\")\n",
        "_posts/2024-01-02-broken.md": "# Broken\n\n<img src=\"\(cdn("/img/broken.svg"))\" alt=\"b\">\n",
        "_posts/2024-01-03-poly.md": "# Poly\n\n![p](\(cdn("/img/poly.png")))\n",
    ]

    @Test func maliciousSVGIsLinkedOnlyAsItsSanitizedCopyAndRevertRestoresThePost() async throws {
        let server = try await ImageServer.start([
            "/img/evil.svg": { _ in reply(200, ["Content-Type": "image/svg+xml"], Self.evil) },
            "/img/broken.svg": { _ in reply(200, ["Content-Type": "image/svg+xml"], Self.broken) },
            "/img/poly.png": { _ in reply(200, ["Content-Type": "image/png"], Self.polyglot) },
        ])
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for (path, text) in Self.posts { try folder.write(path, text) }
        let connect = ["--connect-to", server.connectTo(Self.host)]

        let fetch = try await runImgarchive(["fetch", "--retries", "0"] + connect, in: folder.path)
        await server.stop()
        #expect(fetch.status == 1, "a polyglot and an unparseable SVG: \(fetch.stdout) \(fetch.stderr)")
        let fetchText = fetch.stdout + fetch.stderr
        #expect(fetchText.contains("polyglot"), "\(fetchText)")
        #expect(fetchText.contains(Self.cdn("/img/broken.svg")) && fetchText.contains("cannot be published"))

        // The original is stored byte for byte; the copy beside it is clean.
        let sha = ArchiveStore.sha256(of: Self.evil)
        let archive = folder.path + "/archive/"
        let original = try Data(contentsOf: URL(fileURLWithPath: archive + "objects/\(sha.prefix(2))/\(sha).svg"))
        #expect([UInt8](original) == Self.evil)
        let copyPath = "svg/\(sha.prefix(2))/\(sha).svg"
        let copy = String(decoding: try Data(contentsOf: URL(fileURLWithPath: archive + copyPath)), as: UTF8.self)
        for active in ["script", "onload", "foreignObject", "iframe", "evil.example", "alert", "javascript"] {
            #expect(!copy.contains(active), "\(active) in \(copy)")
        }
        #expect(copy.contains("<rect width=\"40\" height=\"40\" fill=\"teal\"/>"), "\(copy)")
        #expect(folder.files(under: "archive/objects").count == 2, "the polyglot is not archived")

        let rewrite = try await runImgarchive(["rewrite"], in: folder.path)
        #expect(rewrite.status == 1, "the broken SVG's post keeps its remote URL: \(rewrite.stdout)")
        let evilPost = try String(contentsOfFile: folder.path + "/_posts/2024-01-01-evil.md", encoding: .utf8)
        #expect(evilPost.contains(copyPath + " \"Drawing\")"), "\(evilPost)")
        #expect(!evilPost.contains("objects/"), "the original SVG is never linked")
        let brokenPost = try String(contentsOfFile: folder.path + "/_posts/2024-01-02-broken.md", encoding: .utf8)
        #expect(brokenPost == Self.posts["_posts/2024-01-02-broken.md"])
        #expect((rewrite.stdout + rewrite.stderr).contains("cannot be published"), "\(rewrite.stdout)")

        let status = try await runImgarchive(["status"], in: folder.path)
        #expect(status.stdout.contains("unsafe-svg"), "\(status.stdout)")
        #expect(status.stdout.contains("polyglot"), "\(status.stdout)")

        // verify checks the copy; --repair makes it again when it is lost.
        #expect(try await runImgarchive(["verify"], in: folder.path).status == 0)
        try FileManager.default.removeItem(atPath: archive + copyPath)
        let damaged = try await runImgarchive(["verify"], in: folder.path)
        #expect(damaged.status == 1 && damaged.stdout.contains(copyPath), "\(damaged.stdout)")
        #expect(try await runImgarchive(["verify", "--repair"], in: folder.path).status == 0)
        #expect(FileManager.default.fileExists(atPath: archive + copyPath))

        let revert = try await runImgarchive(["rewrite", "--revert"], in: folder.path)
        #expect(revert.status == 0, "\(revert.stderr)")
        for (path, text) in Self.posts {
            #expect(try String(contentsOfFile: folder.path + "/" + path, encoding: .utf8) == text, "\(path)")
        }
    }
}
