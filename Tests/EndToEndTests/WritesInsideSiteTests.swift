import Foundation
import Testing

/// Posts are written only inside the site, once per file, and a rewrite or revert cleans up after a killed
/// one; on the built binary after a real fetch (the fixture of `StatusVerifyTests`).
@Suite(.serialized, .timeLimit(.minutes(5))) struct WritesInsideSiteTests {
    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func postLinkedFromOutsideTheSiteIsReadButNeverWritten() async throws {
        let f = try await StatusVerifyTests.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            let outside = try TemporaryFolder()
            defer { outside.remove() }
            let text = "![b](\(StatusVerifyTests.Fixture.cdn("/b.png")))\n"
            try outside.write("o.md", text)
            try FileManager.default.createSymbolicLink(
                atPath: f.folder.path + "/_posts/o.md", withDestinationPath: outside.path + "/o.md")

            #expect(
                try await runImgarchive(["fetch", "--retries", "0"] + f.connect + ["."], in: f.folder.path).status == 1)
            for _ in 0..<2 {
                let r = try await runImgarchive(["rewrite", "."], in: f.folder.path)
                #expect(r.stdout.components(separatedBy: "outside the site").count == 2, "one line: \(r.stdout)")
                #expect(r.stdout.contains("_posts/o.md is a symbolic link to"), "\(r.stdout)")
                #expect(try read(outside.path + "/o.md") == text, "the file outside the site is unchanged")
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: outside.path)) ?? []) == ["o.md"])
            }
            #expect(try read(f.folder.path + "/_posts/c.md").contains("archive/objects/"), "the post inside is")
        }
    }

    @Test func twoNamesForOnePostAreOnePost() async throws {
        let f = try await StatusVerifyTests.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            try FileManager.default.createSymbolicLink(
                atPath: f.folder.path + "/_posts/c-link.md", withDestinationPath: "c.md")
            #expect(
                try await runImgarchive(["fetch", "--retries", "0"] + f.connect + ["."], in: f.folder.path).status == 1)
            for args in [["rewrite", "."], ["rewrite", "."], ["rewrite", "_posts/c.md", "./_posts/../_posts/c.md"]] {
                let r = try await runImgarchive(args + ["--format", "json"], in: f.folder.path)
                #expect(!r.stdout.contains("changed-meanwhile"), "\(args): \(r.stdout)")
                let named = r.jsonLines.compactMap { $0["post"] as? String }.filter {
                    $0.contains("c") && $0.hasSuffix(".md")
                }
                #expect(named.count == 1, "\(args): \(named)")
            }
            #expect(try read(f.folder.path + "/_posts/c.md").contains("archive/objects/"))
        }
    }

    @Test(arguments: [false, true])
    func rewriteAndRevertRemoveStaleTemporaryPosts(revert: Bool) async throws {
        let f = try await StatusVerifyTests.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            #expect(
                try await runImgarchive(["fetch", "--retries", "0"] + f.connect + ["."], in: f.folder.path).status == 1)
            if revert { _ = try await runImgarchive(["rewrite", "."], in: f.folder.path) }
            let stale = f.folder.path + "/_posts/.c.md.imgarchive-999999-42.tmp"
            try "half a post".write(toFile: stale, atomically: false, encoding: .utf8)
            _ = try await runImgarchive(revert ? ["rewrite", "--revert"] : ["rewrite", "."], in: f.folder.path)
            #expect(!FileManager.default.fileExists(atPath: stale))
        }
    }
}
