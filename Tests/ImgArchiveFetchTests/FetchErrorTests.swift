import ImgArchiveFetch
import Testing

@Suite(.timeLimit(.minutes(2))) struct FetchErrorTests {
    @Test func codeNamesAreTheReportClasses() {
        let names = [
            FetchError.Code.dns, .connect, .timeout, .http4xx, .http5xx, .notAnImage, .tooLarge, .blockedScheme,
            .truncated, .tooManyRedirects,
        ].map(\.rawValue)
        #expect(
            names == [
                "dns", "connect", "timeout", "http-4xx", "http-5xx", "not-an-image", "too-large", "blocked-scheme",
                "truncated", "too-many-redirects",
            ])
    }

    @Test func unresolvableHostIsDNS() async throws {
        try await withTestDownloader(testOptions(retries: 0)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://no-such-host.invalid/x.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .dns)
            #expect(error.description.hasPrefix("dns: http://no-such-host.invalid/x.jpg"))
        }
    }

    @Test func refusedConnectionIsConnectAndRetried() async throws {
        // Bind a port, then close it, so nothing listens there.
        let server = try RawServer { _, _ in }
        let port = server.port
        server.stop()
        try await withTestDownloader(testOptions(retries: 2)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(port)/", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .connect)
            #expect(error.attempts == 3)
        }
    }
}
