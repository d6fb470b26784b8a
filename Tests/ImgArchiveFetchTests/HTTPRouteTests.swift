import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Synchronization
import Testing

func status(_ code: Int) -> HTTPStatusCode { HTTPStatusCode(code, phrase: "Status \(code)") }

func response(_ code: Int, _ headers: [String: String] = [:], body: [UInt8] = []) -> HTTPResponse {
    var fields = HTTPHeaders()
    for (name, value) in headers { fields.addValue(value, for: HTTPHeader(name)) }
    return HTTPResponse(statusCode: status(code), headers: fields, body: Data(body))
}

/// HTTP-level behaviour against FlyingFox routes on 127.0.0.1.
@Suite(.timeLimit(.minutes(2))) struct HTTPRouteTests {
    @Test func imageIsStreamedHashedAndSniffed() async throws {
        let image = jpegLikeBytes(count: 700_000)  // more than two write buffers
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /photo") { _ in
                response(200, ["Content-Type": "image/jpeg", "ETag": "\"abc\""], body: image)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/photo"), temporaryDirectory: tmp))
                let download = try result.get()
                #expect(download.httpStatus == 200)
                #expect(download.byteCount == image.count)
                #expect(download.sha256 == sha256Hex(image))
                #expect(download.format == .jpeg)
                #expect(download.contentType == "image/jpeg")
                #expect(download.etag == "\"abc\"")
                #expect(download.attempts == 1)
                #expect(download.notModified == false)
                let file = try #require(download.temporaryFile)
                #expect(file.hasPrefix(tmp + "/"))
                #expect(fileBytes(file) == image)
                #expect(directoryEntries(tmp).count == 1)
            }
        }
    }

    @Test(arguments: [404, 410, 400])
    func clientErrorsAreNotRetried(code: Int) async throws {
        let hits = Counter()
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /gone") { _ in
                _ = hits.next()
                return response(code, ["Content-Type": "text/html"], body: Array("<h1>no</h1>".utf8))
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/gone"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .http4xx)
                #expect(error.code.rawValue == "http-4xx")
                #expect(error.httpStatus == code)
                #expect(error.attempts == 1)
                #expect(hits.current == 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    /// The server accepts only `accepted` as Referer (nil: only requests without one).
    static func startGuarded(accepting accepted: String?, hits: Counter, seen: SeenReferers) async throws
        -> RouteServer
    {
        let image = jpegLikeBytes(count: 2000)
        return try await RouteServer.start { server in
            await server.appendRoute("GET /guarded") { request in
                _ = hits.next()
                let referer = request.headers[HTTPHeader("Referer")]
                seen.append(referer)
                return referer == accepted ? response(200, body: image) : response(403)
            }
        }
    }

    @Test func forbiddenWithoutLadderFailsOnce() async throws {
        let hits = Counter()
        let seen = SeenReferers()
        let server = try await Self.startGuarded(accepting: "https://site.example/", hits: hits, seen: seen)
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/guarded"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.httpStatus == 403)
                #expect(error.attempts == 1)
                #expect(hits.current == 1)
            }
        }
    }

    @Test func forbiddenClimbsTheRefererLadderInOrder() async throws {
        let hits = Counter()
        let seen = SeenReferers()
        let server = try await Self.startGuarded(accepting: "https://site.example/", hits: hits, seen: seen)
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let request = DownloadRequest(
                    url: server.url("/guarded"), temporaryDirectory: tmp,
                    headers: [HTTPHeaderField(name: "Referer", value: "https://blog.example/post")],
                    refererLadder: [nil, "https://imagehost.example/", "https://site.example/"])
                let download = try await downloader.download(request).get()
                #expect(download.attempts == 4)
                #expect(download.refererUsed == "https://site.example/")
                #expect(
                    seen.all == [
                        "https://blog.example/post", nil, "https://imagehost.example/", "https://site.example/",
                    ])
            }
        }
    }

    @Test func ladderRungWithoutRefererDropsTheProfileReferer() async throws {
        let hits = Counter()
        let seen = SeenReferers()
        let server = try await Self.startGuarded(accepting: nil, hits: hits, seen: seen)
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let request = DownloadRequest(
                    url: server.url("/guarded"), temporaryDirectory: tmp,
                    headers: [HTTPHeaderField(name: "Referer", value: "https://blog.example/post")],
                    refererLadder: [nil, "https://site.example/"])
                let download = try await downloader.download(request).get()
                #expect(download.attempts == 2)
                #expect(download.refererUsed == nil)
                #expect(seen.all == ["https://blog.example/post", nil])
            }
        }
    }

    @Test func tooManyRequestsHonoursRetryAfter() async throws {
        let hits = Counter()
        let image = jpegLikeBytes(count: 1000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /busy") { _ in
                hits.next() == 1 ? response(429, ["Retry-After": "1"]) : response(200, body: image)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let started = ContinuousClock.now
                let download = try await downloader.download(
                    DownloadRequest(url: server.url("/busy"), temporaryDirectory: tmp)
                ).get()
                let waited = ContinuousClock.now - started
                #expect(download.attempts == 2)
                #expect(download.sha256 == sha256Hex(image))
                // Backoff alone is at most 40 ms in these options: only Retry-After explains a 1 s wait.
                #expect(waited >= .milliseconds(950))
            }
        }
    }

    @Test(arguments: [500, 502, 503, 504, 408, 429])
    func transientStatusThenSuccessIsRetried(code: Int) async throws {
        let hits = Counter()
        let image = jpegLikeBytes(count: 1000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /flaky") { _ in
                hits.next() == 1 ? response(code) : response(200, body: image)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let download = try await downloader.download(
                    DownloadRequest(url: server.url("/flaky"), temporaryDirectory: tmp)
                ).get()
                #expect(download.attempts == 2)
                #expect(hits.current == 2)
            }
        }
    }

    @Test func largeErrorBodyKeepsItsHTTPClass() async throws {
        let page = Array(String(repeating: "<p>not here</p>", count: 10_000).utf8)  // 150 KB, over the 64 KB drop limit
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /big404") { _ in response(404, ["Content-Type": "text/html"], body: page) }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/big404"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .http4xx)
                #expect(error.httpStatus == 404)
                #expect(error.attempts == 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test(arguments: [0, 2])
    func unavailableForeverUsesEveryRetry(retries: Int) async throws {
        let hits = Counter()
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /down") { _ in
                _ = hits.next()
                return response(503, body: Array("maintenance".utf8))
            }
        }
        try await serving(server) {
            try await withTestDownloader(testOptions(retries: retries)) { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/down"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .http5xx)
                #expect(error.httpStatus == 503)
                #expect(error.attempts == retries + 1)
                #expect(hits.current == retries + 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test func redirectChainIsFollowed() async throws {
        let image = jpegLikeBytes(count: 3000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /r1") { _ in response(301, ["Location": "/r2"]) }
            await server.appendRoute("GET /r2") { _ in response(302, ["Location": "/r3"]) }
            await server.appendRoute("GET /r3") { _ in response(307, ["Location": "/final.jpg"]) }
            await server.appendRoute("GET /final.jpg") { _ in response(200, body: image) }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let download = try await downloader.download(
                    DownloadRequest(url: server.url("/r1"), temporaryDirectory: tmp)
                ).get()
                #expect(download.requestedURL == server.url("/r1"))
                #expect(download.finalURL == server.url("/final.jpg"))
                #expect(download.sha256 == sha256Hex(image))
            }
        }
    }

    @Test func redirectLoopFails() async throws {
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /loop") { _ in response(302, ["Location": "/loop"]) }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/loop"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .tooManyRedirects)
                #expect(error.attempts == 1)
            }
        }
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/image.jpg"])
    func redirectToAnotherSchemeIsBlocked(target: String) async throws {
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /escape") { _ in response(302, ["Location": target]) }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/escape"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .blockedScheme)
                #expect(error.attempts == 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://127.0.0.1/a.jpg", "gopher://127.0.0.1/"])
    func otherSchemesAreBlockedUpFront(url: String) async throws {
        try await withTestDownloader { downloader, tmp in
            let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .blockedScheme)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test(arguments: [
        ("html", Array("<!doctype html><html><body>Hotlinking forbidden</body></html>".utf8)),
        ("json", Array("{\"error\": \"not found\"}".utf8)),
        ("empty", []),
    ])
    func okThatIsNotAnImageFails(name: String, body: [UInt8]) async throws {
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /fake.jpg") { _ in response(200, ["Content-Type": "image/jpeg"], body: body) }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/fake.jpg"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure for \(name)"); return }
                #expect(error.code == .notAnImage)
                #expect(error.code.rawValue == "not-an-image")
                #expect(error.attempts == 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test func gzipEncodedBodyIsDecoded() async throws {
        let image = jpegLikeBytes(count: 150_000, seed: 7)
        let encoded = gzipStored(image)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /zipped") { request in
                let accepts = request.headers[HTTPHeader("Accept-Encoding")] ?? ""
                return accepts.contains("gzip")
                    ? response(200, ["Content-Encoding": "gzip"], body: encoded) : response(406)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let download = try await downloader.download(
                    DownloadRequest(url: server.url("/zipped"), temporaryDirectory: tmp)
                ).get()
                #expect(download.byteCount == image.count)
                #expect(download.sha256 == sha256Hex(image))
                #expect(fileBytes(try #require(download.temporaryFile)) == image)
            }
        }
    }

    @Test func conditionalRequestsGetNotModified() async throws {
        let image = jpegLikeBytes(count: 5000)
        let lastModified = "Wed, 21 Oct 2015 07:28:00 GMT"
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /cached") { request in
                if request.headers[HTTPHeader("If-None-Match")] == "\"v1\""
                    || request.headers[HTTPHeader("If-Modified-Since")] == lastModified
                {
                    return response(304, ["ETag": "\"v1\""])
                }
                return response(200, ["ETag": "\"v1\"", "Last-Modified": lastModified], body: image)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                let first = try await downloader.download(
                    DownloadRequest(url: server.url("/cached"), temporaryDirectory: tmp)
                ).get()
                #expect(first.notModified == false)
                #expect(first.etag == "\"v1\"")
                #expect(first.lastModified == lastModified)
                if let file = first.temporaryFile { try FileManager.default.removeItem(atPath: file) }

                let byETag = try await downloader.download(
                    DownloadRequest(url: server.url("/cached"), temporaryDirectory: tmp, ifNoneMatch: first.etag)
                ).get()
                #expect(byETag.notModified)
                #expect(byETag.httpStatus == 304)
                #expect(byETag.temporaryFile == nil)

                let byDate = try await downloader.download(
                    DownloadRequest(
                        url: server.url("/cached"), temporaryDirectory: tmp, ifModifiedSince: first.lastModified)
                ).get()
                #expect(byDate.notModified)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test func bodyOverTheCapWithContentLengthIsRefused() async throws {
        let image = jpegLikeBytes(count: 20_000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /huge") { _ in response(200, body: image) }
        }
        try await serving(server) {
            try await withTestDownloader(testOptions(maxBytes: 10_000)) { downloader, tmp in
                let result = await downloader.download(
                    DownloadRequest(url: server.url("/huge"), temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
                #expect(error.code == .tooLarge)
                #expect(error.attempts == 1)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    @Test func headerWithLineBreakIsRefused() async throws {
        try await withTestDownloader { downloader, tmp in
            let request = DownloadRequest(
                url: "http://127.0.0.1:9/x.jpg", temporaryDirectory: tmp,
                headers: [HTTPHeaderField(name: "Referer", value: "https://a.example/\r\nX-Evil: 1")])
            let result = await downloader.download(request)
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .invalidRequest)
        }
    }
}

/// The Referer headers a route saw, in order.
final class SeenReferers: Sendable {
    private let values = Mutex<[String?]>([])
    func append(_ value: String?) { values.withLock { $0.append(value) } }
    var all: [String?] { values.withLock { $0 } }
}

/// A handle reused after a failed name lookup must work like a fresh one (libcurl 7.88 refused to resize its
/// receive buffer there, and the next download failed as a malformed request).
@Test func handleReusedAfterAFailureStillDownloads() async throws {
    let image = jpegLikeBytes(count: 20_000)
    let server = try await RouteServer.start { server in
        await server.appendRoute("GET /present") { _ in response(200, ["Content-Type": "image/jpeg"], body: image) }
    }
    try await serving(server) {
        try await withTestDownloader(testOptions(jobs: 1, perHost: 1, retries: 0)) { downloader, tmp in
            let first = await downloader.download(
                DownloadRequest(url: "http://nohost.invalid/x.jpg", temporaryDirectory: tmp))
            #expect(throws: FetchError.self) { try first.get() }
            if case .failure(let error) = first { #expect(error.code == .dns) }
            let second = try await downloader.download(
                DownloadRequest(url: server.url("/present"), temporaryDirectory: tmp)
            ).get()
            #expect(second.sha256 == sha256Hex(image))
            if let file = second.temporaryFile { try? FileManager.default.removeItem(atPath: file) }
        }
    }
}
