import FlyingFox
import Foundation
import Testing

@testable import ImgArchiveStore

/// The address guard and the failure classes through the built binary. Every URL names 127.0.0.1 or a host
/// routed there with `--connect-to`, so no packet leaves this machine even with the guard broken.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AddressGuardEndToEndTests {
    /// A CDN proxy URL the origin logic unwraps to a loopback address: the original is refused (nothing reaches
    /// its path), the proxy URL as written is tried as usual; `allow-addresses:` in imgarchive.yml lets the
    /// original be fetched.
    @Test(arguments: ["photon", "thumbor", "camo"])
    func cdnProxyWrappingLoopbackIsRefusedUnlessAllowed(rule: String) async throws {
        let image = try FixtureImages.jpeg(width: 64, height: 48, seed: 7)
        let server = try await ImageServer.start(["/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], image) }])
        try await serving(server) {
            let origin = "http://127.0.0.1:\(server.port)/a.jpg"
            let hex = origin.utf8.map { String(format: "%02x", $0) }.joined()
            let (proxyHost, url) =
                switch rule {
                case "photon": ("i0.wp.com", "http://i0.wp.com/127.0.0.1:\(server.port)/a.jpg")
                case "thumbor": ("thumbor.guard.test", "http://thumbor.guard.test/unsafe/300x200/\(origin)")
                default: ("camo.githubusercontent.com", "http://camo.githubusercontent.com/0123abcd/\(hex)")
                }
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("posts/p.md", "![x](\(url))\n")
            let args = [
                "fetch", "--format", "json", "--retries", "0", "--connect-to", server.connectTo(proxyHost), "posts",
            ]

            let refused = try await runImgarchive(args, in: folder.path)
            #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
            #expect(server.hitCount("/a.jpg") == 0)
            let line = try #require(refused.jsonLines.first { $0["url"] as? String == url }, "\(refused.stdout)")
            #expect(line["status"] as? String == "failed")
            let message = line["message"] as? String ?? ""
            #expect(message.contains("the original (\(origin)): \(origin) connects to 127.0.0.1, which is loopback"))
            #expect(message.contains("allow-addresses"))

            try folder.write("imgarchive.yml", "allow-addresses: [127.0.0.1]\n")
            let allowed = try await runImgarchive(args, in: folder.path)
            #expect(allowed.status == 0, "\(allowed.stdout)\(allowed.stderr)")
            #expect(server.hitCount("/a.jpg") == 1)
            let archived = try #require(allowed.jsonLines.first { $0["url"] as? String == url })
            #expect(archived["status"] as? String == "archived")
            #expect(archived["archived_from"] as? String == origin)
        }
    }

    /// An `other` failure keeps libcurl's text in the fetch output, `status` and the manifest.
    @Test func otherFailureShowsLibcurlsText() async throws {
        let host = "img.guard.test"
        let server = try await ImageServer.start([
            "/a.jpg": { _ in
                reply(200, ["Content-Type": "image/jpeg", "Content-Encoding": "gzip"], Array("not gzip".utf8))
            }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let url = "http://\(host)/a.jpg"
            try folder.write("posts/p.md", "![x](\(url))\n")
            let fetch = try await runImgarchive(
                ["fetch", "--retries", "0", "--connect-to", server.connectTo(host), "posts"], in: folder.path)
            #expect(fetch.status == 1)
            #expect(fetch.stdout.contains("failed other: \(url)"), "\(fetch.stdout)")
            let detail = "Error while processing content unencoding"
            #expect(fetch.stdout.contains(detail), "\(fetch.stdout)")

            let status = try await runImgarchive(["status", "posts"], in: folder.path)
            #expect(status.stdout.contains(detail), "\(status.stdout)")

            let manifest = try SQLiteManifest(
                layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
            defer { try? manifest.close() }
            let record = try #require(try await manifest.urlRecord(url))
            #expect(record.errorClass == .other)
            #expect(record.errorMessage?.contains(detail) == true)
        }
    }
}
