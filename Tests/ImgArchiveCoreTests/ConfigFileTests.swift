import Testing

@testable import ImgArchiveCore

@Test func readsEveryKey() throws {
    let text = """
        archive: /srv/blog-archive
        site-url: https://blog.example.com/
        front-matter-fields: [cover, hero.image]
        jobs: 8
        per-host: 2
        retries: 5
        timeout: 60
        max-bytes: 20MB
        user-agent: test-agent
        connect-to: ["cdn.test:80:127.0.0.1:8080"]
        revalidate-after: 30d
        quality: 80
        max-pixels: 50000000
        thumbnail-memory: 256MB
        links: relative
        archive-url: /blog/archive
        warc: true
        warc-size: 2GB
        allow-addresses: ["*.intranet.example", 10.0.0.0/8, "fd00::/8", 192.168.1.20]
        objects: s3://blog-images/archive
        s3-endpoint: https://s3.eu-west-1.amazonaws.com
        s3-region: eu-west-1
        hosts:
          "*.sinaimg.cn":
            referer: https://weibo.com/
          img.example.com:
            user-agent: Mozilla/5.0
            headers:
              Cookie: a=1
        cdn-rules:
          - name: my-cdn
            host: img.example.com
            pattern: '^(?<origin>https?://[^?]+)\\?w=(?<width>\\d+)$'
        """
    let c = try ConfigFile.parse(text, path: "imgarchive.yml")
    #expect(c.archive == "/srv/blog-archive")
    #expect(c.siteURL == "https://blog.example.com/")
    #expect(c.frontMatterFields == ["cover", "hero.image"])
    #expect(c.jobs == 8 && c.perHost == 2 && c.retries == 5 && c.timeout == 60)
    #expect(c.maxBytes == 20_000_000)
    #expect(c.userAgent == "test-agent")
    #expect(c.connectTo == ["cdn.test:80:127.0.0.1:8080"])
    #expect(c.revalidateAfter == 2_592_000.0)
    #expect(c.quality == 80 && c.maxPixels == 50_000_000)
    #expect(c.thumbnailMemory == 256_000_000)
    #expect(c.links == "relative" && c.archiveURL == "/blog/archive")
    #expect(c.warc == true && c.warcSize == 2_000_000_000)
    #expect(c.allowAddresses.map(\.description) == ["*.intranet.example", "10.0.0.0/8", "fd00::/8", "192.168.1.20/32"])
    #expect(c.objects == "s3://blog-images/archive")
    #expect(c.s3Endpoint == "https://s3.eu-west-1.amazonaws.com" && c.s3Region == "eu-west-1")
    #expect(c.hostProfiles.count == 2)
    let sina = try #require(HostProfile.first(in: c.hostProfiles, host: "WX4.sinaimg.cn"))
    #expect(sina.headers.map(\.name) == ["Referer"])
    #expect(HostProfile.first(in: c.hostProfiles, host: "sinaimg.cn.evil.test") == nil)
    let img = try #require(HostProfile.first(in: c.hostProfiles, host: "img.example.com"))
    #expect(img.headers.map(\.name) == ["User-Agent", "Cookie"])
    let resolved = c.scanOptions.cdnRules.resolve("https://img.example.com/a.jpg?w=300")
    #expect(resolved.origin == "https://img.example.com/a.jpg")
    #expect(resolved.width == 300)
}

struct BadConfig: Sendable, CustomTestStringConvertible {
    var text: String
    var line: Int?
    var says: String
    var testDescription: String { text }
}

@Test(arguments: [
    BadConfig(text: "jobs: 4\njbos: 3\n", line: 2, says: "did you mean 'jobs'"),
    BadConfig(text: "jobs: many\n", line: 1, says: "'jobs' must be a whole number from 1 to 256"),
    BadConfig(text: "retries: -1\n", line: 1, says: "'retries' must be"),
    BadConfig(text: "max-bytes: lots\n", line: 1, says: "a size such as 50MB"),
    BadConfig(text: "revalidate-after: soon\n", line: 1, says: "a duration such as 30d"),
    BadConfig(text: "hosts:\n  a.test:\n    referrer: x\n", line: 3, says: "unknown setting 'referrer'"),
    BadConfig(text: "hosts:\n  a.test:\n    headers:\n      \"Bad Name\": x\n", line: 4, says: "bad header"),
    BadConfig(text: "cdn-rules:\n  - name: x\n    pattern: '('\n", line: 1, says: "cdn-rules[0]"),
    BadConfig(text: "jobs: 2\nlinks: sideways\n", line: 2, says: "write absolute or relative"),
    BadConfig(text: "thumbnail-memory: lots\n", line: 1, says: "a size such as 50MB"),
    BadConfig(text: "jobs: 2\nthumbnail-memory: 1MB\n", line: 2, says: "at least 16MB"),
    BadConfig(text: "warc: yes please\n", line: 1, says: "true or false"),
    BadConfig(text: "warc-size: 10KB\n", line: 1, says: "at least 64KB"),
    BadConfig(text: "jobs: 2\nallow-addresses: [a.test, 127.1]\n", line: 2, says: "'127.1' is neither a host name"),
    BadConfig(text: "allow-addresses: 10.0.0.0/40\n", line: 1, says: "a network such as 10.0.0.0/8"),
    BadConfig(text: "- just\n- a list\n", line: 1, says: "key: value"),
    BadConfig(text: "jobs: [1\n", line: nil, says: "not valid YAML"),
    BadConfig(text: "objects: /srv/files\n", line: 1, says: "write s3://BUCKET or s3://BUCKET/PREFIX"),
    BadConfig(text: "jobs: 2\ns3-endpoint: s3.example.com\n", line: 2, says: "not an http:// or https:// URL"),
    BadConfig(text: "s3-endpoint: https://key:secret@s3.example.com\n", line: 1, says: "holds no user or password"),
    BadConfig(text: "s3-region: eu west\n", line: 1, says: "not a region name"),
    BadConfig(
        text: "objects: s3://b/p\naws_secret_access_key: x\n", line: 2,
        says: "credentials never go in imgarchive.yml; remove it and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
])
func badConfigurationNamesTheLineAndTheFix(_ c: BadConfig) {
    do {
        _ = try ConfigFile.parse(c.text, path: "site/imgarchive.yml")
        Issue.record("accepted \(c.text)")
    } catch {
        #expect(error.line == c.line)
        #expect(error.description.hasPrefix("site/imgarchive.yml"))
        #expect(error.message.contains(c.says), "\(error.message)")
    }
}

@Test func durationsAndSizes() {
    #expect(ConfigFile.parseDuration("12h") == 43200)
    #expect(ConfigFile.parseDuration("90") == 90)
    #expect(ConfigFile.parseDuration("x") == nil)
    #expect(ConfigFile.parseByteSize("512KiB") == 524_288)
    #expect(ConfigFile.parseByteSize("1.5MB") == 1_500_000)
    #expect(ConfigFile.parseByteSize("0") == nil)
}

@Test(
    arguments: [
        ("sqlite", nil),
        ("postgres://imgarchive@db.example:5432/imgarchive", nil),
        ("postgresql://db.example/imgarchive", nil),
        ("postgres://imgarchive:secret@db.example/imgarchive", "holds a password"),
        ("mysql://db.example/imgarchive", "neither sqlite nor a PostgreSQL URL"),
        ("postgres:///imgarchive", "neither sqlite nor a PostgreSQL URL"),
    ] as [(String, String?)])
func manifestIsSQLiteOrAPostgreSQLURLWithoutAPassword(value: String, problem: String?) throws {
    if let problem {
        let error = #expect(throws: ConfigFileError.self) {
            try ConfigFile.parse("manifest: \(value)\n", path: "imgarchive.yml")
        }
        #expect(error?.message.contains(problem) == true, "\(String(describing: error))")
    } else {
        #expect(try ConfigFile.parse("manifest: \(value)\n", path: "imgarchive.yml").manifest == value)
    }
}
