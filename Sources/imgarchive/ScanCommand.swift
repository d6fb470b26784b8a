import ArgumentParser
import Dispatch
import Foundation
import ImgArchiveCore
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
        let configuration = try Configuration.load(explicitPath: config)
        let scanner = PostScanner(options: configuration.scanOptions)
        let (posts, problems) = SiteWalker.posts(in: paths)
        for problem in problems { Diagnostics.warn("\(problem.path): \(problem.message)") }
        let results = ScanRun.scan(posts, with: scanner)

        var out = StandardOutput()
        let table = format == .text ? ReferenceTable() : nil
        var referenceCount = 0
        var urls = Set<String>()
        var hosts = Set<String>()
        var unreadable = problems.count
        for (post, result) in zip(posts, results) {
            switch result {
            case .failure(let problem):
                unreadable += 1
                Diagnostics.warn("\(problem.path): \(problem.message)")
            case .success(let scan):
                for d in scan.diagnostics { Diagnostics.warn("\(post):\(d.line): \(d.message)") }
                for r in scan.references where r.remote || all {
                    referenceCount += 1
                    if r.remote {
                        urls.insert(r.url)
                        if let host = URLComponents(string: r.url)?.host { hosts.insert(host.lowercased()) }
                    }
                    if let table {
                        table.add(post: post, r)
                    } else {
                        out.write(ReferenceJSON.line(post: post, r))
                    }
                }
            }
        }
        table?.print(to: &out)
        out.flush()
        Diagnostics.note(
            "\(posts.count) posts, \(referenceCount) references, \(urls.count) distinct URLs, \(hosts.count) hosts"
                + (unreadable > 0 ? ", \(unreadable) unreadable" : ""))
        if unreadable > 0 { throw ExitCode(1) }
    }
}

/// Scans many posts on all cores, keeping their order.
enum ScanRun {
    static func scan(_ posts: [String], with scanner: PostScanner) -> [Result<PostScan, SiteWalker.Problem>] {
        let results = Mutex<[Result<PostScan, SiteWalker.Problem>?]>(Array(repeating: nil, count: posts.count))
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(workers, max(posts.count, 1))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < posts.count else { return }
                let result = SiteWalker.read(posts[i]).map { scanner.scan($0) }
                results.withLock { $0[i] = result }
            }
        }
        return results.withLock { $0.map { $0 ?? .failure(SiteWalker.Problem(path: "?", message: "not scanned")) } }
    }
}

/// One JSON object per reference, keys in a fixed order.
enum ReferenceJSON {
    static func line(post: String, _ r: ImageReference) -> String {
        var s = "{\"post\":\(quote(post)),\"line\":\(r.line),\"column\":\(r.column),\"kind\":\"\(r.kind.rawValue)\""
        s += ",\"url\":\(quote(r.url)),\"written\":\(quote(r.written)),\"origin\":\(quote(r.origin))"
        s += ",\"width\":\(r.width.map(String.init) ?? "null"),\"wrapped\":\(r.wrapped),\"remote\":\(r.remote)"
        s += ",\"range\":[\(r.range.lowerBound),\(r.range.upperBound)]}\n"
        return s
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// The readable table `scan` prints: post:line:column, kind, width, and the URL (with its origin when it
/// differs).
final class ReferenceTable {
    private var rows: [(String, String, String, String)] = []

    func add(post: String, _ r: ImageReference) {
        var url = r.url
        if r.origin != r.url { url += "\n    origin " + r.origin }
        if r.wrapped { url += "\n    (wrapped across lines in the post)" }
        rows.append(("\(post):\(r.line):\(r.column)", r.kind.rawValue, r.width.map { "\($0)w" } ?? "-", url))
    }

    func print(to out: inout StandardOutput) {
        let w0 = rows.map(\.0.count).max() ?? 0
        let w1 = rows.map(\.1.count).max() ?? 0
        let w2 = rows.map(\.2.count).max() ?? 0
        for (a, b, c, d) in rows {
            let indent = String(repeating: " ", count: w0 + w1 + w2 + 6)
            let url = d.replacingOccurrences(of: "\n    ", with: "\n" + indent)
            out.write(pad(a, w0) + "  " + pad(b, w1) + "  " + pad(c, w2) + "  " + url + "\n")
        }
    }

    private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
}

/// Buffered writes to standard output.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
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
