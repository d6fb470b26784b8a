import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchivePipeline
import ImgArchiveStore

/// `imgarchive status`: the link-rot report per post, from the manifest.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show, per post, which image references are rewritten, archived, failed or not fetched yet.",
        discussion: """
            Reads only the manifest (no network, no lock: it works while a fetch runs). Text lists the posts \
            that have a failed or not yet fetched reference (every post with --all) and a total; json prints \
            one object per reference. Exit codes: 0 nothing failed, 1 some references failed, 2 usage or \
            set-up error (no archive yet).
            """)

    @Argument(help: "Only the posts at or under these files or folders (default: every post the archive knows).")
    var paths: [String] = []

    @Option(help: "The archive folder (default: ./archive, or 'archive' in the configuration).")
    var archive: String?

    @Option(help: "The configuration file (default: imgarchive.yml in the current folder, if present).")
    var config: String?

    @Option(help: "Output format: blocks per post and a total (text) or one JSON object per reference (json).")
    var format: OutputFormat = .text

    @Flag(help: "List every post, also those whose references are all archived or rewritten.")
    var all = false

    @Option(help: ManifestOption.help)
    var manifest: String?

    func run() async throws {
        let file = try ConfigurationLoader.load(explicitPath: config)
        let root = URL(fileURLWithPath: archive ?? file.archive ?? "archive")
        var out = StandardOutput()
        var text = StatusOutput.Text(all: all)
        let json = format == .json
        // Printed a post at a time as the report is made: a big site's report is never held whole.
        let totals = try await Pipeline.status(
            archiveRoot: root, paths: paths, manifest: try ManifestOption.location(manifest, file)
        ) { entries in
            if json {
                for e in entries { out.write { StatusOutput.json(e, to: &$0) } }
            } else {
                text.post(entries, to: &out)
            }
        }
        if !json { text.finish(totals, to: &out) }
        out.flush()
        if totals.counts[.failed, default: 0] > 0 { throw ExitCode(1) }
    }
}

/// The status report as text blocks or JSON lines.
enum StatusOutput {
    /// The text form: a block per listed post (every post with `all`, else those with an entry that needs
    /// attention), then a total.
    struct Text {
        var all: Bool
        private var current: String?

        init(all: Bool) { self.all = all }

        /// One post's entries (in order).
        mutating func post(_ entries: [StatusReport.Entry], to out: inout StandardOutput) {
            guard all || entries.contains(where: \.needsAttention) else { return }
            for e in entries { entry(e, to: &out) }
        }

        private mutating func entry(_ e: StatusReport.Entry, to out: inout StandardOutput) {
            if e.post != current {
                if current != nil { out.write("\n") }
                current = e.post
                out.write(e.post + "\n")
            }
            let place = e.line.map { "\($0):\(e.column ?? 0)" } ?? "-"
            var line = "  " + place.padding(toLength: max(place.count, 7), withPad: " ", startingAt: 0) + " "
            line += e.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + " " + e.url + "\n"
            switch e.state {
            case .failed:
                var why = "      " + (e.errorClass?.rawValue ?? "failed")
                if let status = e.httpStatus { why += " (HTTP \(status))" }
                if let since = e.failingSince { why += ", failing since " + since.formatted(.iso8601) }
                if let message = e.message { why += ": " + message }
                line += why + "\n"
            case .archived, .rewritten:
                if let r = e.rescue {
                    line += "      rescued from \(r.memento)" + RescueOutput.captured(r) + "\n"
                }
                if let width = e.thumbnailMissing {
                    line +=
                        "      no thumbnail at \(width) px (making it failed): the post links the original; "
                        + "imgarchive verify --repair or the next fetch tries again\n"
                }
                guard all else { break }
                if let path = e.objectPath { line += "      " + path + "\n" }
                if let link = e.link { line += "      linked as " + link + "\n" }
            case .notFetched:
                break
            }
            out.write(line)
        }

        /// The total line, after the last post.
        func finish(_ totals: StatusReport.Totals, to out: inout StandardOutput) {
            if current != nil { out.write("\n") }
            let parts = StatusReport.State.allCases.map { "\(totals.counts[$0, default: 0]) \($0.rawValue)" }
            out.write(
                "\(totals.posts) posts, \(totals.references) references: " + parts.joined(separator: ", ")
                    + (totals.rescued > 0 ? " (\(totals.rescued) rescued from web archives)" : "") + "\n")
        }
    }

    static func json(_ e: StatusReport.Entry, to out: inout [UInt8]) {
        func field(_ name: String, _ value: String?) { ReferenceJSON.field(name, value, to: &out) }
        out += "{\"post\":".utf8
        ReferenceJSON.quote(e.post, to: &out)
        out += ",\"line\":\(e.line.map(String.init) ?? "null"),\"column\":\(e.column.map(String.init) ?? "null")".utf8
        field("url", e.url)
        field("state", e.state.rawValue)
        field("errorClass", e.errorClass?.rawValue)
        out += ",\"httpStatus\":\(e.httpStatus.map(String.init) ?? "null")".utf8
        field("message", e.message)
        field("failingSince", e.failingSince?.formatted(.iso8601))
        field("objectPath", e.objectPath)
        field("link", e.link)
        out += ",\"thumbnailMissing\":\(e.thumbnailMissing.map(String.init) ?? "null")".utf8
        field("rescuedFrom", e.rescue?.memento)
        field("timegate", e.rescue?.timegate)
        field("mementoDatetime", e.rescue?.capturedAt?.formatted(.iso8601))
        out += "}\n".utf8
    }
}
