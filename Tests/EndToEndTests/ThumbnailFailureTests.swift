import Foundation
import Testing

/// A thumbnail that cannot be made (a PNG whose header reads and which ends with IEND, so it is archived, but
/// whose image data is damaged) is reported in fetch's JSON, in `status`, and in the job's report.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ThumbnailFailureTests {
    static let host = "img.example-cdn.com"

    @Test func failedThumbnailIsReportedInJSONStatusAndTheJobsReport() async throws {
        var damaged = try FixtureImages.png(width: 480, height: 360, seed: 9)
        let idat = try #require(
            (0..<(damaged.count - 4)).first { damaged[$0..<($0 + 4)].elementsEqual("IDAT".utf8) })
        for i in (idat + 12)..<(idat + 40) { damaged[i] ^= 0x5A }
        let broken = damaged
        let server = try await ImageServer.start([
            "/cut.png": { _ in reply(200, ["Content-Type": "image/png"], broken) }
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("_posts/a.md", "<img width=\"200\" src=\"http://\(Self.host)/cut.png\">\n")
            let connect = ["--connect-to", server.connectTo(Self.host)]

            let fetch = try await runImgarchive(["fetch", "--format", "json"] + connect + ["."], in: folder.path)
            let summary = try #require(fetch.jsonLines.last?["summary"] as? [String: Any], "\(fetch.stdout)")
            let failures = try #require(summary["thumbnail_failures"] as? [String], "\(fetch.stdout)")
            #expect(failures.count == 1 && failures[0].contains("at 200 px"), "\(failures)")

            let status = try await runImgarchive(["status"], in: folder.path)
            #expect(status.stdout.contains("no thumbnail at 200 px"), "\(status.stdout)")
            let json = try await runImgarchive(["status", "--format", "json"], in: folder.path)
            #expect(json.jsonLines.first?["thumbnailMissing"] as? Int == 200, "\(json.stdout)")

            let job = try await runImgarchive(["archive"] + connect + ["."], in: folder.path)
            #expect(job.stdout.contains("thumbnail failed:"), "\(job.stdout)")
            let reports = folder.files(under: "archive/reports")
            let report = try #require(reports.last)
            let data = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/archive/reports/" + report))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect((object["thumbnail_failures"] as? [Any])?.count == 1, "\(object)")
        }
    }
}
