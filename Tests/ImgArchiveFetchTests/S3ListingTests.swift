import Testing

@testable import ImgArchiveFetch

/// The parts of S3's XML the client reads, and the percent-encoding SigV4 signs: pure logic (the requests themselves
/// are tested against a real S3 server in `S3EndToEndTests`).
@Test func listingPagesGiveKeysSizesAndTheNextToken() {
    let page = ListingParser.parse(
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>2</KeyCount>\
        <IsTruncated>true</IsTruncated><NextContinuationToken>cS9h+L2I=</NextContinuationToken>\
        <Contents><Key>blog/objects/ab/a&amp;b.jpg</Key><Size>1234</Size></Contents>\
        <Contents><Key>blog/w640/&#x4e2d;&#25991;.jpg</Key><ETag>"x"</ETag><Size>7</Size></Contents>\
        <Contents><Key>no-size</Key></Contents></ListBucketResult>
        """)
    #expect(
        page.objects == [
            S3ObjectInfo(key: "blog/objects/ab/a&b.jpg", size: 1234), S3ObjectInfo(key: "blog/w640/中文.jpg", size: 7),
        ])
    #expect(page.isTruncated)
    #expect(page.nextToken == "cS9h+L2I=")
    #expect(!ListingParser.parse("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>").isTruncated)
}

@Test(arguments: [
    (
        "<Error><Code>BadDigest</Code><Message>a &lt;b&gt; &quot;c&quot; &apos;d&apos;</Message></Error>", "Code",
        "BadDigest"
    ),
    (
        "<Error><Code>BadDigest</Code><Message>a &lt;b&gt; &quot;c&quot; &apos;d&apos;</Message></Error>", "Message",
        "a <b> \"c\" 'd'"
    ),
    ("<Error><Message>&bogus; & &#xZZ;</Message></Error>", "Message", "&bogus; & &#xZZ;"),
])
func errorDocumentsDecodeTheirEntities(_ xml: String, _ element: String, _ text: String) {
    #expect(ListingParser.element(element, in: xml) == text)
}

@Test func keysAndQueryValuesArePercentEncodedAsSigV4Signs() {
    #expect(S3Client.encodedPath("blog/objects/ab/ab12.jpg") == "blog/objects/ab/ab12.jpg")
    #expect(S3Client.encodedPath("a b/c+d~e") == "a%20b/c%2Bd~e")
    #expect(S3Client.encoded("q/a=b+c", keepSlash: false) == "q%2Fa%3Db%2Bc")
}
