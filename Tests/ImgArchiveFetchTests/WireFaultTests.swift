import Foundation
import ImgArchiveFetch
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

func head(_ status: String, _ headers: [String]) -> String {
    "HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// Faults below HTTP, from a raw socket server on 127.0.0.1.
@Suite(.timeLimit(.minutes(2))) struct WireFaultTests {
    @Test func bodyCutBeforeContentLengthIsTruncated() async throws {
        let image = jpegLikeBytes(count: 1000)
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.send(head("200 OK", ["Content-Type: image/jpeg", "Content-Length: 1000"]))
            connection.send(Array(image.prefix(300)))
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 1)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/cut.jpg", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .truncated)
            #expect(error.attempts == 2)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    /// A whole file of each format the check knows, built from filler bytes around the format's start and end.
    static let wholeImages: [String: [UInt8]] = {
        // No GIF trailer byte inside, so that a cut GIF never ends with one by chance.
        let filler = jpegLikeBytes(count: 3000).dropFirst(11).map { $0 == 0x3B ? 0x3A : $0 }
        let pngStart: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let pngEnd: [UInt8] = [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\">" + String(repeating: "<g/>", count: 500) + "</svg>\n"
        return [
            "jpeg": jpegLikeBytes(count: 3000) + [0xFF, 0xD9],
            "png": pngStart + filler + pngEnd,
            "gif": Array("GIF89a".utf8) + filler + [0x3B],
            "svg": Array(svg.utf8),
        ]
    }()

    /// With neither Content-Length nor chunked encoding the body ends where the server closes the connection;
    /// only the image's own end tells a body cut short from a whole one (a JPEG's EOI marker, a PNG's IEND
    /// chunk, a GIF's trailer, an SVG's closing tag).
    @Test(arguments: ["jpeg", "png", "gif", "svg"])
    func bodyEndedByTheConnectionIsCheckedForTheImagesEnd(name: String) async throws {
        let whole = try #require(Self.wholeImages[name])
        let server = try RawServer { connection, _ in
            guard let request = connection.readRequest() else { return }
            connection.send(head("200 OK", ["Connection: close"]))
            connection.send(request.path == "/whole" ? whole : Array(whole.prefix(whole.count * 2 / 3)))
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 1)) { downloader, tmp in
            let base = "http://127.0.0.1:\(server.port)"
            let download = try await downloader.download(
                DownloadRequest(url: base + "/whole", temporaryDirectory: tmp)
            ).get()
            #expect(download.byteCount == whole.count, "\(name)")
            let file = try #require(download.temporaryFile)
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))) == whole)
            unlink(file)

            let result = await downloader.download(DownloadRequest(url: base + "/cut", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("a cut \(name) was archived"); return }
            #expect(error.code == .truncated)
            #expect(error.message.contains("closed before the"))
            #expect(error.attempts == 2, "retried, as any cut-short body")
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    /// A Content-Length that lies short: curl sees a complete body of the declared length, but the image has
    /// no end (a server that says 100 for a 15 KB image). Whatever the transfer said, it is truncated, retried,
    /// and nothing is kept.
    @Test(arguments: ["jpeg", "png", "gif", "svg"])
    func bodyCutByALyingContentLengthIsTruncated(name: String) async throws {
        let whole = try #require(Self.wholeImages[name])
        let server = try RawServer { connection, _ in
            guard let request = connection.readRequest() else { return }
            let declared = request.path == "/whole" ? whole.count : 100
            // "Connection: close": the bytes past the declared length must not be read as the next response.
            connection.send(head("200 OK", ["Content-Length: \(declared)", "Connection: close"]))
            connection.send(whole)
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 1)) { downloader, tmp in
            let base = "http://127.0.0.1:\(server.port)"
            let download = try await downloader.download(
                DownloadRequest(url: base + "/whole", temporaryDirectory: tmp)
            ).get()
            #expect(download.byteCount == whole.count, "\(name)")
            if let file = download.temporaryFile { unlink(file) }

            let result = await downloader.download(DownloadRequest(url: base + "/lying", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("a cut \(name) was archived"); return }
            #expect(error.code == .truncated)
            #expect(error.message.contains("cut short"))
            #expect(error.attempts == 2, "retried, as any cut-short body")
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    /// Data after a JPEG's EOI (a motion photo's MP4, a camera trailer, gain maps) is not part of the image: the body
    /// is whole, archived byte for byte with its trailer, even when the trailer holds EOI-like bytes or does not end
    /// with one, whether the body ends at its Content-Length or where the server closes. A body that stops before the
    /// image's own EOI is truncated: cut in the scan, or just after an EOI inside a segment (an EXIF thumbnail's),
    /// which a look at the last bytes took for the end.
    @Test(arguments: [true, false])
    func jpegWithDataAfterItsEOIIsWholeAndOneCutBeforeItIsNot(sendsLength: Bool) async throws {
        let image = jpegLikeBytes(count: 3000, seed: 5)
        let mp4 = [0, 0, 0, 0x18] + Array("ftypmp42".utf8) + [0, 0, 0, 0] + Array("mp42isom".utf8)
        let thumbnail = jpegLikeBytes(count: 300, seed: 6)
        let length = 2 + thumbnail.count + 100  // the APP1 segment holds the thumbnail and more
        let app1 = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + thumbnail
        let bodies: [String: [UInt8]] = [
            "/motion": image + mp4 + [0xFF, 0xD9, 0xFF, 0xD8] + jpegLikeBytes(count: 2000, seed: 7) + [0x6D, 0x70],
            "/eoi-trailer": image + [0xFF, 0xD9, 0x00, 0x00, 0xFF, 0xD9],
            "/cut-in-scan": Array((image + mp4).prefix(2000)),
            "/cut-after-thumbnail": [0xFF, 0xD8] + app1,
        ]
        let server = try RawServer { connection, _ in
            guard let request = connection.readRequest(), let body = bodies[request.path] else { return }
            connection.send(
                head("200 OK", sendsLength ? ["Content-Length: \(body.count)"] : ["Connection: close"]))
            connection.send(body)
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 1)) { downloader, tmp in
            let base = "http://127.0.0.1:\(server.port)"
            for path in ["/motion", "/eoi-trailer"] {
                let whole = try #require(bodies[path])
                let download = try await downloader.download(
                    DownloadRequest(url: base + path, temporaryDirectory: tmp)
                ).get()
                #expect(download.format == .jpeg)
                #expect(download.byteCount == whole.count, "\(path)")
                #expect(download.sha256 == sha256Hex(whole), "\(path)")
                let file = try #require(download.temporaryFile)
                #expect(fileBytes(file) == whole, "\(path)")
                unlink(file)
            }
            #expect(bodies["/cut-after-thumbnail"]?.suffix(2) == [0xFF, 0xD9], "ends with the thumbnail's EOI")
            for path in ["/cut-in-scan", "/cut-after-thumbnail"] {
                let result = await downloader.download(DownloadRequest(url: base + path, temporaryDirectory: tmp))
                guard case .failure(let error) = result else { Issue.record("\(path) was archived"); continue }
                #expect(error.code == .truncated, "\(path)")
                #expect(error.attempts == 2, "retried, as any cut-short body")
            }
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test func serverThatNeverAnswersTimesOut() async throws {
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.waitForClose()
        }
        defer { server.stop() }
        let options = testOptions(retries: 1, totalTimeout: .milliseconds(300), stallSeconds: 30)
        try await withTestDownloader(options) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/silent", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .timeout)
            #expect(error.attempts == 2)
            #expect(error.curlCode == 28)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    /// Sends `total` bytes of an image in `pieces` pieces, `pause` apart.
    static func drip(total: Int, pieces: Int, pause: Duration) throws -> (RawServer, [UInt8]) {
        let image = jpegLikeBytes(count: total, seed: 3)
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.send(head("200 OK", ["Content-Length: \(total)"]))
            let piece = total / pieces
            for index in 0..<pieces {
                let end = index == pieces - 1 ? total : (index + 1) * piece
                guard connection.send(Array(image[(index * piece)..<end])) else { return }
                if index < pieces - 1 {
                    let (seconds, attoseconds) = pause.components
                    Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
                }
            }
        }
        return (server, image)
    }

    @Test func slowDripAboveTheStallSpeedSucceeds() async throws {
        // 2000 bytes over about 0.8 s: 2500 B/s against a limit of 100 B/s over 1 s.
        let (server, image) = try Self.drip(total: 2000, pieces: 9, pause: .milliseconds(100))
        defer { server.stop() }
        try await withTestDownloader(testOptions(retries: 0)) { downloader, tmp in
            let download = try await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/drip", temporaryDirectory: tmp)
            ).get()
            #expect(download.sha256 == sha256Hex(image))
            #expect(download.attempts == 1)
        }
    }

    @Test func dripBelowTheStallSpeedIsStalled() async throws {
        // 20 bytes, then nothing for 2.5 s: under 100 B/s for longer than the 1 s window.
        let (server, _) = try Self.drip(total: 40, pieces: 2, pause: .milliseconds(2500))
        defer { server.stop() }
        let options = testOptions(retries: 0, totalTimeout: .seconds(20), stallSeconds: 1, stallBytesPerSecond: 100)
        try await withTestDownloader(options) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/drip", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .stalled)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test(arguments: [false, true])
    func bodyOverTheCapWithoutContentLengthIsCut(chunked: Bool) async throws {
        let image = jpegLikeBytes(count: 30_000)
        let sentAll = Mutex(false)
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            if chunked {
                connection.send(head("200 OK", ["Transfer-Encoding: chunked"]))
                for start in stride(from: 0, to: image.count, by: 1000) {
                    let piece = Array(image[start..<min(start + 1000, image.count)])
                    guard connection.send(String(piece.count, radix: 16) + "\r\n"), connection.send(piece),
                        connection.send("\r\n")
                    else { return }
                }
                connection.send("0\r\n\r\n")
            } else {
                connection.send(head("200 OK", ["Connection: close"]))
                guard connection.send(image) else { return }
            }
            sentAll.withLock { $0 = true }
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(maxBytes: 10_000)) { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/endless", temporaryDirectory: tmp))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .tooLarge)
            #expect(error.attempts == 1)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test func cancellingTheTaskCancelsTheTransfer() async throws {
        let arrived = Counter()
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            _ = arrived.next()
            connection.waitForClose()
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(totalTimeout: .seconds(60), stallSeconds: 60)) { downloader, tmp in
            let task = Task {
                await downloader.download(
                    DownloadRequest(url: "http://127.0.0.1:\(server.port)/hang", temporaryDirectory: tmp))
            }
            for _ in 0..<2000 where arrived.current == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try #require(arrived.current > 0, "the request did not reach the server within 10 s")
            task.cancel()
            guard case .failure(let error) = await task.value else { Issue.record("expected a failure"); return }
            #expect(error.code == .cancelled)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test func politenessCapsConnectionsPerHost() async throws {
        let image = jpegLikeBytes(count: 4000, seed: 11)
        let reply = Array(head("200 OK", ["Content-Type: image/jpeg", "Content-Length: \(image.count)"]).utf8) + image
        let server = try RawServer { connection, server in
            guard let first = connection.readRequest() else { return }
            let host = first.headers["host"] ?? "?"
            server.opened(host: host)
            defer { server.closed(host: host) }
            var request: RawRequest? = first
            while request != nil {
                Thread.sleep(forTimeInterval: 0.002)  // keep transfers overlapping
                guard connection.send(reply) else { return }
                request = connection.readRequest()
            }
        }
        defer { server.stop() }
        let port = server.port
        let hosts = ["a.test", "b.test", "c.test"]
        let options = testOptions(jobs: 16, perHost: 4, connectTo: hosts.map { "\($0):\(port):127.0.0.1:\(port)" })
        try await withTestDownloader(options) { downloader, tmp in
            let results = await withTaskGroup(of: Result<Download, FetchError>.self) { group in
                for index in 0..<500 {
                    let url = "http://\(hosts[index % 3]):\(port)/img/\(index).jpg"
                    group.addTask { await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)) }
                }
                var all: [Result<Download, FetchError>] = []
                for await result in group { all.append(result) }
                return all
            }
            let downloads = results.compactMap { try? $0.get() }
            #expect(downloads.count == 500)
            #expect(downloads.allSatisfy { $0.sha256 == sha256Hex(image) })
            // Each host reaches its 4 and no more. Every host goes to the same --connect-to address, which
            // libcurl counts as one host: its own per-host limit would have left 4 connections for all three.
            let peaks = server.connections.withLock { $0.peak }
            for host in hosts {
                let peak = peaks["\(host):\(port)"] ?? 0
                #expect(peak == 4, "peak connections for \(host): \(peak)")
            }
            #expect((peaks["*"] ?? 0) > 4 && (peaks["*"] ?? 0) <= 12, "peak connections overall: \(peaks["*"] ?? 0)")
            for download in downloads { if let file = download.temporaryFile { unlink(file) } }
            #expect(directoryEntries(tmp).isEmpty)
        }
    }

    @Test func jobsCapsConnectionsOverall() async throws {
        let image = jpegLikeBytes(count: 2000, seed: 5)
        let reply = Array(head("200 OK", ["Content-Length: \(image.count)"]).utf8) + image
        let server = try RawServer { connection, server in
            guard var request = connection.readRequest() else { return }
            server.opened(host: "any")
            defer { server.closed(host: "any") }
            repeat {
                Thread.sleep(forTimeInterval: 0.002)
                guard connection.send(reply) else { return }
                guard let next = connection.readRequest() else { return }
                request = next
            } while !request.path.isEmpty
        }
        defer { server.stop() }
        try await withTestDownloader(testOptions(jobs: 2, perHost: 8)) { downloader, tmp in
            let results = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<60 {
                    let url = "http://127.0.0.1:\(server.port)/\(index).jpg"
                    group.addTask {
                        guard
                            case .success(let download) = await downloader.download(
                                DownloadRequest(url: url, temporaryDirectory: tmp))
                        else { return false }
                        if let file = download.temporaryFile { unlink(file) }
                        return true
                    }
                }
                var ok = 0
                for await success in group where success { ok += 1 }
                return ok
            }
            #expect(results == 60)
            let peak = server.connections.withLock { $0.peak["*"] ?? 0 }
            #expect(peak == 2, "peak connections: \(peak)")  // both jobs were used, and no more
        }
    }

    @Test func missingTemporaryDirectoryIsAnIOError() async throws {
        let image = jpegLikeBytes(count: 500)
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.send(Array(head("200 OK", ["Content-Length: \(image.count)"]).utf8) + image)
        }
        defer { server.stop() }
        try await withTestDownloader { downloader, tmp in
            let result = await downloader.download(
                DownloadRequest(url: "http://127.0.0.1:\(server.port)/a.jpg", temporaryDirectory: tmp + "/missing"))
            guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
            #expect(error.code == .io)
            #expect(error.detail != nil)
            #expect(directoryEntries(tmp).isEmpty)
        }
    }
}
