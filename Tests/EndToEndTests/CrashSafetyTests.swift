import FlyingFox
import FlyingSocks
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveStore

/// SIGKILL in the middle of a fetch: what is in the archive is whole, and the next run finishes the job.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CrashSafetyTests {
    @Test(arguments: [0.3, 0.8])
    func killedFetchLeavesOnlyWholeFilesAndTheNextRunCompletes(afterSeconds delay: Double) async throws {
        let small = 40
        let large = 3
        let count = small + large
        var images: [String: [UInt8]] = [:]
        for i in 0..<small { images["/img/\(i).jpg"] = try FixtureImages.jpeg(width: 96 + i, height: 64, seed: i) }
        // 2 MB bodies dripped 64 KB every 40 ms: their temporary files are half written when the kill comes.
        for i in 0..<large {
            var state = UInt64(i + 1)
            let padding = (0..<2_000_000).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            // Noise after the image's EOI: a trailer, archived with the image.
            images["/big/\(i).jpg"] =
                try FixtureImages.jpeg(width: 64, height: 48, seed: 100 + i) + padding + [0xFF, 0xD9]
        }
        let frozen = images
        let sent = SentChunks()
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for (path, bytes) in frozen {
            routes[path] = { _ in
                guard path.hasPrefix("/big/") else {
                    try? await Task.sleep(for: .milliseconds(60))  // slow enough to be killed mid-run
                    return reply(200, ["Content-Type": "image/jpeg"], bytes)
                }
                return HTTPResponse(
                    statusCode: .ok, headers: [.contentType: "image/jpeg"],
                    body: HTTPBodySequence(from: Drip(bytes, counting: sent), count: bytes.count))
            }
        }
        let server = try await ImageServer.start(routes)
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let host = "img.example.test"
            let urls =
                (0..<large).map { "http://\(host)/big/\($0).jpg" } + (0..<small).map { "http://\(host)/img/\($0).jpg" }
            try folder.write("list.txt", urls.joined(separator: "\n"))
            let args = [
                "fetch", "--urls", "list.txt", "--jobs", "4", "--per-host", "4", "--connect-to", server.connectTo(host),
            ]

            let process = try launchImgarchive(args, in: folder.path)
            // Kill `delay` - 0.2 s after a large body's temporary file holds its first 256 KB block. What the client
            // has written is watched, not what the server has sent: on a loaded machine the sent bytes can sit in
            // the socket buffers. A run that never gets there fails here, instead of being killed at a random point.
            let tmp = folder.path + "/archive/tmp"
            var halfWritten = false
            for _ in 0..<1000 where !halfWritten {
                halfWritten = folder.files(under: "archive/tmp").contains {
                    $0.hasSuffix(".part") && fileSize(tmp + "/" + $0) >= 256 * 1024
                }
                if !halfWritten { try await Task.sleep(for: .milliseconds(10)) }
            }
            try #require(halfWritten, "no download reached 256 KB in 10 s (server sent \(sent.count) chunks)")
            try await Task.sleep(for: .seconds(delay - 0.2))
            kill(process.processIdentifier, SIGKILL)
            await withCheckedContinuation { c in
                DispatchQueue.global().async {
                    process.waitUntilExit(); c.resume()
                }
            }
            #expect(process.terminationReason == .uncaughtSignal)

            // Everything at an archive path is complete: its name is the SHA-256 of its bytes. What was half
            // written is in tmp/ only.
            let archive = folder.path + "/archive"
            let before = folder.files(under: "archive/objects")
            #expect(before.count < count, "the run was killed before it finished")
            for object in before {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive + "/objects/" + object)))
                #expect((object as NSString).lastPathComponent.hasPrefix(ArchiveStore.sha256(of: bytes)))
            }
            let outside = folder.files(under: "archive").filter { !$0.hasPrefix("tmp/") && !$0.hasPrefix("objects/") }
            #expect(
                Set(outside).isSubset(of: ["lock", "manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm"]))
            let partial = folder.files(under: "archive/tmp").filter { $0.hasSuffix(".part") }
            #expect(!partial.isEmpty, "a download was half written when the run was killed")
            if FileManager.default.fileExists(atPath: archive + "/manifest.sqlite") {
                let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
                #expect(try await manifest.integrityCheck())
                try manifest.close()
            }

            let rerun = try await runImgarchive(args, in: folder.path)
            #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
            let after = folder.files(under: "archive/objects")
            #expect(after.count == count)
            let expected = Set(frozen.values.map { ArchiveStore.sha256(of: $0) })
            #expect(Set(after.map { String(($0 as NSString).lastPathComponent.split(separator: ".")[0]) }) == expected)
            #expect(folder.files(under: "archive/tmp").isEmpty, "the next run removes what the killed one left in tmp")
            let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
            #expect(try await manifest.integrityCheck())
            #expect(try await manifest.allURLRecords().filter { $0.status == .archived }.count == count)
            try manifest.close()
        }
    }

    /// Finished downloads are recorded within about a second even while another one is still running, so a
    /// kill loses little (the rows are written by a timer, not only when a next download finishes).
    @Test func rowsOfFinishedDownloadsAreRecordedWhileASlowOneRuns() async throws {
        let fast = try FixtureImages.jpeg(width: 64, height: 48, seed: 11)
        let slow = try FixtureImages.jpeg(width: 64, height: 48, seed: 12)
        let server = try await ImageServer.start([
            "/fast.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], fast) },
            "/slow.jpg": { _ in
                try? await Task.sleep(for: .seconds(20))
                return reply(200, ["Content-Type": "image/jpeg"], slow)
            },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let host = "img.example.test"
            try folder.write("list.txt", "http://\(host)/fast.jpg\nhttp://\(host)/slow.jpg\n")
            let process = try launchImgarchive(
                ["fetch", "--urls", "list.txt", "--connect-to", server.connectTo(host)], in: folder.path)
            // Wait until the slow download has started and the fast one has long finished, then kill.
            for _ in 0..<400 where server.hitCount("/slow.jpg") == 0 { try await Task.sleep(for: .milliseconds(25)) }
            try #require(server.hitCount("/slow.jpg") > 0, "the slow download did not start within 10 s")
            try await Task.sleep(for: .seconds(3))
            kill(process.processIdentifier, SIGKILL)
            await withCheckedContinuation { c in
                DispatchQueue.global().async {
                    process.waitUntilExit(); c.resume()
                }
            }
            let manifest = try SQLiteManifest(
                layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
            let archived = try await manifest.allURLRecords().filter { $0.status == .archived }.map(\.url)
            #expect(archived == ["http://\(host)/fast.jpg"])
            #expect(try await manifest.integrityCheck())
            try manifest.close()
        }
    }
}

/// How many chunks the `Drip` bodies have sent.
private final class SentChunks: Sendable {
    private let sent = Mutex(0)
    func add() { sent.withLock { $0 += 1 } }
    var count: Int { sent.withLock { $0 } }
}

/// A body sent 64 KB at a time, 40 ms apart.
private struct Drip: AsyncBufferedSequence, AsyncBufferedIteratorProtocol {
    typealias Element = UInt8
    let bytes: [UInt8]
    let sent: SentChunks
    var offset = 0

    init(_ bytes: [UInt8], counting sent: SentChunks) {
        self.bytes = bytes
        self.sent = sent
    }

    func makeAsyncIterator() -> Drip { self }

    mutating func next() async throws -> UInt8? {
        guard offset < bytes.count else { return nil }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func nextBuffer(suggested count: Int) async throws -> ArraySlice<UInt8>? {
        guard offset < bytes.count else { return nil }
        try await Task.sleep(for: .milliseconds(40))
        let end = Swift.min(bytes.count, offset + 65_536)
        sent.add()
        defer { offset = end }
        return bytes[offset..<end]
    }
}

/// The size of the file at `path`, 0 when it is gone (a temporary file can be renamed between listing and asking).
private func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}
