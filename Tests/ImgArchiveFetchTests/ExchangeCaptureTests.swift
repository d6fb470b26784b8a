import FlyingFox
import Foundation
import ImgArchiveFetch
import Testing

/// `DownloadOptions.captureExchanges`: each hop's raw request (as libcurl sent it) and raw response head, for a
/// success and for a failure.
@Suite(.timeLimit(.minutes(2))) struct ExchangeCaptureTests {
    @Test func redirectHopsAndTheFinalResponseAreCapturedAsSent() async throws {
        let image = jpegLikeBytes(count: 5_000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /old") { _ in response(301, ["Location": "/new"], body: Array("moved".utf8)) }
            await server.appendRoute("GET /new") { _ in response(200, ["Content-Type": "image/jpeg"], body: image) }
        }
        defer { Task { await server.stop() } }
        var options = testOptions()
        options.captureExchanges = true
        try await withTestDownloader(options) { downloader, tmp in
            let download = try await downloader.download(
                DownloadRequest(
                    url: server.url("/old"), temporaryDirectory: tmp, headers: [.init(name: "X-Test", value: "1")])
            ).get()
            #expect(download.exchanges.map(\.status) == [301, 200])
            #expect(download.exchanges.map(\.url) == [server.url("/old"), server.url("/new")])
            let request = String(decoding: download.exchanges[0].requestHead, as: UTF8.self)
            #expect(request.hasPrefix("GET /old HTTP/1.1\r\n"))
            // libcurl's own fields are there, not only the ones imgarchive set.
            #expect(request.contains("\r\nHost: 127.0.0.1:") && request.contains("\r\nAccept: */*\r\n"))
            #expect(request.contains("\r\nX-Test: 1\r\n") && request.hasSuffix("\r\n\r\n"))
            #expect(download.exchanges[0].responseHeader("Location") == "/new")
            #expect(String(decoding: download.exchanges[1].responseHead, as: UTF8.self).hasSuffix("\r\n\r\n"))
            #expect(download.exchanges.allSatisfy { $0.remoteAddress == "127.0.0.1" })
        }
    }

    @Test(arguments: [false, true])
    func aFailedRequestCarriesItsHeadsOnlyWhenAsked(capture: Bool) async throws {
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /gone") { _ in response(404, ["Content-Type": "text/html"], body: [0x3C]) }
        }
        defer { Task { await server.stop() } }
        var options = testOptions(retries: 0)
        options.captureExchanges = capture
        try await withTestDownloader(options) { downloader, tmp in
            let result = await downloader.download(DownloadRequest(url: server.url("/gone"), temporaryDirectory: tmp))
            guard case .failure(let error) = result else {
                Issue.record("a 404 must fail")
                return
            }
            #expect(error.exchanges.map(\.status) == (capture ? [404] : []))
            #expect(error.exchanges.first?.responseHeader("Content-Type") == (capture ? "text/html" : nil))
        }
    }
}
