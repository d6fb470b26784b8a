import FlyingFox
import Foundation
import ImgArchiveFetch
import Synchronization
import Testing

/// Bodies are hashed and written off the curl thread, through a bounded pool of 256 KB blocks.
@Suite(.timeLimit(.minutes(2))) struct BodyWriterTests {
    /// Sizes around the block boundary and several blocks long, all in flight at once with more bodies than the
    /// pool has blocks: every file has exactly its bytes and digest (blocks of one file stay in order, no block
    /// is shared between files). The sizes also straddle `O_DIRECT`'s 4 KiB unit (whole units written direct, the
    /// tail through the page cache).
    @Test func concurrentBodiesAcrossBlockBoundariesKeepTheirBytes() async throws {
        let block = 256 * 1024
        let sizes = [
            1, 511, 512, 513, 4_095, 4_096, 4_097, block - 4_096, block - 1, block, block + 1, block + 4_096, 2 * block,
            3 * block + 7, 900_001,
        ]
        var images: [String: [UInt8]] = [:]
        for copy in 0..<4 {
            for (i, size) in sizes.enumerated() {
                images["/b\(copy)-\(i)"] = jpegLikeBytes(count: max(size, 13), seed: UInt64(copy * 100 + i))
            }
        }
        let frozen = images
        let server = try await RouteServer.start { server in
            for (path, bytes) in frozen {
                await server.appendRoute(HTTPRoute("GET \(path)")) { _ in
                    response(200, ["Content-Type": "image/jpeg"], body: bytes)
                }
            }
        }
        try await serving(server) {
            // 4 transfers share a pool of 10 blocks; 40 bodies hold up to 4 blocks each.
            try await withTestDownloader(testOptions(jobs: 4, perHost: 4)) { downloader, tmp in
                let results = await withTaskGroup(of: (String, Result<Download, FetchError>).self) { group in
                    for path in frozen.keys {
                        group.addTask {
                            let request = DownloadRequest(url: server.url(path), temporaryDirectory: tmp)
                            return (path, await downloader.download(request))
                        }
                    }
                    var all: [(String, Result<Download, FetchError>)] = []
                    for await result in group { all.append(result) }
                    return all
                }
                #expect(results.count == frozen.count)
                for (path, result) in results {
                    let expected = try #require(frozen[path])
                    let download = try result.get()
                    let file = try #require(download.temporaryFile)
                    #expect(download.byteCount == expected.count, "\(path)")
                    #expect(download.sha256 == sha256Hex(expected), "\(path)")
                    #expect(fileBytes(file) == expected, "\(path)")
                }
                #expect(directoryEntries(tmp).count == frozen.count)
            }
        }
    }

    /// With WARC records to write (`digestHead`), a body keeps its blocks for its record (`Download.heldBody`: the
    /// bytes of its file) while the memory allowed (`heldBodyBytes`) has room; a body that finds none keeps nothing
    /// and its file is whole; the blocks serve again once the held bodies are dropped.
    @Test func bodiesKeepTheirBlocksForWARCWithinTheMemoryAllowed() async throws {
        let block = 256 * 1024
        // Room for 8 blocks: the two one-block bodies and two of three blocks; the others find none.
        let sizes = [1, 4_097, 2 * block + 5, 3 * block, 2 * block + 9, 3 * block - 1]
        let images = sizes.enumerated().map { jpegLikeBytes(count: max($1, 13), seed: UInt64(70 + $0)) }
        let server = try await RouteServer.start { server in
            for (i, bytes) in images.enumerated() {
                await server.appendRoute(HTTPRoute("GET /w\(i)")) { _ in
                    response(200, ["Content-Type": "image/jpeg"], body: bytes)
                }
            }
        }
        var options = testOptions(jobs: 2, perHost: 2)
        options.captureExchanges = true
        options.digestHead = { $0 }
        options.heldBodyBytes = 8 * block
        func check(_ download: Download, _ expected: [UInt8], held: Bool, _ name: String) throws {
            #expect(fileBytes(try #require(download.temporaryFile)) == expected, "\(name)")
            guard held else {
                #expect(download.heldBody == nil, "\(name) found no room")
                return
            }
            let body = try #require(download.heldBody, "\(name) kept its blocks")
            var bytes: [UInt8] = []
            body.forEachChunk { bytes += $0 }
            #expect(body.count == Int64(expected.count), "\(name)")
            #expect(bytes == expected, "\(name)")
        }
        try await serving(server) {
            try await withTestDownloader(options) { downloader, tmp in
                // One at a time, every download kept: what is held adds up in order.
                var downloads: [Download] = []
                for i in images.indices {
                    let request = DownloadRequest(url: server.url("/w\(i)"), temporaryDirectory: tmp)
                    downloads.append(try await downloader.download(request).get())
                }
                for (i, download) in downloads.enumerated() {
                    try check(download, images[i], held: i < 4, "body \(i)")
                }
                downloads.removeAll()
                // The blocks came back: two bodies of three blocks are held again.
                for i in [3, 5] {
                    let request = DownloadRequest(url: server.url("/w\(i)"), temporaryDirectory: tmp)
                    downloads.append(try await downloader.download(request).get())
                }
                try check(downloads[0], images[3], held: true, "body 3 again")
                try check(downloads[1], images[5], held: true, "body 5 again")
            }
        }
    }

    /// `imageSize` reads each body's first block, once, on its lane: the whole body when it is shorter than a block, else
    /// the first full block; what it returns arrives with the download, and the files are whole either way.
    @Test func theImageSizeIsReadFromTheFirstBlock() async throws {
        let block = 256 * 1024
        let sizes = [13, 4_096, 30_001, block, block + 1, 3 * block + 7]
        let images = sizes.enumerated().map { jpegLikeBytes(count: $1, seed: UInt64(90 + $0)) }
        let server = try await RouteServer.start { server in
            for (i, bytes) in images.enumerated() {
                await server.appendRoute(HTTPRoute("GET /s\(i)")) { _ in
                    response(200, ["Content-Type": "image/jpeg"], body: bytes)
                }
            }
        }
        let calls = Mutex<[[UInt8]: (count: Int, whole: Bool)]>([:])
        var options = testOptions(jobs: 2, perHost: 2)
        options.imageSize = { head, whole in
            // Keyed by the first 64 bytes (each body's differ); the size says what was seen.
            calls.withLock { $0[Array(head.prefix(64)), default: (0, false)].count += 1 }
            calls.withLock { $0[Array(head.prefix(64))]?.whole = whole }
            return PixelSize(width: head.count, height: whole ? 1 : 0)
        }
        try await serving(server) {
            try await withTestDownloader(options) { downloader, tmp in
                for (i, bytes) in images.enumerated() {
                    let request = DownloadRequest(url: server.url("/s\(i)"), temporaryDirectory: tmp)
                    let download = try await downloader.download(request).get()
                    // A body of exactly one block is sent full, before its end is known.
                    let whole = bytes.count < block
                    #expect(download.imageSize == PixelSize(width: min(bytes.count, block), height: whole ? 1 : 0))
                    #expect(fileBytes(try #require(download.temporaryFile)) == bytes, "body \(i)")
                    let seen = calls.withLock { $0[Array(bytes.prefix(64))] }
                    #expect(seen?.count == 1 && seen?.whole == whole, "body \(i)")
                }
            }
        }
    }

    /// The writer cannot create the file (its folder is gone): the download fails as `io`, whether the body
    /// fills blocks while it streams or fits in the last one, and nothing is left behind.
    @Test(arguments: [2_000, 1_500_000])
    func unwritableTemporaryFolderIsAnIOError(size: Int) async throws {
        let image = jpegLikeBytes(count: size)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /photo") { _ in response(200, ["Content-Type": "image/jpeg"], body: image) }
        }
        try await serving(server) {
            try await withTestDownloader(testOptions(retries: 2)) { downloader, tmp in
                let missing = tmp + "/no-such-folder"
                let request = DownloadRequest(url: server.url("/photo"), temporaryDirectory: missing)
                let result = await downloader.download(request)
                guard case .failure(let error) = result else {
                    Issue.record("expected a failure")
                    return
                }
                #expect(error.code == .io)
                #expect(error.attempts == 1, "an io failure is not retried")
                #expect(error.detail?.isEmpty == false)
                #expect(directoryEntries(tmp).isEmpty)
            }
        }
    }

    /// A failed attempt's file is deleted before the caller hears of the failure: a body cut short after
    /// several blocks leaves no file behind when the result arrives.
    @Test func failureIsDeliveredAfterItsFileIsDeleted() async throws {
        let image = jpegLikeBytes(count: 1_200_000)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /html") { _ in
                // Not an image: an HTML page long enough to fill several blocks.
                response(200, ["Content-Type": "image/jpeg"], body: [UInt8(ascii: "<")] + image)
            }
        }
        try await serving(server) {
            try await withTestDownloader { downloader, tmp in
                for _ in 0..<5 {
                    let request = DownloadRequest(url: server.url("/html"), temporaryDirectory: tmp)
                    let result = await downloader.download(request)
                    guard case .failure(let error) = result else {
                        Issue.record("expected a failure")
                        return
                    }
                    #expect(error.code == .notAnImage)
                    #expect(directoryEntries(tmp).isEmpty)
                }
            }
        }
    }
}
