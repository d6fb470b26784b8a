import Testing

@testable import ImgArchiveCore

/// What a test expects of one reference.
struct Expected: CustomStringConvertible, Equatable {
    var kind: ImageReference.Kind
    var url: String
    var width: Int? = nil
    var wrapped = false
    var remote = true

    var description: String { "\(kind.rawValue) \(url) w=\(width.map(String.init) ?? "nil") wrapped=\(wrapped)" }
}

func scan(_ text: String, options: ScanOptions = ScanOptions()) -> PostScan {
    PostScanner(options: options).scan(Array(text.utf8))
}

func simplified(_ text: String) -> [Expected] {
    scan(text).references.map {
        Expected(kind: $0.kind, url: $0.url, width: $0.width, wrapped: $0.wrapped, remote: $0.remote)
    }
}

/// Every reference's range must cover exactly the text it reports as written.
func checkSpans(_ text: String) {
    let bytes = Array(text.utf8)
    for r in scan(text).references {
        #expect(String(decoding: bytes[r.range], as: UTF8.self) == r.written)
    }
}

struct ScanCase: CustomTestStringConvertible, Sendable {
    var name: String
    var input: String
    var expected: [Expected]
    var testDescription: String { name }
}

let img = ImageReference.Kind.markdownInline
let refKind = ImageReference.Kind.markdownReference

let positiveCases: [ScanCase] = [
    ScanCase(
        name: "inline image", input: "![a](http://x.test/a.png)",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "title in double quotes", input: "![a](http://x.test/a.png \"T\")",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "title in single quotes", input: "![a](http://x.test/a.png 'T')",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "title in parentheses", input: "![a](http://x.test/a.png (T))",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "pointy destination with space", input: "![a](<http://x.test/a b.png> \"T\")",
        expected: [.init(kind: img, url: "http://x.test/a%20b.png")]),
    ScanCase(
        name: "balanced parentheses in URL", input: "![a](http://x.test/a_(1).png)",
        expected: [.init(kind: img, url: "http://x.test/a_(1).png")]),
    ScanCase(
        name: "backslash escapes", input: "![a](http://x.test/a\\_b\\(1\\).png)",
        expected: [.init(kind: img, url: "http://x.test/a_b(1).png")]),
    ScanCase(
        name: "entity in destination", input: "![a](http://x.test/a.png?x=1&amp;y=2)",
        expected: [.init(kind: img, url: "http://x.test/a.png?x=1&y=2")]),
    ScanCase(
        name: "destination on the next line", input: "![a](\nhttp://x.test/a.png\n\"title\"\n)",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "protocol-relative", input: "![a](//x.test/a.png)",
        expected: [.init(kind: img, url: "https://x.test/a.png")]
    ),
    ScanCase(
        name: "alt text with brackets and code", input: "![a [b] `c]`](http://x.test/a.png)",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "image inside a link (badge)", input: "[![b](http://x.test/badge.svg)](http://x.test/page)",
        expected: [
            .init(kind: img, url: "http://x.test/badge.svg"), .init(kind: .linkImage, url: "http://x.test/page"),
        ]),
    ScanCase(
        name: "full reference, labels case-insensitive",
        input: "![a][Logo]\n\n[logo]: http://x.test/l.png \"L\"",
        expected: [.init(kind: refKind, url: "http://x.test/l.png")]),
    ScanCase(
        name: "collapsed reference", input: "![Logo][]\n\n[logo]: <http://x.test/l.png>",
        expected: [.init(kind: refKind, url: "http://x.test/l.png")]),
    ScanCase(
        name: "shortcut reference", input: "![logo]\n\n[LOGO]: http://x.test/l.png",
        expected: [.init(kind: refKind, url: "http://x.test/l.png")]),
    ScanCase(
        name: "definition before use, used twice, reported once",
        input: "[l]: http://x.test/l.png\n\n![a][l] ![b][l]",
        expected: [.init(kind: refKind, url: "http://x.test/l.png")]),
    ScanCase(
        name: "html img src with entity and width",
        input: "<p><img alt=\"x\" width=\"550\" src=\"http://x.test/a.jpg?a=1&amp;b=2\"></p>",
        expected: [.init(kind: .htmlImg, url: "http://x.test/a.jpg?a=1&b=2", width: 550)]),
    ScanCase(
        name: "html img inside Markdown paragraph, unquoted attribute",
        input: "Text <IMG SRC=http://x.test/a.jpg /> more",
        expected: [.init(kind: .htmlImg, url: "http://x.test/a.jpg")]),
    ScanCase(
        name: "lazy-loading attributes",
        input:
            "<img src=\"data:image/gif;base64,R0lGOD\" data-src=\"http://x.test/a.jpg\" data-original='http://x.test/b.jpg'>",
        expected: [
            .init(kind: .htmlImg, url: "data:image/gif;base64,R0lGOD", remote: false),
            .init(kind: .htmlImg, url: "http://x.test/a.jpg"),
            .init(kind: .htmlImg, url: "http://x.test/b.jpg"),
        ]),
    ScanCase(
        name: "srcset candidates with descriptors, commas in URL",
        input: "<img srcset=\"http://x.test/a,1.jpg 1x,http://x.test/b.jpg 640w, http://x.test/c.jpg\">",
        expected: [
            .init(kind: .htmlSrcset, url: "http://x.test/a,1.jpg"),
            .init(kind: .htmlSrcset, url: "http://x.test/b.jpg", width: 640),
            .init(kind: .htmlSrcset, url: "http://x.test/c.jpg"),
        ]),
    ScanCase(
        name: "picture source srcset and data-srcset",
        input:
            "<picture><source srcset=\"http://x.test/a.webp\"><img data-srcset=\"http://x.test/b.jpg 300w\"></picture>",
        expected: [
            .init(kind: .htmlSrcset, url: "http://x.test/a.webp"),
            .init(kind: .htmlSrcset, url: "http://x.test/b.jpg", width: 300),
        ]),
    ScanCase(
        name: "css url in style attribute",
        input: "<div style=\"background-image: url('http://x.test/bg.jpg'); color: red\">hi</div>",
        expected: [.init(kind: .cssURL, url: "http://x.test/bg.jpg")]),
    ScanCase(
        name: "css url in style block, comments and @import skipped",
        input:
            "<style>\n@import url(http://x.test/i.css);\n/* url(http://x.test/no.png) */\n.a { background: URL( \"http://x.test/bg.png\" ) }\n</style>",
        expected: [.init(kind: .cssURL, url: "http://x.test/bg.png")]),
    ScanCase(
        name: "wrapped 126.net URL",
        input:
            "![](http://cms-\nbucket.ws.126.net/2019/03/12/b689a87a2d4f47c9b43b524015a52a5b.jpeg?imageView&thumbnail=550x0)",
        expected: [
            .init(
                kind: img,
                url:
                    "http://cms-bucket.ws.126.net/2019/03/12/b689a87a2d4f47c9b43b524015a52a5b.jpeg?imageView&thumbnail=550x0",
                width: 550, wrapped: true)
        ]),
    ScanCase(
        name: "wrapped across three lines with CRLF and a title",
        input: "![x](https://x.test/a/\r\nb/c/\r\nd.png \"t\")",
        expected: [.init(kind: img, url: "https://x.test/a/b/c/d.png", wrapped: true)]),
    ScanCase(
        name: "wrapped inside html src",
        input: "<img src=\"http://x.test/long-\npath.png\">",
        expected: [.init(kind: .htmlImg, url: "http://x.test/long-path.png", wrapped: true)]),
    ScanCase(
        name: "kramdown attribute list width",
        input: "![a](http://x.test/a.png){: width=\"550px\" .center}",
        expected: [.init(kind: img, url: "http://x.test/a.png", width: 550)]),
    ScanCase(
        name: "kramdown block attribute list on the next line",
        input: "![a](http://x.test/a.png)\n{: width=\"300\"}",
        expected: [.init(kind: img, url: "http://x.test/a.png", width: 300)]),
    ScanCase(
        name: "pandoc width", input: "![a](http://x.test/a.png){width=480px}",
        expected: [.init(kind: img, url: "http://x.test/a.png", width: 480)]),
    ScanCase(
        name: "obsidian width in alt", input: "![photo|640](http://x.test/a.png)",
        expected: [.init(kind: img, url: "http://x.test/a.png", width: 640)]),
    ScanCase(
        name: "hint wins over the CDN width",
        input: "<img width=\"300\" src=\"http://cms-bucket.ws.126.net/a.jpeg?imageView&thumbnail=550x0\">",
        expected: [
            .init(kind: .htmlImg, url: "http://cms-bucket.ws.126.net/a.jpeg?imageView&thumbnail=550x0", width: 300)
        ]),
    ScanCase(
        name: "local, data, file, mailto and templated are not remote",
        input:
            "![](/img/a.png) ![](data:image/png;base64,AA) ![](file:///etc/x.png) ![](mailto:a@b) ![]({{ site.url }}/x.png) ![](http://{{site.cdn}}/y.png)",
        expected: [
            .init(kind: img, url: "/img/a.png", remote: false),
            .init(kind: img, url: "data:image/png;base64,AA", remote: false),
            .init(kind: img, url: "file:///etc/x.png", remote: false),
            .init(kind: img, url: "mailto:a@b", remote: false),
            .init(kind: img, url: "{{ site.url }}/x.png", remote: false),
            .init(kind: img, url: "http://{{site.cdn}}/y.png", remote: false),
        ]),
    ScanCase(
        name: "image in a list item and a blockquote",
        input: "- item\n\n    ![a](http://x.test/list.png)\n\n> ![b](http://x.test/quote.png)",
        expected: [.init(kind: img, url: "http://x.test/list.png"), .init(kind: img, url: "http://x.test/quote.png")]),
    ScanCase(
        name: "indented line continuing a paragraph is not code",
        input: "para\n    ![a](http://x.test/a.png)",
        expected: [.init(kind: img, url: "http://x.test/a.png")]),
    ScanCase(
        name: "text after a Liquid raw block on the same line",
        input: "{% raw %}![](http://x.test/no.png){% endraw %} ![](http://x.test/yes.png)",
        expected: [.init(kind: img, url: "http://x.test/yes.png")]),
    ScanCase(
        name: "pre block: HTML images only",
        input: "<pre>\n![no](http://x.test/no.png)\n<img src=\"http://x.test/yes.png\">\n</pre>",
        expected: [.init(kind: .htmlImg, url: "http://x.test/yes.png")]),
    ScanCase(
        name: "non-ASCII URL is percent-encoded", input: "![a](http://x.test/图片.png)",
        expected: [.init(kind: img, url: "http://x.test/%E5%9B%BE%E7%89%87.png")]),
]

let negativeCases: [ScanCase] = [
    ScanCase(name: "fenced code with backticks", input: "```md\n![a](http://x.test/a.png)\n```", expected: []),
    ScanCase(
        name: "fenced code with tildes, longer fence", input: "~~~~\n~~~\n![a](http://x.test/a.png)\n~~~~", expected: []
    ),
    ScanCase(name: "unterminated fence runs to the end", input: "```\n![a](http://x.test/a.png)\n", expected: []),
    ScanCase(name: "fence inside a blockquote", input: "> ```\n> ![a](http://x.test/a.png)\n> ```", expected: []),
    ScanCase(name: "indented code block", input: "text\n\n    ![a](http://x.test/a.png)", expected: []),
    ScanCase(name: "code span", input: "Use `![a](http://x.test/a.png)` here", expected: []),
    ScanCase(name: "double-backtick code span", input: "``![a](http://x.test/`a`.png)``", expected: []),
    ScanCase(name: "html comment", input: "<!-- ![a](http://x.test/a.png) -->", expected: []),
    ScanCase(
        name: "multi-line html comment",
        input: "<!--\n![a](http://x.test/a.png)\n\n<img src=\"http://x.test/b.png\">\n-->", expected: []),
    ScanCase(name: "inline html comment", input: "a <!-- <img src=\"http://x.test/b.png\"> --> b", expected: []),
    ScanCase(
        name: "liquid highlight block",
        input: "{% highlight markdown %}\n![a](http://x.test/a.png)\n{% endhighlight %}", expected: []),
    ScanCase(
        name: "liquid raw block", input: "{% raw %}\n<img src=\"http://x.test/a.png\">\n{% endraw %}", expected: []),
    ScanCase(
        name: "script block", input: "<script>\nvar s = '<img src=\"http://x.test/a.png\">';\n</script>", expected: []),
    ScanCase(name: "unused definition", input: "[logo]: http://x.test/l.png", expected: []),
    ScanCase(
        name: "link whose destination looks like an image", input: "[text](![](http://x.test/x.png))", expected: []),
    ScanCase(name: "plain link to a page", input: "[see](http://x.test/a.html)", expected: []),
    ScanCase(name: "escaped bang makes a link", input: "\\![not](http://x.test/a)", expected: []),
    ScanCase(name: "image reference with no definition", input: "![a][nope]", expected: []),
    ScanCase(name: "autolink", input: "<http://x.test/a.png>", expected: []),
    ScanCase(name: "space in raw destination", input: "![a](http://x.test/a b.png)", expected: []),
    ScanCase(name: "blank line ends the construct", input: "![a](http://x.test/a\n\nb.png)", expected: []),
    ScanCase(name: "wrapped piece that is not a URL start", input: "![a](images/a-\nb.png)", expected: []),
    ScanCase(
        name: "img-like text", input: "<imgx src=\"http://x.test/a.png\"> <image src=\"http://x.test/b.png\">",
        expected: []),
    ScanCase(name: "empty destination", input: "![a]()", expected: []),
]

@Test(arguments: positiveCases)
func findsReferences(_ c: ScanCase) {
    #expect(simplified(c.input) == c.expected)
    checkSpans(c.input)
}

@Test(arguments: negativeCases)
func leavesNonImagesAlone(_ c: ScanCase) {
    #expect(simplified(c.input).filter(\.remote).isEmpty)
}

@Test func spansAreBytesOfTheOriginalFileWithBOMAndCRLF() throws {
    let text = "\u{FEFF}---\r\ntitle: x\r\n---\r\nÄ ![a](http://x.test/ä.png)\r\n"
    let bytes = Array(text.utf8)
    let r = try #require(scan(text).references.first)
    #expect(String(decoding: bytes[r.range], as: UTF8.self) == "http://x.test/ä.png")
    #expect(r.line == 4)
    #expect(r.column == 8)
}

@Test func invalidUTF8IsScannedWithByteSpans() throws {
    var bytes = Array("caf".utf8) + [0xE9, 0xFF] + Array(" ![a](http://x.test/a.png)\n".utf8)
    bytes += [0xC3]  // truncated sequence at the end
    let r = try #require(PostScanner().scan(bytes).references.first)
    #expect(Array(bytes[r.range]) == Array("http://x.test/a.png".utf8))
    #expect(r.url == "http://x.test/a.png")
}

@Test func lineEndingsOfEveryKind() {
    for ending in ["\n", "\r\n", "\r"] {
        let text = ["# T", "", "```", "![](http://x.test/code.png)", "```", "", "![](http://x.test/a.png)"]
            .joined(separator: ending)
        let refs = scan(text).references
        #expect(refs.map(\.url) == ["http://x.test/a.png"], "line ending \(Array(ending.utf8))")
        #expect(refs.first?.line == 7)
    }
}

@Test func wrappedSpanCoversAllPieces() throws {
    let text = "![](http://cms-\nbucket.ws.126.net/a.jpeg)"
    let r = try #require(scan(text).references.first)
    #expect(r.written == "http://cms-\nbucket.ws.126.net/a.jpeg")
    #expect(r.wrapped)
}

@Test func yamlFrontMatterFields() throws {
    let text = """
        ---
        title: "A: post"
        cover: https://x.test/cover.jpg
        thumbnail: 'https://x.test/thumb.jpg'
        header:
          image: "https://x.test/header.jpg"
          teaser: //x.test/teaser.jpg
        images:
          - https://x.test/i1.jpg
          - https://x.test/i2.jpg
        tags: [https://x.test/any-key.jpg, https://x.test/page]
        ---
        Body ![b](https://x.test/body.png)
        """
    let refs = scan(text).references
    #expect(
        refs.map(\.url) == [
            "https://x.test/cover.jpg", "https://x.test/thumb.jpg", "https://x.test/header.jpg",
            "https://x.test/teaser.jpg", "https://x.test/i1.jpg", "https://x.test/i2.jpg", "https://x.test/any-key.jpg",
            "https://x.test/body.png",
        ])
    #expect(refs.prefix(7).allSatisfy { $0.kind == .frontMatter })
    checkSpans(text)
}

@Test func frontMatterFieldsAreConfigurable() {
    let text = "---\nhero: https://x.test/hero?id=1\nimage: https://x.test/render?id=2\n---\n"
    let refs = scan(text, options: ScanOptions(frontMatterFields: ["hero"])).references
    #expect(refs.map(\.url) == ["https://x.test/hero?id=1"])
}

@Test func tomlFrontMatter() {
    let text = "+++\ntitle = \"x\"\nimage = \"https://x.test/a.jpg\"\n[header]\nimage = 'https://x.test/h.jpg'\n+++\n"
    #expect(scan(text).references.map(\.url) == ["https://x.test/a.jpg", "https://x.test/h.jpg"])
    checkSpans(text)
}

@Test func brokenFrontMatterIsReportedAndBodyStillScanned() {
    let bad = scan("---\ncover: [unclosed\n---\n![](http://x.test/a.png)\n")
    #expect(bad.diagnostics.count == 1)
    #expect(bad.diagnostics.first?.message.contains("not valid YAML") == true)
    #expect(bad.references.map(\.url) == ["http://x.test/a.png"])

    let unterminated = scan("---\ncover: http://x.test/c.png\n![](http://x.test/a.png)\n")
    #expect(unterminated.diagnostics.first?.message.contains("no closing") == true)
    #expect(unterminated.references.map(\.url) == ["http://x.test/a.png"])
}

@Test func referencesKnowTheirOrigin() throws {
    let r = try #require(scan("![](http://cms-bucket.ws.126.net/a.jpeg?imageView&thumbnail=550x0)").references.first)
    #expect(r.origin == "http://cms-bucket.ws.126.net/a.jpeg")
    #expect(r.width == 550)
    let plain = try #require(scan("![](http://x.test/a.png)").references.first)
    #expect(plain.origin == plain.url)
    #expect(plain.width == nil)
}
