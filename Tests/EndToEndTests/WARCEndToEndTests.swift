import FlyingFox
import Foundation
import ImgArchiveCore
import Synchronization
import Testing

@testable import ImgArchivePipeline
@testable import ImgArchiveStore
@testable import ImgArchiveWARC

/// `fetch --warc` against a loopback server, checked by the web archives' own tools: warcio (`check`, and its
/// record reader) and pywb, which must index the files as imgarchive did and replay each image byte for byte.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WARCEndToEndTests {
    static let host = "img.example.test"

    @Test func warcRecordsPassWarcioAndReplayByteIdenticalInPywb() async throws {
        let a = try FixtureImages.jpeg(width: 96, height: 64, seed: 1)
        let b = try FixtureImages.png(width: 48, height: 32, seed: 2)
        let c = try FixtureImages.jpeg(width: 80, height: 60, seed: 3)
        let d = try FixtureImages.jpeg(width: 64, height: 64, seed: 4)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Sent with Content-Encoding: gzip: the record stores the decoded body, and its block digest (hashed on the
        // body-writer lanes as the body arrives) is that of the head and the decoded bytes.
        let encoded = try Self.gzipped(d, scratch: folder.path + "/d.gz")
        // Noise photos of about 100 KB each: with warc-size 64KB every one of them ends a file.
        let big = try (0..<3).map { try FixtureImages.jpeg(width: 320, height: 320, seed: 10 + $0) }
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [
            "/img/a.jpg": { request in
                if request.headers[HTTPHeader("If-None-Match")] == "\"a1\"" { return reply(304, ["ETag": "\"a1\""]) }
                return reply(200, ["Content-Type": "image/jpeg", "ETag": "\"a1\""], a)
            },
            "/img/b.png": { _ in reply(200, ["Content-Type": "image/png"], b) },
            "/copy/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], a) },
            "/moved/c.jpg": { _ in
                reply(302, ["Location": "/img/c.jpg", "Content-Type": "text/html"], Array("moved".utf8))
            },
            "/img/c.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], c) },
            "/gz/d.jpg": { _ in reply(200, ["Content-Type": "image/jpeg", "Content-Encoding": "gzip"], encoded) },
            "/gone.jpg": { _ in reply(404, ["Content-Type": "text/html"], Array("gone".utf8)) },
        ]
        for (i, bytes) in big.enumerated() {
            routes["/big/\(i).jpg"] = { _ in reply(200, ["Content-Type": "image/jpeg"], bytes) }
        }
        let server = try await ImageServer.start(routes)
        defer { Task { await server.stop() } }
        let base = "http://\(Self.host)"
        let paths =
            ["/img/a.jpg", "/img/b.png", "/copy/a.jpg", "/moved/c.jpg", "/gz/d.jpg", "/gone.jpg"]
            + (0..<3).map { "/big/\($0).jpg" }
        try folder.write("list.txt", paths.map { base + $0 }.joined(separator: "\n"))
        try folder.write("imgarchive.yml", "warc: true\nwarc-size: 64KB\n")
        let args = ["fetch", "--urls", "list.txt", "--connect-to", server.connectTo(Self.host)]

        let first = try await runImgarchive(args, in: folder.path)
        #expect(first.status == 1, "the 404 fails, the rest is archived: \(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("warc: "), "\(first.stdout)")
        let warcFolder = folder.path + "/archive/warc"
        let firstFiles = folder.files(under: "archive/warc").filter { $0.hasSuffix(".warc.gz") }
        #expect(firstFiles.count >= 2, "warc-size 64KB rolls files: \(firstFiles)")
        #expect(folder.files(under: "archive/tmp").isEmpty, "finished files are moved out of tmp/warc")
        try await WebArchiveTools.check(firstFiles.map { warcFolder + "/" + $0 })

        let records = try await WebArchiveTools.records(firstFiles.map { warcFolder + "/" + $0 })
        for file in firstFiles {
            #expect(records.first { $0.file == file }?.type == "warcinfo", "\(file) starts with its warcinfo")
        }
        func response(_ path: String) -> WebArchiveTools.Record? {
            records.first { $0.uri == base + path && ($0.type == "response" || $0.type == "revisit") }
        }
        // The same bytes from two URLs: whichever finished first is the response, the other a revisit of it.
        let pair = try [#require(response("/img/a.jpg")), #require(response("/copy/a.jpg"))]
        let original = try #require(pair.first { $0.type == "response" })
        let copy = try #require(pair.first { $0.type == "revisit" })
        #expect(copy.profile == WARCRecord.identicalPayloadProfile)
        #expect(copy.refersTo == original.uri)
        #expect(copy.payloadDigest == original.payloadDigest)
        for (path, status) in [
            ("/img/a.jpg", 200), ("/img/b.png", 200), ("/img/c.jpg", 200), ("/moved/c.jpg", 302), ("/gz/d.jpg", 200),
        ] {
            let record = try #require(response(path), "a response record for \(path)")
            #expect(record.type == (record.id == copy.id ? "revisit" : "response"))
            #expect(record.status == status)
            #expect(record.ip == "127.0.0.1")
            let request = try #require(
                records.first { $0.type == "request" && $0.concurrentTo == record.id }, "the request of \(path)")
            #expect(request.uri == base + path)
            // Host and Accept are libcurl's own: the raw request as sent, not only the fields imgarchive set.
            #expect(request.host == Self.host && request.accept != nil)
        }
        #expect(!records.contains { $0.uri == base + "/gone.jpg" }, "a failed URL archives nothing, so no record")

        // A revalidation: a 304 becomes a server-not-modified revisit of the first capture; the same bytes again
        // an identical-payload revisit. In a later second than the first captures: replay addresses a capture by
        // its 14-digit timestamp, and two captures of one URL in the same second are one address.
        try await Task.sleep(for: .seconds(1.1))
        let second = try await runImgarchive(args + ["--revalidate"], in: folder.path)
        #expect(second.status == 1, "\(second.stdout) \(second.stderr)")
        let files = folder.files(under: "archive/warc").filter { $0.hasSuffix(".warc.gz") }.map {
            warcFolder + "/" + $0
        }
        #expect(files.count > firstFiles.count)
        try await WebArchiveTools.check(files)
        let all = try await WebArchiveTools.records(files)
        let notModified = try #require(all.first { $0.profile == WARCRecord.serverNotModifiedProfile })
        #expect(notModified.uri == base + "/img/a.jpg" && notModified.status == 304)
        #expect(notModified.refersTo == original.uri, "the capture whose record holds a.jpg's bytes")
        #expect(all.contains { $0.uri == base + "/img/b.png" && $0.profile == WARCRecord.identicalPayloadProfile })

        // pywb indexes the files exactly as imgarchive did, and replays every image as archived.
        let pywb = try await Pywb.start(folder: folder.path + "/pywb", warcs: files)
        defer { Pywb.stop(folder.path + "/pywb") }
        let ours = try String(contentsOfFile: warcFolder + "/index.cdxj", encoding: .utf8)
        let theirs = try String(
            contentsOfFile: folder.path + "/pywb/collections/imgs/indexes/index.cdxj", encoding: .utf8)
        #expect(ours.split(separator: "\n") == theirs.split(separator: "\n"))
        let objects = Set(
            folder.files(under: "archive/objects").map { String(($0 as NSString).lastPathComponent.prefix(64)) })
        let expected: [(String, [UInt8])] =
            [("/img/a.jpg", a), ("/img/b.png", b), ("/img/c.jpg", c), ("/copy/a.jpg", a), ("/gz/d.jpg", d)]
            + big.enumerated().map { ("/big/\($0.offset).jpg", $0.element) }
        for (path, bytes) in expected {
            let line = try #require(ours.split(separator: "\n").first { $0.contains("\"url\": \"\(base + path)\"") })
            let timestamp = line.split(separator: " ")[1]
            let replayed = try await pywb.get("/imgs/\(timestamp)id_/\(base + path)", scratch: folder.path)
            #expect(replayed == bytes, "pywb replays \(path) as served")
            #expect(objects.contains(ArchiveStore.sha256(of: replayed)), "and as archived in objects/")
        }
    }

    /// `bytes` as one gzip member, made by the WARC files' own gzip writer.
    static func gzipped(_ bytes: [UInt8], scratch path: String) throws -> [UInt8] {
        do {
            let file = try GzipFile(creating: path)
            try file.beginMember(level: 6)
            try file.write(bytes)
            _ = try file.endMember()
            try file.sync()  // cuts the padding of a direct write off
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Stored members (an image's record) are framed by `GzipFile`, not zlib: files whose lengths sit on either side of
    /// deflate's 65,535-byte block and of the 16-block read buffer, between small writes and beside a deflated member,
    /// each inflate alone from its offset to exactly its bytes, their CRC-32 and length checked by Python's zlib.
    /// A record's date in both forms, in UTC, each field zero-padded, the fraction of a second dropped.
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00Z", "19700101000000"),
        (946_684_799.9, "1999-12-31T23:59:59Z", "19991231235959"),
        (1_767_323_045.5, "2026-01-02T03:04:05Z", "20260102030405"),
    ])
    func recordDatesHaveTheirWARCAndIndexForms(seconds: Double, warcDate: String, timestamp: String) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(WARCRecord.warcDate(date) == warcDate)
        #expect(WARCRecord.timestamp(date) == timestamp)
    }

    /// The index line's status and media type, read from a response head's bytes as pywb's indexer reads them.
    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg; charset=x\r\n\r\n", "200", "image/jpeg"),
        ("HTTP/2 404\r\ncontent-TYPE:text/html\r\nContent-Type: image/png\r\n\r\n", "404", "text/html"),
        ("HTTP/1.1 200 OK\r\nX-Content-Type: a/b\r\nContent_Type: c/d\r\n\r\n", "200", "unk"),
        ("HTTP/1.1 204 No Content\r\nContent-Type:\t\r\n\r\n", "204", ""),
    ])
    func indexLinesReadStatusAndTypeFromTheHead(head: String, status: String, mime: String) {
        let found = WARCWriter.statusAndType(Array(head.utf8))
        #expect(found.status == status)
        #expect(found.mime == mime)
    }

    @Test(arguments: [
        ("http://a.test/x.jpg?b=1&a=2", #""http://a.test/x.jpg?b=1&a=2""#),
        ("say \"hi\"", #""say \"hi\"""#),
        ("back\\slash", #""back\\slash""#),
        ("line\nbreak\ttab\r", #""line\nbreak\ttab\r""#),
        ("caf\u{E9}", #""caf\u00e9""#),
        ("\u{1F600}", #""\ud83d\ude00""#),
        ("\u{01}", #""\u0001""#),
        ("~ and \u{7F}", #""~ and \u007f""#),
    ])
    func indexValuesAreQuotedAsPythonsJSONDumpsQuotesThem(text: String, quoted: String) {
        // The expected strings are what Python's `json.dumps` (pywb's indexer) gives for each value.
        #expect(WARCWriter.jsonString(text) == quoted)
    }

    @Test func storedMembersInflateAloneToTheirBytes() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let block = 65535
        let sizes = [0, 1, block - 1, block, block + 1, 16 * block, 16 * block + 1, 3_000_000]
        let warc = folder.path + "/members.gz"
        let file = try GzipFile(creating: warc)
        var members: [(offset: Int64, length: Int64, bytes: [UInt8])] = []
        for (i, size) in sizes.enumerated() {
            let body = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13 &+ i) }
            try Data(body).write(to: URL(fileURLWithPath: folder.path + "/body-\(i)"))
            let head = Array("head \(i)\r\n".utf8)
            let tail = Array("\r\n\r\n".utf8)
            try file.beginMember(level: i == 3 ? 6 : 0)  // one deflated member among the stored ones
            try file.write(head)
            let read = try file.read(folder.path + "/body-\(i)") { (chunk) throws(WARCError) in try file.write(chunk) }
            #expect(read == Int64(size))
            try file.write(tail)
            let (offset, length) = try file.endMember()
            members.append((offset, length, head + body + tail))
        }
        try file.sync()
        let script = """
            import hashlib, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            for span in sys.argv[2:]:
                offset, length = map(int, span.split(':'))
                d = zlib.decompressobj(31)
                out = d.decompress(data[offset:offset + length]) + d.flush()
                print(hashlib.sha256(out).hexdigest() if d.eof and not d.unused_data else 'torn')
            """
        let spans = members.map { "\($0.offset):\($0.length)" }
        let (status, output) = try await WebArchiveTools.run(["python3", "-c", script, warc] + spans)
        try #require(status == 0, "python3 could not inflate the members: \(output)")
        let digests = output.split(separator: "\n").map(String.init)
        #expect(digests == members.map { ArchiveStore.sha256(of: $0.bytes) })
        let written = try FileManager.default.attributesOfItem(atPath: warc)[.size] as? Int
        #expect(members.last.map { Int($0.offset + $0.length) } == written, "the members fill the file")
    }

    /// A body reaches its record from memory (`WARCRecord.heldBody`, a download's kept blocks) or, when the run kept
    /// none for it, from its file: either way the writer hashes and copies the same bytes, warcio checks both records'
    /// digests, and the held blocks go back to their owner once the record is written and dropped.
    @Test func aHeldBodyAndItsFileMakeTheSameRecord() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let body = (0..<700_001).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
        let path = folder.path + "/body"
        try Data(body).write(to: URL(fileURLWithPath: path))
        let released = Mutex(0)
        let writer = try WARCWriter(
            settings: .init(
                folder: URL(fileURLWithPath: folder.path + "/warc"),
                temporaryFolder: URL(fileURLWithPath: folder.path + "/tmp"), maxFileSize: 1 << 30, software: "test"))
        let head = Array("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
        do {
            let blockSize = 256 * 1024
            let blocks = stride(from: 0, to: body.count, by: blockSize).map { start in
                let count = min(blockSize, body.count - start)
                let block = UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 16)
                body[start..<start + count].withUnsafeBytes {
                    block.copyMemory(from: $0.baseAddress!, byteCount: count)
                }
                return (base: block, count: count)
            }
            let held = HeldBytes(blocks: blocks) { bases in
                for base in bases { base.deallocate() }
                released.withLock { $0 += bases.count }
            }
            for (name, source) in [("file", nil), ("held", held)] {
                try writer.write(
                    WARCRecord(
                        kind: .response, targetURI: "http://img.example.test/\(name).jpg", date: Date(),
                        contentType: WARCRecord.httpResponse, head: head, bodyFile: path, heldBody: source,
                        compress: false))
            }
            #expect(released.withLock { $0 } == 0, "held while referenced")
        }
        #expect(released.withLock { $0 } == 3, "given back once dropped")
        try writer.finish()
        let files = writer.finishedFiles.map { folder.path + "/warc/" + $0 }
        try await WebArchiveTools.check(files)
        let responses = try await WebArchiveTools.records(files).filter { $0.type == "response" }
        #expect(responses.map(\.uri) == ["http://img.example.test/file.jpg", "http://img.example.test/held.jpg"])
        let digest = WARCDigest.sha256(hex: ArchiveStore.sha256(of: body))
        #expect(responses.allSatisfy { $0.payloadDigest == digest })
    }

    /// SIGKILL while WARC records are being written: the next run cuts the interrupted file back to its whole
    /// records (a torn record is added at its end here, so the test does not hang on the kill's timing), finishes
    /// and indexes it, and goes on.
    @Test func killedRunLeavesWholeRecordsAndTheNextRunGoesOn() async throws {
        let count = 30
        let images = try (0..<count).map { try FixtureImages.jpeg(width: 200, height: 200, seed: 40 + $0) }
        var routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse] = [:]
        for (i, bytes) in images.enumerated() {
            routes["/img/\(i).jpg"] = { _ in
                try? await Task.sleep(for: .milliseconds(50))
                return reply(200, ["Content-Type": "image/jpeg"], bytes)
            }
        }
        let server = try await ImageServer.start(routes)
        defer { Task { await server.stop() } }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("list.txt", (0..<count).map { "http://\(Self.host)/img/\($0).jpg" }.joined(separator: "\n"))
        let args = [
            "fetch", "--urls", "list.txt", "--jobs", "2", "--warc", "--connect-to", server.connectTo(Self.host),
        ]

        let process = try launchImgarchive(args, in: folder.path)
        // Kill once the open file's log holds a few records.
        let tmp = folder.path + "/archive/tmp/warc"
        var logged = false
        for _ in 0..<1000 where !logged {
            logged = folder.files(under: "archive/tmp/warc").contains {
                $0.hasSuffix(".log")
                    && ((try? String(contentsOfFile: tmp + "/" + $0, encoding: .utf8))?.split(separator: "\n").count
                        ?? 0) >= 5
            }
            if !logged { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(logged, "no WARC record was written within 10 s")
        kill(process.processIdentifier, SIGKILL)
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                process.waitUntilExit()
                c.resume()
            }
        }
        let open = try #require(folder.files(under: "archive/tmp/warc").first { $0.hasSuffix(".warc.gz") })
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp + "/" + open))
        try handle.seekToEnd()
        try handle.write(
            contentsOf: Data([0x1F, 0x8B, 0x08, 0x00] + (0..<500).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        try handle.close()

        let rerun = try await runImgarchive(args, in: folder.path)
        #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
        #expect(folder.files(under: "archive/tmp").isEmpty, "the interrupted file was finished, nothing is left")
        let files = folder.files(under: "archive/warc").filter { $0.hasSuffix(".warc.gz") }
            .map { folder.path + "/archive/warc/" + $0 }
        #expect(files.contains { $0.hasSuffix("/" + open) }, "the interrupted file was moved into warc/")
        try await WebArchiveTools.check(files)
        let records = try await WebArchiveTools.records(files)
        let indexed = records.filter { $0.type == "response" || $0.type == "revisit" }
        let index = try String(contentsOfFile: folder.path + "/archive/warc/index.cdxj", encoding: .utf8)
        #expect(index.split(separator: "\n").count == indexed.count, "each whole response is indexed, once")
        #expect(folder.files(under: "archive/objects").count == count)
    }

    @Test(arguments: [
        ("http://img.example.test/img/1.jpg", "test,example,img)/img/1.jpg"),
        ("https://WWW.Example.com:443/A/B.JPG?b=2&a=1#x", "com,example)/a/b.jpg?a=1&b=2"),
        ("http://127.0.0.1:8080/x.png", "1,0,0,127:8080)/x.png"),
        ("http://www2.example.com/", "com,example)/"),
        ("https://example.com:8443/p%20q?", "com,example:8443)/p%20q"),
        ("http://example.com", "com,example)/"),
    ])
    func surtKeysAreThoseOfTheSurtPackage(url: String, key: String) {
        // The expected keys are what Python's `surt.surt` (pywb's) gives for each URL.
        #expect(SURT.key(url) == key)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true,
            "HTTP/1.1 200 OK\r\nX-Archive-Orig-Transfer-Encoding: chunked\r\n\r\n"
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\n", true,
            "HTTP/1.1 200 OK\r\nX-Archive-Orig-Content-Encoding: gzip\r\nX-Archive-Orig-Content-Length: 9\r\n\r\n"
        ),
        (
            "HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 5\r\n\r\n", false,
            "HTTP/1.1 302 Found\r\nLocation: /a\r\nX-Archive-Orig-Content-Length: 5\r\n\r\n"
        ),
        (
            "HTTP/1.1 301 Moved\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n", false,
            "HTTP/1.1 301 Moved\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n"
        ),
    ])
    func storedHeadsDescribeTheStoredBody(head: String, bodyKept: Bool, stored: String) {
        #expect(String(decoding: WARCHead.stored(Array(head.utf8), bodyKept: bodyKept), as: UTF8.self) == stored)
    }
}

/// warcio, the web archives' reference library, run as the tests' judge.
enum WebArchiveTools {
    /// What the tests look at in one record, as warcio reads it.
    struct Record: Decodable {
        var file: String
        var type: String
        var id: String
        var uri: String?
        var status: Int?
        var ip: String?
        var concurrentTo: String?
        var profile: String?
        var refersTo: String?
        var payloadDigest: String?
        var host: String?
        var accept: String?
    }

    /// `warcio check` passes on every file.
    static func check(_ files: [String]) async throws {
        let (status, output) = try await run(["warcio", "check", "-v"] + files)
        #expect(status == 0, "warcio check: \(output)")
    }

    /// Every record of the files, in order.
    static func records(_ files: [String]) async throws -> [Record] {
        let script = """
            import json, sys
            from warcio.archiveiterator import ArchiveIterator
            for path in sys.argv[1:]:
                with open(path, 'rb') as f:
                    for r in ArchiveIterator(f):
                        h = r.rec_headers
                        http = r.http_headers
                        status = None
                        if http is not None and r.rec_type in ('response', 'revisit'):
                            status = int(http.get_statuscode())
                        print(json.dumps({'file': path.rsplit('/', 1)[-1], 'type': r.rec_type,
                            'id': h.get_header('WARC-Record-ID'), 'uri': h.get_header('WARC-Target-URI'),
                            'status': status, 'ip': h.get_header('WARC-IP-Address'),
                            'concurrentTo': h.get_header('WARC-Concurrent-To'), 'profile': h.get_header('WARC-Profile'),
                            'refersTo': h.get_header('WARC-Refers-To-Target-URI'),
                            'payloadDigest': h.get_header('WARC-Payload-Digest'),
                            'host': http.get_header('Host') if http is not None else None,
                            'accept': http.get_header('Accept') if http is not None else None}))
            """
        let (status, output) = try await run(["python3", "-c", script] + files)
        try #require(status == 0, "warcio could not read the files: \(output)")
        return try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try JSONDecoder().decode(Record.self, from: Data($0.utf8))
        }
    }

    /// Runs its arguments as a command with no signal blocked and no file descriptor but 0-2 inherited. A child of
    /// Foundation's `Process` inherits the Dispatch thread's blocked signals (a wayback left running would ignore
    /// the SIGTERM of `pywb.sh stop`) and the socket `Process` watches to see it end (so the start would never end
    /// while wayback runs).
    static let spawner = """
        import signal, subprocess, sys
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:
            sys.exit(subprocess.run(sys.argv[1:], close_fds=True).returncode)
        except FileNotFoundError:
            sys.exit(127)
        """

    /// Runs a command (found on PATH) on a Dispatch thread; returns its status and output (stdout and stderr). The
    /// output goes through a file, not a pipe: a server the command leaves running (pywb.sh's wayback) would hold
    /// a pipe open.
    static func run(_ command: [String]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
                            "imgarchive-tool-\(UUID().uuidString).log")
                        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                        defer { try? FileManager.default.removeItem(at: log) }
                        let handle = try FileHandle(forWritingTo: log)
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                        process.arguments = ["python3", "-c", Self.spawner] + command
                        process.standardOutput = handle
                        process.standardError = handle
                        process.standardInput = FileHandle.nullDevice
                        try process.run()
                        process.waitUntilExit()
                        try handle.close()
                        let output = String(decoding: try Data(contentsOf: log), as: UTF8.self)
                        if process.terminationStatus == 127 {
                            Issue.record(
                                "\(command[0]) is not installed: python3 -m pip install warcio pywb (.ci/run does)")
                        }
                        return (process.terminationStatus, output)
                    })
            }
        }
    }
}

/// pywb's `wayback` on loopback, through the project's script (Tests/WebArchive/pywb.sh).
struct Pywb {
    let port: Int

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("WebArchive/pywb.sh").path
    }

    static func start(folder: String, warcs: [String]) async throws -> Pywb {
        let (status, output) = try await WebArchiveTools.run(["bash", script, "start", folder] + warcs)
        try #require(status == 0, "pywb did not start (python3 -m pip install pywb): \(output)")
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("PYWB_PORT=") })
        return Pywb(port: try #require(Int(line.dropFirst("PYWB_PORT=".count))))
    }

    static func stop(_ folder: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", WebArchiveTools.spawner, "bash", script, "stop", folder]
        try? process.run()
        process.waitUntilExit()
    }

    /// The body pywb serves at `path` (status 200 required), fetched with curl into `scratch`.
    func get(_ path: String, scratch: String) async throws -> [UInt8] {
        let file = scratch + "/replayed.bin"
        try? FileManager.default.removeItem(atPath: file)
        // The status is printed (a 3xx or an empty answer leaves no file, and curl says nothing of it).
        let (status, output) = try await WebArchiveTools.run(
            ["curl", "-s", "--fail", "-o", file, "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"])
        try #require(status == 0 && output == "200", "pywb answers \(path) with \(output) (curl exit \(status))")
        return [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
    }
}
