import Foundation
import ImgArchiveFetch
import Testing

/// Failures whose class once hid what happened, from a raw socket server on 127.0.0.1.
@Suite(.timeLimit(.minutes(2))) struct FailureClassTests {
    /// Response headers past libcurl's limits: one line over 100 KB, or 300 KB in all. Their own class, not
    /// `connect`, and not retried (the server would send the same headers again).
    @Test(arguments: [
        ["X-Big: " + String(repeating: "a", count: 200_000)],
        (0..<400).map { "X-H\($0): " + String(repeating: "b", count: 1000) },
    ])
    func oversizedHeadersAreTheirOwnClassAndNotRetried(headers: [String]) async throws {
        let hits = Counter()
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            _ = hits.next()
            connection.send(head("200 OK", ["Content-Type: image/jpeg"] + headers + ["Content-Length: 0"]))
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 2)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/a.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .headersTooLarge)
            #expect(error.code.rawValue == "headers-too-large")
            #expect(error.attempts == 1)
            #expect(error.message.contains("headers are too large"))
        }
        #expect(hits.current == 1)
    }

    /// A failure libcurl reports that no class names (here a body that is not the gzip it says it is) is
    /// `other`, and its explanation carries libcurl's own text.
    @Test func otherCarriesLibcurlsDetail() async throws {
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            let body = Array("this is not gzip at all".utf8)
            connection.send(
                head(
                    "200 OK", ["Content-Type: image/jpeg", "Content-Encoding: gzip", "Content-Length: \(body.count)"]))
            connection.send(body)
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 0)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/a.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .other)
            let detail = try #require(error.detail)
            #expect(!detail.isEmpty)
            #expect(error.explanation.contains(detail))
            #expect(error.explanation.lowercased().contains("unencoding") || error.explanation.contains("gzip"))
        }
    }
}
