import Crypto
import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Logging
import Synchronization

/// `count` bytes that sniff and walk as a JPEG (`JPEGSegmentWalk`): SOI, a short APP0 segment, SOS, then
/// deterministic noise as the entropy-coded scan (each 0xFF followed by a stuffed 0x00, as encoders write it), then
/// the EOI marker. Below 23 bytes there is no SOS; below 13, no EOI either.
func jpegLikeBytes(count: Int, seed: UInt64 = 1) -> [UInt8] {
    var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x07, 0x4A, 0x46, 0x49, 0x46, 0x00]
    if count >= 23 { bytes += [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00] }
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    while bytes.count < count - 2 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let byte = UInt8(truncatingIfNeeded: state >> 33)
        bytes += byte == 0xFF ? [0xFF, 0x00] : [byte]
    }
    // A JPEG ends with its EOI marker: the downloader refuses a body that does not reach one as cut short. (A
    // stuffed pair cut in two leaves an FF before it: a fill byte.)
    guard count >= 13 else { return Array(bytes.prefix(count)) }
    return Array(bytes.prefix(count - 2)) + [0xFF, 0xD9]
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// A fresh empty directory for temporary body files.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("imgarchive-fetch-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func directoryEntries(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
}

func fileBytes(_ path: String) -> [UInt8] {
    (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
}

/// The test servers listen on loopback, which the address guard refuses unless allowed: the tests' downloaders
/// allow it explicitly, as a user would in `allow-addresses:` (AddressGuardTests also run without it).
let loopbackAllowance: [AddressAllowance] = ["127.0.0.0/8", "::1"].compactMap { AddressAllowance($0) }

/// Options with short timeouts and backoff, so failure paths run fast.
func testOptions(
    jobs: Int = 4, perHost: Int = 4, retries: Int = 3, totalTimeout: Duration = .seconds(10),
    stallSeconds: Int = 1, stallBytesPerSecond: Int = 100, maxBytes: Int64 = 50_000_000, connectTo: [String] = [],
    allowAddresses: [AddressAllowance] = loopbackAllowance, proxyEnvironment: ProxyEnvironment = ProxyEnvironment([:])
) -> DownloadOptions {
    DownloadOptions(
        jobs: jobs, perHost: perHost, retries: retries, connectTimeout: .seconds(2), totalTimeout: totalTimeout,
        stallSeconds: stallSeconds, stallBytesPerSecond: stallBytesPerSecond, maxBytes: maxBytes,
        connectTo: connectTo, allowAddresses: allowAddresses, proxyEnvironment: proxyEnvironment,
        backoffBase: .milliseconds(10),
        maxBackoff: .milliseconds(40), maxRetryAfter: .seconds(5))
}

let testLogger = Logger(label: "imgarchive.fetch.tests")

/// Runs `body` with a downloader and a fresh temporary directory.
func withTestDownloader<R: Sendable>(
    _ options: DownloadOptions = testOptions(),
    _ body: (Downloader, String) async throws -> R
) async throws -> R {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await Downloader.withDownloader(options: options, logger: testLogger) { downloader in
        try await body(downloader, directory)
    }
}

/// A FlyingFox server on 127.0.0.1 (or ::1) with an ephemeral port, stopped by `stop()`.
struct RouteServer: Sendable {
    let server: HTTPServer
    let task: Task<Void, any Error>
    let port: UInt16
    let ipv6: Bool

    static func start(ipv6: Bool = false, _ configure: (HTTPServer) async -> Void) async throws -> RouteServer {
        let server =
            ipv6
            ? HTTPServer(address: try .inet6(ip6: "::1", port: 0), timeout: 30, logger: .disabled)
            : HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        await configure(server)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        switch await server.listeningAddress {
        case .ip4(_, let port)?, .ip6(_, let port)?:
            return RouteServer(server: server, task: task, port: port, ipv6: ipv6)
        default:
            task.cancel()
            throw POSIXError(.EADDRNOTAVAIL)
        }
    }

    func url(_ path: String) -> String { ipv6 ? "http://[::1]:\(port)\(path)" : "http://127.0.0.1:\(port)\(path)" }

    func stop() async {
        await server.stop()
        task.cancel()
        _ = await task.result
    }
}

extension RouteServer: Stoppable {}

/// A gzip member holding `bytes` in stored (uncompressed) deflate blocks: real gzip framing with a real
/// CRC-32, decoded by libcurl's zlib.
func gzipStored(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
    var offset = 0
    repeat {
        let size = min(65_535, bytes.count - offset)
        let final: UInt8 = offset + size == bytes.count ? 1 : 0
        out.append(final)
        out.append(contentsOf: [UInt8(size & 0xFF), UInt8(size >> 8), UInt8(~size & 0xFF), UInt8((~size >> 8) & 0xFF)])
        out.append(contentsOf: bytes[offset..<offset + size])
        offset += size
    } while offset < bytes.count
    let crc = crc32(bytes)
    for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
    let size = UInt32(truncatingIfNeeded: bytes.count)
    for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
    return out
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}

/// A counter shared between a route and its test.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
    var current: Int { value.withLock { $0 } }
}

/// A test server that can be stopped.
protocol Stoppable {
    /// Stops the server and returns once it has stopped.
    func stop() async
}

/// Runs `body` while `server` serves, then stops the server and waits until it has stopped, whether `body`
/// returned or threw (a `defer { Task { await server.stop() } }` would neither wait nor keep the next test clear).
func serving<T>(_ server: some Stoppable, _ body: () async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
    return result
}
