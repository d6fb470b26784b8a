import Foundation
import ImgArchiveCore
import Testing

/// One row of Fixtures/cdn-cases.tsv.
struct CDNCase: Sendable, CustomTestStringConvertible {
    let line: Int
    let input: String
    let origin: String
    let width: Int?
    let note: String

    var testDescription: String { "line \(line): \(note)" }

    static let fixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/cdn-cases.tsv")

    /// The rows of the fixture (empty when it cannot be read; `fixtureHasEveryRow` then fails).
    static let all: [CDNCase] = {
        guard let text = try? String(contentsOf: fixtureURL, encoding: .utf8) else { return [] }
        var cases: [CDNCase] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard index > 0, fields.count >= 3 else { continue }
            cases.append(
                CDNCase(
                    line: index + 1, input: fields[0], origin: fields[1], width: Int(fields[2]),
                    note: fields.count > 3 ? fields[3] : ""))
        }
        return cases
    }()
}

@Suite("CDN rules")
struct CDNRulesTests {
    let rules = CDNRules.builtIn

    @Test("the fixture has its 120 rows, each with a valid width column")
    func fixtureHasEveryRow() throws {
        let text = try String(contentsOf: CDNCase.fixtureURL, encoding: .utf8)
        let dataLines = text.split(separator: "\n").dropFirst()
        #expect(CDNCase.all.count == 120)
        #expect(CDNCase.all.count == dataLines.count)
        for row in dataLines {
            let width = row.split(separator: "\t", omittingEmptySubsequences: false)[2]
            #expect(width.isEmpty || Int(width) != nil, "bad width column in \(row)")
        }
    }

    @Test("every built-in rule compiles")
    func builtInRulesCompile() throws {
        try CDNRules.validate(CDNRule.builtIn)
        #expect(CDNRules.builtIn.rules.count == CDNRule.builtIn.count)
    }

    @Test("fixture row resolves to the expected origin and width", arguments: CDNCase.all)
    func fixtureRow(_ row: CDNCase) {
        let resolved = rules.resolve(row.input)
        #expect(resolved.origin == row.origin)
        #expect(resolved.width == row.width)
        if resolved.origin != row.input || resolved.width != nil {
            #expect(resolved.rule != nil, "a rewrite or a width must name its rule")
        }
    }
}

/// A hand-written case: what the rule table (docs/cdn-rules.md) says a URL means.
struct CDNExtraCase: Sendable, CustomTestStringConvertible {
    let why: String
    let input: String
    let origin: String
    let width: Int?
    let height: Int?
    let mode: ResizeMode?
    var testDescription: String { why }

    init(
        _ why: String, _ input: String, _ origin: String, _ width: Int?, _ height: Int? = nil, _ mode: ResizeMode? = nil
    ) {
        self.why = why
        self.input = input
        self.origin = origin
        self.width = width
        self.height = height
        self.mode = mode
    }

    static let all: [CDNExtraCase] = [
        CDNExtraCase(
            "unknown host: bare w= is not trusted", "https://example.com/img/a.jpg?w=300&h=200",
            "https://example.com/img/a.jpg?w=300&h=200", nil),
        CDNExtraCase(
            "unknown URL keeps its fragment", "https://example.com/a.png#frag", "https://example.com/a.png#frag", nil),
        CDNExtraCase(
            "signed OSS URL is kept as written, size still read",
            "https://bucket.oss-cn-hangzhou.aliyuncs.com/a.jpg?x-oss-process=image/resize,w_300&OSSAccessKeyId=AK&Expires=1700000000&Signature=abc%3D",
            "https://bucket.oss-cn-hangzhou.aliyuncs.com/a.jpg?x-oss-process=image/resize,w_300&OSSAccessKeyId=AK&Expires=1700000000&Signature=abc%3D",
            300, nil, .fitInside),
        CDNExtraCase(
            "signed imgix URL (s=) is kept", "https://assets.imgix.net/a.jpg?w=400&fit=max&s=0123abcd",
            "https://assets.imgix.net/a.jpg?w=400&fit=max&s=0123abcd", 400, nil, .fitInside),
        CDNExtraCase(
            "signed sinaimg URL is kept",
            "https://tvax1.sinaimg.cn/mw690/abc.jpg?KID=imgbed,tva&Expires=1700000000&ssig=xyz",
            "https://tvax1.sinaimg.cn/mw690/abc.jpg?KID=imgbed,tva&Expires=1700000000&ssig=xyz", 690, nil, .fitInside),
        CDNExtraCase(
            "only x-oss-process is removed, other params kept in order",
            "https://static.example.org/p/a.png?v=3&x-oss-process=image/resize,m_lfit,w_200,h_100&token=abc",
            "https://static.example.org/p/a.png?v=3&token=abc", 200, 100, .fitInside),
        CDNExtraCase(
            "only the imageMogr2 item is removed", "https://cdn.example.net/k?v=1&imageMogr2/thumbnail/300x&b=2",
            "https://cdn.example.net/k?v=1&b=2", 300, nil, .fitInside),
        CDNExtraCase(
            "Shopify ?width= dropped, ?v= kept",
            "https://cdn.shopify.com/s/files/1/0001/products/shirt.jpg?v=12&width=640&height=480",
            "https://cdn.shopify.com/s/files/1/0001/products/shirt.jpg?v=12", 640, nil, .fitInside),
        CDNExtraCase(
            "percent-encoded imageView2", "https://a.example.com/k.jpg?imageView2%2F1%2Fw%2F120%2Fh%2F90",
            "https://a.example.com/k.jpg", 120, 90, .crop),
        CDNExtraCase(
            "percent-encoded pipe chain",
            "https://b.example.com/k.png?imageMogr2%2Fauto-orient%7CimageView2%2F2%2Fw%2F480",
            "https://b.example.com/k.png", 480, nil, .fitInside),
        CDNExtraCase(
            "Upyun %21 separator", "https://c.example.com/a.jpg%21/fw/100", "https://c.example.com/a.jpg", 100, nil,
            .fitInside),
        CDNExtraCase(
            "Photon around a WordPress size: outer width and mode win",
            "https://i0.wp.com/example.com/wp-content/uploads/2020/01/a-300x200.jpg?resize=300%2C200&ssl=1",
            "https://example.com/wp-content/uploads/2020/01/a.jpg", 300, 200, .crop),
        CDNExtraCase(
            "Photon without a size: the inner layer's size is used",
            "https://i1.wp.com/example.com/wp-content/uploads/2020/01/b-1024x768.png",
            "http://example.com/wp-content/uploads/2020/01/b.png", 1024, 768),
        CDNExtraCase(
            "three layers: nimg > Cloudinary fetch > imageView2",
            "https://nimg.ws.126.net/?url=https%3A%2F%2Fres.cloudinary.com%2Fdemo%2Fimage%2Ffetch%2Fhttps%253A%252F%252Fupload-images.jianshu.io%252Fupload_images%252F1-abc.jpg%253FimageView2%252F2%252Fw%252F700&thumbnail=0x0&quality=80",
            "https://upload-images.jianshu.io/upload_images/1-abc.jpg", 700, nil, .fitInside),
        CDNExtraCase(
            "five Photon layers: three are peeled, the rest is the origin",
            "https://i0.wp.com/i0.wp.com/i0.wp.com/i0.wp.com/i0.wp.com/example.com/a.jpg?w=50",
            "http://i0.wp.com/i0.wp.com/example.com/a.jpg", 50, nil, .fitInside),
        CDNExtraCase(
            "height only (imageMogr2 x300)", "https://img.example.org/a.jpg?imageMogr2/thumbnail/x300",
            "https://img.example.org/a.jpg", nil, 300, .fitInside),
        CDNExtraCase(
            "height only (NetEase 0x300)", "http://cms-bucket.ws.126.net/a.jpg?imageView&thumbnail=0x300",
            "http://cms-bucket.ws.126.net/a.jpg", nil, 300, .fitInside),
        CDNExtraCase(
            "height only (Upyun fh)", "https://x.example/a.jpg!/fh/200", "https://x.example/a.jpg", nil, 200, .fitInside
        ),
        CDNExtraCase(
            "Google w9999-h9999 is unbounded", "https://lh3.googleusercontent.com/abc=w9999-h9999",
            "https://lh3.googleusercontent.com/abc=s0", nil),
        CDNExtraCase(
            "99999999x99999999 is unbounded", "https://k.example/a.jpg?imageMogr2/thumbnail/99999999x99999999",
            "https://k.example/a.jpg", nil),
        CDNExtraCase(
            "NetEase 2147483647 height is unbounded",
            "http://cms-bucket.ws.126.net/a.jpg?imageView&thumbnail=660x2147483647",
            "http://cms-bucket.ws.126.net/a.jpg", 660, nil, .fitInside),
        CDNExtraCase(
            "Baidu b9999_10000 is unbounded",
            "https://timgsa.baidu.com/timg?image&size=b9999_10000&src=http%3A%2F%2Fa.example%2Fb.jpg",
            "http://a.example/b.jpg", nil),
        CDNExtraCase(
            "imageView2 mode 0 bounds the long edge", "https://q.example/a.jpg?imageView2/0/w/800",
            "https://q.example/a.jpg", 800, nil, .longEdge),
        CDNExtraCase(
            "imageMogr2 WxH! is exact", "https://q.example/a.jpg?imageMogr2/thumbnail/200x100!",
            "https://q.example/a.jpg",
            200, 100, .exact),
        CDNExtraCase(
            "OSS m_mfit is cover", "https://q.example/a.jpg?x-oss-process=image/resize,m_mfit,w_64,h_64",
            "https://q.example/a.jpg", 64, 64, .cover),
        CDNExtraCase(
            "NetEase WzH is cover", "http://p.example/a.jpg?imageView&thumbnail=120z90", "http://p.example/a.jpg", 120,
            90, .cover),
        CDNExtraCase(
            "Flickr _q is a 150 square", "https://live.staticflickr.com/65535/1_ab12_q.jpg",
            "https://live.staticflickr.com/65535/1_ab12_q.jpg", 150, nil, .crop),
        CDNExtraCase(
            "Twitter name=thumb is a 150 crop", "https://pbs.twimg.com/media/X?format=png&name=thumb",
            "https://pbs.twimg.com/media/X?format=png&name=orig", 150, nil, .crop),
        CDNExtraCase(
            "WordPress -e<timestamp> edit marker is kept",
            "https://site.example/wp-content/uploads/2017/07/photo-e1500065093615-300x200.jpg",
            "https://site.example/wp-content/uploads/2017/07/photo-e1500065093615.jpg", 300, 200),
        CDNExtraCase(
            "WordPress -scaled copy", "https://site.example/wp-content/uploads/2020/02/big-scaled.jpg",
            "https://site.example/wp-content/uploads/2020/02/big.jpg", nil),
        CDNExtraCase(
            "-WxH outside wp-content/uploads is not a size", "https://s.ma.tt/files/2012/06/DSC-1600x1066.jpg",
            "https://s.ma.tt/files/2012/06/DSC-1600x1066.jpg", nil),
        CDNExtraCase(
            "7-char Imgur id ending in h is not a size", "https://i.imgur.com/abcdefh.jpg",
            "https://i.imgur.com/abcdefh.jpg", nil),
        CDNExtraCase(
            "6-char Imgur name is id + size letter", "https://i.imgur.com/abcdeh.jpg", "https://i.imgur.com/abcde.jpg",
            1024, nil,
            .longEdge),
        CDNExtraCase(
            "Douban size directory -> raw", "https://img1.doubanio.com/view/photo/l/public/p2223361605.webp",
            "https://img1.doubanio.com/view/photo/raw/public/p2223361605.jpg", nil),
        CDNExtraCase(
            "Aliyun-style !WxH after an image extension",
            "https://example.com/u/27657e7bf73bfcc1d11e32865462d54c.jpg!200x200",
            "https://example.com/u/27657e7bf73bfcc1d11e32865462d54c.jpg", 200, 200, .fitInside),
        CDNExtraCase(
            "Blogger /img/a/ =sN", "https://blogger.googleusercontent.com/img/a/AVvXsEabc=s400",
            "https://blogger.googleusercontent.com/img/a/AVvXsEabc=s0", 400, nil, .longEdge),
        CDNExtraCase(
            "Twitter legacy :small", "https://pbs.twimg.com/media/DWREhilXkAAcafr.jpg:small",
            "https://pbs.twimg.com/media/DWREhilXkAAcafr?format=jpg&name=orig", 680, nil, .longEdge),
        CDNExtraCase(
            "Twitter avatar _normal", "https://pbs.twimg.com/profile_images/1/abc_normal.jpg",
            "https://pbs.twimg.com/profile_images/1/abc.jpg", 48, nil, .crop),
        CDNExtraCase(
            "YouTube hqdefault", "https://i.ytimg.com/vi/BQ0mxQXmLsk/hqdefault.jpg",
            "https://i.ytimg.com/vi/BQ0mxQXmLsk/maxresdefault.jpg", 480, nil, .crop),
        CDNExtraCase(
            "host match is case-insensitive", "https://I.IMGUR.COM/c7EXjJum.jpeg", "https://I.IMGUR.COM/c7EXjJu.jpeg",
            320, nil,
            .longEdge),
    ]
}

/// Inputs that are not usable http(s) URLs, or whose wrapped URL is not: each is its own origin.
let malformedURLs = [
    "", "not a url", "ftp://example.com/a.jpg?imageView2/2/w/100", "https://", "https:///a.jpg?imageView2/2/w/100",
    "http://exa mple.com/a.jpg?imageView2/2/w/100", "https://[::1/a.jpg?imageView2/2/w/100",
    "//cdn.example.com/a.jpg?imageView2/2/w/10", "https://nimg.ws.126.net/?url=%ZZ%ZZ&thumbnail=10x10",
    "https://nimg.ws.126.net/?url=javascript%3Aalert(1)&thumbnail=10x10", "https://camo.githubusercontent.com/abc/ff",
    "https://camo.githubusercontent.com/abc/6a6176617363726970743a", "https://camo.githubusercontent.com/abc/6a6",
    "http://a\u{0}b.example/a.jpg?imageView2/2/w/100", "https://i.imgur.com/", "http://", "https://?#",
    "https://i0.wp.com/", "https://res.cloudinary.com/x/image/fetch/w_10/", "https://e.example/a.jpg?&&&",
    String(repeating: "https://i0.wp.com/", count: 2_000),
]

extension CDNRulesTests {
    @Test("hand-written cases", arguments: CDNExtraCase.all)
    func extraCase(_ row: CDNExtraCase) {
        let resolved = rules.resolve(row.input)
        #expect(resolved.origin == row.origin)
        #expect(resolved.width == row.width)
        #expect(resolved.height == row.height)
        #expect(resolved.mode == row.mode)
    }

    @Test("an unknown URL has no width and no rule")
    func unknownURL() {
        let url = "https://example.com/img/a.jpg?w=300&h=200"
        #expect(rules.resolve(url) == CDNResolution(origin: url))
    }

    @Test("nested proxies name every rule, outermost first")
    func nestedRuleNames() throws {
        let photon = rules.resolve(
            "https://i0.wp.com/example.com/wp-content/uploads/2020/01/a-300x200.jpg?resize=300%2C200&ssl=1")
        #expect(photon.rule == "wordpress-photon>wordpress-size")
        let triple = try #require(CDNExtraCase.all.first { $0.why.hasPrefix("three layers") })
        #expect(rules.resolve(triple.input).rule == "netease-nimg>cloudinary-fetch>qiniu-imageView2")
        let unknownInner = rules.resolve("https://i0.wp.com/example.com/a.jpg?w=50")
        #expect(unknownInner.rule == "wordpress-photon")
    }

    @Test("malformed input is its own origin", arguments: malformedURLs)
    func malformed(_ url: String) {
        let resolved = rules.resolve(url)
        #expect(resolved.origin == url)
        #expect(resolved.width == nil)
        #expect(resolved.rule == nil)
    }

    /// Crafted ~16 KB URLs that would make a careless regex backtrack quadratically; they must resolve to the
    /// same answer as their short forms. (Timing is reported in docs/cdn-rules.md, not asserted.)
    static let crafted: [(url: String, rule: String?)] = [
        (
            "https://a.example/wp-content/uploads/" + String(repeating: "-1x1/wp-content/uploads/", count: 650)
                + "x.jpg", nil
        ),
        ("https://a.example/unsafe/" + String(repeating: "a/unsafe/", count: 1800) + "x", nil),
        ("https://a.example/k?imageMogr2/" + String(repeating: "a|imageMogr2/", count: 1200) + "x", "qiniu-imageMogr2"),
        ("https://a.example/" + String(repeating: "a!/fw/", count: 2700), "upyun"),
        ("https://a.example/k?x-oss-process=" + String(repeating: "resize,w_1,", count: 1400), "aliyun-oss"),
    ]

    @Test("crafted long URLs resolve like their short forms", arguments: crafted.indices)
    func craftedLongURL(_ index: Int) {
        let (url, rule) = Self.crafted[index]
        #expect(url.utf8.count > 15_000)
        let resolved = rules.resolve(url)
        #expect(resolved.rule == rule)
        if rule == nil { #expect(resolved.origin == url) }
    }

    @Test("absurd sizes are not sizes", arguments: ["99999999999999999999999", "0", "00", "9999", "-5"])
    func absurdSizes(_ number: String) {
        let resolved = rules.resolve("https://x.example/a.jpg?imageView2/2/w/\(number)")
        #expect(resolved.width == nil)
        #expect(resolved.rule == "qiniu-imageView2")
    }

    @Test("rules survive a Codable round trip (the table is plain data)")
    func codableRoundTrip() throws {
        let data = try JSONEncoder().encode(CDNRule.builtIn)
        let decoded = try JSONDecoder().decode([CDNRule].self, from: data)
        #expect(decoded == CDNRule.builtIn)
    }
}
