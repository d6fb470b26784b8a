import Foundation
import ImgArchiveCore
import Testing

@Suite struct MementoTests {
    @Test(arguments: [
        (
            "https://web.archive.org/web/20190601000000/http://a.test/x.jpg",
            "https://web.archive.org/web/20190601000000id_/http://a.test/x.jpg"
        ),
        (
            "http://127.0.0.1:8080/imgs/20190601123456mp_/https://a.test/x.jpg?w=1",
            "http://127.0.0.1:8080/imgs/20190601123456id_/https://a.test/x.jpg?w=1"
        ),
        (
            "https://web.archive.org/web/20190601000000im_/http://a.test/20190601000000/x.jpg",
            "https://web.archive.org/web/20190601000000id_/http://a.test/20190601000000/x.jpg"
        ),
        (
            "https://web.archive.org/web/20190601000000id_/http://a.test/x.jpg",
            "https://web.archive.org/web/20190601000000id_/http://a.test/x.jpg"
        ),
    ])
    func aWaybackMementoHasARawForm(memento: String, raw: String) {
        #expect(Memento.rawForm(of: memento) == raw)
        #expect(Memento.isRawMemento(raw))
        #expect(Memento.timestamp(of: memento) != nil)
    }

    @Test(arguments: [
        "https://archive.example/memento/abc/http://a.test/x.jpg",
        "https://web.archive.org/web/2019060100000/http://a.test/x.jpg",
        "https://a.test/20190601000000/x.jpg",
        "not a url",
    ])
    func anythingElseHasNone(url: String) {
        #expect(Memento.rawForm(of: url) == nil)
        #expect(!Memento.isRawMemento(url))
    }

    @Test func theTimestampIsUTC() {
        let date = Memento.timestamp(of: "https://web.archive.org/web/20200201123045/http://a.test/x.jpg")
        #expect(date == Date(timeIntervalSince1970: 1_580_560_245))
    }

    @Test func httpDatesRoundTrip() {
        let date = Date(timeIntervalSince1970: 1_580_515_200)
        #expect(Memento.httpDate(date) == "Sat, 01 Feb 2020 00:00:00 GMT")
        #expect(Memento.parseHTTPDate("Sat, 01 Feb 2020 00:00:00 GMT") == date)
        #expect(Memento.parseHTTPDate("yesterday") == nil)
    }

    @Test(
        arguments: [
            (FailureClass.http4xx, 404, true), (.http4xx, 410, true), (.http4xx, 403, false), (.dns, nil, true),
            (.connect, nil, true), (.notAnImage, 200, true), (.timeout, nil, false), (.http5xx, 503, false),
            (.blockedAddress, nil, false), (.tooLarge, 200, false),
        ] as [(FailureClass, Int?, Bool)])
    func onlyFailuresForGoodAreRescued(failure: FailureClass, status: Int?, dead: Bool) {
        #expect(Memento.isDeadForGood(failure, httpStatus: status) == dead)
    }

    @Test func theMementoIsTheContentLocationElseTheFinalURL() {
        let lines = [
            "HTTP/1.1 200 OK", "Content-Type: image/png", "Content-Location: /imgs/20200101000000/http://a.test/x.png",
            "",
        ]
        #expect(
            Memento.mementoURL(finalURL: "http://arch.test/imgs/http://a.test/x.png", headerLines: lines)
                == "http://arch.test/imgs/20200101000000/http://a.test/x.png")
        let redirected = ["HTTP/1.1 302 Found", "Content-Location: /elsewhere", "", "HTTP/1.1 200 OK", ""]
        #expect(Memento.mementoURL(finalURL: "http://b.test/m", headerLines: redirected) == "http://b.test/m")
    }

    @Test(
        arguments: [
            ("---\ntitle: A\ndate: 2019-07-01\n---\nbody", Date(timeIntervalSince1970: 1_561_939_200)),
            ("---\ndate: \"2019-07-01T02:00:00+02:00\"\n---\n", Date(timeIntervalSince1970: 1_561_939_200)),
            ("+++\ndate = 2019-07-01T00:00:00Z\n+++\n", Date(timeIntervalSince1970: 1_561_939_200)),
            ("---\ndate: 2019-07-01 00:00:00 +0000 # published\n---\n", Date(timeIntervalSince1970: 1_561_939_200)),
            ("---\nmeta:\n  date: 2019-07-01\n---\n", nil),
            ("---\ndate: someday\n---\n", nil),
            ("no front matter\ndate: 2019-07-01\n", nil),
            ("---\ntitle: A\n---\ndate: 2019-07-01\n", nil),
        ] as [(String, Date?)])
    func aPostsDateIsItsFrontMattersDate(text: String, date: Date?) {
        #expect(PostDate.frontMatterDate(Array(text.utf8)) == date)
    }

    @Test func aTimeGateMustBeHTTP() {
        #expect(Memento.normalizedTimeGate("https://web.archive.org/web") == "https://web.archive.org/web/")
        #expect(Memento.normalizedTimeGate("http://127.0.0.1:8080/imgs/") == "http://127.0.0.1:8080/imgs/")
        #expect(Memento.normalizedTimeGate("ftp://archive.test/") == nil)
        #expect(Memento.normalizedTimeGate("web.archive.org") == nil)
    }

    @Test func theConfigurationTakesRescueKeys() throws {
        let config = try ConfigFile.parse(
            "rescue: false\ntimegates: [http://127.0.0.1:1/imgs]\nrescue-after: 7d\n", path: "imgarchive.yml")
        #expect(config.rescue == false)
        #expect(config.timegates == ["http://127.0.0.1:1/imgs/"])
        #expect(config.rescueAfter == 604_800.0)
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("timegates: [file:///x]\n", path: "c.yml") }
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse("rescue: maybe\n", path: "c.yml") }
    }
}
