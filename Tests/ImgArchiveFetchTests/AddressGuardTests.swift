import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Whether this machine can listen on ::1 (an IPv6 loopback address exists).
let canListenOnIPv6Loopback: Bool = {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    } == 0
}()

/// The address guard at the socket, end to end with loopback only: every URL here names a loopback address or
/// a name routed to one, so even with the guard broken no packet leaves this machine.
@Suite(.timeLimit(.minutes(2))) struct AddressGuardTests {
    static let image = jpegLikeBytes(count: 2000)

    /// A server whose `/a.jpg` is an image and whose `/hop` redirects to `location`, counting requests per path.
    static func server(ipv6: Bool = false, redirectTo location: (@Sendable (UInt16) -> String)? = nil)
        async throws -> (RouteServer, SeenPaths)
    {
        let seen = SeenPaths()
        let ownPort = Mutex<UInt16>(0)
        let server = try await RouteServer.start(ipv6: ipv6) { server in
            await server.appendRoute("GET /a.jpg") { _ in
                seen.add("/a.jpg")
                return response(200, ["Content-Type": "image/jpeg"], body: Self.image)
            }
            await server.appendRoute("GET /hop") { _ in
                seen.add("/hop")
                return response(302, ["Location": location?(ownPort.withLock { $0 }) ?? "/a.jpg"])
            }
        }
        ownPort.withLock { $0 = server.port }
        return (server, seen)
    }

    /// Loopback written directly, as shorthand, as one number, in hex, and as a name: all resolve to 127.0.0.1
    /// and are refused without a request reaching the server; allowing 127.0.0.0/8 fetches them.
    @Test(arguments: ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "127.000.000.001", "localhost"])
    func loopbackFormsAreRefusedUnlessAllowed(host: String) async throws {
        let (server, seen) = try await Self.server()
        try await serving(server) {
            let url = "http://\(host):\(server.port)/a.jpg"
            try await withTestDownloader(testOptions(retries: 2, allowAddresses: [])) { downloader, tmp in
                let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("\(url) was fetched"); return }
                #expect(error.code == .blockedAddress)
                #expect(error.code.rawValue == "blocked-address")
                #expect(error.attempts == 1, "a refusal is not retried")
                #expect(error.message.contains(":\(server.port)/a.jpg"))
                #expect(error.message.contains("127.0.0.1") || error.message.contains("::1"))
                #expect(error.message.contains("loopback"))
                #expect(error.message.contains("allow-addresses"))
                #expect(directoryEntries(tmp).isEmpty)
            }
            #expect(seen.all.isEmpty)
            try await withTestDownloader(testOptions(allowAddresses: loopbackAllowance)) { downloader, tmp in
                let download = try await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)).get()
                #expect(download.sha256 == sha256Hex(Self.image))
            }
            #expect(seen.all.contains("/a.jpg"))
        }
    }

    @Test(.enabled(if: canListenOnIPv6Loopback, "this machine has no ::1 to listen on"))
    func ipv6LoopbackIsRefusedUnlessAllowed() async throws {
        let (server, seen) = try await Self.server(ipv6: true)
        try await serving(server) {
            let url = server.url("/a.jpg")
            try await withTestDownloader(testOptions(allowAddresses: [])) { downloader, tmp in
                let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("\(url) was fetched"); return }
                #expect(error.code == .blockedAddress)
                #expect(error.message.contains("::1, which is loopback (::1/128"))
            }
            #expect(seen.all.isEmpty)
            // 127.0.0.0/8 does not cover ::1: the allowance is per network.
            try await withTestDownloader(testOptions(allowAddresses: ["127.0.0.0/8"].compactMap(AddressAllowance.init)))
            {
                downloader, tmp in
                let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
                #expect((try? result.get()) == nil)
            }
            try await withTestDownloader(testOptions(allowAddresses: ["::1"].compactMap(AddressAllowance.init))) {
                downloader, tmp in
                let download = try await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)).get()
                #expect(download.sha256 == sha256Hex(Self.image))
            }
            #expect(seen.all.contains("/a.jpg"))
        }
    }

    /// localhost is ::1 and 127.0.0.1; with only 127.0.0.0/8 allowed and nothing listening, the attempt ends on
    /// 127.0.0.1's refused connection: `connect` (retried), not `blocked-address`.
    @Test func aRefusedAddressBesideAnAllowedOneThatFailsIsConnect() async throws {
        // A socket bound but not listening: connecting is refused, and no other test can take the port meanwhile.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let options = testOptions(retries: 1, allowAddresses: ["127.0.0.0/8"].compactMap(AddressAllowance.init))
        try await withTestDownloader(options) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://localhost:\(port)/a.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .connect)
            #expect(error.attempts == 2)
        }
    }

    /// A server allowed by name (localhost) redirects to 127.0.0.1, which is not allowed: the redirect's
    /// connection is judged on its own, and the message names the redirect's target.
    @Test func redirectFromAnAllowedHostToAnInternalAddressIsRefused() async throws {
        let (server, seen) = try await Self.server(redirectTo: { "http://127.0.0.1:\($0)/a.jpg" })
        try await serving(server) {
            let url = "http://localhost:\(server.port)/hop"
            let byName = ["localhost"].compactMap(AddressAllowance.init)
            try await withTestDownloader(testOptions(allowAddresses: byName)) { downloader, tmp in
                let result = await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("the redirect was followed"); return }
                #expect(error.code == .blockedAddress)
                #expect(error.url == url)
                #expect(error.message.hasPrefix("http://127.0.0.1:\(server.port)/a.jpg connects to 127.0.0.1"))
            }
            #expect(seen.all.contains("/hop") && !seen.all.contains("/a.jpg"), "the redirect target saw nothing")
            try await withTestDownloader(testOptions(allowAddresses: byName + loopbackAllowance)) { downloader, tmp in
                let download = try await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)).get()
                #expect(download.finalURL == "http://127.0.0.1:\(server.port)/a.jpg")
            }
            #expect(seen.all.contains("/a.jpg"))
        }
    }

    /// A host routed with --connect-to reaches its loopback target with nothing else allowed, but that opens
    /// only the routed host: its redirect to the same address written directly is refused.
    @Test func connectToTargetsAreAllowedAndNothingElse() async throws {
        let (server, seen) = try await Self.server(redirectTo: { "http://127.0.0.1:\($0)/a.jpg" })
        try await serving(server) {
            let options = testOptions(connectTo: ["img.guard.test:80:127.0.0.1:\(server.port)"], allowAddresses: [])
            try await withTestDownloader(options) { downloader, tmp in
                let direct = await downloader.download(
                    DownloadRequest(url: "http://img.guard.test/a.jpg", temporaryDirectory: tmp))
                let fetched = try direct.get()
                #expect(fetched.sha256 == sha256Hex(Self.image))
                let redirected = await downloader.download(
                    DownloadRequest(url: "http://img.guard.test/hop", temporaryDirectory: tmp))
                guard case .failure(let error) = redirected else { Issue.record("the redirect was followed"); return }
                #expect(error.code == .blockedAddress)
            }
            #expect(seen.all.contains("/hop"))
        }
    }
}

/// Paths a route saw, in order. Tests check what was seen, not how often: on a loaded machine a loopback
/// connection can time out and be retried.
final class SeenPaths: Sendable {
    private let paths = Mutex<[String]>([])
    func add(_ path: String) { paths.withLock { $0.append(path) } }
    var all: [String] { paths.withLock { $0 } }
}
