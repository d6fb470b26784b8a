import Testing

@testable import ImgArchiveCore

/// Rewrites every remote reference of `text` to a local link, checks the rewritten post has none left, and that
/// revert gives the original bytes back; returns the references found.
@discardableResult
func roundTrip(_ text: String, options: ScanOptions = ScanOptions()) throws -> [ImageReference] {
    let bytes = Array(text.utf8)
    let scanner = PostScanner(options: options)
    let references = scanner.scan(bytes).references
    for r in references { #expect(String(decoding: bytes[r.range], as: UTF8.self) == r.written) }
    let linker = ArchiveLinker(style: .prefix("/archive"))
    let plan = RewritePlan(references: references, postPath: "p.md", linker: linker, asset: fakeAsset)
    #expect(plan.rewrites.count == references.filter(\.remote).count)
    let (rewritten, ranges) = try #require(Splice.apply(plan.splices, to: bytes))
    #expect(scanner.scan(rewritten).references.filter(\.remote).isEmpty)
    let step = RevertStep(
        spans: zip(plan.rewrites, ranges).map { rewrite, range in
            RevertStep.Span(
                range: range, replacement: Array(rewrite.replacement.utf8),
                original: Array(bytes[rewrite.reference.range]))
        })
    #expect(step.undoExactly(rewritten)?.bytes == bytes)
    return references
}

struct FrontMatterCase: CustomTestStringConvertible, Sendable {
    var name: String
    var input: String
    var urls: [String]
    var diagnostics = 0
    var testDescription: String { name }
}

let frontMatterCases: [FrontMatterCase] = [
    FrontMatterCase(
        name: "image URLs at any depth, any key",
        input: """
            ---
            title: "Post"
            hero:
              background: https://x.test/bg.webp
              credits: https://x.test/about
            gallery:
              - src: https://x.test/g1.jpg
                caption: one
              - src: "https://x.test/g2.PNG?v=2"
            og: [https://x.test/og.jpg, https://x.test/page]
            link: https://x.test/post/
            ---
            Body

            """,
        urls: [
            "https://x.test/bg.webp", "https://x.test/g1.jpg", "https://x.test/g2.PNG?v=2", "https://x.test/og.jpg",
        ]),
    FrontMatterCase(
        name: "a CDN URL without an extension",
        input: "---\nsocial:\n  card: https://res.cloudinary.com/demo/image/upload/w_600/sample\n---\n",
        urls: ["https://res.cloudinary.com/demo/image/upload/w_600/sample"]),
    FrontMatterCase(
        name: "configured fields take any URL, also without an image sign",
        input: "---\ncover: https://x.test/render?id=4\nimages:\n  - /local/a.jpg\n---\n",
        urls: ["https://x.test/render?id=4", "/local/a.jpg"]),
    FrontMatterCase(
        name: "duplicate keys keep the last, as Jekyll and Hexo do",
        input: "---\nimage: https://x.test/old.jpg\ntitle: T\nimage: https://x.test/new.jpg\n---\n",
        urls: ["https://x.test/new.jpg"]),
    FrontMatterCase(
        name: "duplicate nested keys and a duplicated list",
        input: """
            ---
            header:
              teaser: https://x.test/t1.jpg
              teaser: https://x.test/t2.jpg
            photos:
            - https://x.test/p1.jpg
            - https://x.test/p2.jpg
            photos:
            - https://x.test/p3.jpg
            ---

            """,
        urls: ["https://x.test/t2.jpg", "https://x.test/p3.jpg"]),
    FrontMatterCase(
        name: "invalid YAML is read line by line, with one diagnostic",
        input: """
            ---
            title: Broken: "quotes" here
              bad indent: [
            cover: https://x.test/cover.jpg # the cover
            thumbnail: "https://x.test/thumb.png"
            tags:
            - https://x.test/inline.gif
            - not a url
            ---

            """,
        urls: ["https://x.test/cover.jpg", "https://x.test/thumb.png", "https://x.test/inline.gif"],
        diagnostics: 1),
    FrontMatterCase(
        name: "no URL and no configured key: nothing to parse",
        input: "---\ntitle: T\ndate: 2020-01-01\n---\n![](http://x.test/a.png)\n",
        urls: ["http://x.test/a.png"]),
    FrontMatterCase(
        name: "TOML: nested tables, arrays over lines, inline tables, arrays of tables",
        input: """
            +++
            title = "T" # comment with https://x.test/c.jpg
            pics = [
              "https://x.test/a1.jpg", # first
              'https://x.test/a2.jpg',
              "https://x.test/page",
            ]
            [params]
            hero = { src = "https://x.test/hero.jpg", width = 800 }
            [params.social]
            card = "https://x.test/card.png"
            [[gallery]]
            src = "https://x.test/g.jpg"
            escaped = "https:\\/\\/x.test/e.jpg"
            multi = \"\"\"
            https://x.test/m.jpg
            \"\"\"
            +++

            """,
        urls: [
            "https://x.test/a1.jpg", "https://x.test/a2.jpg", "https://x.test/hero.jpg", "https://x.test/card.png",
            "https://x.test/g.jpg",
        ]),
    FrontMatterCase(
        name: "TOML configured field in a table",
        input: "+++\n[header]\nimage = '/img/h.jpg'\n+++\n",
        urls: ["/img/h.jpg"]),
]

@Test(arguments: frontMatterCases)
func frontMatterValues(_ c: FrontMatterCase) throws {
    let scan = scan(c.input)
    #expect(scan.references.map(\.url) == c.urls)
    #expect(scan.diagnostics.count == c.diagnostics, "\(scan.diagnostics)")
    try roundTrip(c.input)
}

@Test func lineReaderSaysWhereAndWhat() {
    let scan = scan("---\na: b: c\nimage: https://x.test/i.jpg\n---\n")
    let diagnostic = scan.diagnostics.first
    #expect(diagnostic?.line == 2)
    #expect(diagnostic?.message.contains("not valid YAML") == true)
    #expect(diagnostic?.message.contains("line by line") == true)
    #expect(scan.references.map(\.url) == ["https://x.test/i.jpg"])
}

@Test func imageSignIsSharedAndStrict() {
    let rules = CDNRules.builtIn
    #expect(rules.isImageURL("https://x.test/a/b.JPG"))
    #expect(rules.isImageURL("//x.test/b.svg#frag"))
    #expect(rules.isImageURL("https://pbs.twimg.com/media/abc.jpg:large"))
    #expect(rules.isImageURL("https://res.cloudinary.com/demo/image/upload/w_300/sample"))
    #expect(!rules.isImageURL("https://x.test/page.html"))
    #expect(!rules.isImageURL("https://x.test/jpg"))
    #expect(!rules.isImageURL("https://x.test/a.jpg.html?x=.png"))
    #expect(!rules.isImageURL("/local/a.jpg"))
    #expect(!rules.isImageURL("mailto:a@b.jpg"))
}
