import Testing

@testable import ImgArchiveCore

@Suite("URL authority")
struct URLAuthorityTests {
    struct Case: Sendable, CustomStringConvertible {
        var url: String
        var scheme: String?
        var host: String?
        var port: Int?
        var effectivePort: Int?
        var origin: String?
        var description: String { url }
    }

    static let cases: [Case] = [
        Case(
            url: "https://user:pw@Img.Test:8080/a?b#c", scheme: "https", host: "img.test", port: 8080,
            effectivePort: 8080, origin: "https://img.test:8080/"),
        Case(
            url: "HTTP://A.test?x", scheme: "http", host: "a.test", port: nil, effectivePort: 80,
            origin: "http://a.test/"),
        Case(
            url: "https://b.test#f", scheme: "https", host: "b.test", port: nil, effectivePort: 443,
            origin: "https://b.test/"),
        Case(
            url: "http://[::1]:8080/x", scheme: "http", host: "[::1]", port: 8080, effectivePort: 8080,
            origin: "http://[::1]:8080/"),
        Case(
            url: "http://[::1]/x", scheme: "http", host: "[::1]", port: nil, effectivePort: 80,
            origin: "http://[::1]/"),
        Case(
            url: "http://a@b@c.test:81/", scheme: "http", host: "c.test", port: 81, effectivePort: 81,
            origin: "http://c.test:81/"),
        Case(
            url: "http://c.test:/", scheme: "http", host: "c.test", port: nil, effectivePort: 80,
            origin: "http://c.test:/"),
        Case(
            url: "ftp://d.test/x", scheme: "ftp", host: "d.test", port: nil, effectivePort: nil,
            origin: "ftp://d.test/"),
        // Unclosed IPv6 brackets: the whole authority is the host (and no CDN rule reads it).
        Case(
            url: "http://[::1/x", scheme: "http", host: "[::1", port: nil, effectivePort: 80,
            origin: "http://[::1/"),
        // The port is after the last colon, where libcurl looks for it.
        Case(
            url: "http://a.test:1:2/x", scheme: "http", host: "a.test:1", port: 2, effectivePort: 2,
            origin: "http://a.test:1:2/"),
        // Only ASCII letters are lower-cased.
        Case(
            url: "HTTPS://ÄB.Test/x", scheme: "https", host: "Äb.test", port: nil, effectivePort: 443,
            origin: "https://Äb.test/"),
        Case(url: "not a url", scheme: nil, host: nil, port: nil, effectivePort: nil, origin: nil),
        Case(url: "http:///path", scheme: nil, host: nil, port: nil, effectivePort: nil, origin: nil),
    ]

    @Test("scheme, host, port and origin", arguments: cases)
    func splits(_ c: Case) {
        let authority = URLAuthority(c.url)
        #expect(authority?.scheme == c.scheme)
        #expect(authority?.host == c.host)
        #expect(authority?.port == c.port)
        #expect(authority?.effectivePort == c.effectivePort)
        #expect(authority?.origin == c.origin)
        // Fetch planning and the address policy read the same authority.
        #expect(FetchPlanning.host(of: c.url) == c.host)
        #expect(FetchPlanning.origin(of: c.url) == c.origin)
        let (host, port) = AddressPolicy.hostAndPort(c.url)
        #expect(host == c.host)
        #expect(port == c.effectivePort)
        // So do the CDN rules, for the http(s) URLs whose host a rule can match.
        for fast in [false, true] {
            if let parts = CDNURL(c.url, fast: fast) { #expect(parts.host == c.host) }
        }
        let matchable =
            c.scheme?.hasPrefix("http") == true && c.host.map { !$0.hasPrefix("[") || $0.hasSuffix("]") } == true
        #expect((CDNURL(c.url, fast: true) != nil) == matchable)
    }
}

@Suite("URL list")
struct URLListTests {
    static let netease =
        "http://cms-bucket.ws.126.net/2019/03/12/b689a87a2d4f47c9b43b524015a52a5b.jpeg?imageView&thumbnail=550x0"

    @Test(
        "a listed URL gives the URL, origin and width a post's <img> gives",
        arguments: [
            netease, "https://img.test/a b.jpg", "HTTPS://img.test/{x}.png", "//img.test/protocol-relative.jpg",
            "http://img.test/quote\".jpg",
        ])
    func sameAsAPost(_ url: String) throws {
        let list = URLList(path: "list.txt", text: url + "\n", cdnRules: CDNRules.builtIn)
        let entry = try #require(list.entries.first)
        let html = "<img src=\"\(url.replacingOccurrences(of: "\"", with: "%22"))\">"
        let reference = try #require(PostScanner().scan(Array(html.utf8)).references.first)
        #expect(list.entries.count == 1)
        #expect(list.problems.isEmpty)
        #expect(entry.url == reference.url)
        #expect(entry.origin == reference.origin)
        #expect(entry.width == reference.width)
    }

    @Test("blank lines and comments are skipped; a line that is no http(s) URL is named with its file and line")
    func problems() {
        let text =
            "# images\n\n  http://a.test/1.jpg  \nnot a url\n/local.png\r\n{{ site.url }}/x.jpg\nhttp://\nftp://a.test/2.jpg\n"
        let list = URLList(path: "lists/mine.txt", text: text, cdnRules: CDNRules.builtIn)
        #expect(list.entries.map(\.url) == ["http://a.test/1.jpg"])
        #expect(list.entries.map(\.line) == [3])
        #expect(list.problems.map(\.line) == [4, 5, 6, 7, 8])
        #expect(
            list.problems.map(list.message(for:)) == [
                "lists/mine.txt:4: not an http(s) URL, skipped: not a url",
                "lists/mine.txt:5: not an http(s) URL, skipped: /local.png",
                "lists/mine.txt:6: not an http(s) URL, skipped: {{ site.url }}/x.jpg",
                "lists/mine.txt:7: not an http(s) URL, skipped: http://",
                "lists/mine.txt:8: not an http(s) URL, skipped: ftp://a.test/2.jpg",
            ])
    }

    @Test("listed URLs merge with the posts' references: one item per URL, widths joined, the post's name kept")
    func mergesWithPosts() {
        let post = PostScanner().scan(Array("[![](http://a.test/x.jpg)](http://a.test/full.jpg)".utf8)).references
        let list = URLList(
            path: "l", text: "http://a.test/full.jpg\n\(Self.netease)\nhttp://a.test/x.jpg\n",
            cdnRules: CDNRules.builtIn)
        let items = FetchItem.items(from: post.map { ("p.md", $0) }, listed: list.entries)
        #expect(items.map(\.url) == ["http://a.test/x.jpg", "http://a.test/full.jpg", Self.netease])
        #expect(items.map(\.post) == ["p.md", "p.md", nil])
        // The post only links full.jpg; the list wants it as an image.
        #expect(items.map(\.linkOnly) == [false, false, false])
        #expect(items[2].widths == [550])
        #expect(items[2].origin == "http://cms-bucket.ws.126.net/2019/03/12/b689a87a2d4f47c9b43b524015a52a5b.jpeg")
    }
}
