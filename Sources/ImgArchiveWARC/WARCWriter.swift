import Crypto
public import Foundation
import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes WARC records into `.warc.gz` files (one gzip member per record) and keeps their CDXJ index.
///
/// A file is written in the temporary folder (`archive/tmp/warc/`) beside its log (`<name>.log`): once the file
/// holds a record's last byte, one line with the record's end and its index line (the file's buffer is written when
/// full and at least every `writeOutInterval`, so a record is logged within that time). A file is finished when it
/// reaches `maxFileSize` or the run ends (`finish`): synced, renamed into the WARC folder (`archive/warc/`), its
/// index lines merged into `index.cdxj` (sorted, through a temporary file and a rename), its log removed. A
/// killed run leaves a file and its log: `salvage` (the next run, before anything else) cuts the file back to the
/// end of its last logged record, so it holds whole records only, and finishes it. Not thread-safe: one owner.
public final class WARCWriter {
    /// Where and how big.
    public struct Settings: Sendable {
        /// The finished files and `index.cdxj` (`archive/warc`).
        public var folder: URL
        /// The files being written (`archive/tmp/warc`).
        public var temporaryFolder: URL
        /// A file is finished once it is this big (the record that crosses it ends the file).
        public var maxFileSize: Int64
        /// The `software` line of each file's warcinfo record.
        public var software: String

        /// Creates settings.
        public init(folder: URL, temporaryFolder: URL, maxFileSize: Int64, software: String) {
            self.folder = folder
            self.temporaryFolder = temporaryFolder
            self.maxFileSize = max(1, maxFileSize)
            self.software = software
        }
    }

    /// The first capture of a payload, or the latest capture of a URL, as the index knows it.
    public struct Capture: Sendable, Equatable {
        /// The URL captured.
        public var url: String
        /// Its `WARC-Date`.
        public var date: String
        /// Its payload digest.
        public var digest: String
    }

    /// The name of the index in the WARC folder.
    public static let indexName = "index.cdxj"

    private let settings: Settings
    private var file: GzipFile?
    private var fileName = ""
    private var log: Int32 = -1
    private var warcinfoID = ""
    private var pendingIndex: [String] = []
    /// Records of the open file not yet in its log, because the file does not hold them yet: their end and index line.
    private var unlogged: [(end: Int64, line: String)] = []
    /// When the open file's buffer was last written out (`DispatchTime` nanoseconds).
    private var lastWriteOut: UInt64 = 0
    /// How often the buffer is written out: a record is in the file (and its log) at most this long after it was
    /// written; between write-outs, the buffer goes to disk when full.
    static let writeOutInterval: UInt64 = 200_000_000
    private var firstByDigest: [String: Capture] = [:]
    private var latestByURL: [String: Capture] = [:]
    /// Records written by this writer.
    public private(set) var recordsWritten = 0
    /// The files this writer finished (names in the WARC folder).
    public private(set) var finishedFiles: [String] = []

    /// Finishes what an interrupted run left (`salvage`), then reads the index's captures (for revisits).
    public init(settings: Settings) throws(WARCError) {
        self.settings = settings
        try Self.makeFolder(settings.folder)
        try Self.salvage(folder: settings.folder, temporaryFolder: settings.temporaryFolder)
        try Self.makeFolder(settings.temporaryFolder)
        try loadIndex()
    }

    deinit {
        if log >= 0 { close(log) }
    }

    /// The first capture (in the index or by this writer) whose payload digest is `digest`.
    public func firstCapture(digest: String) -> Capture? { firstByDigest[digest] }

    /// The latest capture of `url` with a payload (in the index or by this writer).
    public func latestCapture(url: String) -> Capture? { latestByURL[url] }

    /// Appends a record (opening a file first when none is open); finishes the file once it is full.
    public func write(_ record: WARCRecord) throws(WARCError) {
        if file == nil { try openFile() }
        guard let file else { return }
        // The block digest needs the whole block before the header: unless the caller hashed it as the body arrived
        // (`blockDigest`), the body is read twice (a file's second read comes from the page cache).
        let wantsPayload = record.payloadDigest == nil && record.kind == .response
        let hasBody = record.heldBody != nil || record.bodyFile != nil
        var blockDigest = record.blockDigest
        var payload = SHA256()
        var bodyLength: Int64 = 0
        if hasBody, blockDigest == nil || wantsPayload {
            var block = SHA256()
            block.update(data: record.head)
            bodyLength = try Self.body(of: record, in: file) { chunk in
                block.update(bufferPointer: chunk)
                if wantsPayload { payload.update(bufferPointer: chunk) }
            }
            blockDigest = WARCDigest.sha256(block.finalize())
        } else if let held = record.heldBody {
            bodyLength = held.count
        } else if let body = record.bodyFile {
            bodyLength = try Self.size(of: body)
        } else if blockDigest == nil {
            blockDigest = WARCDigest.sha256(SHA256.hash(data: record.head))
        }
        var fields: [(String, String)] = [("WARC-Type", record.kind.rawValue), ("WARC-Record-ID", record.id)]
        fields.append(("WARC-Date", WARCRecord.warcDate(record.date)))
        if let uri = record.targetURI { fields.append(("WARC-Target-URI", uri)) }
        if record.kind != .warcinfo { fields.append(("WARC-Warcinfo-ID", warcinfoID)) }
        fields += record.fields
        let payloadDigest = record.payloadDigest ?? (wantsPayload ? WARCDigest.sha256(payload.finalize()) : nil)
        if let payloadDigest { fields.append(("WARC-Payload-Digest", payloadDigest)) }
        if let blockDigest { fields.append(("WARC-Block-Digest", blockDigest)) }
        fields.append(("Content-Type", record.contentType))
        fields.append(("Content-Length", String(Int64(record.head.count) + bodyLength)))
        var header = "WARC/1.1\r\n"
        for (name, value) in fields {
            let clean = value.utf8.contains { $0 == 13 || $0 == 10 } ? value.filter { $0 != "\r" && $0 != "\n" } : value
            header += name + ": " + clean + "\r\n"
        }
        header += "\r\n"

        try file.beginMember(level: record.compress ? 6 : 0)
        try file.write(Array(header.utf8))
        try file.write(record.head)
        if hasBody {
            let again = try Self.body(of: record, in: file) { (chunk) throws(WARCError) in try file.write(chunk) }
            guard again == bodyLength else {
                throw WARCError(
                    path: record.bodyFile ?? "", message: "the archived file changed while its WARC record was written")
            }
        }
        try file.write(Array("\r\n\r\n".utf8))
        let (offset, length) = try file.endMember()
        var line = ""
        if record.kind == .response || record.kind == .revisit, let uri = record.targetURI {
            line = Self.indexLine(
                record, uri: uri, digest: payloadDigest, offset: offset, length: length, fileName: fileName)
            pendingIndex.append(line)
            if record.kind == .response, let digest = payloadDigest {
                let capture = Capture(url: uri, date: WARCRecord.warcDate(record.date), digest: digest)
                if firstByDigest[digest] == nil { firstByDigest[digest] = capture }
                latestByURL[uri] = capture
            } else if let digest = payloadDigest, let first = firstByDigest[digest] {
                latestByURL[uri] = first  // a revisit: the URL's payload is in the record it refers to
            }
        }
        unlogged.append((offset + length, line))
        recordsWritten += 1
        if file.size >= settings.maxFileSize { return try finishFile() }
        // Written out at least every `writeOutInterval`, so a kill loses only the records of the last moment.
        let now = DispatchTime.now().uptimeNanoseconds
        if now &- lastWriteOut >= Self.writeOutInterval {
            try file.writeOut()
            lastWriteOut = now
        }
        try logWrittenRecords()
    }

    /// Streams a record's body to `chunk`, from memory when it is held there (`WARCRecord.heldBody`), else from its
    /// file (read through `file`'s buffer); returns its length.
    private static func body(
        of record: WARCRecord, in file: GzipFile, _ chunk: (UnsafeRawBufferPointer) throws(WARCError) -> Void
    ) throws(WARCError) -> Int64 {
        if let held = record.heldBody {
            try held.forEachChunk(chunk)
            return held.count
        }
        guard let path = record.bodyFile else { return 0 }
        return try file.read(path, chunk)
    }

    /// Appends the log lines of the records the file now holds whole.
    private func logWrittenRecords() throws(WARCError) {
        guard let file, let last = unlogged.last else { return }
        var count = unlogged.count
        if last.end > file.written {
            count = unlogged.firstIndex { $0.end > file.written } ?? unlogged.count
        }
        guard count > 0 else { return }
        try appendLog(unlogged[..<count].map { "\($0.end)\t\($0.line)\n" }.joined())
        unlogged.removeFirst(count)
    }

    /// Finishes the open file, if any (the run's end).
    public func finish() throws(WARCError) {
        if file != nil { try finishFile() }
        _ = rmdir(settings.temporaryFolder.path)  // when empty
    }

    // MARK: Files

    private func openFile() throws(WARCError) {
        let now = Date()
        let random = UInt32.random(in: 0...UInt32.max)
        fileName =
            "imgarchive-\(WARCRecord.timestamp(now))-\(String(format: "%05d", finishedFiles.count))-"
            + String(format: "%08x", random) + ".warc.gz"
        let path = settings.temporaryFolder.appendingPathComponent(fileName).path
        let logPath = path + ".log"
        log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw .system(logPath, "the WARC log could not be created") }
        file = try GzipFile(creating: path)
        pendingIndex = []
        unlogged = []
        lastWriteOut = DispatchTime.now().uptimeNanoseconds
        let info = WARCRecord(
            kind: .warcinfo, targetURI: nil, date: now, fields: [("WARC-Filename", fileName)],
            contentType: "application/warc-fields",
            head: Array(
                ("software: \(settings.software)\r\nformat: WARC File Format 1.1\r\n"
                    + "conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n")
                    .utf8))
        warcinfoID = info.id
        try write(info)
    }

    private func finishFile() throws(WARCError) {
        guard let file else { return }
        try file.sync()
        try logWrittenRecords()
        self.file = nil
        close(log)
        log = -1
        try Self.finish(
            name: fileName, lines: pendingIndex, folder: settings.folder, temporaryFolder: settings.temporaryFolder)
        finishedFiles.append(fileName)
        pendingIndex = []
    }

    private func appendLog(_ text: String) throws(WARCError) {
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(log, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw .system(fileName + ".log", "the WARC log could not be written") }
    }

    /// Moves a whole file into the WARC folder, merges its index lines, removes its log.
    private static func finish(name: String, lines: [String], folder: URL, temporaryFolder: URL) throws(WARCError) {
        let source = temporaryFolder.appendingPathComponent(name).path
        let target = folder.appendingPathComponent(name).path
        if access(source, F_OK) == 0 {
            guard rename(source, target) == 0 else { throw .system(target, "the WARC file could not be moved in") }
            try syncFolder(folder.path)
        }
        try mergeIndex(lines, folder: folder, temporaryFolder: temporaryFolder)
        _ = unlink(source + ".log")
    }

    /// Finishes every file an interrupted run left in `temporaryFolder`: each is cut back to the end of its last
    /// logged record (whole records only), moved into `folder` and indexed; one with no whole record but its
    /// warcinfo is removed. Returns how many files were finished. Run it before anything else uses the folder.
    @discardableResult
    public static func salvage(folder: URL, temporaryFolder: URL) throws(WARCError) -> Int {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: temporaryFolder.path)
        } catch {
            return 0
        }
        var finished = 0
        for name in names.sorted() where name.hasSuffix(".warc.gz.log") {
            let warc = String(name.dropLast(".log".count))
            let logPath = temporaryFolder.appendingPathComponent(name).path
            guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { continue }
            var end: Int64 = 0
            var records = 0
            var lines: [String] = []
            // The last line counts only when whole (its newline written).
            for entry in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let parts = entry.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
                guard let recordEnd = Int64(parts[0]) else { break }
                end = recordEnd
                records += 1
                if parts.count == 2, !parts[1].isEmpty { lines.append(String(parts[1])) }
            }
            let path = temporaryFolder.appendingPathComponent(warc).path
            if records <= 1 {
                _ = unlink(path)
                _ = unlink(logPath)
                continue
            }
            if access(path, F_OK) == 0 {
                guard truncate(path, off_t(end)) == 0 else {
                    throw .system(path, "an interrupted WARC file could not be cut back")
                }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd >= 0 {
                    _ = fsync(fd)
                    close(fd)
                }
            }
            try finish(name: warc, lines: lines, folder: folder, temporaryFolder: temporaryFolder)
            finished += 1
        }
        for name in names where name.hasSuffix(".tmp") || (name.hasSuffix(".warc.gz") && !names.contains(name + ".log"))
        {
            _ = unlink(temporaryFolder.appendingPathComponent(name).path)
        }
        return finished
    }

    // MARK: Index

    /// Merges `lines` into the folder's `index.cdxj`: sorted by bytes, each line once.
    private static func mergeIndex(_ lines: [String], folder: URL, temporaryFolder: URL) throws(WARCError) {
        guard !lines.isEmpty else { return }
        let index = folder.appendingPathComponent(indexName)
        var all = Set(lines)
        if let existing = try? String(contentsOf: index, encoding: .utf8) {
            for line in existing.split(separator: "\n") where !line.isEmpty { all.insert(String(line)) }
        }
        let sorted = all.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let temporary = temporaryFolder.appendingPathComponent(indexName + ".tmp")
        do {
            try FileManager.default.createDirectory(at: temporaryFolder, withIntermediateDirectories: true)
            try Data((sorted.joined(separator: "\n") + "\n").utf8).write(to: temporary)
        } catch {
            throw WARCError(path: temporary.path, message: "the WARC index could not be written: \(error)")
        }
        let fd = open(temporary.path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
        guard rename(temporary.path, index.path) == 0 else {
            throw .system(index.path, "the WARC index could not be replaced")
        }
        try syncFolder(folder.path)
    }

    /// Reads the index's captures: the first of each payload digest, the latest of each URL (for a URL captured
    /// only as a revisit, the capture its payload is in).
    private func loadIndex() throws(WARCError) {
        let index = settings.folder.appendingPathComponent(Self.indexName)
        guard let text = try? String(contentsOf: index, encoding: .utf8) else { return }
        var revisits: [(url: String, digest: String)] = []
        defer {
            for revisit in revisits where latestByURL[revisit.url] == nil {
                latestByURL[revisit.url] = firstByDigest[revisit.digest]
            }
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3,
                let object = try? JSONSerialization.jsonObject(with: Data(parts[2].utf8)) as? [String: String],
                let url = object["url"], let digest = object["digest"]
            else { continue }
            if object["mime"] == "warc/revisit" {
                revisits.append((url, digest))
                continue
            }
            let capture = Capture(url: url, date: Self.warcDate(timestamp: String(parts[1])), digest: digest)
            if let first = firstByDigest[digest], first.date <= capture.date {} else { firstByDigest[digest] = capture }
            if let latest = latestByURL[url], latest.date >= capture.date {} else { latestByURL[url] = capture }
        }
    }

    /// `2026-12-03T01:02:03Z` from `20261203010203`.
    private static func warcDate(timestamp t: String) -> String {
        let d = Array(t)
        guard d.count == 14 else { return t }
        return
            "\(String(d[0..<4]))-\(String(d[4..<6]))-\(String(d[6..<8]))T\(String(d[8..<10])):\(String(d[10..<12])):\(String(d[12..<14]))Z"
    }

    /// A CDXJ line as pywb's indexer writes it: SURT key, timestamp, then url, mime, status, digest, length,
    /// offset and filename (fields without a value left out).
    static func indexLine(
        _ record: WARCRecord, uri: String, digest: String?, offset: Int64, length: Int64, fileName: String
    ) -> String {
        var mime = "warc/revisit"
        var status: String?
        if record.kind == .response {
            (status, mime) = statusAndType(record.head)
        }
        var pairs: [(String, String)] = [("url", uri), ("mime", mime)]
        if let status { pairs.append(("status", status)) }
        if let digest { pairs.append(("digest", digest)) }
        pairs += [("length", String(length)), ("offset", String(offset)), ("filename", fileName)]
        let json = pairs.filter { !$0.1.isEmpty && $0.1 != "-" }.map { "\(jsonString($0.0)): \(jsonString($0.1))" }
        return "\(SURT.key(uri)) \(WARCRecord.timestamp(record.date)) {\(json.joined(separator: ", "))}"
    }

    /// A response head's status code (the status line's second word) and media type (the first `Content-Type`
    /// field's value up to a `;` or space, `unk` without one), read from its bytes.
    static func statusAndType(_ head: [UInt8]) -> (status: String?, mime: String) {
        let lines = head.split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        let words = lines.first?.split(separator: 32) ?? []
        let status = words.count >= 2 ? String(decoding: words[1], as: UTF8.self) : nil
        let name = Array("content-type".utf8)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58), colon - line.startIndex == name.count,
                zip(line[..<colon], name).allSatisfy({ (65...90).contains($0) ? $0 | 0x20 == $1 : $0 == $1 })
            else { continue }
            let value = line[(colon + 1)...].drop { $0 == 32 || $0 == 9 }
            let type = value.prefix { $0 != 59 && $0 != 32 && $0 != 9 }
            return (status, String(decoding: type, as: UTF8.self))
        }
        return (status, "unk")
    }

    /// A JSON string as Python's `json.dumps` writes it (non-ASCII escaped).
    static func jsonString(_ text: String) -> String {
        // Most values (URLs, digests, numbers, names) need no escape: quoted as they are.
        if text.utf8.allSatisfy({ (0x20..<0x7F).contains($0) && $0 != 0x22 && $0 != 0x5C }) {
            return "\"" + text + "\""
        }
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }

    // MARK: Files, low level

    private static func makeFolder(_ url: URL) throws(WARCError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw WARCError(path: url.path, message: "the WARC folder could not be created: \(error)")
        }
    }

    private static func syncFolder(_ path: String) throws(WARCError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(path, "the WARC folder could not be opened") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system(path, "the WARC folder could not be synced") }
    }

    /// The length of a file.
    private static func size(of path: String) throws(WARCError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .system(path, "an archived file could not be opened for its WARC record")
        }
        return Int64(info.st_size)
    }
}
