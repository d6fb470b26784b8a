import FlyingFox
import Foundation
import Testing

@testable import ImgArchiveImage
@testable import ImgArchiveStore

/// A JPEG with data after its EOI (motion photos carry an MP4 there; Samsung and other cameras, trailers; HDR
/// photos, gain maps) is a whole image: `imgarchive fetch` archives it as received and libjpeg-turbo thumbnails it.
/// A real JPEG cut in its scan is `truncated` and its post keeps the remote URL.
@Suite(.serialized, .timeLimit(.minutes(5))) struct JPEGTrailerEndToEndTests {
    static let host = "photos.example.org"

    @Test func jpegWithATrailerIsArchivedAndThumbnailedAndACutOneIsNot() async throws {
        let photo = try FixtureImages.jpeg(width: 640, height: 480, seed: 4)
        #expect(photo.suffix(2) == [0xFF, 0xD9])
        // An MP4 after the image, whose bytes include EOI and SOI markers, and which does not end with EOI.
        var mp4 = [0, 0, 0, 0x18] + Array("ftypmp42".utf8) + [0, 0, 0, 0] + Array("mp42isom".utf8)
        let media = [0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xDA] + (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        mp4 += [0, 0, UInt8((media.count + 8) >> 8), UInt8((media.count + 8) & 0xFF)] + Array("mdat".utf8) + media
        let motion = photo + mp4
        let cut = Array(photo.prefix(photo.count * 2 / 3))
        let server = try await ImageServer.start([
            "/motion.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], motion) },
            "/cut.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], cut) },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let motionURL = "http://\(Self.host)/motion.jpg"
            let cutURL = "http://\(Self.host)/cut.jpg"
            try folder.write(
                "_posts/2024-05-01-trailer.md",
                """
                <img width="200" src="\(motionURL)">

                <img width="200" src="\(cutURL)">

                """)

            let r = try await runImgarchive(
                ["fetch", "--format", "json", "--retries", "0", "--connect-to", server.connectTo(Self.host), "."],
                in: folder.path)
            #expect(r.status == 1, "the cut image fails: \(r.stderr)")
            let byURL = Dictionary(
                r.jsonLines.compactMap { l in (l["url"] as? String).map { ($0, l) } }, uniquingKeysWith: { a, _ in a })
            #expect(byURL[motionURL]?["status"] as? String == "archived", "\(r.stdout)")
            #expect(byURL[cutURL]?["status"] as? String == "failed")
            #expect(byURL[cutURL]?["error_class"] as? String == "truncated")

            // The object is the body as received, trailer included; its thumbnail came from the JPEG before it.
            let objects = folder.files(under: "archive/objects")
            #expect(
                objects == [
                    String(ArchiveStore.sha256(of: motion).prefix(2)) + "/" + ArchiveStore.sha256(of: motion) + ".jpg"
                ])
            let thumbnails = folder.files(under: "archive/w200")
            #expect(thumbnails.count == 1)
            if let thumbnail = thumbnails.first {
                let info = try imageInfo(path: folder.path + "/archive/w200/" + thumbnail)
                #expect(info.width == 200 && info.height == 150 && info.format == .jpeg)
            }
        }
    }
}
