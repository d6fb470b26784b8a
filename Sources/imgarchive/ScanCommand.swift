import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchivePipeline
import Synchronization

/// Output formats of commands that list things.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List every remote image the posts reference.",
        discussion: """
            Walks the given files and folders for *.md, *.markdown, *.mdown and *.html posts (skipping .git, \
            _site, public, node_modules and archive) and reports each image reference: Markdown inline and \
            reference images, HTML <img> src/srcset/data-src, front-matter image fields, CSS url(), and URLs \
            wrapped across a line break. Code blocks, code spans and comments are left alone.
            """)

    @Argument(help: "Posts or folders to scan.")
    var paths: [String] = ["."]

    @Option(help: "Output format: a table (text) or one JSON object per line (json).")
    var format: OutputFormat = .text

    @Flag(help: "Also list references that are not remote (local paths, data:, file:, templates).")
    var all = false

    @Option(help: "The configuration file (default: imgarchive.yml in the current folder, if present).")
    var config: String?

    func run() async throws {
        let configuration = try ConfigurationLoader.load(explicitPath: config)
        let all = self.all
        let json = format == .json
        // Posts are scanned (and their JSON lines formatted) on all cores. Each result is printed and counted, in
        // the posts' order, as soon as it and those before it are done, while later posts are still being scanned.
        let summary = Mutex(ScanSummary(table: json ? nil : ReferenceTable()))
        let count = Pipeline.scan(
            roots: paths, scanOptions: configuration.scanOptions, warn: Diagnostics.warn,
            then: { (post, _, scan) -> [UInt8] in
                guard json else { return [] }
                var bytes: [UInt8] = []
                for r in scan.references where r.remote || all { ReferenceJSON.append(post: post, r, to: &bytes) }
                return bytes
            },
            inOrder: { post, result in summary.withLock { $0.add(post: post, result, all: all) } })
        summary.withLock { s in
            s.table?.flush(to: &s.out)
            s.out.flush()
            Diagnostics.note(
                "\(count.posts) posts, \(s.referenceCount) references, \(s.urls.count) distinct URLs, "
                    + "\(s.hosts.count) hosts" + (count.unreadable > 0 ? ", \(count.unreadable) unreadable" : ""))
        }
        if count.unreadable > 0 { throw ExitCode(1) }
    }
}

/// What `scan` prints and counts, fed one post at a time in the posts' order.
struct ScanSummary {
    var out = StandardOutput()
    var referenceCount = 0
    /// The distinct URLs, 16 bytes each (a site of 50,000 posts has 160,000).
    var urls = StringDigestSet()
    var hosts = Set<String>()
    /// The hosts of the URLs seen, kept across posts: a site has thousands of URLs on a few hosts.
    var memo = HostMemo()
    var table: ReferenceTable?

    init(table: ReferenceTable?) {
        self.table = table
    }

    /// Prints the post's JSON lines (or keeps its table rows) and counts its references, URLs and hosts; says
    /// why a post could not be read.
    mutating func add(post: String, _ result: ScanRun.Outcome<[UInt8]>, all: Bool) {
        switch result {
        case .failure(let problem):
            Diagnostics.warn("\(problem.path): \(problem.message)")
        case .success(let (scan, formatted)):
            for d in scan.diagnostics { Diagnostics.warn("\(post):\(d.line): \(d.message)") }
            out.write { $0 += formatted }
            for r in scan.references where r.remote || all {
                referenceCount += 1
                if r.remote, urls.insert(r.url) { hosts.insert(memo.host(of: r.url)) }
                table?.add(post: post, r, to: &out)
            }
        }
    }
}

/// One JSON object per reference, keys in a fixed order, written as bytes.
enum ReferenceJSON {
    static func append(post: String, _ r: ImageReference, to out: inout [UInt8]) {
        // Written piece by piece (no interpolated Strings): this runs once per reference.
        out += #"{"post":"#.utf8
        quote(post, to: &out)
        out += #","line":"#.utf8
        decimal(r.line, to: &out)
        out += #","column":"#.utf8
        decimal(r.column, to: &out)
        out += #","kind":""#.utf8
        out += r.kind.rawValue.utf8
        out += #"","url":"#.utf8
        quote(r.url, to: &out)
        out += #","written":"#.utf8
        quote(r.written, to: &out)
        out += #","origin":"#.utf8
        quote(r.origin, to: &out)
        out += #","width":"#.utf8
        if let width = r.width { decimal(width, to: &out) } else { out += "null".utf8 }
        out += (r.wrapped ? #","wrapped":true"# : #","wrapped":false"#).utf8
        out += (r.remote ? #","remote":true"# : #","remote":false"#).utf8
        out += #","range":["#.utf8
        decimal(r.range.lowerBound, to: &out)
        out.append(UInt8(ascii: ","))
        decimal(r.range.upperBound, to: &out)
        out += "]}\n".utf8
    }

    /// Appends `value` in decimal, as `String(value)` writes it.
    static func decimal(_ value: Int, to out: inout [UInt8]) {
        guard value >= 0 else {
            out += String(value).utf8
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var start = buffer.count
            var rest = value
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            out += buffer[start...]
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends a JSON string literal.
    /// `,"name":"value"` (or `null`), for the JSON lines every command writes.
    static func field(_ name: String, _ value: String?, to out: inout [UInt8]) {
        out += ",\"\(name)\":".utf8
        if let value { quote(value, to: &out) } else { out += "null".utf8 }
    }

    static func quote(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { quote(bytes: $0, to: &out) }
    }

    /// Appends a JSON string literal of UTF-8 `bytes` (one pass over a buffer when nothing needs escaping).
    private static func quote(bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        var plain = true
        for c in bytes where c < 0x20 || c == 0x22 || c == 0x5C {
            plain = false
            break
        }
        if plain {
            out.append(contentsOf: bytes)
            out.append(0x22)
            return
        }
        for c in bytes {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]]
            default: out.append(c)
            }
        }
        out.append(0x22)
    }
}

/// The readable table `scan` prints: post:line:column, kind, width, and the URL (with its origin when it
/// differs, and a note when it was wrapped across lines). It is printed a block of `blockRows` rows at a time, so
/// memory does not grow with the site: each block is aligned on the widest values seen so far, so a column only
/// ever moves right, at the block where a longer value first appears.
struct ReferenceTable {
    static let blockRows = 1_000
    private typealias Row = (place: String, kind: String, width: String, url: String, origin: String?, wrapped: Bool)
    private var rows: [Row] = []
    private var widths = (place: 0, kind: 0, width: 0)

    mutating func add(post: String, _ r: ImageReference, to out: inout StandardOutput) {
        rows.append(
            (
                "\(post):\(r.line):\(r.column)", r.kind.rawValue, r.width.map { "\($0)w" } ?? "-", r.url,
                r.origin != r.url ? r.origin : nil, r.wrapped
            ))
        if rows.count >= Self.blockRows { flush(to: &out) }
    }

    /// Prints the rows held, aligned.
    mutating func flush(to out: inout StandardOutput) {
        for row in rows {
            widths.place = max(widths.place, row.place.count)
            widths.kind = max(widths.kind, row.kind.count)
            widths.width = max(widths.width, row.width.count)
        }
        let widths = widths
        let indent = widths.place + widths.kind + widths.width + 6
        out.write { bytes in
            func padded(_ s: String, _ width: Int) {
                bytes += s.utf8
                bytes += repeatElement(UInt8(ascii: " "), count: max(0, width - s.count) + 2)
            }
            func noteLine(_ note: String) {
                bytes.append(UInt8(ascii: "\n"))
                bytes += repeatElement(UInt8(ascii: " "), count: indent)
                bytes += note.utf8
            }
            for row in rows {
                padded(row.place, widths.place)
                padded(row.kind, widths.kind)
                padded(row.width, widths.width)
                bytes += row.url.utf8
                if let origin = row.origin { noteLine("origin " + origin) }
                if row.wrapped { noteLine("(wrapped across lines in the post)") }
                bytes.append(UInt8(ascii: "\n"))
            }
        }
        rows.removeAll(keepingCapacity: true)
    }
}

/// Buffered writes to standard output.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func write(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Messages for the user on standard error.
enum Diagnostics {
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("imgarchive: " + message + "\n").utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
