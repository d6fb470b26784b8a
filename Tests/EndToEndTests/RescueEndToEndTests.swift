import FlyingFox
import Foundation
import Testing

/// The repository's root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Runs a command (through /usr/bin/env) on a Dispatch thread and returns its status and output.
private func shell(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(
                with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = arguments
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = out
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
        }
    }
}

/// Rescue from Memento archives (docs/web-archives.md), against pywb, the web archives' replay tool, as the
/// archive: a collection built with warcio from made-up captures of images whose origin is gone.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RescueEndToEndTests {
    /// One capture of the test archive.
    struct Capture {
        var url: String
        var date: String
        var status = "200 OK"
        var contentType: String
        var body: [UInt8]
    }

    /// Builds a WARC of `captures` and starts pywb on it; returns its port. Fails naming the command to run when
    /// pywb or warcio is missing.
    static func startArchive(_ captures: [Capture], in folder: TemporaryFolder) async throws -> Int {
        var spec: [[String: String]] = []
        for (i, c) in captures.enumerated() {
            let body = folder.path + "/capture-\(i).bin"
            try Data(c.body).write(to: URL(fileURLWithPath: body))
            spec.append(["url": c.url, "date": c.date, "status": c.status, "content_type": c.contentType, "body": body])
        }
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: folder.path + "/spec.json"))
        let warc = folder.path + "/captures.warc.gz"
        let made = try await shell([
            "python3", repositoryRoot + "/Tests/WebArchive/captures-warc.py", warc, folder.path + "/spec.json",
        ])
        try #require(
            made.status == 0,
            "warcio could not write the WARC (python3 -m pip install warcio; .ci/run does): \(made.output)")
        // Through Python, which unblocks the signals (a child of the test process inherits its blocked SIGTERM, and
        // `pywb.sh stop` would wait forever) and closes the other descriptors (Foundation's Process learns that a
        // child ended when every holder of a socket it hands the child has closed it: wayback would hold it).
        let started = try await shell([
            "python3", "-c",
            "import signal, subprocess, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                + "sys.exit(subprocess.run(sys.argv[1:], close_fds=True).returncode)",
            "bash", repositoryRoot + "/Tests/WebArchive/pywb.sh", "start", folder.path + "/pywb", warc,
        ])
        try #require(
            started.status == 0, "pywb did not start (python3 -m pip install pywb; .ci/run does): \(started.output)")
        let port = started.output.split(separator: "\n").first { $0.hasPrefix("PYWB_PORT=") }
            .flatMap { Int($0.dropFirst("PYWB_PORT=".count)) }
        return try #require(port, "pywb.sh printed no port: \(started.output)")
    }

    static func stopArchive(in folder: TemporaryFolder) async {
        _ = try? await shell(["bash", repositoryRoot + "/Tests/WebArchive/pywb.sh", "stop", folder.path + "/pywb"])
    }

    /// Images whose origin answers 404, or whose host is gone, come back from the archive's capture nearest the
    /// post's date, in their original bytes, with provenance in the manifest, `status` and the report; the CDN
    /// original is asked first, then the URL as written. A capture that is a page, a capture of a 404 and no
    /// capture at all are refused, naming the URL. The next run does not ask the archive again (`rescue-after`).
    @Test func deadImagesAreRescuedFromTheArchiveWithProvenance() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let early = try FixtureImages.jpeg(width: 40, height: 30, seed: 1)
        let late = try FixtureImages.jpeg(width: 40, height: 30, seed: 2)
        let png = try FixtureImages.png(width: 20, height: 20, seed: 3)
        let cdnOriginal = try FixtureImages.jpeg(width: 30, height: 30, seed: 4)
        let cdnWritten = try FixtureImages.jpeg(width: 30, height: 20, seed: 5)
        let port = try await Self.startArchive(
            [
                Capture(
                    url: "http://blog.test/img/a.jpg", date: "2019-06-01T00:00:00Z", contentType: "image/jpeg",
                    body: early),
                Capture(
                    url: "http://blog.test/img/a.jpg", date: "2023-01-01T00:00:00Z", contentType: "image/jpeg",
                    body: late),
                Capture(
                    url: "http://gone.test/b.png", date: "2020-02-01T00:00:00Z", contentType: "image/png", body: png),
                Capture(
                    url: "http://blog.test/img/page.jpg", date: "2019-06-01T00:00:00Z", contentType: "text/html",
                    body: Array("<html><body>moved</body></html>".utf8)),
                Capture(
                    url: "http://blog.test/img/missing.jpg", date: "2019-06-01T00:00:00Z", status: "404 Not Found",
                    contentType: "image/jpeg", body: Array("not found".utf8)),
                Capture(
                    url: "http://blog.test/img/cdn.jpg", date: "2019-06-01T00:00:00Z", contentType: "image/jpeg",
                    body: cdnOriginal),
                Capture(
                    url: "http://i0.wp.com/blog.test/img/written.jpg", date: "2019-06-01T00:00:00Z",
                    contentType: "image/jpeg", body: cdnWritten),
            ], in: folder)
        // The origin answers 404 to everything; gone.test refuses connections (nothing listens on port 1).
        let origin = try await ImageServer.start([:])
        defer { Task { await origin.stop() } }
        try folder.write(
            "posts/one.md",
            """
            ---
            title: One
            date: 2019-07-01
            ---
            ![a](http://blog.test/img/a.jpg) ![p](http://blog.test/img/page.jpg)
            ![m](http://blog.test/img/missing.jpg) ![n](http://blog.test/img/never.jpg)
            ![c](http://i0.wp.com/blog.test/img/cdn.jpg) ![w](http://i0.wp.com/blog.test/img/written.jpg)

            """)
        try folder.write("posts/two.md", "No front matter: the file's date counts. ![b](http://gone.test/b.png)\n")
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_580_515_200)], ofItemAtPath: folder.path + "/posts/two.md"
        )
        let arguments = [
            "--connect-to", origin.connectTo("blog.test"), "--connect-to", origin.connectTo("i0.wp.com"),
            "--connect-to", "gone.test:80:127.0.0.1:1", "--connect-to", "archive.test:80:127.0.0.1:\(port)",
            "--timegate", "http://archive.test/imgs/", "--retries", "0", "--format", "json", "posts",
        ]

        let run = try await runImgarchive(["fetch"] + arguments, in: folder.path)
        await Self.stopArchive(in: folder)
        #expect(run.status == 1, "\(run.stderr)")
        let lines = Dictionary(
            run.jsonLines.compactMap { line in (line["url"] as? String).map { ($0, line) } },
            uniquingKeysWith: { a, _ in a })
        func object(_ url: String) throws -> [UInt8] {
            let path = try #require(lines[url]?["object"] as? String, "\(url): no object in \(run.stdout)")
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder.path + "/archive/" + path)))
        }
        let rescued: [(url: String, bytes: [UInt8], memento: String, captured: String)] = [
            (
                "http://blog.test/img/a.jpg", early,
                "http://archive.test/imgs/20190601000000id_/http://blog.test/img/a.jpg", "2019-06-01T00:00:00Z"
            ),
            (
                "http://gone.test/b.png", png, "http://archive.test/imgs/20200201000000id_/http://gone.test/b.png",
                "2020-02-01T00:00:00Z"
            ),
            (
                "http://i0.wp.com/blog.test/img/cdn.jpg", cdnOriginal,
                "http://archive.test/imgs/20190601000000id_/http://blog.test/img/cdn.jpg", "2019-06-01T00:00:00Z"
            ),
            (
                "http://i0.wp.com/blog.test/img/written.jpg", cdnWritten,
                "http://archive.test/imgs/20190601000000id_/http://i0.wp.com/blog.test/img/written.jpg",
                "2019-06-01T00:00:00Z"
            ),
        ]
        for r in rescued {
            #expect(lines[r.url]?["status"] as? String == "rescued", "\(r.url): \(lines[r.url] ?? [:])")
            #expect(try object(r.url) == r.bytes, "\(r.url): the bytes are not the capture's")
            #expect(lines[r.url]?["memento"] as? String == r.memento)
            #expect(lines[r.url]?["archived_from"] as? String == r.memento)
            #expect(lines[r.url]?["timegate"] as? String == "http://archive.test/imgs/")
            #expect(lines[r.url]?["memento_datetime"] as? String == r.captured)
        }
        let refused: [(url: String, says: String)] = [
            ("http://blog.test/img/page.jpg", "the capture is not an image (text/html)"),
            ("http://blog.test/img/missing.jpg", "no image capture (HTTP 404"),
            ("http://blog.test/img/never.jpg", "no image capture (HTTP 404"),
        ]
        for r in refused {
            #expect(lines[r.url]?["status"] as? String == "failed")
            #expect(lines[r.url]?["error_class"] as? String == "http-4xx")
            let message = lines[r.url]?["message"] as? String ?? ""
            #expect(message.contains("web archives: http://archive.test/imgs/: " + r.says), "\(r.url): \(message)")
        }
        let summary = try #require(run.jsonLines.last?["summary"] as? [String: Any])
        #expect(summary["rescued"] as? Int == 4)
        #expect(summary["failed"] as? Int == 3)

        // status shows them as rescued, from the manifest.
        let status = try await runImgarchive(["status", "--all"], in: folder.path)
        #expect(
            status.stdout.contains(
                "rescued from http://archive.test/imgs/20190601000000id_/http://blog.test/img/a.jpg (captured 2019-06-01T00:00:00Z)"
            ), "\(status.stdout)")
        #expect(status.stdout.contains("(4 rescued from web archives)"), "\(status.stdout)")
        let json = try await runImgarchive(["status", "--format", "json"], in: folder.path)
        let entry = json.jsonLines.first { $0["url"] as? String == "http://gone.test/b.png" }
        #expect(entry?["rescuedFrom"] as? String == rescued[1].memento)
        #expect(entry?["mementoDatetime"] as? String == "2020-02-01T00:00:00Z")
        #expect(entry?["timegate"] as? String == "http://archive.test/imgs/")

        // The archive is stopped: a second run asks the origin again, not the archive (rescue-after, 30 days).
        let again = try await runImgarchive(["fetch"] + arguments, in: folder.path)
        let second = Dictionary(
            again.jsonLines.compactMap { line in (line["url"] as? String).map { ($0, line) } },
            uniquingKeysWith: { a, _ in a })
        for r in refused {
            let message = second[r.url]?["message"] as? String ?? ""
            #expect(message.contains("web archives: the web archives had no image of it on "), "\(message)")
            #expect(!message.contains("could not be reached"), "\(message)")
        }
        for r in rescued { #expect(second[r.url]?["status"] as? String == "already-archived") }
    }

    /// An archive that never answers is refused once, naming it and the URL; the rest of the run does not ask it,
    /// and the lookup does not count, so the next run asks again.
    @Test func anArchiveThatTimesOutIsRefusedOnceAndNotCounted() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let archive = try await ImageServer.start([
            "/imgs/*": { _ in
                try? await Task.sleep(for: .seconds(20))
                return reply(500)
            }
        ])
        defer { Task { await archive.stop() } }
        let origin = try await ImageServer.start([:])
        defer { Task { await origin.stop() } }
        try folder.write(
            "posts/a.md", "![a](http://blog.test/a.jpg) ![b](http://blog.test/b.jpg) ![c](http://blog.test/c.jpg)\n")
        let arguments = [
            "fetch", "--connect-to", origin.connectTo("blog.test"), "--connect-to", archive.connectTo("slow.test"),
            "--timegate", "http://slow.test/imgs/", "--retries", "0", "--timeout", "2", "--format", "json", "posts",
        ]
        for round in 1...2 {
            let run = try await runImgarchive(arguments, in: folder.path)
            #expect(run.status == 1)
            let messages = run.jsonLines.compactMap { $0["message"] as? String }
            #expect(messages.count == 3, "\(run.stdout)")
            #expect(
                messages.filter {
                    $0.contains("web archives: http://slow.test/imgs/: it could not be reached (timeout")
                }
                .count == 1, "round \(round): \(messages)")
            #expect(
                messages.filter {
                    $0.contains("web archives: http://slow.test/imgs/ not asked: it could not be reached (timeout")
                }.count == 2, "round \(round): \(messages)")
            #expect(archive.totalHits == round, "round \(round): the archive was asked \(archive.totalHits) times")
        }
    }
}
