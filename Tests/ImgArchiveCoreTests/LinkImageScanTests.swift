import Testing

@testable import ImgArchiveCore

struct LinkCase: CustomTestStringConvertible, Sendable {
    var name: String
    var input: String
    /// Kind and URL of each reference, in order.
    var expected: [(ImageReference.Kind, String)]
    var testDescription: String { name }
}

let linkCases: [LinkCase] = [
    LinkCase(
        name: "Markdown image linking its original",
        input: "Look: [![alt](https://x.test/small.jpg)](https://x.test/full.jpg \"Full\")\n",
        expected: [(.markdownInline, "https://x.test/small.jpg"), (.linkImage, "https://x.test/full.jpg")]),
    LinkCase(
        name: "an image linking a URL with no image sign is fetched to see",
        input: "[![](https://x.test/s.jpg)](https://photos.x.test/view/123)\n",
        expected: [(.markdownInline, "https://x.test/s.jpg"), (.linkImage, "https://photos.x.test/view/123")]),
    LinkCase(
        name: "HTML anchor around an img",
        input:
            "<p><a href=\"https://x.test/full.png?a=1&amp;b=2\" class=\"zoom\">\n<img src=\"https://x.test/small.png\"></a></p>\n",
        expected: [(.linkImage, "https://x.test/full.png?a=1&b=2"), (.htmlImg, "https://x.test/small.png")]),
    LinkCase(
        name: "HTML anchor with no image sign around an img",
        input: "<a href='https://flickr.test/photos/1'><img src='https://x.test/t.jpg'></a>\n",
        expected: [(.linkImage, "https://flickr.test/photos/1"), (.htmlImg, "https://x.test/t.jpg")]),
    LinkCase(
        name: "a plain link to an image",
        input: "See the [diagram](https://x.test/docs/diagram.png) and [the docs](https://x.test/docs/).\n",
        expected: [(.linkImage, "https://x.test/docs/diagram.png")]),
    LinkCase(
        name: "a plain HTML link to an image, a plain link to a page",
        input: "<a href=\"https://x.test/d.svg\">d</a> <a href=\"https://x.test/about\">about</a>\n",
        expected: [(.linkImage, "https://x.test/d.svg")]),
    LinkCase(
        name: "a link a CDN rule knows",
        input: "[card](https://res.cloudinary.com/demo/image/upload/w_300/sample)\n",
        expected: [(.linkImage, "https://res.cloudinary.com/demo/image/upload/w_300/sample")]),
    LinkCase(
        name: "reference links: around an image, and plain",
        input:
            "[![a][small]][full] and [text][page] [pic][pic]\n\n[small]: https://x.test/s.jpg\n[full]: https://x.test/f\n[page]: https://x.test/p\n[pic]: https://x.test/p.gif\n",
        expected: [
            (.markdownReference, "https://x.test/s.jpg"), (.linkImage, "https://x.test/f"),
            (.linkImage, "https://x.test/p.gif"),
        ]),
    LinkCase(
        name: "an anchor around a Markdown image",
        input: "<a href=\"https://x.test/orig\">\n![](https://x.test/t.jpg)\n</a>\n",
        expected: [(.linkImage, "https://x.test/orig"), (.markdownInline, "https://x.test/t.jpg")]),
    LinkCase(
        name: "not in code, not autolinks, not bare URLs",
        input:
            "`[a](https://x.test/c.png)`\n\n    [b](https://x.test/i.png)\n\n<https://x.test/auto.png> https://x.test/bare.png\n",
        expected: []),
    LinkCase(
        name: "local link targets need an image extension",
        input: "[![](/s.jpg)](/posts/page/) [![](/s2.jpg)](/full/s2.jpg)\n",
        expected: [
            (.markdownInline, "/s.jpg"), (.markdownInline, "/s2.jpg"), (.linkImage, "/full/s2.jpg"),
        ]),
]

@Test(arguments: linkCases)
func linkTargets(_ c: LinkCase) throws {
    let references = scan(c.input).references
    #expect(references.map(\.kind) == c.expected.map(\.0))
    #expect(references.map(\.url) == c.expected.map(\.1))
    // A link target is shown full size: never a width, so never a thumbnail.
    #expect(references.filter { $0.kind == .linkImage }.allSatisfy { $0.width == nil })
    try roundTrip(c.input)
}

@Test func aLinkTargetAtACDNWidthIsStillTheOriginal() {
    let r = scan("[![](https://x.test/a.jpg)](https://res.cloudinary.com/demo/image/upload/w_300/sample)")
        .references.last
    #expect(r?.kind == .linkImage)
    #expect(r?.width == nil)
    #expect(r?.origin == "https://res.cloudinary.com/demo/image/upload/sample")
}

@Test func linkImagesCanBeTurnedOff() throws {
    let text =
        "[![](https://x.test/s.jpg)](https://x.test/f.jpg) [d](https://x.test/d.png) <a href=\"https://x.test/h.png\">h</a>"
    let config = try ConfigFile.parse("link-images: false\n", path: "imgarchive.yml")
    #expect(config.linkImages == false)
    let references = scan(text, options: config.scanOptions).references
    #expect(references.map(\.kind) == [.markdownInline])
    #expect(scan(text).references.count == 4)
    #expect(try ConfigFile.parse("link-images: true\n", path: "c.yml").scanOptions.linkImages)
    #expect(ConfigFile().scanOptions.linkImages)
    #expect(throws: ConfigFileError.self) { try ConfigFile.parse("link-images: maybe\n", path: "c.yml") }
}
