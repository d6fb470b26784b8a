import Foundation
import Testing

@testable import ImgArchiveCore

/// A post with every reference kind and the oddities the scanner handles, each case in the post's own bytes.
struct RewriteCase: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var testDescription: String { name }

    init(_ name: String, _ text: String) {
        self.name = name
        bytes = Array(text.utf8)
    }

    init(_ name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

let rewriteCases: [RewriteCase] = [
    RewriteCase(
        "inline with title",
        "Intro\n\n![alt *text*](http://img.test/a.jpg?imageView&thumbnail=550x0 \"A title\")  \ntail\n"),
    RewriteCase(
        "wrapped URL", "![The lake](http://cms-\nbucket.ws.126.net/2019/03/12/b689.jpeg?imageView&thumbnail=550x0)\n"),
    RewriteCase(
        "reference image",
        "See ![map][Route]\n\n[route]: <http://img.test/map.png> 'Route'\n[unused]: http://img.test/unused.png\n"),
    RewriteCase(
        "html srcset and entities",
        "<p><img width=\"320\" alt=\"x\" src=\"http://img.test/s.jpg?a=1&amp;b=2\" srcset=\"http://img.test/s.jpg?a=1&amp;b=2 1x, http://img.test/l.jpg 2x\"></p>\n"
    ),
    RewriteCase(
        "front matter, quoted and plain",
        "---\ntitle: \"T\"\ncover: 'http://img.test/cover.jpg'\nheader:\n  image: http://img.test/header.jpg # note\ntags: [a, b]\n---\nBody\n"
    ),
    RewriteCase("toml front matter", "+++\ntitle = \"T\"\nimage = \"http://img.test/toml.jpg\"\n+++\nBody\n"),
    RewriteCase(
        "css url",
        "<div style=\"background: url('http://img.test/bg.jpg') no-repeat\"></div>\n<style>\n.a { background-image: url(http://img.test/bg2.png) }\n</style>\n"
    ),
    RewriteCase(
        "code stays",
        "```\n![code](http://img.test/code.jpg)\n```\n\n    ![indented](http://img.test/indented.jpg)\n\nand `![span](http://img.test/span.jpg)` and ![real](http://img.test/real.jpg)\n"
    ),
    RewriteCase(
        "CRLF and BOM",
        "\u{FEFF}---\r\ncover: http://img.test/c.jpg\r\n---\r\n![a](http://img.test/a.jpg)\r\n\r\n![b](http://img.test/b.jpg)\r\n"
    ),
    RewriteCase(
        "invalid UTF-8 around",
        bytes: Array("caf".utf8) + [0xE9, 0xFF, 0x0A] + Array("![x](http://img.test/x.jpg)\n".utf8) + [
            0xC3, 0x28, 0x0A,
        ]),
    RewriteCase(
        "mixed endings, no final newline",
        "a\r![a](http://img.test/a.jpg)\r\n![b](http://img.test/b.jpg)\n![c](<http://img.test/c d.jpg>)"),
]

/// Every URL is archived under a path derived from it, with a thumbnail at 550 px for URLs that ask for it.
func fakeAsset(_ url: String) -> ArchivedAsset {
    if url.contains("missing") { return .notFetched }
    let name = String(UInt(bitPattern: url.hashValue), radix: 16)
    return .archived(original: "objects/ab/\(name).jpg", thumbnails: [550: "w550/ab/\(name).jpg"])
}

@Test(arguments: rewriteCases)
func rewriteTouchesOnlyURLsAndRevertsExactly(_ c: RewriteCase) throws {
    let scanner = PostScanner()
    let scan = scanner.scan(c.bytes)
    let remote = scan.references.filter(\.remote)
    #expect(!remote.isEmpty)
    let linker = ArchiveLinker(style: .prefix("/blog/archive"))
    let plan = RewritePlan(references: scan.references, postPath: "_posts/p.md", linker: linker, asset: fakeAsset)
    #expect(plan.rewrites.count == remote.count)
    let (rewritten, ranges) = try #require(Splice.apply(plan.splices, to: c.bytes))

    // Outside the spans, every byte is where it was (shifted), so formatting, endings and the BOM survive.
    var cursor = 0
    var outCursor = 0
    for (rewrite, range) in zip(plan.rewrites, ranges).sorted(by: {
        $0.0.reference.range.lowerBound < $1.0.reference.range.lowerBound
    }) {
        let old = rewrite.reference.range
        #expect(c.bytes[cursor..<old.lowerBound].elementsEqual(rewritten[outCursor..<range.lowerBound]))
        #expect(rewritten[range].elementsEqual(rewrite.replacement.utf8))
        #expect(!rewrite.replacement.contains("\n"), "a wrapped URL becomes one line")
        cursor = old.upperBound
        outCursor = range.upperBound
    }
    #expect(c.bytes[cursor...].elementsEqual(rewritten[outCursor...]))

    // The rewritten post has no remote image left, and its local links are the ones planned.
    let again = scanner.scan(rewritten)
    #expect(again.references.filter(\.remote).isEmpty)
    #expect(Set(again.references.map(\.url)).isSubset(of: Set(plan.rewrites.map(\.replacement))))
    // Code keeps its remote-looking text.
    for code in ["code.jpg", "indented.jpg", "span.jpg", "unused.png"]
    where String(decoding: c.bytes, as: UTF8.self).contains(code) {
        #expect(String(decoding: rewritten, as: UTF8.self).contains("http://img.test/\(code)"))
    }

    // A second plan on the rewritten post changes nothing (idempotent).
    let second = RewritePlan(references: again.references, postPath: "_posts/p.md", linker: linker, asset: fakeAsset)
    #expect(second.rewrites.isEmpty)

    // Revert gives the original bytes back, exactly.
    let step = RevertStep(
        spans: zip(plan.rewrites, ranges).map { rewrite, range in
            RevertStep.Span(
                range: range, replacement: Array(rewrite.replacement.utf8),
                original: Array(c.bytes[rewrite.reference.range]))
        })
    #expect(step.undoExactly(rewritten)?.bytes == c.bytes)
    #expect(step.undoByContent(rewritten).bytes == c.bytes)

    // After an edit elsewhere, revert by content keeps the edit and restores every URL.
    let edited = Array("Edited first line\n".utf8) + rewritten + Array("\nappended\n".utf8)
    #expect(step.undoExactly(edited) == nil)
    let (restored, _, missing) = step.undoByContent(edited)
    #expect(missing.isEmpty)
    #expect(restored == Array("Edited first line\n".utf8) + c.bytes + Array("\nappended\n".utf8))
}

@Test func unarchivedReferencesStayAndSayWhy() {
    let bytes = Array("![a](http://img.test/missing.jpg) ![b](http://img.test/b.jpg)\n".utf8)
    let scan = PostScanner().scan(bytes)
    let plan = RewritePlan(
        references: scan.references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive"))
    ) { url in
        url.hasSuffix("b.jpg") ? .failed(errorClass: .http4xx, message: "404 Not Found") : .notFetched
    }
    #expect(plan.rewrites.isEmpty)
    #expect(plan.leftRemote.map(\.kind) == ["not-fetched", "failed"])
    #expect(plan.leftRemote[1].reason.contains("http-4xx"))
    #expect(plan.leftRemote[0].reason.contains("imgarchive fetch"))
}

@Test func thumbnailAtTheShownWidthElseTheOriginal() {
    let bytes = Array("![a](http://img.test/a.jpg?imageView&thumbnail=550x0) ![b](http://img.test/b.jpg)\n".utf8)
    let scan = PostScanner().scan(bytes)
    let plan = RewritePlan(
        references: scan.references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive"))
    ) { _ in .archived(original: "objects/aa/o.jpg", thumbnails: [550: "w550/aa/o.jpg", 300: "w300/aa/o.jpg"]) }
    #expect(plan.rewrites.map(\.replacement) == ["/archive/w550/aa/o.jpg", "/archive/objects/aa/o.jpg"])
}

@Test func linksAreRelativeToThePostOrUnderAPrefix() {
    let relative = ArchiveLinker(style: .relative(archiveRoot: "/site/archive"))
    #expect(
        relative.link(archivePath: "objects/ab/x.jpg", fromPost: "/site/_posts/2019/a.md")
            == "../../archive/objects/ab/x.jpg")
    #expect(relative.link(archivePath: "objects/ab/x.jpg", fromPost: "/site/a.md") == "archive/objects/ab/x.jpg")
    #expect(
        relative.link(archivePath: "objects/ab/x.jpg", fromPost: "/elsewhere/a.md")
            == "../site/archive/objects/ab/x.jpg")
    let spaced = ArchiveLinker(style: .relative(archiveRoot: "/my site/archive (old)"))
    #expect(
        spaced.link(archivePath: "w550/ab/x.jpg", fromPost: "/other/p.md")
            == "../my%20site/archive%20%28old%29/w550/ab/x.jpg")
    #expect(
        ArchiveLinker(style: .prefix("/blog/")).link(archivePath: "objects/a b.jpg", fromPost: "x")
            == "/blog/objects/a%20b.jpg")
    #expect(
        ArchiveLinker(style: .prefix("https://cdn.example/archive")).link(
            archivePath: "objects/ab/x.jpg", fromPost: "x")
            == "https://cdn.example/archive/objects/ab/x.jpg")
}

@Test func splicesThatOverlapOrOverrunAreRefused() {
    let bytes = Array("0123456789".utf8)
    #expect(
        Splice.apply([Splice(range: 2..<5, replacement: []), Splice(range: 4..<6, replacement: [])], to: bytes) == nil)
    #expect(Splice.apply([Splice(range: 8..<12, replacement: [])], to: bytes) == nil)
    let applied = Splice.apply(
        [Splice(range: 6..<8, replacement: Array("xy".utf8)), Splice(range: 0..<1, replacement: Array("ab".utf8))],
        to: bytes)
    #expect(applied.map { String(decoding: $0.bytes, as: UTF8.self) } == "ab12345xy89")
    #expect(applied?.ranges == [7..<9, 0..<2])
}

/// The diff is the one `diff -u` prints for the same two files (the system's diff is the reference).
@Test(arguments: rewriteCases)
func dryRunDiffMatchesDiffU(_ c: RewriteCase) throws {
    let scan = PostScanner().scan(c.bytes)
    let plan = RewritePlan(
        references: scan.references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive")),
        asset: fakeAsset)
    let ours = UnifiedDiff.render(path: "p.md", old: c.bytes, splices: plan.splices)
    #expect(!ours.isEmpty)
    let (new, _) = try #require(Splice.apply(plan.splices, to: c.bytes))
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("diff-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Data(c.bytes).write(to: folder.appendingPathComponent("old"))
    try Data(new).write(to: folder.appendingPathComponent("new"))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/diff")
    process.arguments = ["-u", "old", "new"]
    process.currentDirectoryURL = folder
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    // Byte for byte after the two header lines (diff's carry file names and times).
    func body(_ bytes: [UInt8]) -> [UInt8] {
        var newlines = 0
        guard
            let start = bytes.firstIndex(where: { b in
                if b == UInt8(ascii: "\n") { newlines += 1 }
                return newlines == 2
            })
        else { return [] }
        return Array(bytes[(start + 1)...])
    }
    #expect(body(ours) == body([UInt8](output)))
}

/// Revert after the author moved, duplicated or deleted things: each link goes back to its own original.
@Test func revertByContentSurvivesReorderingAndDeletion() throws {
    let original = Array(
        "A ![a](http://img.test/a.jpg)\n\nB <img src=\"http://img.test/c.jpg?x=1&amp;y=2\">\n\nC ![c](http://img.test/c.jpg?x=1&y=2)\n"
            .utf8)
    let scan = PostScanner().scan(original)
    let plan = RewritePlan(
        references: scan.references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive"))
    ) { url in .archived(original: url.contains("a.jpg") ? "objects/aa/a.jpg" : "objects/cc/c.jpg", thumbnails: [:]) }
    let (rewritten, ranges) = try #require(Splice.apply(plan.splices, to: original))
    let step = RevertStep(
        spans: zip(plan.rewrites, ranges).map { r, range in
            RevertStep.Span(
                range: range, replacement: Array(r.replacement.utf8), original: Array(original[r.reference.range]),
                before: RevertStep.Span.context(of: range, in: rewritten).before,
                after: RevertStep.Span.context(of: range, in: rewritten).after)
        })
    let text = String(decoding: rewritten, as: UTF8.self)
    let paragraphs = text.components(separatedBy: "\n\n")
    #expect(paragraphs.count == 3)

    // Paragraphs swapped: every link is found, each gets its own original back (entity style included).
    let swapped =
        Array(
            [paragraphs[2].trimmingCharacters(in: .newlines), paragraphs[1], paragraphs[0]].joined(separator: "\n\n")
                .utf8) + [0x0A]
    let (back, _, notFound) = step.undoByContent(swapped)
    #expect(notFound.isEmpty)
    #expect(
        String(decoding: back, as: UTF8.self)
            == "C ![c](http://img.test/c.jpg?x=1&y=2)\n\nB <img src=\"http://img.test/c.jpg?x=1&amp;y=2\">\n\nA ![a](http://img.test/a.jpg)\n"
    )

    // The HTML paragraph deleted: the Markdown link keeps its own bytes, the lost one is reported.
    let deleted = Array([paragraphs[0], paragraphs[2]].joined(separator: "\n\n").utf8)
    let (partial, _, missing) = step.undoByContent(deleted)
    #expect(missing == [1])
    #expect(
        String(decoding: partial, as: UTF8.self)
            == "A ![a](http://img.test/a.jpg)\n\nC ![c](http://img.test/c.jpg?x=1&y=2)\n")
}

@Test func composedSplicesEqualApplyingInTurn() throws {
    let bytes = Array("0123456789abcdef".utf8)
    let first = [Splice(range: 2..<4, replacement: Array("XYZW".utf8)), Splice(range: 10..<12, replacement: [])]
    let (middle, _) = try #require(Splice.apply(first, to: bytes))
    let second = [
        Splice(range: 0..<1, replacement: Array("<".utf8)), Splice(range: 12..<14, replacement: Array("!".utf8)),
    ]
    let (final, _) = try #require(Splice.apply(second, to: middle))
    let composed = Splice.compose(first, then: second)
    #expect(Splice.apply(composed, to: bytes)?.bytes == final)
}

@Test func linksIntoTheArchiveAreNotImagesToArchive() {
    let cdn = ArchiveLinker(style: .prefix("https://cdn.example/archive/"))
    #expect(cdn.isArchiveLink("https://cdn.example/archive/objects/ab/x.jpg"))
    #expect(!cdn.isArchiveLink("https://cdn.example/archived/x.jpg"))
    #expect(!ArchiveLinker(style: .prefix("/archive")).isArchiveLink("/archive/objects/ab/x.jpg"))
    let bytes = Array("![a](https://cdn.example/archive/objects/ab/x.jpg)\n".utf8)
    let plan = RewritePlan(references: PostScanner().scan(bytes).references, postPath: "p.md", linker: cdn) { _ in
        .notFetched
    }
    #expect(plan.rewrites.isEmpty && plan.leftRemote.isEmpty)
}

/// Identical links with identical surroundings but different originals (the same image under `?v=1`, `?v=2`,
/// `?v=3`): after text is added above them, each still gets its own original back, in order.
@Test func identicalLinksKeepTheirOrderAfterAnEdit() throws {
    let original = Array(
        (1...3).map { "<img src=\"http://img.test/a.jpg?v=\($0)\">\n" }.joined().utf8)
    let scan = PostScanner().scan(original)
    let plan = RewritePlan(
        references: scan.references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive"))
    ) { _ in .archived(original: "objects/aa/a.jpg", thumbnails: [:]) }
    #expect(plan.rewrites.count == 3)
    let (rewritten, ranges) = try #require(Splice.apply(plan.splices, to: original))
    let step = RevertStep(
        spans: zip(plan.rewrites, ranges).map { r, range in
            let context = RevertStep.Span.context(of: range, in: rewritten)
            return RevertStep.Span(
                range: range, replacement: Array(r.replacement.utf8), original: Array(original[r.reference.range]),
                before: context.before, after: context.after)
        })
    let added = Array(String(repeating: "A new paragraph, long enough to move every link far. ", count: 4).utf8) + [10]
    let (back, _, notFound) = step.undoByContent(added + rewritten)
    #expect(notFound.isEmpty)
    #expect(back == added + original)
}

/// A link is only found where a whole link stands, never inside a longer path.
@Test func aLinkInsideALongerPathIsNotALink() {
    let bytes = Array("![a](/blog/archive/objects/aa/a.jpg) and ![b](/archive/objects/aa/a.jpg)\n".utf8)
    let step = RevertStep(spans: [
        RevertStep.Span(
            range: 0..<0, replacement: Array("/archive/objects/aa/a.jpg".utf8), original: Array("http://x/a".utf8))
    ])
    let (back, _, notFound) = step.undoByContent(bytes)
    #expect(notFound.isEmpty)
    #expect(String(decoding: back, as: UTF8.self) == "![a](/blog/archive/objects/aa/a.jpg) and ![b](http://x/a)\n")
    let only = Array("![a](/blog/archive/objects/aa/a.jpg)\n".utf8)
    #expect(step.undoByContent(only).notFound == [0])
    #expect(step.undoByContent(only).bytes == only)
}

/// The references left after a rewrite, moved by the splices, are what a scan of the rewritten bytes finds:
/// every URL archived, every other one, or only the first, so references sit after replaced spans on their
/// own line and on others.
@Test(
    arguments: rewriteCases + [
        RewriteCase(
            "several on a line",
            "![a](http://img.test/a.jpg) and ![b](http://img.test/b.jpg) <img src=\"http://img.test/c.jpg\">\n"
                + "[![d](http://img.test/d.jpg)](http://img.test/d-full.jpg) é ![e](http://img.test/e.jpg)\n")
    ], [0, 1, 2])
func referencesAfterARewriteAreThoseOfARescan(_ c: RewriteCase, keep: Int) throws {
    let scanner = PostScanner()
    let references = scanner.scan(c.bytes).references
    let urls = references.filter(\.remote).map(\.url)
    let archived = Set(
        urls.enumerated().filter { keep == 0 || (keep == 1 ? $0.offset % 2 == 0 : $0.offset == 0) }.map(\.element))
    let plan = RewritePlan(
        references: references, postPath: "p.md", linker: ArchiveLinker(style: .prefix("/archive"))
    ) { archived.contains($0) ? fakeAsset($0) : .notFetched }
    #expect(!plan.rewrites.isEmpty)
    let (rewritten, _) = try #require(Splice.apply(plan.splices, to: c.bytes))
    let after = plan.references(after: references, in: c.bytes)
    // Only a replaced span holding a line break or a byte outside ASCII needs the scan.
    let needsScan = plan.rewrites.contains {
        !c.bytes[$0.reference.range].allSatisfy { $0 < 0x80 && $0 != 10 && $0 != 13 }
    }
    #expect((after == nil) == needsScan)
    if let after { #expect(after.filter(\.remote) == scanner.scan(rewritten).references.filter(\.remote)) }
}

/// A link written as a URL (`--archive-url`, with a scheme or protocol-relative) is listed by a scan: the
/// references are then scanned again; a path is not.
@Test(arguments: [
    ("https://cdn.example/archive", true), ("//cdn.example/archive", true), ("/blog/archive", false),
    ("/blog/a:b//archive", false),
])
func linksThatAreURLsNeedARescan(prefix: String, isURL: Bool) {
    let bytes = Array("![a](http://img.test/a.jpg) ![b](http://img.test/b.jpg)\n".utf8)
    let references = PostScanner().scan(bytes).references
    let plan = RewritePlan(
        references: references, postPath: "p.md", linker: ArchiveLinker(style: .prefix(prefix)), asset: fakeAsset)
    #expect(plan.rewrites.count == 2)
    #expect((plan.references(after: references, in: bytes) == nil) == isURL)
}
