import Testing

@testable import ImgArchiveCore

/// Hugo shortcodes, Hexo tag plugins and Liquid includes/tags: what is a reference, its exact span and width.
let tpl = ImageReference.Kind.template

let templateCases: [ScanCase] = [
    // Hugo
    ScanCase(
        name: "hugo figure, double quotes", input: "{{< figure src=\"https://x.test/a.jpg\" width=\"600\" >}}\n",
        expected: [.init(kind: tpl, url: "https://x.test/a.jpg", width: 600)]),
    ScanCase(
        name: "hugo figure, single quotes and no spaces", input: "{{<figure src='https://x.test/a.jpg'>}}\n",
        expected: [.init(kind: tpl, url: "https://x.test/a.jpg")]),
    ScanCase(
        name: "hugo figure, bare value, self-closing", input: "{{< figure src=https://x.test/a.jpg width=300 />}}\n",
        expected: [.init(kind: tpl, url: "https://x.test/a.jpg", width: 300)]),
    ScanCase(
        name: "hugo figure over several lines, src without image sign",
        input:
            "{{< figure\n  src=\"https://x.test/photo?id=7\"\n  link=\"https://x.test/big.png\"\n  height=\"200\"\n  caption=\"A lake\"\n>}}\n",
        expected: [
            .init(kind: tpl, url: "https://x.test/photo?id=7"), .init(kind: tpl, url: "https://x.test/big.png"),
        ]),
    ScanCase(
        name: "hugo figure width goes to src, not to the full-size link",
        input: "{{< figure link=\"https://x.test/full.jpg\" src=\"https://x.test/small.jpg\" width=\"320\" >}}",
        expected: [
            .init(kind: tpl, url: "https://x.test/full.jpg"),
            .init(kind: tpl, url: "https://x.test/small.jpg", width: 320),
        ]),
    ScanCase(
        name: "hugo figure, link to a page is not an image",
        input: "{{< figure src=\"https://x.test/a.jpg\" link=\"https://x.test/post/\" >}}",
        expected: [.init(kind: tpl, url: "https://x.test/a.jpg")]),
    ScanCase(
        name: "hugo percent delimiters, paired",
        input: "{{% gallery %}}\n{{% img \"https://x.test/g.png\" %}}\n{{% /gallery %}}\n",
        expected: [.init(kind: tpl, url: "https://x.test/g.png")]),
    ScanCase(
        name: "hugo unknown shortcode: only remote image values",
        input:
            "{{< youtube id=\"abc\" >}} {{< photo \"https://x.test/p.webp\" \"https://x.test/page\" width=\"40%\" >}}",
        expected: [.init(kind: tpl, url: "https://x.test/p.webp")]),
    ScanCase(
        name: "hugo figure with a local src is listed, not remote",
        input: "{{< figure src=\"/images/a.jpg\" >}}",
        expected: [.init(kind: tpl, url: "/images/a.jpg", remote: false)]),
    ScanCase(
        name: "hugo raw string parameter", input: "{{< figure src=`https://x.test/r.jpg` >}}",
        expected: [.init(kind: tpl, url: "https://x.test/r.jpg")]),
    ScanCase(
        name: "hugo escaped shortcode is text",
        input: "{{</* figure src=\"https://x.test/no.jpg\" */>}} and {{%/* figure src=\"https://x.test/no2.jpg\" */%}}",
        expected: []),
    ScanCase(
        name: "hugo gallery listing several URLs",
        input: "{{< gallery images=\"https://x.test/1.jpg, https://x.test/2.jpg https://x.test/3.jpg\" >}}",
        expected: [
            .init(kind: tpl, url: "https://x.test/1.jpg"), .init(kind: tpl, url: "https://x.test/2.jpg"),
            .init(kind: tpl, url: "https://x.test/3.jpg"),
        ]),
    ScanCase(
        name: "a cloudinary URL with commas stays whole",
        input: "{{< img src=\"https://res.cloudinary.com/demo/image/upload/w_300,h_200,c_fill/sample.jpg\" >}}",
        expected: [
            .init(
                kind: tpl, url: "https://res.cloudinary.com/demo/image/upload/w_300,h_200,c_fill/sample.jpg",
                width: 300)
        ]),
    ScanCase(
        name: "a CDN URL without extension is an image sign",
        input: "{{< pic url=\"https://pbs.twimg.com/media/EaBcD?format=jpg&name=large\" >}}",
        expected: [.init(kind: tpl, url: "https://pbs.twimg.com/media/EaBcD?format=jpg&name=large", width: 2048)]),
    ScanCase(
        name: "hugo braces in a caption, and a shortcode that meets another's opener",
        input:
            "{{< figure src=\"https://x.test/a.jpg\" caption=\"{{ b }}\" >}}\n{{< figure src=\"https://x.test/no.jpg\" {{< figure src=\"https://x.test/c.jpg\" >}}",
        expected: [.init(kind: tpl, url: "https://x.test/a.jpg"), .init(kind: tpl, url: "https://x.test/c.jpg")]),
    ScanCase(
        name: "hugo unclosed shortcode is text, the image after it is found",
        input: "{{< figure src=\"https://x.test/a.jpg\"\n\n![b](https://x.test/b.jpg)",
        expected: [.init(kind: .markdownInline, url: "https://x.test/b.jpg")]),
    // Hexo
    ScanCase(
        name: "hexo img with classes, width, height, title",
        input: "{% img left shadow https://x.test/h.jpg 480 320 '\"The title\" \"alt\"' %}",
        expected: [.init(kind: tpl, url: "https://x.test/h.jpg", width: 480)]),
    ScanCase(
        name: "hexo img without image sign, percent width",
        input: "{% img //x.test/photo 50% %}",
        expected: [.init(kind: tpl, url: "https://x.test/photo")]),
    ScanCase(
        name: "hexo img with a root path is local", input: "{% img /images/a.png 200 %}",
        expected: [.init(kind: tpl, url: "/images/a.png", width: 200, remote: false)]),
    ScanCase(
        name: "hexo asset_img is local", input: "{% asset_img shot.png 300 \"A shot\" %}",
        expected: [.init(kind: tpl, url: "shot.png", width: 300, remote: false)]),
    ScanCase(
        name: "hexo comma style image tag", input: "{%- image https://x.test/c.png, alt=haha, width=400px -%}",
        expected: [.init(kind: tpl, url: "https://x.test/c.png", width: 400)]),
    // Jekyll / Liquid
    ScanCase(
        name: "jekyll image include, url without image sign",
        input: "{% include image.html url=\"https://x.test/i?id=1\" description=\"x\" width=\"640\" %}",
        expected: [.init(kind: tpl, url: "https://x.test/i?id=1", width: 640)]),
    ScanCase(
        name: "jekyll figure include, single quotes and spaces around =",
        input: "{% include figure.html image = 'https://x.test/f.jpg' caption='c' %}",
        expected: [.init(kind: tpl, url: "https://x.test/f.jpg")]),
    ScanCase(
        name: "jekyll other include: only remote image values",
        input: "{% include video.html url=\"https://x.test/v.mp4\" poster=\"https://x.test/poster.jpg\" %}",
        expected: [.init(kind: tpl, url: "https://x.test/poster.jpg")]),
    ScanCase(
        name: "jekyll include with a templated url is listed, not remote",
        input: "{% include image.html url=\"{{ site.url }}/a.png\" %}",
        expected: [.init(kind: tpl, url: "{{ site.url }}/a.png", remote: false)]),
    ScanCase(
        name: "jekyll include passing a variable is no image, a bare path is",
        input: "{% include image.html url=page.image %} {% include image.html file=/img/a.png %}",
        expected: [.init(kind: tpl, url: "/img/a.png", remote: false)]),
    ScanCase(
        name: "picture tag with a preset and a media source",
        input: "{% picture gallery https://x.test/pic mobile: https://x.test/pic-m.jpg --alt A picture %}",
        expected: [.init(kind: tpl, url: "https://x.test/pic"), .init(kind: tpl, url: "https://x.test/pic-m.jpg")]),
    ScanCase(
        name: "responsive_image path", input: "{% responsive_image path: https://x.test/r alt: \"R\" %}",
        expected: [.init(kind: tpl, url: "https://x.test/r")]),
    ScanCase(
        name: "liquid logic comparing with a URL is not an image",
        input: "{% if page.image == \"https://x.test/a.jpg\" %}x{% endif %}", expected: []),
    ScanCase(
        name: "liquid assign of an image URL", input: "{% assign hero = \"https://x.test/hero.jpg\" %}",
        expected: [.init(kind: tpl, url: "https://x.test/hero.jpg")]),
    // Code
    ScanCase(
        name: "never in fenced code", input: "```\n{{< figure src=\"https://x.test/a.jpg\" >}}\n```\n", expected: []),
    ScanCase(
        name: "never in indented code", input: "para\n\n    {% img https://x.test/a.jpg %}\n", expected: []),
    ScanCase(
        name: "never in code spans",
        input: "Use `{{< figure src=\"https://x.test/a.jpg\" >}}` or ``{% img https://x.test/b.jpg %}``", expected: []),
    ScanCase(
        name: "never in liquid raw",
        input:
            "{% raw %}\n{{< figure src=\"https://x.test/a.jpg\" >}}\n{% endraw %}\n{% raw %}{% img https://x.test/b.jpg %}{% endraw %} {% img https://x.test/c.jpg %}\n",
        expected: [.init(kind: tpl, url: "https://x.test/c.jpg")]),
    ScanCase(
        name: "never in a highlight block",
        input: "{% highlight liquid %}\n{% include image.html url=\"https://x.test/a.jpg\" %}\n{% endhighlight %}\n",
        expected: []),
]

@Test(arguments: templateCases)
func templateSyntax(_ c: ScanCase) {
    #expect(simplified(c.input) == c.expected, "\(c.input)")
    checkSpans(c.input)
}

@Test func spansAreTheURLBytesInsideTheQuotes() throws {
    let text = "{{< figure src=\"https://x.test/a.jpg\" >}}"
    let r = try #require(scan(text).references.first)
    let bytes = Array(text.utf8)
    #expect(String(decoding: bytes[r.range], as: UTF8.self) == "https://x.test/a.jpg")
    #expect(bytes[r.range.lowerBound - 1] == UInt8(ascii: "\""))
    #expect(r.line == 1 && r.column == 17)
}

@Test func configuredTemplatesNameTheirImageParameters() {
    var templates = ScanOptions.defaultTemplates
    templates["img"] = ["src"]
    templates["gallery"] = ["images"]
    templates["pic"] = ["0"]
    templates["figure"] = []  // a name given replaces its default
    let options = ScanOptions(templates: templates)
    let text = """
        {{< img src="https://x.test/noext" >}}
        {{< gallery images="https://x.test/g1 https://x.test/g2" >}}
        {% pic https://x.test/first https://x.test/second %}
        {{< figure src="https://x.test/fig" >}}
        {{< other src="https://x.test/other" >}}
        """
    let urls = scan(text, options: options).references.map(\.url)
    #expect(
        urls == ["https://x.test/noext", "https://x.test/g1", "https://x.test/g2", "https://x.test/first"])
}

@Test(arguments: [
    ("https://x.test/a.JPG", true), ("https://x.test/a.jpeg?w=1#f", true), ("//x.test/d/e.webp", true),
    ("https://x.test/a.jpg/page", false), ("https://x.test/img?f=a.jpg", false), ("https://x.test/", false),
    ("https://x.jpg", false), ("https://x.test/archive.tar.gz", false),
    ("https://images.unsplash.com/photo-1?w=800", true), ("https://x.test/page.html", false),
])
func imageSignOfAURL(_ url: String, _ isImage: Bool) {
    #expect(CDNRules.builtIn.isImageURL(url) == isImage, "\(url)")
}

/// Every template syntax through scan, plan, apply and revert: only the URL bytes change, and revert gives the
/// original bytes (the same checks as the other reference kinds).
let templateRewriteCases: [RewriteCase] = [
    RewriteCase(
        "hugo figure over lines, self-closing and percent",
        "{{< figure\n  src=\"https://img.test/a.jpg?imageView&thumbnail=550x0\"\n  width=\"550\"\n  caption=\"Lake\" >}}\n\n{{% img src='https://img.test/b.png' /%}}\n\n{{< photo https://img.test/c.webp >}}\n"
    ),
    RewriteCase(
        "hugo gallery, raw string and escaped shortcode",
        "{{< gallery images=\"https://img.test/1.jpg, https://img.test/2.jpg\" >}}\n{{< figure src=`https://img.test/r.jpg` >}}\n{{</* figure src=\"https://img.test/escaped.jpg\" */>}}\n"
    ),
    RewriteCase(
        "hexo img tags",
        "{% img left https://img.test/h.jpg 550 300 '\"Title\" \"alt\"' %}\r\n{%- image https://img.test/i.png, alt=x -%}\r\n"
    ),
    RewriteCase(
        "jekyll includes and liquid tags",
        "{% include image.html url=\"https://img.test/inc?id=4\" width=\"550\" %}\n{% include figure.html image='https://img.test/f.jpg' %}\n{% picture thumb https://img.test/p.jpg --alt P %}\n{% responsive_image path: https://img.test/resp.jpg %}\n"
    ),
    RewriteCase(
        "templates beside code",
        "```\n{{< figure src=\"http://img.test/code.jpg\" >}}\n```\n\n`{% img http://img.test/span.jpg %}`\n\n{% raw %}{% img https://img.test/raw.jpg %}{% endraw %} {% img https://img.test/real.jpg %}\n"
    ),
]

@Test(arguments: templateRewriteCases)
func templateRewriteRoundTrip(_ c: RewriteCase) throws {
    #expect(PostScanner().scan(c.bytes).references.allSatisfy { $0.kind == .template })
    try rewriteTouchesOnlyURLsAndRevertsExactly(c)
    let text = String(decoding: c.bytes, as: UTF8.self)
    for kept in ["escaped.jpg", "raw.jpg"] where text.contains(kept) {
        let scan = PostScanner().scan(c.bytes)
        #expect(!scan.references.contains { $0.url.hasSuffix(kept) })
    }
}

@Test func theTemplatesKeyAddsToTheDefaultsAndReachesTheScanner() throws {
    let config = try ConfigFile.parse(
        "templates:\n  img: [src, 0]\n  gallery: images\n  figure: []\n  video.html: [poster]\n", path: "imgarchive.yml"
    )
    #expect(config.templates["img"] == ["src", "0"])
    #expect(config.templates["gallery"] == ["images"])
    let options = config.scanOptions
    #expect(options.templates["figure"] == [])
    #expect(options.templates["image.html"] == ["url", "src", "file", "image"])
    #expect(options.templates["video.html"] == ["poster"])
    let refs = scan("{% include video.html poster=\"https://x.test/p\" %}", options: options).references
    #expect(refs.map(\.url) == ["https://x.test/p"])
}

@Test(arguments: [
    ("templates: [img]\n", "'templates' must be a mapping"),
    ("templates:\n  img: {src: 1}\n", "templates: 'img' must list its image parameters"),
    ("templates:\n  img: [\"a b\"]\n", "templates: 'img' has a bad parameter name 'a b'"),
    ("templates:\n  \"{% img\": [src]\n", "is not a tag name"),
])
func badTemplatesSayWhatToWrite(_ text: String, _ message: String) {
    #expect {
        _ = try ConfigFile.parse(text, path: "imgarchive.yml")
    } throws: { error in
        let e = error as? ConfigFileError
        return e?.line != nil && (e?.message.contains(message) ?? false)
    }
}
