import Foundation
import Testing

@testable import ImgArchiveCore

// The scanner's fast paths (docs/scanning.md, "Speed") against the general readings they stand in for.

@Test func postsAreReadWhole() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("walker-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let big = Array(repeating: UInt8(ascii: "x"), count: 300_000) + [0x0A]
    try Data(big).write(to: folder.appendingPathComponent("big.md"))
    try Data().write(to: folder.appendingPathComponent("empty.md"))
    try FileManager.default.createDirectory(
        at: folder.appendingPathComponent("sub.md"), withIntermediateDirectories: true)
    let (posts, problems) = SiteWalker.posts(in: [folder.path])
    #expect(problems.isEmpty)
    #expect(posts.map { ($0 as NSString).lastPathComponent } == ["big.md", "empty.md"])
    #expect(try SiteWalker.read(folder.appendingPathComponent("big.md").path).get() == big)
    #expect(try SiteWalker.read(folder.appendingPathComponent("empty.md").path).get() == [])
    guard case .failure(let problem) = SiteWalker.read(folder.appendingPathComponent("missing.md").path) else {
        Issue.record("a missing post was read")
        return
    }
    #expect(problem.message.hasPrefix("cannot read this post ("))
}
