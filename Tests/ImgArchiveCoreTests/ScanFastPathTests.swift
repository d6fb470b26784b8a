import Foundation
import Testing

@testable import ImgArchiveCore

// The scanner's fast paths (docs/scanning.md, "Speed") against the general readings they stand in for.

/// The front-matter references of `---\n<yaml>---\n`, read with or without `FrontMatterFlat`, and whether the
/// flat reading took the text.
private func frontMatter(_ yaml: String, flat: Bool) -> (spans: [Range<Int>], diagnostics: [String], flatTook: Bool) {
    let bytes = Array(("---\n" + yaml + "---\n").utf8)
    return bytes.withUnsafeBufferPointer { buffer in
        let b = ByteView(base: buffer)
        let lines = LineTable(b, from: 0)
        let close = lines.count - 1
        let selector = FrontMatterSelector(fields: ScanOptions.defaultFrontMatterFields, rules: .builtIn)
        var reader = FrontMatterYAML(
            b: b, lines: lines, text: lines.starts[1]..<lines.starts[close], firstLine: 1, selector: selector)
        reader.flatReading = flat
        reader.run()
        let took = FrontMatterFlat.entries(b, lines: lines, first: 1, end: close) != nil
        return (reader.found.map(\.span), reader.diagnostics.map(\.message), took)
    }
}

/// Lines front matter is made of, the plain ones and those only YAML reads right.
private let frontMatterLines = [
    "title: Post 1", "title: \"Hello: world # not a comment\"", "title: 'it''s'", "title: 'single'",
    "cover: https://x.test/a.jpg", "image: /local/a.png", "image: 'https://x.test/q.png'",
    "image: \"https://x.test/dq.png\"", "tags: [a, b]", "tags: []", "tags: [ a , b ]", "tags: [a,b]",
    "og: [https://x.test/og.jpg, b]", "og: [//x.test/pr.png]", "list: [a: b]", "list: [a, [b]]", "list: [a, {b: c}]",
    "list: [a, b] # c", "list: [a, ]", "key:", "key:   ", "# comment", "  # indented comment", "", "   ",
    "nested:", "  image: https://x.test/n.jpg", "- https://x.test/item.png", "a: b: c", "a: b #c",
    "a: https://x.test/c.jpg # c", "a: https://x.test/c.jpg#frag", "date: 2024-01-01 10:00:00 +0800",
    "t: 中文标题 https://x.test/中.png", "t: a\tb", "t:\tb", "cover: https://x.test/a.jpg:large", "x: -5", "x: @a",
    "x: `a`", "x: *ref", "x: &a https://x.test/anchor.png", "x: !!str https://x.test/t.png", "x: |",
    "  https://x.test/block.png", "thumbnail: https://x.test/t.jpg  ", "banner: \"https://x.test/e\\u0041.png\"",
    "k-1: v", "_k: https://x.test/u.png", "cover: //x.test/p.png", "feature: x.jpg", "x: a, b", "x: a]b",
    "x: {a: b}", "x: a:", "x : y", "x:y", "cover: https://x.test/dup.jpg", "? complex", "x: %d", "x: ?q",
    "x: https://res.cloudinary.com/demo/image/upload/w_600/sample", "x: nbsp\u{A0}#https://x.test/n.png",
    "x: \u{2028}", "x: \u{85}", "x: \u{FEFF}a", "x: 🙂 https://x.test/emoji.png",
    "photos: [https://x.test/p1.jpg, https://x.test/p2.jpg]",
]

@Test func flatFrontMatterReadsWhatYAMLReads() {
    var g = SplitMix(seed: 11)
    var tookFlat = 0
    for _ in 0..<3000 {
        let count = Int.random(in: 1...6, using: &g)
        let yaml = (0..<count).map { _ in frontMatterLines.randomElement(using: &g)! + "\n" }.joined()
        let flat = frontMatter(yaml, flat: true)
        let general = frontMatter(yaml, flat: false)
        #expect(flat.spans == general.spans, "\(yaml)")
        #expect(flat.diagnostics == general.diagnostics, "\(yaml)")
        if flat.flatTook { tookFlat += 1 }
    }
    #expect(tookFlat > 300)  // the test reaches the flat reading, not only Yams
}

@Test(arguments: [
    ("title: Post 0\ncover: https://x.test/a.jpg?imageView&thumbnail=550x0\ntags: [a, b]\n", true),
    ("title: \"A: b\"\nimage: 'https://x.test/a.png'\n\n# c\n", true),
    ("cover:\n  image: https://x.test/a.png\n", false), ("a: 1\na: 2\n", false), ("a: [b, c\n", false),
    ("a: 'x' # c\n", false), ("a: \"\\t\"\n", false),
])
func flatFrontMatterTakesOnlyPlainLines(yaml: String, flat: Bool) {
    #expect(frontMatter(yaml, flat: true).flatTook == flat)
}

@Test(arguments: [
    // An escaped backtick opens no code span; an escaped backslash before one does not escape it.
    ("\\`![a](https://x.test/a.png)`", ["https://x.test/a.png"]),
    ("\\\\`![a](https://x.test/a.png)`", []),
    ("\\\\\\`![a](https://x.test/a.png)`", ["https://x.test/a.png"]),
    ("``\\`![a](https://x.test/a.png)``", []),
    ("\\``![a](https://x.test/a.png)`", []),
    ("x\\``![a](https://x.test/a.png)``", ["https://x.test/a.png"]),
])
func backtickRunsAndBackslashes(input: String, urls: [String]) {
    #expect(scan(input).references.map(\.url) == urls)
}

@Test func labelsMatchAsCommonMarkFoldsThem() {
    let text =
        "![a][My  Label]\n![b][my label]\n![c][ MY\tLABEL ]\n![d][Ünï]\n\n[my label]: https://x.test/l.png\n"
        + "[ÜNÏ]: https://x.test/u.png\n"
    #expect(scan(text).references.map(\.url) == ["https://x.test/l.png", "https://x.test/u.png"])
}

@Test func linkTargetsWithAndWithoutImageSigns() {
    let text = """
        [page](https://x.test/docs/1) [photo](https://x.test/p.JPG) [cdn](https://res.cloudinary.com/demo/image/upload/w_600/sample)
        [resized](https://x.test/a.jpg?imageView&thumbnail=550x0) [local](img/a.png) [local page](about/)
        [![s](https://x.test/s.png)](https://x.test/full) [bare host](https://x.jpg)
        """
    let found = scan(text).references.filter { $0.kind == .linkImage }.map(\.url)
    #expect(
        found == [
            "https://x.test/p.JPG", "https://res.cloudinary.com/demo/image/upload/w_600/sample",
            "https://x.test/a.jpg?imageView&thumbnail=550x0", "img/a.png", "https://x.test/full",
        ])
}

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

@Test func aFileStampIsTrustedOnlyOnceTheFileHasSettled() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stamp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = folder.appendingPathComponent("a.md").path
    try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path))
    let stamp = try #require(FileStamp.of(path))
    #expect(stamp.size == 6)
    // Just written: its stamp cannot tell it from a change in the same clock tick, so none is given.
    #expect(try SiteWalker.readStamped(path).get().stamp == nil)
    let later = FileStamp.now() + FileStamp.settleTime + 1_000_000_000
    let read = try SiteWalker.readStamped(path, now: later).get()
    #expect(read.bytes == Array("hello\n".utf8) && read.stamp == stamp)
    // Saved anew by rename, with the same bytes: another inode, another stamp.
    try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    #expect(FileStamp.of(path) != stamp)
    #expect(FileStamp.of(folder.path) == nil, "a folder has no stamp")
    #expect(!stamp.isSettled(at: max(stamp.modified, stamp.changed) + FileStamp.settleTime - 1))
    #expect(stamp.isSettled(at: max(stamp.modified, stamp.changed) + FileStamp.settleTime))
}

@Test(arguments: [
    "a.md", "b.MarkDown", "c.HTML", ".md", "d.", "e", "f.md.bak", "g.mdown", "h.txt", "i.mD", "é.md", "j.mdx",
])
func postNamesAreJudgedAsPathExtensionJudgesThem(name: String) {
    let expected = SiteWalker.postExtensions.contains((name as NSString).pathExtension.lowercased())
    #expect(SiteWalker.isPostName(name) == expected)
}
