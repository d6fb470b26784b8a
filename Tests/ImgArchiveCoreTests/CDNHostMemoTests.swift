import Testing

@testable import ImgArchiveCore

@Suite("Host memo")
struct CDNHostMemoTests {
    static let urls: [String] = {
        var urls =
            CDNCase.all.map(\.input) + [
                "https://a.example/x", "HTTPS://A.Example:8080/x", "https://u:p@b.example/x", "https://b.example",
                "https://b.example?x", "https://b.example#f", "https://[::1]:80/x", "http://c.example/\u{301}x",
                "http://c.example/\u{301}", "http://c.é.example/x", "http://c.example\u{301}/x", "noscheme/x",
                "a:b://c.example/x", "::///x", "https:/x.example/y", "https:://x.example/y", "https://x\r\n.example/y",
                "https://x.example/", "https://x.example?", "//x.example/y", "", "://", "https://x.example:/y",
                "https://x@y@z.example/q", "http://c.example/\u{301}y", "https://b.example/y",
            ]
        urls += urls.map { $0.uppercased() }
        return urls
    }()

    @Test("the memo gives FetchPlanning's host for every URL, twice in any order")
    func sameHosts() {
        var memo = HostMemo()
        for url in Self.urls + Self.urls.reversed() {
            #expect(memo.host(of: url) == FetchPlanning.host(of: url) ?? "", "\(url)")
        }
    }

    @Test("keys cover scheme, authority and the byte after; non-ASCII gives none")
    func keys() {
        #expect(HostMemo.key("https://a.example/x/y") == "https://a.example/x")
        #expect(HostMemo.key("https://a.example") == "https://a.example")
        #expect(HostMemo.key("https://a.example/") == "https://a.example/")
        #expect(HostMemo.key("http://c.example/\u{301}x") == nil)
        #expect(HostMemo.key("https://é.example/x") == nil)
        #expect(HostMemo.key("no scheme") == nil)
    }
}
