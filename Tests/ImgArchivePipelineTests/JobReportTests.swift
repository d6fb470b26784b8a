import Foundation
import ImgArchiveCore
import ImgArchiveStore
import Testing

@testable import ImgArchivePipeline

/// The job's JSON report writes its list of rewritten posts into the file itself: the file is what
/// `JSONSerialization` makes of the whole report, byte for byte.
@Suite struct JobReportTests {
    @Test(arguments: [0, 1, 3])
    func theReportIsWhatJSONSerializationPrints(_ count: Int) throws {
        let archive = try TemporaryArchive()
        defer { archive.remove() }
        let layout = ArchiveLayout(root: archive.url)
        try FileManager.default.createDirectory(at: layout.temporaryDirectory, withIntermediateDirectories: true)
        // Slashes, quotes, a backslash, a tab, a line break, a control byte, accents and an emoji.
        let names = [
            "_posts/2024-01-01-a.md", "posts/\"quoted\" \\ back.md", "posts/tab\there.md", "posts/two\nlines.md",
            "posts/bell\u{07}.md", "posts/café-日本.md", "posts/🙂.md",
        ]
        let rewritten = (0..<count * names.count).map { (post: names[$0 % names.count], references: $0 + 1) }
        var fetch = FetchReport()
        fetch.thumbnailsMade = 2
        let report = ArchiveJobReport(
            startedAt: Date(timeIntervalSince1970: 1_800_000_000),
            finishedAt: Date(timeIntervalSince1970: 1_800_000_060),
            fetch: fetch, rewrite: RewriteReport.Totals(), postsRewritten: RewrittenPosts(rewritten),
            postProblems: [PostRewriteOutcome(post: "posts/x.md", status: .failed, message: "no")],
            postsWaiting: ["posts/w.md": 2], newFailures: [], originsLost: [], newlyLostOrigins: [], unreadablePosts: 0)
        let path = try ArchiveJob.writeReport(report, layout: layout)
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        let whole = try JSONSerialization.data(
            withJSONObject: ArchiveJob.reportObject(
                report, rewritten: rewritten.map { ["post": $0.post, "references": $0.references] }),
            options: [.prettyPrinted, .sortedKeys])
        #expect(written == whole)
        #expect(String(decoding: written, as: UTF8.self).contains("\"references\" : \(rewritten.count)") == (count > 0))
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.temporaryDirectory.path).isEmpty)
    }
}
