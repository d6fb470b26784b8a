import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Testing

/// The address guard with a proxy from the environment: the connection is to the proxy (on 127.0.0.1 here, internal
/// as proxies usually are, and never in `allow-addresses`), so the target's own addresses are judged before any
/// request is sent. The proxy is a raw server in this process that answers every request itself and records the
/// request lines it got: nothing is forwarded, and every target here is a loopback address, so no packet leaves
/// this machine even with the guard broken.
@Suite(.timeLimit(.minutes(2))) struct ProxyGuardTests {
    static let image = jpegLikeBytes(count: 2000, seed: 11)

    /// A proxy that answers `GET http://HOST/x.jpg` with the image, and `GET http://HOST/hop` with a redirect to
    /// `http://127.0.0.3/x.jpg`; `requests` holds the absolute URLs it was asked for.
    static func proxy() throws -> (RawServer, SeenPaths) {
        let requests = SeenPaths()
        let server = try RawServer { connection, _ in
            while let request = connection.readRequest() {
                requests.add(request.path)
                if request.path.hasSuffix("/hop") {
                    connection.send(head("302 Found", ["Location: http://127.0.0.3/x.jpg", "Content-Length: 0"]))
                } else {
                    connection.send(head("200 OK", ["Content-Length: \(image.count)"]))
                    connection.send(image)
                }
            }
        }
        return (server, requests)
    }

    static func environment(_ proxyPort: UInt16, noProxy: String = "") -> ProxyEnvironment {
        ProxyEnvironment(["http_proxy": "http://127.0.0.1:\(proxyPort)", "no_proxy": noProxy])
    }

    /// An internal target, in every written form, is refused before the proxy is asked; allowed by network or by
    /// host, it is fetched through the proxy, which itself needs no allowance.
    @Test(arguments: ["127.0.0.2", "127.1", "2130706433", "0x7f000002", "localhost", "[::1]"])
    func internalTargetThroughAProxyIsRefusedUnlessAllowed(host: String) async throws {
        let (proxy, requests) = try Self.proxy()
        defer { proxy.stop() }
        let url = "http://\(host)/x.jpg"
        let refused = testOptions(retries: 1, allowAddresses: [], proxyEnvironment: Self.environment(proxy.port))
        try await withTestDownloader(refused) { downloader, tmp in
            let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("\(url) was fetched"); return }
            #expect(error.code == .blockedAddress, "\(error.message)")
            #expect(error.message.contains("through a proxy"))
            #expect(error.attempts == 1, "not retried")
            #expect(directoryEntries(tmp).isEmpty)
        }
        #expect(requests.all.isEmpty, "the proxy was asked for nothing")

        let allowances = [AddressAllowance("127.0.0.0/8"), AddressAllowance("::1"), AddressAllowance("localhost")]
        let allowed = testOptions(
            allowAddresses: allowances.compactMap { $0 }, proxyEnvironment: Self.environment(proxy.port))
        try await withTestDownloader(allowed) { downloader, tmp in
            let download = try await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)).get()
            #expect(download.sha256 == sha256Hex(Self.image))
            if let file = download.temporaryFile { unlink(file) }
        }
        #expect(requests.all.count == 1, "fetched through the proxy")
    }

    /// The proxy's own address needs no allowance: with only the target's address allowed, the fetch goes through
    /// the proxy on 127.0.0.1. A redirect from there to another internal address is judged on its own and refused
    /// before the proxy is asked for it.
    @Test func onlyTheTargetIsJudgedAndEachRedirectHopToo() async throws {
        let (proxy, requests) = try Self.proxy()
        defer { proxy.stop() }
        let options = testOptions(
            retries: 0, allowAddresses: [AddressAllowance("127.0.0.2")].compactMap { $0 },
            proxyEnvironment: Self.environment(proxy.port))
        try await withTestDownloader(options) { downloader, tmp in
            let download = try await downloader.download(
                DownloadRequest(url: "http://127.0.0.2/x.jpg", temporaryDirectory: tmp)
            ).get()
            #expect(download.byteCount == Self.image.count)
            if let file = download.temporaryFile { unlink(file) }

            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.2/hop", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("the redirect was followed"); return }
            #expect(error.code == .blockedAddress)
            #expect(error.message.hasPrefix("http://127.0.0.3/x.jpg connects to 127.0.0.3"), "\(error.message)")
        }
        #expect(requests.all == ["http://127.0.0.2/x.jpg", "http://127.0.0.2/hop"])
    }

    /// A host in `no_proxy` is fetched directly, and then the guard judges the socket's address as always.
    @Test func noProxyHostIsFetchedDirectlyAndJudgedAtTheSocket() async throws {
        let (proxy, requests) = try Self.proxy()
        defer { proxy.stop() }
        let options = testOptions(
            retries: 0, allowAddresses: [], proxyEnvironment: Self.environment(proxy.port, noProxy: "127.0.0.4"))
        try await withTestDownloader(options) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.4:\(proxy.port)/x.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("fetched"); return }
            #expect(error.code == .blockedAddress)
            #expect(!error.message.contains("through a proxy"))
        }
        #expect(requests.all.isEmpty)
    }
}
