import Foundation
import Testing

@testable import ImgArchiveCore

// The walk of a site's folders (`SiteWalker.posts`) on a real folder tree: which files it takes, in which order,
// and what it says of what it cannot take.

/// Whether `a`'s UTF-8 bytes come before `b`'s (the order `sort` gives in the C locale).
private func bytesPrecede(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// Makes the file at `path` (bytes, so that a name need not be UTF-8), or the folder when `path` ends in "/".
private func make(_ path: [UInt8]) throws {
    let isFolder = path.last == UInt8(ascii: "/")
    let cPath = (isFolder ? path.dropLast() : path[...]).map { CChar(bitPattern: $0) } + [0]
    let made = isFolder ? mkdir(cPath, 0o755) : open(cPath, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
    guard made >= 0 else { throw CocoaError(.fileWriteUnknown) }
    if !isFolder { close(made) }
}

@Test func theWalkTakesPostsInTheOrderOfTheirBytesAndSaysWhatItSkips() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("walk-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let tree = [
        "/", "/a.md", "/a-b.md", "/a/", "/a/x.md", "/a/y.txt", "/a/deep/", "/a/deep/z.HTML", "/b.markdown",
        "/.hidden/", "/.hidden/h.md", "/_site/", "/_site/s.md", "/node_modules/", "/node_modules/n.md",
        "/archive/", "/archive/r.md", "/dir.md/", "/dir.md/in.md", "/é.md", "/Z.mdown", "/notes", "/.md",
        "/a0.md",
    ]
    for path in tree { try make(Array((root + path).utf8)) }
    // Names that are not UTF-8: a post and a folder holding one.
    try make(Array((root + "/bad").utf8) + [0xFF] + Array(".md".utf8))
    try make(Array((root + "/odd").utf8) + [0xFE, UInt8(ascii: "/")])
    try make(Array((root + "/odd").utf8) + [0xFE] + Array("/q.md".utf8))
    // A link to a post is a post; a link to a folder is not followed; a pipe is not a post.
    try FileManager.default.createSymbolicLink(atPath: root + "/link.md", withDestinationPath: root + "/a.md")
    try FileManager.default.createSymbolicLink(atPath: root + "/linked", withDestinationPath: root + "/a")
    #expect(mkfifo(root + "/pipe.md", 0o644) == 0)

    let (posts, problems) = SiteWalker.posts(in: [root])
    let expected = [
        "a.md", "a-b.md", "a/x.md", "a/deep/z.HTML", "b.markdown", ".hidden/h.md", "dir.md/in.md", "é.md",
        "Z.mdown", "link.md", "a0.md",
    ].map { root + "/" + $0 }.sorted(by: bytesPrecede)
    #expect(Array(posts) == expected)
    #expect(
        Set(problems.map(\.message)) == [
            "this post's name is not UTF-8: rename it to have it read (skipped)",
            "this folder's name is not UTF-8: rename it to have its posts read (skipped)",
        ])
    #expect(problems.allSatisfy { $0.path.hasPrefix(root + "/bad") || $0.path.hasPrefix(root + "/odd") })

    // Two roots, one inside the other, and a file named directly (whatever its name): all of them, in order.
    let (both, none) = SiteWalker.posts(in: [root + "/a/", root + "/notes", root])
    #expect(none.count == 2)
    #expect(
        Array(both)
            == (expected + [root + "/a/x.md", root + "/a/deep/z.HTML", root + "/notes"]).sorted(by: bytesPrecede))

    let missing = SiteWalker.posts(in: [root + "/none"])
    #expect(missing.posts.isEmpty && missing.problems.map(\.message) == ["no such file or folder: check the path"])
}

@Test func packedStringsSortByTheirBytes() {
    var generator = SystemRandomNumberGenerator()
    let alphabet = ["a", "b", "-", "/", ".", "é", "e\u{301}", "Z", "0", "日"]
    let strings = (0..<500).map { _ in
        (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            .joined()
    }
    var sorted = PackedStrings(strings)
    sorted.sortByBytes()
    #expect(Array(sorted) == strings.sorted(by: bytesPrecede))
    #expect(sorted.isSortedByBytes && !PackedStrings(["b", "a"]).isSortedByBytes && PackedStrings().isSortedByBytes)
}
