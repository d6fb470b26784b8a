import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import Logging
import Synchronization
import Testing

@testable import ImgArchivePipeline
@testable import ImgArchiveStore

/// SIGKILL in the middle of a fetch: what is in the archive is whole, and the next run finishes the job.
@Suite(.serialized) struct CrashSafetyTests {
    @Test(arguments: [0.3, 0.8])
    func killedFetchLeavesOnlyWholeFilesAndTheNextRunCompletes(afterSeconds delay: Double) async throws {
        let count = 40
        var images: [String: [UInt8]] = [:]
        for i in 0..<count { images["/img/\(i).jpg"] = try FixtureImages.jpeg(width: 96 + i, height: 64, seed: i) }
        let frozen = images
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for (path, bytes) in frozen {
            routes[path] = { _ in
                try? await Task.sleep(for: .milliseconds(60))  // slow enough to be killed mid-run
                return reply(200, ["Content-Type": "image/jpeg"], bytes)
            }
        }
        let server = try await ImageServer.start(routes)
        defer { Task { await server.stop() } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let host = "img.example.test"
        try folder.write("list.txt", (0..<count).map { "http://\(host)/img/\($0).jpg" }.joined(separator: "\n"))
        let args = [
            "fetch", "--urls", "list.txt", "--jobs", "4", "--per-host", "4", "--connect-to", server.connectTo(host),
        ]

        let process = Process()
        process.executableURL = URL(fileURLWithPath: imgarchiveBinary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try await Task.sleep(for: .seconds(delay))
        kill(process.processIdentifier, SIGKILL)
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                process.waitUntilExit(); c.resume()
            }
        }
        #expect(process.terminationReason == .uncaughtSignal)

        // Everything at an archive path is complete: its name is the SHA-256 of its bytes.
        let archive = folder.path + "/archive"
        let before = folder.files(under: "archive/objects")
        #expect(before.count < count, "the run was killed before it finished")
        for object in before {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive + "/objects/" + object)))
            #expect((object as NSString).lastPathComponent.hasPrefix(ArchiveStore.sha256(of: bytes)))
        }
        if FileManager.default.fileExists(atPath: archive + "/manifest.sqlite") {
            let manifest = try Manifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
            #expect(try manifest.integrityCheck())
            try manifest.close()
        }

        let rerun = try await runImgarchive(args, in: folder.path)
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        let after = folder.files(under: "archive/objects")
        #expect(after.count == count)
        let expected = Set(frozen.values.map { ArchiveStore.sha256(of: $0) })
        #expect(Set(after.map { String(($0 as NSString).lastPathComponent.split(separator: ".")[0]) }) == expected)
        #expect(folder.files(under: "archive/tmp").isEmpty, "the next run removes what the killed one left in tmp")
        let manifest = try Manifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
        #expect(try manifest.integrityCheck())
        #expect(try manifest.allURLRecords().filter { $0.status == .archived }.count == count)
        try manifest.close()
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
        defer { Task { await server.stop() } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let host = "img.example.test"
        try folder.write("list.txt", "http://\(host)/fast.jpg\nhttp://\(host)/slow.jpg\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: imgarchiveBinary)
        process.arguments = ["fetch", "--urls", "list.txt", "--connect-to", server.connectTo(host)]
        process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until the slow download has started and the fast one has long finished, then kill.
        for _ in 0..<400 where server.hitCount("/slow.jpg") == 0 { try await Task.sleep(for: .milliseconds(25)) }
        try await Task.sleep(for: .seconds(3))
        kill(process.processIdentifier, SIGKILL)
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                process.waitUntilExit(); c.resume()
            }
        }
        let manifest = try Manifest(layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
        let archived = try manifest.allURLRecords().filter { $0.status == .archived }.map(\.url)
        #expect(archived == ["http://\(host)/fast.jpg"])
        #expect(try manifest.integrityCheck())
        try manifest.close()
    }

    /// A full batch of rows is written as soon as it is full, not only when its oldest row is old or the run
    /// ends: with the timer out of the way (an hour), the rows of 40 finished downloads are in the manifest,
    /// in batches of 8, while a 41st download still runs.
    @Test func fullBatchesOfRowsAreWrittenWithoutWaitingForTheTimer() async throws {
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for i in 0..<40 {
            let bytes = try FixtureImages.jpeg(width: 32, height: 24, seed: 200 + i)
            routes["/\(i).jpg"] = { _ in reply(200, ["Content-Type": "image/jpeg"], bytes) }
        }
        let slow = try FixtureImages.jpeg(width: 32, height: 24, seed: 300)
        let released = Mutex(false)
        routes["/slow.jpg"] = { _ in
            for _ in 0..<600 where !released.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(50)) }
            return reply(200, ["Content-Type": "image/jpeg"], slow)
        }
        let server = try await ImageServer.start(routes)
        defer { Task { await server.stop() } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let host = "img.example.test"
        let root = URL(fileURLWithPath: folder.path + "/archive")
        var settings = FetchSettings(
            archiveRoot: root, download: DownloadOptions(jobs: 4, perHost: 4, connectTo: [server.connectTo(host)]))
        settings.thumbnails = nil
        settings.manifestFlush = ManifestFlush(rows: 8, interval: .seconds(3600))
        let urls = ["http://\(host)/slow.jpg"] + (0..<40).map { "http://\(host)/\($0).jpg" }
        let items = urls.map { FetchItem(url: $0, origin: $0) }
        let run = Task {
            try await FetchPipeline.run(items: items, posts: [], settings: settings, logger: Logger(label: "test"))
        }

        func archivedURLs() throws -> Set<String> {
            let manifest = try Manifest(layout: ArchiveLayout(root: root))
            defer { try? manifest.close() }
            return Set(try manifest.allURLRecords().filter { $0.status == .archived }.map(\.url))
        }
        // 40 rows in batches of 8: every batch is written, none waits for the hour.
        var recorded = Set<String>()
        for _ in 0..<600 where recorded.count < 40 {
            try await Task.sleep(for: .milliseconds(50))
            if FileManager.default.fileExists(atPath: root.path + "/manifest.sqlite") { recorded = try archivedURLs() }
        }
        #expect(recorded.count == 40, "rows written while the slow download runs")
        #expect(!recorded.contains(urls[0]))
        #expect(server.hitCount("/slow.jpg") == 1)

        released.withLock { $0 = true }
        let report = try await run.value
        #expect(report.counts[.archived] == 41)
        #expect(try archivedURLs() == Set(urls), "the last, partial batch is written at the end")
    }
}
