import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import Testing

@testable import ImgArchivePipeline

/// A run writing WARC hashes each response record's block (the head as the record stores it, then the body) on the
/// body-writer lanes as the body arrives: that digest is the one of the stored head and the archived object's bytes.
@Suite(.timeLimit(.minutes(1)))
struct WARCDigestTests {
    @Test func blockDigestsHashedDuringTheDownloadAreThoseOfTheStoredBytes() async throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let images = try (0..<3).map { try fixtureJPEG(width: 640, height: 480, seed: $0) }
        // `/copy.jpg` serves the bytes of `/0.jpg` again: its record is a revisit, whatever its digest.
        var routes = Dictionary(uniqueKeysWithValues: images.indices.map { ("/\($0).jpg", ("image/jpeg", images[$0])) })
        routes["/copy.jpg"] = ("image/jpeg", images[0])
        let server = try await TestServer.start(routes)
        let log = EventLog()
        let paths = images.indices.map { "/\($0).jpg" } + ["/copy.jpg"]
        let items = paths.map { FetchItem(url: server.url($0), origin: server.url($0), widths: []) }
        var settings = settings(archive, store: .local, observers: [log])
        settings.warc = WARCOptions()
        let report = try await FetchPipeline.run(items: items, posts: [], settings: settings, logger: testLogger)
        await server.stop()
        #expect(report.outcomes.allSatisfy { $0.status == .archived })
        #expect(report.warc?.problem == nil)
        #expect(report.warc?.records == 1 + 2 * paths.count, "warcinfo, then a response or revisit and a request each")

        var captured = 0
        for case .captured(let capture) in log.all {
            captured += 1
            let digest = try #require(capture.headedDigest, "\(capture.url): hashed as the body arrived")
            let head = try #require(capture.exchanges.last?.responseHead)
            #expect(digest.head == WARCHead.stored(head, bodyKept: true))
            let file = try #require(capture.bodyFile)
            let stored = try [UInt8](Data(contentsOf: file))
            #expect(stored == routes[String(capture.url.dropFirst(server.url("").count))]?.1)
            #expect(Hex.lowercase(digest.sha256) == ArchiveStore.sha256(of: digest.head + stored))
        }
        #expect(captured == paths.count)
    }
}
