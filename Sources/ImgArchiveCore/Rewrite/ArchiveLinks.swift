import Foundation

/// How a rewritten post points at the archive.
public enum LinkStyle: Sendable, Hashable {
    /// `prefix` + `/` + the file's path in the archive, e.g. `/blog/archive/w550/ab/ab12....jpg`: for a site
    /// generator that publishes the archive folder, or for `--archive-url`.
    case prefix(String)
    /// A path relative to the post's folder, for Markdown read in an editor. `archiveRoot` is the archive's
    /// folder on disk.
    case relative(archiveRoot: String)
}

/// Turns an archive file into the text a post links it with.
public struct ArchiveLinker: Sendable, Hashable {
    /// The style links are written in.
    public let style: LinkStyle
    /// A `prefix` without its trailing slashes: what every link starts with (worked out once, not per link).
    private let linkPrefix: String
    /// With a `prefix` that is a URL: what a link into the archive itself starts with (`isArchiveLink`).
    private let archiveURLPrefix: String?

    /// Creates a linker.
    public init(style: LinkStyle) {
        self.style = style
        guard case .prefix(let prefix) = style else {
            (linkPrefix, archiveURLPrefix) = ("", nil)
            return
        }
        var trimmed = prefix
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        linkPrefix = trimmed
        if prefix.contains("//") {
            archiveURLPrefix = (trimmed.hasPrefix("//") ? "https:" + trimmed : trimmed) + "/"
        } else {
            archiveURLPrefix = nil
        }
    }

    /// The link to the file at `archivePath` (relative to the archive, e.g. `objects/ab/ab12....jpg`) from the
    /// post at `postPath` (absolute, or relative to the current folder).
    public func link(archivePath: String, fromPost postPath: String) -> String {
        switch style {
        case .prefix:
            return linkPrefix + "/" + Self.percentEncoded(archivePath)
        case .relative(let archiveRoot):
            let target = Self.components(of: archiveRoot) + archivePath.split(separator: "/").map(String.init)
            let postFolder = Self.components(of: postPath).dropLast()
            var common = 0
            while common < postFolder.count, common < target.count - 1,
                postFolder[postFolder.startIndex + common] == target[common]
            {
                common += 1
            }
            let ups = Array(repeating: "..", count: postFolder.count - common)
            return (ups + target[common...]).map(Self.percentEncoded).joined(separator: "/")
        }
    }

    /// Whether `url` is a link into the archive itself (only possible with a `prefix` that is a URL, such as
    /// `--archive-url https://cdn.example/archive`): such references are not images to archive.
    public func isArchiveLink(_ url: String) -> Bool {
        guard let archiveURLPrefix else { return false }
        return url.hasPrefix(archiveURLPrefix)
    }

    /// The components of `path` made absolute against the current folder, `.` and `..` resolved.
    static func components(of path: String) -> [String] {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return absolute.split(separator: "/").map(String.init)
    }

    /// Percent-encodes everything but unreserved characters and `/`, so the link needs no quoting in Markdown,
    /// HTML, CSS, srcset or YAML.
    static func percentEncoded(_ text: String) -> String {
        // An archive path (`objects/ab/<sha256>.jpg`) needs no encoding: given back as it is.
        guard !text.utf8.allSatisfy(isUnreserved) else { return text }
        var out = ""
        for byte in text.utf8 {
            if isUnreserved(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Whether a byte is an unreserved character or `/` (left as it is by `percentEncoded`).
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "/"):
            true
        default:
            false
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
