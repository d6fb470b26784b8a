/// One place in a post that references an image: the exact bytes to replace, and what they point at.
public struct ImageReference: Sendable, Hashable, Codable {
    /// The syntax the reference was found in.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case markdownInline = "markdown-inline"
        case markdownReference = "markdown-reference"
        case htmlImg = "html-img"
        case htmlSrcset = "html-srcset"
        case frontMatter = "front-matter"
        case cssURL = "css-url"
        /// A parameter of a Hugo shortcode, a Hexo or Liquid tag, or a Jekyll include.
        case template = "template"
        /// The target of a link to an image (`[![](small)](full)`, `<a href>` around an `<img>`, a link to a
        /// `.png`): archived as the original, never thumbnailed.
        case linkImage = "link-image"
    }

    /// The syntax the reference was found in.
    public var kind: Kind
    /// The bytes of the original file to replace: the URL as written (for a wrapped URL, all of its pieces).
    public var range: Range<Int>
    /// 1-based line of the first byte of `range`.
    public var line: Int
    /// 1-based column (in Unicode scalars) of the first byte of `range`.
    public var column: Int
    /// The raw text of `range` (invalid UTF-8 shown as U+FFFD).
    public var written: String
    /// The URL the post asks for: escapes and entities decoded, a wrapped URL joined, `//host` made https.
    public var url: String
    /// The original asset behind a CDN resize URL (the URL itself when no rule knows it).
    public var origin: String
    /// The width in pixels the post displays, from a markup hint or the CDN URL; nil when unknown.
    public var width: Int?
    /// The height the CDN URL asks for, when it says.
    public var height: Int?
    /// True when the URL was broken across lines in the post (so it never rendered).
    public var wrapped: Bool
    /// True for http(s) and protocol-relative URLs; false for local paths, data:, file:, templates, ...
    public var remote: Bool

    /// Creates a reference.
    public init(
        kind: Kind, range: Range<Int>, line: Int, column: Int, written: String, url: String, origin: String,
        width: Int?, height: Int?, wrapped: Bool, remote: Bool
    ) {
        self.kind = kind
        self.range = range
        self.line = line
        self.column = column
        self.written = written
        self.url = url
        self.origin = origin
        self.width = width
        self.height = height
        self.wrapped = wrapped
        self.remote = remote
    }
}

/// Something in a post the scanner could not use, with what to do about it.
public struct ScanDiagnostic: Sendable, Hashable, Codable {
    /// 1-based line the problem is on.
    public var line: Int
    /// What is wrong and what to do.
    public var message: String

    /// Creates a diagnostic.
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// What scanning one post found.
public struct PostScan: Sendable, Hashable {
    /// Every reference, in the order of its first byte.
    public var references: [ImageReference]
    /// Problems worth telling the user (malformed front matter, ...); the scan still went on.
    public var diagnostics: [ScanDiagnostic]
}
