import FlyingFox
import Foundation
import Testing

/// The run's thumbnail memory budget (`thumbnail-memory`), through the built binary.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ThumbnailMemoryEndToEndTests {
    static let host = "img.example.test"
    static func url(_ path: String) -> String { "http://\(host)\(path)" }

    /// A progressive JPEG whose coefficients alone exceed the budget gets no thumbnail: the run says which
    /// object and which setting, the post links the original, and the baseline JPEG beside it (the same
    /// size, but decoded by scanlines) gets its thumbnail.
    @Test func imageOverTheBudgetLinksTheOriginalAndSaysWhy() async throws {
        let progressive = try FixtureImages.jpeg(width: 3000, height: 2000, seed: 1, progressive: true)
        let baseline = try FixtureImages.jpeg(width: 3000, height: 2000, seed: 2)
        let server = try await ImageServer.start([
            "/p.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], progressive) },
            "/b.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], baseline) },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("_config.yml", "title: t\n")
            // 3000 x 2000 at 4:2:0 holds 18 MB of coefficients.
            try folder.write("imgarchive.yml", "thumbnail-memory: 16MB\n")
            try folder.write(
                "_posts/2024-01-01-a.md",
                "<img width=\"300\" src=\"\(Self.url("/p.jpg"))\">\n<img width=\"300\" src=\"\(Self.url("/b.jpg"))\">\n"
            )
            let r = try await runImgarchive(["archive", "--connect-to", server.connectTo(Self.host)], in: folder.path)
            let output = r.stdout + r.stderr
            #expect(r.status == 0 || r.status == 1, "\(output)")
            #expect(output.contains("thumbnail-memory"), "\(output)")
            #expect(output.contains("budget of 16 MB"), "\(output)")
            let post = try String(contentsOfFile: folder.path + "/_posts/2024-01-01-a.md", encoding: .utf8)
            let lines = post.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.contains("/archive/objects/") == true, "the original: \(post)")
            #expect(lines.last?.contains("/archive/w300/") == true, "the thumbnail: \(post)")
            #expect(folder.files(under: "archive/w300").count == 1)
        }
    }

    /// `thumb` takes the budget as a flag: the same image is refused under 16 MB and made under 1 GB.
    @Test func thumbTakesTheBudgetAsAFlag() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let progressive = try FixtureImages.jpeg(width: 3000, height: 2000, seed: 3, progressive: true)
        try Data(progressive).write(to: URL(fileURLWithPath: folder.path + "/p.jpg"))
        let refused = try await runImgarchive(
            ["thumb", "--width", "300", "--thumbnail-memory", "16MB", "p.jpg", "small.jpg"], in: folder.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("overMemoryBudget") && refused.stderr.contains("--thumbnail-memory"))
        #expect(!FileManager.default.fileExists(atPath: folder.path + "/small.jpg"))
        let made = try await runImgarchive(
            ["thumb", "--width", "300", "--thumbnail-memory", "1GB", "p.jpg", "small.jpg"], in: folder.path)
        #expect(made.status == 0, "\(made.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder.path + "/small.jpg"))
        let bad = try await runImgarchive(
            ["thumb", "--width", "300", "--thumbnail-memory", "lots", "p.jpg", "x.jpg"], in: folder.path)
        #expect(bad.status != 0 && bad.stderr.contains("--thumbnail-memory lots"))
    }

    /// The setting is checked where it is read.
    @Test func tooSmallABudgetIsAConfigurationError() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("imgarchive.yml", "thumbnail-memory: 1MB\n")
        try folder.write("_posts/2024-01-01-a.md", "text\n")
        let r = try await runImgarchive(["fetch"], in: folder.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("thumbnail-memory") && r.stderr.contains("at least 16MB"), "\(r.stderr)")
    }
}
