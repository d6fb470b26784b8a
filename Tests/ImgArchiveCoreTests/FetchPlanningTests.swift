import Testing

@testable import ImgArchiveCore

@Test func originIsTriedBeforeTheURLAsWritten() {
    let item = FetchItem(url: "http://a.test/x.jpg?imageView&thumbnail=550x0", origin: "http://a.test/x.jpg")
    #expect(
        FetchPlanning.candidates(for: item) == ["http://a.test/x.jpg", "http://a.test/x.jpg?imageView&thumbnail=550x0"])
    let plain = FetchItem(url: "http://a.test/y.jpg", origin: "http://a.test/y.jpg")
    #expect(FetchPlanning.candidates(for: plain) == ["http://a.test/y.jpg"])
}

@Test func refererLadder() {
    #expect(
        FetchPlanning.refererLadder(
            imageURL: "https://WX4.sinaimg.cn:443/a.jpg", siteURL: "https://blog.test/",
            sentReferer: "https://weibo.com/")
            == [nil, "https://wx4.sinaimg.cn:443/", "https://blog.test/"])
    #expect(
        FetchPlanning.refererLadder(imageURL: "http://a.test/x.jpg", siteURL: nil, sentReferer: nil)
            == ["http://a.test/"])
}

@Test func hostsAndOrigins() {
    #expect(FetchPlanning.host(of: "https://user:pw@Img.Test:8080/a?b#c") == "img.test")
    #expect(FetchPlanning.host(of: "http://[::1]:80/x") == "[::1]")
    #expect(FetchPlanning.origin(of: "not a url") == nil)
}

@Test func itemsGroupReferencesByURLWithAllWidths() {
    let refs = PostScanner().scan(
        Array(
            "![](http://a.test/x.jpg) <img width=300 src=\"http://a.test/x.jpg\"> ![|550](http://a.test/x.jpg) ![](/local.png)"
                .utf8)
    )
    .references
    let items = FetchItem.items(from: refs.map { ("p.md", $0) })
    #expect(items.count == 1)
    #expect(items.first?.widths == [300, 550])
}

@Test func itemsAreLinkOnlyWhenEveryReferenceIsALinkTarget() {
    let refs = PostScanner().scan(
        Array(
            "[![](http://a.test/s.jpg)](http://a.test/full.jpg) [![](http://a.test/s.jpg)](http://a.test/s.jpg)".utf8)
    ).references
    let items = FetchItem.items(from: refs.map { ("p.md", $0) })
    #expect(items.map(\.url) == ["http://a.test/s.jpg", "http://a.test/full.jpg"])
    #expect(items.map(\.linkOnly) == [false, true])
    #expect(items.last?.widths == [])
}

@Test func neverUpscale() {
    #expect(FetchPlanning.thumbnailWidths(requested: [300, 640, 800, 1200], imageWidth: 800) == [300, 640])
    #expect(FetchPlanning.thumbnailWidths(requested: [300], imageWidth: nil) == [])
}
