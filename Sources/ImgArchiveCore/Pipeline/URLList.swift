import Foundation

/// A plain list of image URLs, one per line (`fetch --urls FILE`): a source of images to archive beside the posts.
/// Lines end with LF or CRLF; blank lines and `#` comments are skipped; each other line, trimmed, is one URL,
/// normalised as a post's URL is (the scheme lower-cased, `//host` made https, characters a URL cannot hold
/// percent-encoded) and mapped to its original by the CDN rules. The line is the URL as it is: no HTML entities or
/// Markdown escapes are decoded.
public struct URLList: Sendable, Hashable {
    /// One listed URL.
    public struct Entry: Sendable, Hashable {
        /// Its 1-based line in the list.
        public var line: Int
        /// The URL, normalised: the manifest's key.
        public var url: String
        /// The original asset the CDN rules give (the URL itself when no rule knows it).
        public var origin: String
        /// The width the CDN URL asks for, when it says: a thumbnail is made at it.
        public var width: Int?
    }

    /// A line that is not an http(s) URL: skipped, and said.
    public struct Problem: Sendable, Hashable {
        /// Its 1-based line in the list.
        public var line: Int
        /// The line, trimmed.
        public var text: String
    }

    /// The list's name, for messages.
    public let path: String
    /// The URLs, in the list's order (a URL listed twice is here twice; `FetchItem.items` merges them).
    public private(set) var entries: [Entry] = []
    /// The lines skipped because they are not http(s) URLs.
    public private(set) var problems: [Problem] = []

    /// Reads the list's `text`, named `path` in messages.
    public init(path: String, text: String, cdnRules: CDNRules) {
        self.path = path
        // "\r\n" is one Character: split on it too, so a list saved with CRLF line ends has its lines.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (n, line) in lines.enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, !text.hasPrefix("#") else { continue }
            let resolved = URLText.resolve(Array(text.utf8))
            guard resolved.remote else {
                problems.append(Problem(line: n + 1, text: text))
                continue
            }
            let cdn = cdnRules.resolve(resolved.url)
            entries.append(Entry(line: n + 1, url: resolved.url, origin: cdn.origin, width: cdn.width))
        }
    }

    /// What to tell the user about a skipped line: the list, the line, and why.
    public func message(for problem: Problem) -> String {
        "\(path):\(problem.line): not an http(s) URL, skipped: \(problem.text)"
    }
}
