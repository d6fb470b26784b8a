import FlyingFox
import Foundation
import Synchronization
import TestServices
import Testing

@testable import ImgArchiveStore

/// Scale-out on a real PostgreSQL 15 (`PG_URL`, from `.ci/services up`), on the built binary: the whole job with
/// the manifest in PostgreSQL gives what it gives on SQLite, and several workers share one site's work.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ScaleOutTests {
    static let host = "img.example.test"

    // MARK: The whole job

    @Test func theWholeJobOnPostgreSQLGivesThePostsAndRecordsItGivesOnSQLite() async throws {
        let jpeg = try FixtureImages.jpeg(width: 640, height: 480, seed: 3)
        let png = try FixtureImages.png(width: 300, height: 200, seed: 4)
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg", "ETag": "\"a\""], jpeg) },
            "/b.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
            "/gone.jpg": { _ in reply(404) },
        ])
        defer { Task { await server.stop() } }
        let database = try await TestServices.postgresDatabase()
        let posts = [
            "_posts/2024-01-01-a.md": "# A\n\n![a](http://\(Self.host)/a.jpg?imageView&thumbnail=200x0)\n",
            "_posts/2024-01-02-b.md":
                "<img src=\"http://\(Self.host)/b.png\" width=\"120\">\n![gone](http://\(Self.host)/gone.jpg)\n",
            "_posts/2024-01-03-c.md": "Both: ![a](http://\(Self.host)/a.jpg) and ![b](http://\(Self.host)/b.png)\n",
        ]
        var folders: [TemporaryFolder] = []
        for _ in 0..<2 {
            let folder = try TemporaryFolder()
            try folder.write("_config.yml", "title: t\n")
            for (path, text) in posts { try folder.write(path, text) }
            folders.append(folder)
        }
        defer { for folder in folders { folder.remove() } }
        let (sqlite, postgres) = (folders[0], folders[1])
        let connect = ["--connect-to", server.connectTo(Self.host)]
        let manifest = ["--manifest", database]

        // archive (fetch, thumbnails, rewrite), then status, verify, and revert.
        let runs: [(arguments: [String], pg: [String])] = [
            (["archive"] + connect, manifest), (["status", "--all", "--format", "json"], manifest),
            (["verify"], manifest),
        ]
        for run in runs {
            let a = try await runImgarchive(run.arguments, in: sqlite.path)
            let b = try await runImgarchive(run.arguments + run.pg, in: postgres.path)
            #expect(a.status == b.status, "\(run.arguments): \(a.stderr) | \(b.stderr)")
            #expect(
                Self.timeless(a.stdout, sqlite.path) == Self.timeless(b.stdout, postgres.path), "\(run.arguments)")
        }
        for path in posts.keys {
            let a = try String(contentsOfFile: sqlite.path + "/" + path, encoding: .utf8)
            let b = try String(contentsOfFile: postgres.path + "/" + path, encoding: .utf8)
            #expect(a == b, "\(path)")
            #expect(!a.contains("/a.jpg)") || path.hasSuffix("b.md"), "the posts were rewritten: \(a)")
        }
        #expect(sqlite.files(under: "archive/objects") == postgres.files(under: "archive/objects"))
        #expect(sqlite.files(under: "archive/w200") == postgres.files(under: "archive/w200"))
        #expect(!postgres.files(under: "archive/objects").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: postgres.path + "/archive/manifest.sqlite"))

        let a = try SQLiteManifest(url: URL(fileURLWithPath: sqlite.path + "/archive/manifest.sqlite"))
        defer { try? a.close() }
        let b = try await PostgresManifest.open(url: database)
        defer { b.close() }
        let recordsA = try await Self.records(a)
        let recordsB = try await Self.records(b)
        #expect(recordsA == recordsB)
        #expect(recordsA.contains { $0.hasPrefix("url http://\(Self.host)/gone.jpg failed") })

        let revertA = try await runImgarchive(["rewrite", "--revert", "_posts"], in: sqlite.path)
        let revertB = try await runImgarchive(["rewrite", "--revert", "_posts"] + manifest, in: postgres.path)
        #expect(revertA.status == 0 && revertB.status == 0, "\(revertA.stderr) \(revertB.stderr)")
        for (path, text) in posts {
            #expect(try String(contentsOfFile: postgres.path + "/" + path, encoding: .utf8) == text, "\(path)")
        }
        #expect(try await Self.records(a) == (try await Self.records(b)))
    }

    /// Output with the folder and the times of the run left out.
    private static func timeless(_ text: String, _ folder: String) -> String {
        text.replacingOccurrences(of: folder, with: "FOLDER")
            .replacing(#/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z|\d{8}T\d{6}\.\d{3}Z/#, with: "TIME")
    }

    /// The manifest's rows as text, without the dates that differ between two runs.
    private static func records(_ m: some ArchiveLedgerReader) async throws -> [String] {
        var lines: [String] = []
        for u in try await m.allURLRecords() {
            lines.append(
                "url \(u.url) \(u.status) \(u.httpStatus ?? 0) \(u.errorClass?.rawValue ?? "-") \(u.attempts) "
                    + "\(u.etag ?? "-") \(u.objectSHA256 ?? "-") \(u.archivedFrom ?? "-")")
        }
        for o in try await m.objects() {
            lines.append("object \(o.sha256) \(o.format) \(o.bytes) \(o.width ?? 0)x\(o.height ?? 0) \(o.path)")
        }
        for t in try await m.thumbnails() {
            lines.append("thumbnail \(t.objectSHA256) \(t.width) \(t.sha256) \(t.height) \(t.path)")
        }
        for p in try await m.posts() {
            lines.append("post \(p.path) \(p.contentSHA256) \(p.rewrittenSHA256 ?? "-")")
            for r in try await m.references(post: p.path) {
                lines.append("  \(r.rangeStart)-\(r.rangeEnd) \(r.kind) \(r.url) \(r.origin ?? "-") \(r.width ?? 0)")
            }
            for g in try await m.rewriteGenerations(post: p.path) {
                lines.append("  generation \(g.generation) \(g.applied) \(g.spans.map(\.replacement))")
            }
        }
        return lines
    }

    // MARK: Many workers

    /// A site of `posts` posts with 10 references each, all on one host, copied into each worker's folder.
    private static func site(workers: Int, posts: Int) throws -> [TemporaryFolder] {
        var text: [String: String] = [:]
        for p in 0..<posts {
            text["site/post-\(p).md"] = (0..<10).map { "![i](http://\(host)/img/\(p)-\($0).jpg)\n" }.joined()
        }
        return try (0..<workers).map { _ in
            let folder = try TemporaryFolder()
            for (path, body) in text { try folder.write(path, body) }
            return folder
        }
    }

    /// Runs `imgarchive fetch` in each folder at once, against the database.
    private static func fetch(
        _ folders: [TemporaryFolder], database: String, server: CountingServer, perHost: Int,
        during: (@Sendable ([Process]) async throws -> Void)? = nil
    ) async throws -> [Int32] {
        let processes = try folders.map { folder in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: imgarchiveBinary)
            process.arguments = [
                "fetch", "--manifest", database, "--per-host", "\(perHost)", "--jobs", "8", "--connect-to",
                "\(host):80:127.0.0.1:\(server.port)", "site",
            ]
            process.currentDirectoryURL = URL(fileURLWithPath: folder.path)
            var environment = ProcessInfo.processInfo.environment
            environment["IMGARCHIVE_CLAIM_LEASE"] = "3"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            _ = FileManager.default.createFile(atPath: folder.path + "/worker.log", contents: nil)
            process.standardError = FileHandle(forWritingAtPath: folder.path + "/worker.log")
            process.standardInput = FileHandle.nullDevice
            try process.run()
            return process
        }
        try await during?(processes)
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let deadline = Date().addingTimeInterval(120)
                for process in processes {
                    while process.isRunning && Date() < deadline { usleep(20_000) }
                    if process.isRunning { process.terminate() }
                    process.waitUntilExit()
                }
                continuation.resume(returning: processes.map(\.terminationStatus))
            }
        }
    }

    /// The end of each worker's stderr.
    private static func logs(_ folders: [TemporaryFolder]) -> String {
        folders.map { folder in
            let text = (try? String(contentsOfFile: folder.path + "/worker.log", encoding: .utf8)) ?? ""
            return String(text.suffix(1500))
        }.joined(separator: "\n----\n")
    }

    /// Every URL of the site archived in the database, once.
    private static func expectAllArchived(database: String, posts: Int) async throws {
        let manifest = try await PostgresManifest.open(url: database)
        defer { manifest.close() }
        let records = try await manifest.allURLRecords()
        #expect(records.count == posts * 10)
        #expect(records.allSatisfy { $0.status == .archived }, "\(records.filter { $0.status != .archived }.prefix(3))")
    }

    @Test func fourWorkersArchiveEveryReferenceOnceWithinThePerHostLimit() async throws {
        let server = try await CountingServer.start()
        defer { Task { await server.stop() } }
        let database = try await TestServices.postgresDatabase()
        let folders = try Self.site(workers: 4, posts: 200)
        defer { for folder in folders { folder.remove() } }

        let statuses = try await Self.fetch(folders, database: database, server: server, perHost: 2)
        #expect(statuses == [0, 0, 0, 0], "\(Self.logs(folders))")
        try await Self.expectAllArchived(database: database, posts: 200)
        let hits = server.hits
        #expect(hits.count == 2000 && hits.values.allSatisfy { $0 == 1 }, "each reference fetched once")
        #expect(server.mostAtOnce <= 2, "the per-host limit held across workers: \(server.mostAtOnce)")
        #expect(server.mostAtOnce == 2, "the workers did fetch side by side")
        // Every worker did part of the work.
        for folder in folders { #expect(!folder.files(under: "archive/objects").isEmpty) }
    }

    @Test func aKilledWorkersClaimsAreFinishedByTheOthers() async throws {
        let server = try await CountingServer.start()
        defer { Task { await server.stop() } }
        let database = try await TestServices.postgresDatabase()
        let folders = try Self.site(workers: 4, posts: 200)
        defer { for folder in folders { folder.remove() } }

        let statuses = try await Self.fetch(folders, database: database, server: server, perHost: 2) { processes in
            while server.total < 300 { try await Task.sleep(for: .milliseconds(10)) }
            kill(processes[0].processIdentifier, SIGKILL)
        }
        #expect(statuses[0] != 0, "the first worker was killed")
        #expect(Array(statuses.dropFirst()) == [0, 0, 0])
        try await Self.expectAllArchived(database: database, posts: 200)
        // Only what the killed worker had in flight was asked twice.
        let twice = server.hits.values.filter { $0 > 1 }.count
        #expect(twice <= 64, "\(twice) URLs fetched more than once")
        #expect(server.mostAtOnce <= 2)
    }

    @Test func workersRideOutARestartOfTheDatabase() async throws {
        let server = try await CountingServer.start()
        defer { Task { await server.stop() } }
        let database = try await TestServices.postgresDatabase()
        let folders = try Self.site(workers: 4, posts: 200)
        defer { for folder in folders { folder.remove() } }

        let statuses = try await Self.fetch(folders, database: database, server: server, perHost: 2) { _ in
            while server.total < 300 { try await Task.sleep(for: .milliseconds(10)) }
            try await restartPostgres()
        }
        #expect(statuses == [0, 0, 0, 0], "\(Self.logs(folders))")
        try await Self.expectAllArchived(database: database, posts: 200)
    }
}

/// Restarts the tests' PostgreSQL (`.ci/services.d/postgres.sh restart`): every connection is cut.
func restartPostgres() async throws {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".ci/services.d/postgres.sh").path
    // system(3), not Process: the server the script starts outlives it, and Foundation's Process waits for it.
    let status: Int32 = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: system("bash '\(script)' restart >/dev/null 2>&1"))
        }
    }
    #expect(status == 0, "postgres.sh restart")
}

/// A server for every path under `/img/` that answers a small JPEG after 5 ms, counting the requests per path
/// and the most it served at once.
final class CountingServer: Sendable {
    let server: HTTPServer
    let task: Task<Void, any Error>
    let port: UInt16
    private let state = Mutex<(hits: [String: Int], now: Int, most: Int)>(([:], 0, 0))

    var hits: [String: Int] { state.withLock { $0.hits } }
    var total: Int { state.withLock { $0.hits.values.reduce(0, +) } }
    var mostAtOnce: Int { state.withLock { $0.most } }

    private init(server: HTTPServer, task: Task<Void, any Error>, port: UInt16) {
        self.server = server
        self.task = task
        self.port = port
    }

    static func start() async throws -> CountingServer {
        let jpeg = try FixtureImages.jpeg(width: 32, height: 32, seed: 9)
        let server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw POSIXError(.EADDRNOTAVAIL) }
        let s = CountingServer(server: server, task: task, port: port)
        await server.appendRoute(HTTPRoute("GET /img/*")) { [s] request in
            s.state.withLock {
                $0.hits[request.path, default: 0] += 1
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            try? await Task.sleep(for: .milliseconds(5))
            s.state.withLock { $0.now -= 1 }
            return reply(200, ["Content-Type": "image/jpeg"], jpeg)
        }
        return s
    }

    func stop() async {
        await server.stop()
        task.cancel()
    }
}
