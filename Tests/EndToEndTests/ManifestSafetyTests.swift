import FlyingFox
import Foundation
import Testing

@testable import ImgArchiveStore

#if canImport(Glibc)
    import Glibc
#endif

/// A lost manifest, snapshots and orphans, on the built binary after a real fetch from the loopback server
/// (the fixture of `StatusVerifyTests`).
@Suite(.serialized, .timeLimit(.minutes(5))) struct ManifestSafetyTests {
    typealias Fixture = StatusVerifyTests.Fixture

    static func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// An emptied manifest beside archived originals stops every command (exit 2, the way out, nothing written);
    /// `verify --repair` restores the job's snapshot, and `--revert` then puts the posts back byte for byte.
    @Test(arguments: [false, true])
    func emptiedOrDeletedManifestStopsEveryCommandUntilRepaired(deleted: Bool) async throws {
        let f = try await StatusVerifyTests.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            let before = try String(contentsOfFile: f.folder.path + "/_posts/a.md", encoding: .utf8)

            let job = try await runImgarchive(["archive", "--retries", "0"] + f.connect + ["."], in: f.folder.path)
            #expect(job.status == 1, "gone.jpg fails: \(job.stderr)")
            #expect(Self.files(f.archive + "/backups").count == 1, "one snapshot per run")
            let rewritten = try String(contentsOfFile: f.folder.path + "/_posts/a.md", encoding: .utf8)
            #expect(rewritten != before && rewritten.contains("archive/w200/"))

            let manifest = f.archive + "/manifest.sqlite"
            if deleted {
                try FileManager.default.removeItem(atPath: manifest)
            } else {
                try Data().write(to: URL(fileURLWithPath: manifest))
            }
            for command in [
                ["status"], ["verify"], ["fetch", "--retries", "0"] + f.connect + ["."], ["rewrite", "."],
                ["rewrite", "--revert"], ["archive", "--retries", "0"] + f.connect + ["."],
            ] {
                let r = try await runImgarchive(command, in: f.folder.path)
                #expect(r.status == 2, "\(command): \(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains(deleted ? "is missing" : "is empty"), "\(command): \(r.stderr)")
                #expect(r.stderr.contains("imgarchive verify --repair"), "\(command): \(r.stderr)")
                #expect(FileManager.default.fileExists(atPath: manifest) == !deleted, "\(command) made a manifest")
                #expect(try String(contentsOfFile: f.folder.path + "/_posts/a.md", encoding: .utf8) == rewritten)
            }

            let repair = try await runImgarchive(
                ["verify", "--repair", "--retries", "0"] + f.connect, in: f.folder.path)
            #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
            #expect(repair.stdout.contains("restored from backups/manifest-"), "\(repair.stdout)")
            let verify = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(verify.status == 0 && verify.stdout.contains("0 unrecorded"), "\(verify.stdout)")

            let revert = try await runImgarchive(["rewrite", "--revert"], in: f.folder.path)
            #expect(revert.status == 0, "\(revert.stdout) \(revert.stderr)")
            #expect(try String(contentsOfFile: f.folder.path + "/_posts/a.md", encoding: .utf8) == before)
            #expect(Self.files(f.archive + "/backups").count == 2, "the revert took a snapshot too")
        }
    }

    /// Without any snapshot, `verify --repair` starts a new manifest and adopts the originals and thumbnails
    /// whose bytes match their names; a file that does not is moved to quarantine. `verify` reports both first.
    @Test func repairWithoutSnapshotAdoptsWhatMatchesAndQuarantinesTheRest() async throws {
        let f = try await StatusVerifyTests.makeFixture()
        defer { f.folder.remove() }
        try await serving(f.server) {
            #expect(
                try await runImgarchive(["fetch", "--retries", "0"] + f.connect + ["."], in: f.folder.path).status == 1)
            #expect(Self.files(f.archive + "/backups").isEmpty, "fetch takes no snapshot")
            let objects = try await f.manifest().objects().map(\.path).sorted()
            let thumbnails = try await f.manifest().thumbnails().map(\.path)
            #expect(objects.count == 2 && thumbnails.count == 1)

            // An unrecorded file whose bytes are not what its name says.
            let fake = String(repeating: "ab", count: 32)
            let fakePath = "objects/ab/\(fake).jpg"
            try FileManager.default.createDirectory(
                atPath: f.archive + "/objects/ab", withIntermediateDirectories: true)
            try Data(f.photo).write(to: URL(fileURLWithPath: f.archive + "/" + fakePath))
            let orphans = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(orphans.status == 1)
            #expect(orphans.stdout.contains("unrecorded original \(fakePath)"), "\(orphans.stdout)")
            #expect(orphans.stdout.contains("1 unrecorded; manifest intact; run imgarchive verify --repair"))

            try FileManager.default.removeItem(atPath: f.archive + "/manifest.sqlite")
            let repair = try await runImgarchive(
                ["verify", "--repair", "--format", "json"] + f.connect, in: f.folder.path)
            #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
            let lines = repair.jsonLines
            let adopted = lines.filter { $0["repair"] as? String == "adopted" }.compactMap { $0["file"] as? String }
            #expect(adopted.sorted() == (objects + thumbnails).sorted())
            let removed = lines.filter { $0["repair"] as? String == "removed" }
            #expect(removed.count == 1 && removed.first?["file"] as? String == fakePath)
            #expect((lines.last?["summary"] as? [String: Any])?["manifestRestoredFrom"] is NSNull)
            #expect(!FileManager.default.fileExists(atPath: f.archive + "/" + fakePath))

            let after = try f.manifest()
            #expect(try await after.objects().map(\.path).sorted() == objects)
            #expect(try await after.thumbnails().map(\.path) == thumbnails)
            let verify = try await runImgarchive(["verify"], in: f.folder.path)
            #expect(verify.status == 0, "\(verify.stdout)")
        }
    }
}

/// A full disk, for real: the archive on a 1 MB tmpfs (mounted and unmounted by the test; skipped with a
/// message where mounting is not permitted).
@Suite(.serialized, .timeLimit(.minutes(5))) struct DiskFullTests {
    @Test func fullDiskStopsTheRunOnceAndLeavesNoUnrecordedFile() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let archive = folder.path + "/archive"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        guard mount("tmpfs", archive, "tmpfs", 0, "size=1m") == 0 else {
            print("DiskFullTests skipped: mounting a tmpfs is not permitted here (\(String(cString: strerror(errno))))")
            return
        }
        defer { umount(archive) }

        // 12 images of 200 KB each: the first few fit, then the disk is full.
        var images: [String: [UInt8]] = [:]
        for i in 0..<12 {
            var state = UInt64(i + 7)
            let padding = (0..<200_000).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            images["/p/\(i).jpg"] = try FixtureImages.jpeg(width: 32, height: 24, seed: i) + padding + [0xFF, 0xD9]
        }
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for (path, bytes) in images { routes[path] = { _ in reply(200, ["Content-Type": "image/jpeg"], bytes) } }
        let server = try await ImageServer.start(routes)
        try await serving(server) {
            let host = "img.example.test"
            try folder.write("list.txt", images.keys.sorted().map { "http://\(host)\($0)" }.joined(separator: "\n"))

            let run = try await runImgarchive(
                [
                    "fetch", "--urls", "list.txt", "--jobs", "2", "--retries", "0", "--connect-to",
                    server.connectTo(host),
                ],
                in: folder.path)
            let output = run.stdout + run.stderr
            #expect(run.status == 1, "\(output)")
            #expect(output.components(separatedBy: "disk is full").count == 2, "said once: \(output)")
            #expect(!output.contains("failed io"), "\(output)")
            #expect(!output.contains("errno 13") && !output.contains("ermission denied"), "\(output)")

            // Every file at an archive path has its row; nothing is left in tmp/.
            var files: [String] = []
            try ArchiveLayout(root: URL(fileURLWithPath: archive)).forEachArchivedFile { files.append($0) }
            let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: archive)))
            let rows = Set(try await manifest.objects().map(\.path))
            try manifest.close()
            #expect(Set(files) == rows, "files \(files) rows \(rows)")
            #expect(rows.count < images.count, "the disk filled up before the end")
            #expect(folder.files(under: "archive/tmp").isEmpty)
            let verify = try await runImgarchive(["verify"], in: folder.path)
            #expect(verify.stdout.contains("0 unrecorded"), "\(verify.stdout)")
        }
    }
}
