import Crypto
import FlyingFox
import Foundation
import ImgArchiveCore
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

    /// `DownloadOptions.digestHead`: the lanes hash the head made from the final response's raw head, then the body
    /// as stored (decoded from a Content-Encoding, over several blocks); the digest equals the one computed afresh
    /// from the stored file.
    @Test(arguments: ["/plain.jpg", "/gzip.jpg", "/moved.jpg"])
    func theHeadedDigestHashedAsTheBodyArrivesIsThatOfTheStoredBytes(path: String) async throws {
        let image = jpegLikeBytes(count: 700_000, seed: 7)  // three of the lanes' 256 KB blocks
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /plain.jpg") { _ in
                response(200, ["Content-Type": "image/jpeg"], body: image)
            }
            await server.appendRoute("GET /gzip.jpg") { _ in
                response(200, ["Content-Type": "image/jpeg", "Content-Encoding": "gzip"], body: gzipStored(image))
            }
            await server.appendRoute("GET /moved.jpg") { _ in response(302, ["Location": "/plain.jpg"]) }
        }
        defer { Task { await server.stop() } }
        let marker = Array("made from: ".utf8)
        for withHead in [true, false] {
            var options = testOptions()
            options.captureExchanges = true
            if withHead { options.digestHead = { marker + $0 } }
            try await withTestDownloader(options) { downloader, tmp in
                let download = try await downloader.download(
                    DownloadRequest(url: server.url(path), temporaryDirectory: tmp)
                ).get()
                let stored = try Array(Data(contentsOf: URL(fileURLWithPath: try #require(download.temporaryFile))))
                #expect(stored == image, "the body as stored is the image, decoded")
                #expect(download.exchanges.count == (path == "/moved.jpg" ? 2 : 1))
                guard withHead else {
                    #expect(download.headedDigest == nil, "nothing more is hashed unless asked")
                    return
                }
                let digest = try #require(download.headedDigest)
                let finalHead = try #require(download.exchanges.last?.responseHead)
                #expect(String(decoding: finalHead, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                #expect(digest.head == marker + finalHead, "made from the final response's head")
                #expect(digest.sha256 == Array(SHA256.hash(data: digest.head + stored)))
                #expect(Hex.lowercase(SHA256.hash(data: stored)) == download.sha256)
            }
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
