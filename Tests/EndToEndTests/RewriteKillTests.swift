import FlyingFox
import Foundation
import ImgArchiveCore
import Logging
import Testing

@testable import ImgArchivePipeline
@testable import ImgArchiveStore

/// SIGKILL while `imgarchive rewrite` replaces 200 posts, 50 times: every post is exactly its old or its new
/// version, and the manifest still reverts everything.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RewriteKillTests {
    @Test func killedRewriteLeavesEachPostOldOrNew() async throws {
        let host = "img.example.test"
        let jpeg = try FixtureImages.jpeg(width: 64, height: 48, seed: 4)
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) },
            "/b.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg + [0]) },
        ])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let count = 200
            var old: [String: [UInt8]] = [:]
            for i in 0..<count {
                let name = "posts/p\(i).md"
                let text =
                    "# Post \(i)\n\n![a](http://\(host)/a.jpg)\n\n" + String(repeating: "words ", count: 50 + i)
                    + "\n\n<img src=\"http://\(host)/b.jpg\">\n"
                try folder.write(name, text)
                old[name] = Array(text.utf8)
            }
            let fetch = try await runImgarchive(
                ["fetch", "--connect-to", server.connectTo(host), "posts"], in: folder.path)
            #expect(fetch.status == 0, "\(fetch.stderr)")

            // One uninterrupted run gives the new versions and how long a run takes.
            let started = Date()
            let full = try await runImgarchive(["rewrite", "posts"], in: folder.path)
            let duration = Date().timeIntervalSince(started)
            #expect(full.status == 0, "\(full.stderr)")
            var new: [String: [UInt8]] = [:]
            for name in old.keys { new[name] = try bytes(folder, name) }
            #expect(new.allSatisfy { $0.value != old[$0.key] })
            let back = try await runImgarchive(["rewrite", "--revert", "posts"], in: folder.path)
            #expect(back.status == 0)

            for round in 0..<50 {
                // Even rounds: kill moments sweep the whole run, startup included, with jitter. Odd rounds: kill as
                // soon as the first post has its new bytes, so posts are being replaced at that moment.
                let delay = duration * (Double(round) + Double.random(in: 0..<1)) / 50
                // What each round did, in every message of that round, so a failure can be replayed.
                let killed = round % 2 == 0 ? "killed after \(delay) s" : "killed after the first new post"
                let process = try launchImgarchive(["rewrite", "posts"], in: folder.path)
                if round % 2 == 0 {
                    try await Task.sleep(for: .seconds(delay))
                } else {
                    let deadline = Date().addingTimeInterval(duration * 4 + 5)
                    while Date() < deadline, try !old.keys.contains(where: { try bytes(folder, $0) == new[$0] }) {
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
                kill(process.processIdentifier, SIGKILL)
                await withCheckedContinuation { c in
                    DispatchQueue.global().async {
                        process.waitUntilExit(); c.resume()
                    }
                }

                for (name, before) in old {
                    let now = try bytes(folder, name)
                    #expect(
                        now == before || now == new[name], "round \(round), \(killed): \(name) is neither old nor new")
                }
                // Revert puts everything back, whatever the kill left (a rewrite recorded but never renamed included).
                let revert = try await runImgarchive(["rewrite", "--revert", "posts"], in: folder.path)
                #expect(revert.status == 0, "round \(round), \(killed): \(revert.stdout) \(revert.stderr)")
                for (name, before) in old {
                    #expect(try bytes(folder, name) == before, "round \(round), \(killed): \(name)")
                }
            }
            let finish = try await runImgarchive(["rewrite", "posts"], in: folder.path)
            #expect(finish.status == 0, "\(finish.stderr)")
            for (name, after) in new {
                #expect(try bytes(folder, name) == after, "after the kills, a run still gives \(name)")
            }
            let leftovers = folder.files(under: "posts").filter { !$0.hasSuffix(".md") }
            #expect(leftovers.isEmpty, "no temporary post is left behind: \(leftovers)")
            let manifest = try SQLiteManifest(
                layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
            #expect(try await manifest.integrityCheck())
            try manifest.close()
        }
    }

    /// A run killed at a fixed point of its first batch of posts (`IMGARCHIVE_FAILPOINT`): after the batch's
    /// durable record and before any rename, after the renames and before they are confirmed, or (revert) after
    /// the renames and before the revert is recorded. Every post is its old or its new bytes, and the next
    /// command (a rewrite or a revert) finishes the job: the rewrite, then a revert, give the expected bytes,
    /// and no record or temporary file is left over.
    @Test(arguments: [
        ("rewrite-recorded", "rewrite"), ("rewrite-recorded", "revert"), ("rewrite-renamed", "rewrite"),
        ("rewrite-renamed", "revert"), ("revert-renamed", "revert"), ("revert-renamed", "rewrite"),
    ])
    func batchKilledAtAFixedPointIsRecovered(_ failPoint: String, next: String) async throws {
        let host = "img.example.test"
        let jpeg = try FixtureImages.jpeg(width: 32, height: 24, seed: 6)
        let server = try await ImageServer.start(["/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) }])
        defer { Task { await server.stop() } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // More posts than a batch, in two folders: the kill leaves a batch done or half done and the rest untouched.
        let count = RewritePipeline.batchSize + 40
        var old: [String: [UInt8]] = [:]
        for i in 0..<count {
            let name = "posts/\(i % 2 == 0 ? "a" : "b")/p\(i).md"
            let text = "# Post \(i)\n\n![a](http://\(host)/a.jpg) and ![again](http://\(host)/a.jpg)\n"
            try folder.write(name, text)
            old[name] = Array(text.utf8)
        }
        let fetch = try await runImgarchive(
            ["fetch", "--connect-to", server.connectTo(host), "posts"], in: folder.path)
        #expect(fetch.status == 0, "\(fetch.stderr)")
        let full = try await runImgarchive(["rewrite", "posts"], in: folder.path)
        #expect(full.status == 0, "\(full.stderr)")
        var new: [String: [UInt8]] = [:]
        for name in old.keys { new[name] = try bytes(folder, name) }
        #expect(new.allSatisfy { $0.value != old[$0.key] })
        let reverting = failPoint.hasPrefix("revert")
        if !reverting {
            let back = try await runImgarchive(["rewrite", "--revert", "posts"], in: folder.path)
            #expect(back.status == 0, "\(back.stderr)")
        }

        let process = try launchImgarchive(
            reverting ? ["rewrite", "--revert", "posts"] : ["rewrite", "posts"], in: folder.path,
            environment: ["IMGARCHIVE_FAILPOINT": failPoint])
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                process.waitUntilExit(); c.resume()
            }
        }
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)

        var changed = 0
        for (name, before) in old {
            let now = try bytes(folder, name)
            #expect(now == before || now == new[name], "\(failPoint): \(name) is neither old nor new")
            if now != (reverting ? new[name] : before) { changed += 1 }
        }
        // Killed in the first batch: its posts are all changed (renamed) or none is (recorded only).
        #expect(changed == (failPoint == "rewrite-recorded" ? 0 : RewritePipeline.batchSize), "\(failPoint)")
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: URL(fileURLWithPath: folder.path + "/archive")))
        defer { try? manifest.close() }
        let pending = try await manifest.postsWithPendingRewrites()
        #expect(pending.count == (reverting ? 0 : RewritePipeline.batchSize), "\(failPoint): pending generations")
        // Killed before the renames, the batch's new bytes wait in temporary files; after them, the posts' old files
        // are kept under the temporary names (`PostFile.Spares`), not written again before their folder's fsync. The
        // next batch may be being staged (it is while the first is put in place): its temporary files hold anything.
        // The next run removes them all.
        let temporary = folder.files(under: "posts").filter { !$0.hasSuffix(".md") }
        #expect((RewritePipeline.batchSize...count).contains(temporary.count), "\(failPoint): temporary files")
        let held = Set((failPoint == "rewrite-renamed" ? old : new).values)
        let holding = try temporary.filter { held.contains(try bytes(folder, "posts/" + $0)) }
        #expect(holding.count >= RewritePipeline.batchSize, "\(failPoint): the batch's temporary files hold its bytes")

        let after = try await runImgarchive(
            next == "revert" ? ["rewrite", "--revert", "posts"] : ["rewrite", "posts"], in: folder.path)
        #expect(after.status == 0, "\(failPoint), then \(next): \(after.stdout) \(after.stderr)")
        for (name, expected) in next == "revert" ? old : new {
            #expect(try bytes(folder, name) == expected, "\(failPoint), then \(next): \(name)")
        }
        let rewrite = try await runImgarchive(["rewrite", "posts"], in: folder.path)
        #expect(rewrite.status == 0, "\(rewrite.stderr)")
        for (name, expected) in new { #expect(try bytes(folder, name) == expected, "\(failPoint): \(name)") }
        let revert = try await runImgarchive(["rewrite", "--revert", "posts"], in: folder.path)
        #expect(revert.status == 0, "\(revert.stderr)")
        #expect(!revert.stdout.contains("edited after"), "every revert is exact: \(revert.stdout)")
        for (name, expected) in old { #expect(try bytes(folder, name) == expected, "\(failPoint): \(name)") }
        #expect(try await manifest.rewrittenPosts().isEmpty, "\(failPoint): no rewrite record is left")
        #expect(folder.files(under: "posts").allSatisfy { $0.hasSuffix(".md") }, "no temporary post is left")
        #expect(try await manifest.integrityCheck())
    }

    /// A post edited after it was scanned is left alone, never clobbered.
    @Test func postEditedAfterTheScanIsSkipped() async throws {
        let host = "img.example.test"
        let jpeg = try FixtureImages.jpeg(width: 64, height: 48, seed: 5)
        let server = try await ImageServer.start(["/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], jpeg) }])
        try await serving(server) {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            try folder.write("p.md", "![a](http://\(host)/a.jpg)\n")
            let fetch = try await runImgarchive(
                ["fetch", "--connect-to", server.connectTo(host), "p.md"], in: folder.path)
            #expect(fetch.status == 0)

            let post = folder.path + "/p.md"
            let scanned = Array("![a](http://\(host)/a.jpg)\n".utf8)
            let scan = PostScanner().scan(scanned)
            try Data("Edited by hand.\n\n![a](http://\(host)/a.jpg)\n".utf8).write(to: URL(fileURLWithPath: post))
            let settings = RewriteSettings(
                archiveRoot: URL(fileURLWithPath: folder.path + "/archive"),
                linker: ArchiveLinker(style: .prefix("/archive")), scanner: PostScanner())
            let report = try await RewritePipeline.run(
                posts: [
                    ScannedPost(
                        path: post, contentSHA256: ArchiveStore.sha256(of: scanned), references: scan.references)
                ],
                settings: settings, logger: Logger(label: "test"))
            #expect(report.posts.map(\.status) == [.changedMeanwhile])
            #expect(report.posts.first?.message?.contains("changed after it was scanned") == true)
            #expect(try bytes(folder, "p.md") == Array("Edited by hand.\n\n![a](http://\(host)/a.jpg)\n".utf8))
        }
    }

    private func bytes(_ folder: TemporaryFolder, _ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + name)))
    }
}
