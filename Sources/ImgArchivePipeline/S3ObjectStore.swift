public import Foundation
public import ImgArchiveCore
public import ImgArchiveFetch
public import ImgArchiveStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bucket an archive's files live in (`objects: s3://bucket/prefix`, `s3-endpoint:`, `s3-region:` in
/// imgarchive.yml; the credentials from the environment only).
public struct BucketSettings: Sendable, Hashable {
    /// The endpoint, bucket and region.
    public var location: S3Location
    /// The keys' prefix, empty or ending in `/` (`blog/` puts `objects/ab/....jpg` at `blog/objects/ab/....jpg`).
    public var prefix: String
    /// The access key pair.
    public var credentials: S3Credentials

    /// Creates settings.
    public init(location: S3Location, prefix: String, credentials: S3Credentials) {
        self.location = location
        self.prefix = prefix
        self.credentials = credentials
    }

    /// Where the archive's files are served from when no `--archive-url` says otherwise: the bucket's own URL
    /// (path-style) with the prefix.
    public var publicURL: String {
        location.bucketURL + (prefix.isEmpty ? "" : "/" + prefix.dropLast())
    }

    /// The settings `objects:` (an `s3://bucket/prefix` URL), `s3-endpoint:` and `s3-region:` give, with the
    /// credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` in `environment`. Throws `.usage` naming
    /// what is missing.
    public static func parse(
        objects: String, endpoint: String?, region: String?, environment: [String: String]
    ) throws(PipelineError) -> BucketSettings {
        guard objects.hasPrefix("s3://") else {
            throw PipelineError(
                code: .usage,
                message: "objects: '\(objects)' is not a bucket; write s3://BUCKET or s3://BUCKET/PREFIX (or leave "
                    + "'objects' out to keep the files in the archive folder)")
        }
        let rest = objects.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        var prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        while prefix.hasSuffix("/") { prefix.removeLast() }
        guard isBucketName(bucket) else {
            throw PipelineError(
                code: .usage,
                message: "objects: '\(bucket)' is not a bucket name (3 to 63 lowercase letters, digits, dots and "
                    + "hyphens)")
        }
        guard prefix.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isPrefixSegment) else {
            throw PipelineError(
                code: .usage,
                message: "objects: the prefix '\(prefix)' may hold only letters, digits, '-', '_', '.' and '/' "
                    + "between names")
        }
        guard let endpoint, endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw PipelineError(
                code: .usage,
                message: "objects: \(objects) needs 's3-endpoint: https://...' in imgarchive.yml (the S3 server's "
                    + "URL, e.g. https://s3.eu-west-1.amazonaws.com)")
        }
        guard let credentials = S3Credentials.fromEnvironment(environment) else {
            throw PipelineError(
                code: .usage,
                message: "objects: \(objects) needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment "
                    + "(never in imgarchive.yml)")
        }
        return BucketSettings(
            location: S3Location(endpoint: endpoint, bucket: bucket, region: region ?? "us-east-1"),
            prefix: prefix.isEmpty ? "" : prefix + "/", credentials: credentials)
    }

    private static func isBucketName(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "." }
    }

    private static func isPrefixSegment(_ segment: Substring) -> Bool {
        segment.isEmpty
            || (segment != "." && segment != ".."
                && segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
    }
}

/// The archive's files in an S3 bucket, under the same content-addressed paths as on disk (the key is the prefix
/// plus the archive path). Local files (downloads, derivatives being encoded, copies of originals fetched back to
/// make thumbnails) stay in the archive folder's `tmp/`, next to the manifest.
///
/// Originals are uploaded only when absent (a HEAD first, then `If-None-Match: *` where the server does
/// conditional PUTs; OpenStack Swift's s3api does not, and then a plain PUT: two workers storing the same bytes
/// write the same object, so the race is harmless). Every upload streams the committed temporary file with its
/// SHA-256 in `x-amz-content-sha256`, which the server checks, and sets `Content-Type` and
/// `Cache-Control: public, max-age=31536000, immutable`: the bucket can be served as is. A PUT that returned is
/// durable, so `makeDurable` has nothing to do. Each method blocks its thread for the request it makes.
public struct S3ObjectStore: ObjectStore {
    /// The header every object is stored with: its key names its bytes, so it never changes.
    public static let cacheControl = "public, max-age=31536000, immutable"
    /// The folder of `tmp/` holding local copies of the bucket's files (`fileForReading`).
    static let cacheFolder = "s3-cache"
    /// Local copies kept past this many bytes are deleted, oldest first (an open copy stays readable).
    static let cacheBudget: Int64 = 1 << 30

    /// The client of the bucket.
    public let client: S3Client
    /// The keys' prefix, empty or ending in `/`.
    public let prefix: String
    /// The local archive folder (manifest, `tmp/`).
    public let layout: ArchiveLayout
    private let state: State

    /// What the store learns while it runs: whether the server does conditional PUTs, and the local copies.
    private final class State: Sendable {
        let conditionalPuts = Atomic<Bool>(true)
        let copies = Mutex<(order: [String], sizes: [String: Int64], total: Int64)>(([], [:], 0))
    }

    /// The store of the archive at `root` (its manifest and `tmp/` stay there) with its files in a bucket.
    public init(root: URL, bucket: BucketSettings) throws(StoreError) {
        layout = ArchiveLayout(root: root)
        client = S3Client(location: bucket.location, credentials: bucket.credentials)
        prefix = bucket.prefix
        state = State()
        for folder in ["", ArchiveLayout.temporaryFolder, ArchiveLayout.reportsFolder] {
            try FileSystem.makeDirectory(folder.isEmpty ? layout.rootPath : layout.rootPath + "/" + folder)
        }
    }

    public var temporaryDirectory: URL { layout.temporaryDirectory }

    public func makeTemporaryFileURL(suffix: String) -> URL {
        let name = UUID().uuidString.lowercased() + "." + suffix.filter { $0.isLetter || $0.isNumber }
        return temporaryDirectory.appendingPathComponent(name, isDirectory: false)
    }

    @discardableResult
    public func removeStaleTemporaryFiles(holding lock: ArchiveLock) throws(StoreError) -> Int {
        let removed = try ArchiveStore.removeStaleTemporaryFiles(
            in: temporaryDirectory.path, of: layout, holding: lock)
        state.copies.withLock { $0 = ([], [:], 0) }
        return removed
    }

    public func commitObject(temporaryFile: URL, sha256: String, format: ImageFormat) throws(StoreError) -> String {
        let relative = try ArchiveLayout.objectPath(sha256: sha256, format: format)
        let path = temporaryFile.standardizedFileURL.path
        guard let size = try FileSystem.fileSize(path) else {
            throw StoreError(code: .io, path: path, message: "the temporary file \(path) does not exist")
        }
        let key = prefix + relative
        // Already there with its size (the same bytes from another URL, or another worker): nothing to send.
        if let existing = try bucket({ () throws(S3Error) in try client.head(key: key) }), existing.size == size {
            try keepCopy(path, of: relative)
            return relative
        }
        try upload(path, key: key, sha256: sha256, contentType: format.mediaType, ifAbsent: true)
        try keepCopy(path, of: relative)
        return relative
    }

    public func commitDerivative(temporaryFile: URL, to relativePath: String) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(relativePath)
        guard !relativePath.hasPrefix(ArchiveLayout.objectsFolder + "/") else {
            throw StoreError(
                code: .invalidArgument, path: relativePath,
                message: "derivatives never replace originals: \(relativePath)")
        }
        let path = temporaryFile.standardizedFileURL.path
        let sha256 = try ArchiveStore.sha256(ofFileAt: temporaryFile)
        let ext = (relativePath as NSString).pathExtension
        let type = ImageFormat.allCases.first { $0.fileExtension == ext }?.mediaType ?? "application/octet-stream"
        try upload(path, key: prefix + relativePath, sha256: sha256, contentType: type, ifAbsent: false)
        try keepCopy(path, of: relativePath)
    }

    public func fileExists(_ relativePath: String) throws(StoreError) -> Bool {
        try ArchiveLayout.checkRelativePath(relativePath)
        return try bucket { () throws(S3Error) in try client.head(key: prefix + relativePath) } != nil
    }

    public func fileForReading(_ relativePath: String) throws(StoreError) -> URL {
        try ArchiveLayout.checkRelativePath(relativePath)
        let copy = copyURL(relativePath)
        if try FileSystem.fileSize(copy.path) != nil { return copy }
        let temporary = makeTemporaryFileURL(suffix: "part")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.posix("creating the file", path: temporary.path) }
        var writeFailed = false
        let found: Bool
        do {
            found = try client.get(key: prefix + relativePath) { chunk in
                guard let base = chunk.baseAddress else { return true }  // an empty chunk
                var offset = 0
                while offset < chunk.count {
                    let n = write(fd, base + offset, chunk.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        writeFailed = true
                        return false
                    }
                    offset += n
                }
                return true
            }
        } catch {
            close(fd)
            try? FileSystem.removeFile(temporary.path)
            if writeFailed {
                throw StoreError(code: .io, path: temporary.path, message: "writing \(temporary.path) failed")
            }
            throw Self.storeError(error)
        }
        close(fd)
        guard found else {
            try? FileSystem.removeFile(temporary.path)
            throw StoreError(
                code: .io, path: relativePath,
                message: "no object \(prefix + relativePath) in the bucket \(client.location.bucket)", cCode: ENOENT)
        }
        try keepCopy(temporary.path, of: relativePath)
        return copy
    }

    public func makeDurable(object relativePath: String) throws(StoreError) {}

    public func makeDurable(objects relativePaths: [String], movedFrom folders: [String]) throws(StoreError) {}

    public func verify(_ relativePath: String, sha256: String) throws(StoreError) -> ArchiveStore.HashCheck {
        try ArchiveLayout.checkRelativePath(relativePath)
        guard let actual = try bucket({ () throws(S3Error) in try client.sha256(key: prefix + relativePath) }) else {
            return .missing
        }
        return actual == sha256 ? .intact : .mismatch(actualSHA256: actual)
    }

    public func forEachArchivedFile(_ body: (String) throws(StoreError) -> Void) throws(StoreError) {
        // A listing page at a time, in the bucket's order (keys by their UTF-8 bytes, as ListObjectsV2 returns them).
        var failure: StoreError?
        try bucket { () throws(S3Error) in
            try client.list(prefix: prefix) { page in
                for object in page {
                    let path = String(object.key.dropFirst(prefix.count))
                    guard (try? ArchiveLayout.checkRelativePath(path)) != nil else { continue }
                    do throws(StoreError) { try body(path) } catch {
                        failure = error
                        return false
                    }
                }
                return true
            }
        }
        if let failure { throw failure }
    }

    /// Copies the object to `folder/<its path>` under the prefix (CopyObject), then deletes it: the bucket's
    /// way of moving it aside.
    public func quarantine(_ relativePath: String, into folder: String) throws(StoreError) -> String? {
        try ArchiveLayout.checkRelativePath(relativePath)
        let key = prefix + relativePath
        guard try bucket({ () throws(S3Error) in try client.head(key: key) }) != nil else { return nil }
        let relative = folder + "/" + relativePath
        try bucket { () throws(S3Error) in try client.copy(from: key, to: prefix + relative) }
        try bucket { () throws(S3Error) in try client.delete(key: key) }
        dropCopy(relativePath)
        return relative
    }

    public func removeUnrecorded(_ relativePath: String) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(relativePath)
        try bucket { () throws(S3Error) in try client.delete(key: prefix + relativePath) }
        dropCopy(relativePath)
    }

    // MARK: Uploads and local copies

    private func upload(_ path: String, key: String, sha256: String, contentType: String, ifAbsent: Bool)
        throws(StoreError)
    {
        let conditional = ifAbsent && state.conditionalPuts.load(ordering: .relaxed)
        let outcome = try bucket { () throws(S3Error) in
            try client.put(
                key: key, file: path, sha256: sha256, contentType: contentType, cacheControl: Self.cacheControl,
                ifAbsent: conditional)
        }
        if outcome == .conditionalUnsupported {
            // Checked by the HEAD just before; the bytes are the key's own, so a racing writer writes the same.
            state.conditionalPuts.store(false, ordering: .relaxed)
            try upload(path, key: key, sha256: sha256, contentType: contentType, ifAbsent: false)
        }
    }

    private func copyURL(_ relativePath: String) -> URL {
        temporaryDirectory.appendingPathComponent(Self.cacheFolder, isDirectory: true)
            .appendingPathComponent(relativePath.replacingOccurrences(of: "/", with: "_"), isDirectory: false)
    }

    /// Moves a local file that holds `relativePath`'s bytes to its local copy, so reading it back (a thumbnail's
    /// original) needs no download; older copies past the budget are deleted.
    private func keepCopy(_ path: String, of relativePath: String) throws(StoreError) {
        let copy = copyURL(relativePath).path
        try FileSystem.makeDirectory((copy as NSString).deletingLastPathComponent)
        let size = try FileSystem.fileSize(path) ?? 0
        try FileSystem.moveIntoPlace(path, to: copy)
        let evicted = state.copies.withLock { copies -> [String] in
            if let old = copies.sizes[relativePath] {
                copies.total -= old
                copies.order.removeAll { $0 == relativePath }
            }
            copies.order.append(relativePath)
            copies.sizes[relativePath] = size
            copies.total += size
            var evicted: [String] = []
            while copies.total > Self.cacheBudget, copies.order.count > 1 {
                let oldest = copies.order.removeFirst()
                copies.total -= copies.sizes.removeValue(forKey: oldest) ?? 0
                evicted.append(oldest)
            }
            return evicted
        }
        for relative in evicted { try? FileSystem.removeFile(copyURL(relative).path) }
    }

    private func dropCopy(_ relativePath: String) {
        state.copies.withLock { copies in
            if let old = copies.sizes.removeValue(forKey: relativePath) {
                copies.total -= old
                copies.order.removeAll { $0 == relativePath }
            }
        }
        try? FileSystem.removeFile(copyURL(relativePath).path)
    }

    /// Runs a bucket request, its failure as the store's error.
    private func bucket<T>(_ request: () throws(S3Error) -> T) throws(StoreError) -> T {
        do {
            return try request()
        } catch {
            throw Self.storeError(error)
        }
    }

    private static func storeError(_ error: S3Error) -> StoreError {
        StoreError(code: .io, path: error.operation, message: "the bucket: \(error)")
    }
}
