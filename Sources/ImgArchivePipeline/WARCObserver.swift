import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import ImgArchiveWARC
import Logging

/// WARC output of a fetch run (`--warc`, `warc: true`).
public struct WARCOptions: Sendable {
    /// A WARC file is finished once it reaches this many bytes (default 1 GB).
    public var maxFileSize: Int64
    /// The default `maxFileSize`: 1 GB.
    public static let defaultMaxFileSize: Int64 = 1_000_000_000

    /// Creates options.
    public init(maxFileSize: Int64 = WARCOptions.defaultMaxFileSize) {
        self.maxFileSize = maxFileSize
    }
}

/// What a run wrote to `archive/warc/`.
public struct WARCSummary: Sendable {
    /// Records written (warcinfo, request, response, revisit).
    public var records = 0
    /// The files finished, by name in `archive/warc/`.
    public var files: [String] = []
    /// Set when writing stopped (a full disk, an unreadable object): the records before it are whole, the
    /// exchanges after it are not recorded.
    public var problem: String?
}

/// Writes each exchange that archived an image (`FetchEvent.captured`) as WARC records (docs/web-archives.md):
/// per hop a `response` (or `revisit`) and its `request`, linked by `WARC-Concurrent-To`. One child task of the
/// run (`run`) on its own thread (`BlockingExecutor`): the body files are read and compressed there, never on the
/// curl thread or the cooperative pool.
actor WARCObserver: FetchObserver {
    private nonisolated let executor = BlockingExecutor(label: "imgarchive.fetch.warc")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private nonisolated let captures: AsyncStream<FetchCapture>
    private nonisolated let input: AsyncStream<FetchCapture>.Continuation
    private let settings: WARCWriter.Settings
    private let logger: Logger
    private var summary = WARCSummary()

    /// The WARC folder of an archive (`archive/warc`) and the folder its files are written in (`archive/tmp/warc`).
    static func folders(root: URL, temporaryDirectory: URL) -> (folder: URL, temporary: URL) {
        (
            root.appendingPathComponent("warc", isDirectory: true),
            temporaryDirectory.appendingPathComponent("warc", isDirectory: true)
        )
    }

    init(root: URL, temporaryDirectory: URL, options: WARCOptions, logger: Logger) {
        (captures, input) = AsyncStream.makeStream(of: FetchCapture.self)
        let (folder, temporary) = Self.folders(root: root, temporaryDirectory: temporaryDirectory)
        settings = WARCWriter.Settings(
            folder: folder, temporaryFolder: temporary, maxFileSize: options.maxFileSize,
            software: "imgarchive/\(DownloadOptions.libraryVersion)")
        self.logger = logger
    }

    /// The head a `response` record stores in front of an archived body (`WARCHead.stored`), for
    /// `DownloadOptions.digestHead`: the lanes hash it and the body into the record's block digest.
    static let digestHead: @Sendable ([UInt8]) -> [UInt8] = { WARCHead.stored($0, bodyKept: true) }

    nonisolated func observe(_ event: FetchEvent) {
        if case .captured(let capture) = event { input.yield(capture) }
    }

    /// Ends the stream: `run` writes what is queued, finishes the open file and returns.
    nonisolated func finish() { input.finish() }

    /// Writes every capture until `finish`; returns what was written.
    func run() async -> WARCSummary {
        var writer: WARCWriter?
        do {
            writer = try WARCWriter(settings: settings)
        } catch {
            stop(error)
        }
        for await capture in captures {
            guard let current = writer, summary.problem == nil else { continue }
            do {
                try record(capture, into: current)
            } catch {
                stop(error)
            }
        }
        if let writer {
            do {
                try writer.finish()
            } catch {
                stop(error)
            }
            summary.records = writer.recordsWritten
            summary.files = writer.finishedFiles
        }
        return summary
    }

    private func stop(_ error: any Error) {
        guard summary.problem == nil else { return }
        summary.problem = "WARC writing stopped: \(error); the records before it are whole"
        logger.info("warc stopped", metadata: ["error": "\(error)"])
    }

    /// The records of one capture: per hop that got a response, the response (a revisit when the payload is
    /// known or the server said 304), then its request.
    private func record(_ capture: FetchCapture, into writer: WARCWriter) throws(WARCError) {
        for (index, exchange) in capture.exchanges.enumerated() where !exchange.responseHead.isEmpty {
            let isFinal = index == capture.exchanges.count - 1
            var fields: [(String, String)] = []
            if let address = exchange.remoteAddress { fields.append(("WARC-IP-Address", address)) }
            var response: WARCRecord
            if isFinal, let object = capture.object, let file = capture.bodyFile,
                let digest = WARCDigest.sha256(hex: object.sha256)
            {
                if let first = writer.firstCapture(digest: digest) {
                    response = Self.revisit(
                        exchange, fields: fields, profile: WARCRecord.identicalPayloadProfile, refersTo: first)
                } else {
                    let head = Self.digestHead(exchange.responseHead)
                    // The digest hashed as the body arrived counts only for this very head (a trailer field
                    // added after the body would change it); otherwise the writer reads the body for it.
                    let block = capture.headedDigest.flatMap { $0.head == head ? WARCDigest.sha256($0.sha256) : nil }
                    response = WARCRecord(
                        kind: .response, targetURI: exchange.url, date: exchange.date, fields: fields,
                        contentType: WARCRecord.httpResponse, head: head, bodyFile: file.path,
                        heldBody: capture.heldBody, payloadDigest: digest, blockDigest: block,
                        compress: object.format == .svg)
                }
            } else if isFinal, exchange.status == 304 {
                response = Self.revisit(
                    exchange, fields: fields, profile: WARCRecord.serverNotModifiedProfile,
                    refersTo: writer.latestCapture(url: exchange.url))
            } else {
                // A redirect hop: its head, its body not kept.
                response = WARCRecord(
                    kind: .response, targetURI: exchange.url, date: exchange.date, fields: fields,
                    contentType: WARCRecord.httpResponse, head: WARCHead.stored(exchange.responseHead, bodyKept: false))
            }
            let request = WARCRecord(
                kind: .request, targetURI: exchange.url, date: exchange.date,
                fields: fields + [("WARC-Concurrent-To", response.id)], contentType: WARCRecord.httpRequest,
                head: exchange.requestHead)
            try writer.write(response)
            try writer.write(request)
        }
    }

    private static func revisit(
        _ exchange: HTTPExchange, fields: [(String, String)], profile: String, refersTo first: WARCWriter.Capture?
    ) -> WARCRecord {
        var fields = fields + [("WARC-Profile", profile)]
        if let first {
            fields += [("WARC-Refers-To-Target-URI", first.url), ("WARC-Refers-To-Date", first.date)]
        }
        // A revisit's block is the response head as received; its payload is the record referred to.
        return WARCRecord(
            kind: .revisit, targetURI: exchange.url, date: exchange.date, fields: fields,
            contentType: WARCRecord.httpResponse, head: exchange.responseHead, payloadDigest: first?.digest)
    }
}

/// A response head as a WARC `response` record stores it.
enum WARCHead {
    /// The head as received, except that the fields describing a body other than the one stored are renamed
    /// `X-Archive-Orig-<name>` (as replay tools name the original's headers), so the record is a valid HTTP message:
    /// libcurl hands over the body without its chunked framing and decoded from any Content-Encoding, so with
    /// `Transfer-Encoding` present that field is renamed, and with a `Content-Encoding` (other than identity) that
    /// field and `Content-Length` are; a redirect hop's body is not kept, so all three are renamed there.
    static func stored(_ head: [UInt8], bodyKept: Bool) -> [UInt8] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in head.enumerated() where byte == 0x0A {
            lines.append(head[start...i])
            start = i + 1
        }
        if start < head.count { lines.append(head[start...]) }
        func name(_ line: ArraySlice<UInt8>) -> String? {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            return String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
        }
        func value(_ line: ArraySlice<UInt8>) -> String {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return "" }
            return String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                .lowercased()
        }
        let fields = lines.dropFirst()
        let encoded = fields.contains { name($0) == "content-encoding" && value($0) != "identity" }
        var renamed: Set<String> = ["transfer-encoding"]
        if encoded || !bodyKept { renamed.formUnion(["content-encoding", "content-length"]) }
        if !bodyKept, !fields.contains(where: { name($0) == "content-length" && value($0) != "0" }),
            !fields.contains(where: { name($0) == "transfer-encoding" }), !encoded
        {
            return head
        }
        var out: [UInt8] = []
        out.reserveCapacity(head.count + 64)
        for (i, line) in lines.enumerated() {
            if i > 0, let name = name(line), renamed.contains(name) { out += Array("X-Archive-Orig-".utf8) }
            out += line
        }
        return out
    }
}
