public import Foundation
public import ImgArchiveCore

/// Where everything lives under an archive root. The manifest stores the relative paths this type makes;
/// no part of any path comes from a URL or a header, only from content hashes, widths and formats.
public struct ArchiveLayout: Sendable, Hashable {
    /// The archive's root folder.
    public let root: URL

    /// The folder of originals, relative to the root.
    public static let objectsFolder = "objects"
    /// The folder of sanitized SVG copies (what posts link to instead of an SVG original), relative to the root.
    public static let sanitizedFolder = "svg"
    /// The folder of in-flight files, relative to the root.
    public static let temporaryFolder = "tmp"
    /// The folder of run reports, relative to the root.
    public static let reportsFolder = "reports"
    /// The manifest's file name.
    public static let manifestName = "manifest.sqlite"
    /// The lock file's name.
    public static let lockName = "lock"

    /// Describes the archive at `root` (nothing is created).
    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    /// The root as a file-system path.
    public var rootPath: String { root.path }
    /// The folder of in-flight files.
    public var temporaryDirectory: URL { root.appendingPathComponent(Self.temporaryFolder, isDirectory: true) }
    /// The folder of run reports.
    public var reportsDirectory: URL { root.appendingPathComponent(Self.reportsFolder, isDirectory: true) }
    /// The SQLite manifest.
    public var manifestURL: URL { root.appendingPathComponent(Self.manifestName, isDirectory: false) }
    /// The lock file.
    public var lockURL: URL { root.appendingPathComponent(Self.lockName, isDirectory: false) }

    /// The absolute location of a path relative to the root (as stored in the manifest).
    public func url(for relativePath: String) -> URL {
        root.appendingPathComponent(relativePath, isDirectory: false)
    }

    // MARK: Post names

    /// The folder post names are relative to: the one holding the archive, symbolic links resolved.
    public var postBase: String { root.deletingLastPathComponent().resolvingSymlinksInPath().standardizedFileURL.path }

    /// The manifest's name for a post: its path relative to the folder holding the archive (`_posts/a.md`,
    /// or `../content/a.md` for an archive in Hugo's `static/`), whatever the current folder and however the
    /// path was typed (`./_posts/a.md`, absolute, through a symbolic link to a folder).
    public func postKey(_ path: String) -> String {
        postKeys([path])[0]
    }

    /// `postKey` of many posts, resolving the archive's folder once and each post's folder once.
    public func postKeys(_ paths: [String]) -> [String] {
        let base = Self.components(postBase)
        let here = FileManager.default.currentDirectoryPath
        // Each folder once: resolved, and its part of the key (the common prefix with the base never takes the
        // name, so a plain name is appended to it).
        var folders: [String: (resolved: [String], key: String)] = [:]
        return paths.map { path in
            let (folder, name) = Self.folderAndName(path, in: here)
            let known: (resolved: [String], key: String)
            if let cached = folders[folder] {
                known = cached
            } else {
                let resolved = Self.components(Self.resolved(folder: folder))
                var common = 0
                while common < base.count, common < resolved.count, base[common] == resolved[common] { common += 1 }
                known = (
                    resolved,
                    (Array(repeating: "..", count: base.count - common) + resolved[common...]).joined(separator: "/")
                )
                folders[folder] = known
            }
            if !name.isEmpty && !name.contains("/") { return known.key.isEmpty ? name : known.key + "/" + name }
            // `components` of the last part too: for a path that is the root itself it is "/", no name.
            let post = known.resolved + Self.components(name)
            var common = 0
            while common < base.count, common < post.count - 1, base[common] == post[common] { common += 1 }
            return (Array(repeating: "..", count: base.count - common) + post[common...]).joined(separator: "/")
        }
    }

    /// A path's standardised absolute folder and its last part, as `URL.standardizedFileURL` gives them. A path
    /// with no `.`, `..` or empty part (what `SiteWalker` lists) is split where it is, without a `URL`.
    static func folderAndName(_ path: String, in here: String) -> (folder: String, name: String) {
        if let split = asciiFolderAndName(path, in: here) { return split }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let plain =
            !path.isEmpty && here.hasPrefix("/")
            && parts.enumerated().allSatisfy { i, part in
                part.isEmpty ? i == 0 && parts.count > 1 : part != "." && part != ".."
            }
        guard plain, let last = parts.last else {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            return (url.deletingLastPathComponent().path, url.lastPathComponent)
        }
        let absolute = path.hasPrefix("/") ? path : (here == "/" ? "" : here) + "/" + path
        let folder = absolute.dropLast(last.count + 1)
        return (folder.isEmpty ? "/" : String(folder), String(last))
    }

    /// `folderAndName` of a plain ASCII path, on its bytes (splitting a `String` into `Character`s was most of
    /// its cost, once per post per chunk); nil for any other path.
    private static func asciiFolderAndName(_ path: String, in here: String) -> (folder: String, name: String)? {
        let (slash, dot) = (UInt8(ascii: "/"), UInt8(ascii: "."))
        let utf8 = path.utf8
        guard !utf8.isEmpty, here.hasPrefix("/"), utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        // Plain: no empty part but the first of an absolute path, no `.` or `..` part.
        var start = utf8.startIndex
        while true {
            let end = utf8[start...].firstIndex(of: slash) ?? utf8.endIndex
            let part = utf8[start..<end]
            let notPlain =
                part.isEmpty
                ? start != utf8.startIndex || end == utf8.endIndex  // empty, and not the first part of "/..."
                : part.count <= 2 && part.allSatisfy { $0 == dot }  // "." or ".."
            if notPlain { return nil }
            guard end != utf8.endIndex else { break }
            start = utf8.index(after: end)
        }
        let absolute = path.hasPrefix("/") ? path : (here == "/" ? "" : here) + "/" + path
        guard let last = absolute.utf8.lastIndex(of: slash) else { return nil }  // none: the path is absolute
        let folder = absolute[..<last]
        return (folder.isEmpty ? "/" : String(folder), String(absolute[absolute.utf8.index(after: last)...]))
    }

    /// The absolute path of the post a manifest name stands for.
    public func postPath(_ key: String) -> String { Self.postPath(key, base: postBase) }

    /// `postPath(_:)` with `postBase` given, for many posts: the archive's folder is resolved once (its
    /// symbolic links: a `stat` per component), not once per post.
    public static func postPath(_ key: String, base: String) -> String {
        // A file, not a folder: the URL need not ask the file system which.
        URL(fileURLWithPath: base + "/" + key, isDirectory: false).standardizedFileURL.path
    }

    /// A post's path as the user sees it: relative to the current folder when inside it, else absolute.
    public func displayPath(_ key: String) -> String {
        displayPath(key, from: Self.currentFolder())
    }

    /// `displayPath(_:)` with the current folder given (`currentFolder()`), for many posts: the folder's
    /// symbolic links are resolved once, not once per post.
    public func displayPath(_ key: String, from here: String) -> String {
        Self.displayPath(key, from: here, base: postBase)
    }

    /// `displayPath(_:from:)` with `postBase` given too (`postPath(_:base:)`).
    public static func displayPath(_ key: String, from here: String, base: String) -> String {
        let path = postPath(key, base: base)
        return path.hasPrefix(here + "/") ? String(path.dropFirst(here.count + 1)) : path
    }

    /// The current folder, absolute, with its symbolic links resolved.
    public static func currentFolder() -> String { resolved(FileManager.default.currentDirectoryPath) }

    /// An absolute, standardised path with the symbolic links of its folders resolved (the file itself may
    /// be a link: a post is named by where it is listed, and `PostFile` writes through the link).
    static func resolved(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let folder = resolved(folder: url.deletingLastPathComponent().path)
        return URL(fileURLWithPath: folder).appendingPathComponent(url.lastPathComponent).standardizedFileURL.path
    }

    /// An absolute, standardised folder path with its symbolic links resolved.
    static func resolved(folder: String) -> String {
        URL(fileURLWithPath: folder, isDirectory: true).resolvingSymlinksInPath().standardizedFileURL.path
    }

    private static func components(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    /// The relative path of an original: `objects/ab/<sha256>.<ext>`.
    public static func objectPath(sha256: String, format: ImageFormat) throws(StoreError) -> String {
        try checkSHA256(sha256)
        return "\(objectsFolder)/\(sha256.prefix(2))/\(sha256).\(format.fileExtension)"
    }

    /// The relative path of a derivative `width` pixels wide: `w<width>/ab/<sha256>.<ext>`, where the hash is
    /// the original's and the extension is the derivative's own format.
    public static func thumbnailPath(sha256: String, width: Int, format: ImageFormat) throws(StoreError) -> String {
        try checkSHA256(sha256)
        guard width > 0 && width <= 1_000_000 else {
            throw StoreError(
                code: .invalidArgument, message: "a thumbnail width must be a positive pixel count, not \(width)")
        }
        return "w\(width)/\(sha256.prefix(2))/\(sha256).\(format.fileExtension)"
    }

    /// The relative path of the sanitized copy of an SVG original: `svg/ab/<sha256>.svg`, where the hash is the
    /// original's.
    public static func sanitizedSVGPath(sha256: String) throws(StoreError) -> String {
        try checkSHA256(sha256)
        return "\(sanitizedFolder)/\(sha256.prefix(2))/\(sha256).\(ImageFormat.svg.fileExtension)"
    }

    /// Whether `text` is a SHA-256 digest in lowercase hex (the only form the archive uses in names).
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func checkSHA256(_ text: String) throws(StoreError) {
        guard isSHA256(text) else {
            throw StoreError(
                code: .invalidArgument,
                message: "not a lowercase hex SHA-256 digest: \(text.prefix(80).debugDescription)")
        }
    }

    /// Checks that a relative path stays inside the archive and is one the archive makes
    /// (`objects/..`, `w<n>/..`, `svg/..`), so a manifest value can never point outside the root.
    package static func checkRelativePath(_ path: String) throws(StoreError) {
        guard isArchivePath(path.utf8) else {
            throw StoreError(
                code: .invalidArgument, path: path, message: "not an archive path: \(path.prefix(200).debugDescription)"
            )
        }
    }

    /// Three parts between slashes, none empty, `.` or `..`, the first an archive folder; read on the bytes (a
    /// rewrite checks the path of every object and thumbnail its posts link).
    private static func isArchivePath(_ path: String.UTF8View) -> Bool {
        let parts = path.split(separator: UInt8(ascii: "/"), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return false }
        for part in parts where part.isEmpty || part.count <= 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) {
            return false
        }
        return parts[0].elementsEqual(objectsFolder.utf8) || parts[0].elementsEqual(sanitizedFolder.utf8)
            || isWidthFolder(parts[0])
    }

    private static func isWidthFolder(_ part: Substring.UTF8View) -> Bool {
        part.count > 1 && part.first == UInt8(ascii: "w")
            && part.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
