import Dispatch
import Foundation
public import ImgArchiveCore
import ImgArchiveStore
import Synchronization

/// Scans many posts on all cores, keeping their order.
public enum ScanRun {
    /// One post's scan and what `then` made of it, or why the post could not be read.
    public typealias Outcome<T> = Result<(PostScan, T), SiteWalker.Problem>

    /// Scans `posts` and runs `then` on each result, on all cores; returns the outcomes in the posts' order.
    public static func scan<T: Sendable>(
        _ posts: [String], with scanner: PostScanner, then: @Sendable @escaping (String, [UInt8], PostScan) -> T
    ) -> [Outcome<T>] {
        let results = Mutex<[Outcome<T>]>([])
        scan(posts, with: scanner, then: then) { _, outcome in results.withLock { $0.append(outcome) } }
        return results.withLock { $0 }
    }

    /// Scans `posts` on all cores and hands each outcome (after `then`) to `emit` in the posts' order, as soon as
    /// it and all before it are done. `emit` runs under a lock: its calls never overlap.
    public static func scan<T: Sendable, Posts: RandomAccessCollection<String> & Sendable>(
        _ posts: Posts, with scanner: PostScanner, then: @Sendable @escaping (String, [UInt8], PostScan) -> T,
        inOrder emit: @Sendable (Int, Outcome<T>) -> Void
    ) where Posts.Index == Int {
        let order = Mutex<(next: Int, ready: [Int: Outcome<T>])>((0, [:]))
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(workers, max(posts.count, 1))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < posts.count else { return }
                let post = posts[i]
                let result: Outcome<T> = SiteWalker.read(post).map {
                    let scan = scanner.scan($0)
                    return (scan, then(post, $0, scan))
                }
                order.withLock { state in
                    state.ready[i] = result
                    while let ready = state.ready.removeValue(forKey: state.next) {
                        emit(state.next, ready)
                        state.next += 1
                    }
                }
            }
        }
    }
}

extension ScanRun {
    /// `body` of each index below `count`, on all cores; the results in index order.
    static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        let results = Mutex<[T?]>(Array(repeating: nil, count: count))
        let next = Atomic<Int>(0)
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: min(workers, max(count, 1))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                let result = body(i)
                results.withLock { $0[i] = result }
            }
        }
        return results.withLock { $0.compactMap { $0 } }
    }
}

/// The manifest's record of the posts' last scans, so that a scan skips the posts that have not changed since:
/// a post whose file has the recorded stamp is not read, one whose bytes hash as recorded is not scanned, as long
/// as the same scanner made the record (`PostScanner.fingerprint`).
public struct KnownScans: Sendable {
    let layout: ArchiveLayout
    /// The posts whose records were read, and their names in the manifest, in the same order.
    let files: [String]
    let keys: [String]
    let scans: [String: RecordedScan]
    let references: [String: [ReferenceRecord]]

    /// Reads the records of the posts at `files` (a chunk of a site's) from `manifest`.
    static func read(_ manifest: some ArchiveLedgerReader, layout: ArchiveLayout, posts files: [String])
        async throws -> KnownScans
    {
        let keys = layout.postKeys(files)
        return KnownScans(
            layout: layout, files: files, keys: keys, scans: try await manifest.recordedScans(posts: keys),
            references: try await manifest.references(posts: keys))
    }

    /// The manifest's names of the posts at `files`: those `read` made when they are its posts, else made now.
    func keys(of files: [String]) -> [String] {
        files == self.files ? keys : layout.postKeys(files)
    }

    /// The recorded scan of the post at `key` as the scanner would make it now, nil when there is none it may
    /// stand in for.
    fileprivate func reusable(_ key: String, fingerprint: String?) -> (RecordedScan, [ImageReference])? {
        guard let fingerprint, let scan = scans[key], scan.scannedWith == fingerprint else { return nil }
        var references: [ImageReference] = []
        for record in self.references[key] ?? [] {
            guard let reference = FetchPipeline.reference(record) else { return nil }
            references.append(reference)
        }
        return (scan, references)
    }
}

extension ArchiveLayout {
    /// The manifest's names of `posts`: the ones their scans carry (`ScannedPost.key`, made when the scan read
    /// this archive's record of them), the others made now, each folder resolved once.
    func postKeys(of posts: [ScannedPost]) -> [String] {
        var keys = posts.map { $0.key ?? "" }
        let missing = posts.indices.filter { posts[$0].key == nil }
        for (i, key) in zip(missing, postKeys(missing.map { posts[$0].path })) { keys[i] = key }
        return keys
    }
}

/// A site scanned for the stages after it: the images to fetch, the posts as the manifest records them, and how
/// many posts could not be read.
public struct SiteScan: Sendable {
    /// One item per distinct remote URL of the posts and the URL list.
    public var items: [FetchItem]
    /// Every post read, with its hash and references.
    public var posts: [ScannedPost]
    /// Posts that could not be listed or read (each was told to `warn`).
    public var unreadable: Int

    /// Scans the posts under `roots`, then reads the URL list at `urlList`. Each post that cannot be read, each
    /// scan diagnostic and each list line that is not an http(s) URL goes to `warn`, in that order, and the scan
    /// goes on. References that are links into the archive itself (under an archive URL such as
    /// `https://cdn.example/archive`, which `archiveLinks` knows) are left out: they are not images to archive.
    /// Throws `.usage` when the list cannot be read.
    /// With `known` (the manifest's record of the last scans), a post that has not changed since is not read
    /// again (same file stamp) or not scanned again (same bytes): its recorded references stand in.
    public static func collect(
        roots: [String], urlList: String? = nil, scanOptions: ScanOptions, archiveLinks: ArchiveLinker? = nil,
        known: KnownScans? = nil, warn: (String) -> Void
    ) throws(PipelineError) -> SiteScan {
        try collect(
            roots: roots, urlList: urlList, scanOptions: scanOptions, archiveLinks: archiveLinks, known: known,
            now: FileStamp.now(), warn: warn)
    }

    /// `collect` at the time `now` (nanoseconds since 1970), which says whose file stamps are settled.
    static func collect(
        roots: [String], urlList: String? = nil, scanOptions: ScanOptions, archiveLinks: ArchiveLinker? = nil,
        known: KnownScans?, now: Int64, warn: (String) -> Void
    ) throws(PipelineError) -> SiteScan {
        let site = SitePosts(roots: roots, scanOptions: scanOptions, archiveLinks: archiveLinks, now: now, warn: warn)
        let (posts, unreadable) = site.scan(site.files.indices, known: known, warn: warn)
        let listed = try listed(urlList, cdnRules: scanOptions.cdnRules, warn: warn)
        // The items straight from the posts' references, not from a copy of every reference of the site.
        return SiteScan(
            items: FetchItem.items(from: references(of: posts), listed: listed), posts: posts,
            unreadable: site.unlisted + unreadable)
    }

    /// The remote references of `posts` with their post, for `FetchItem.items(from:listed:)`, without a copy.
    static func references(of posts: [ScannedPost]) -> some Sequence<(post: String?, reference: ImageReference)> {
        posts.lazy.flatMap { post in post.references.lazy.map { (post: Optional(post.path), reference: $0) } }
    }

    /// The entries of the URL list at `urlList` (none without one); each line that is not an http(s) URL goes to
    /// `warn`. Throws `.usage` when the list cannot be read.
    static func listed(_ urlList: String?, cdnRules: CDNRules, warn: (String) -> Void) throws(PipelineError)
        -> [URLList.Entry]
    {
        guard let urlList else { return [] }
        let list = try read(urlList: urlList, cdnRules: cdnRules)
        for problem in list.problems { warn(list.message(for: problem)) }
        return list.entries
    }

    /// Reads the URL list at `path` (`fetch --urls`).
    static func read(urlList path: String, cdnRules: CDNRules) throws(PipelineError) -> URLList {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PipelineError(
                code: .usage, message: "--urls \(path): cannot read the list (\(error.localizedDescription))",
                underlying: error)
        }
        return URLList(path: path, text: text, cdnRules: cdnRules)
    }
}

/// The posts under some roots, listed once and scanned a chunk at a time: the commands that work on a site a
/// chunk of posts at a time (rewrite, fetch, the job) hold one chunk's scans, not the whole site's.
struct SitePosts {
    /// How many posts a chunk holds: their scans, plans and outcomes are what a chunked command's memory grows
    /// with, not the site (a few MB of references at most).
    static let chunkSize = 2_000

    /// Every post found under the roots, in the walk's order (their bytes one after another: 1.7 MB for 50,000
    /// posts, 3.2 MB as `String`s).
    let files: PackedStrings
    /// Paths that could not be listed (each was told to `warn`).
    let unlisted: Int
    private let scanner: PostScanner
    private let archiveLinks: ArchiveLinker?
    private let now: Int64

    /// Lists the posts under `roots`; each path that cannot be listed goes to `warn`. `now` (nanoseconds since
    /// 1970) says whose file stamps are settled.
    init(
        roots: [String], scanOptions: ScanOptions, archiveLinks: ArchiveLinker? = nil, now: Int64 = FileStamp.now(),
        warn: (String) -> Void
    ) {
        let (files, problems) = SiteWalker.posts(in: roots)
        for problem in problems { warn("\(problem.path): \(problem.message)") }
        self.files = files
        unlisted = problems.count
        scanner = PostScanner(options: scanOptions)
        self.archiveLinks = archiveLinks
        self.now = now
    }

    /// The ranges of `files` a chunk at a time, in order.
    func chunks(of size: Int = chunkSize) -> [Range<Int>] {
        stride(from: 0, to: files.count, by: max(1, size)).map { $0..<min($0 + max(1, size), files.count) }
    }

    /// Scans the posts at `range` of `files` on all cores. Each post that cannot be read and each scan diagnostic
    /// goes to `warn`, in the posts' order, and the scan goes on. References that are links into the archive
    /// itself are left out. With `known` (the manifest's record of the last scans), a post that has not changed
    /// since is not read again (same file stamp) or not scanned again (same bytes): its recorded references
    /// stand in. Returns the posts read and how many could not be.
    func scan(_ range: Range<Int>, known: KnownScans?, warn: (String) -> Void) -> (
        posts: [ScannedPost], unreadable: Int
    ) {
        let (files, scanner, now) = (Array(self.files[range]), scanner, now)
        var unreadable = 0
        var posts: [ScannedPost] = []
        posts.reserveCapacity(files.count)
        // Each post's name in the manifest, made once here (or by `known`) and carried by its scan.
        let keys = known?.keys(of: files)
        let results = ScanRun.map(files.count) { i -> Result<(ScannedPost, [ScanDiagnostic]), SiteWalker.Problem> in
            let path = files[i]
            let key = keys?[i]
            let prior = key.flatMap { known?.reusable($0, fingerprint: scanner.fingerprint) }
            if case let (record, recorded)? = prior, let stamp = record.file, FileStamp.of(path) == stamp {
                return .success(
                    (
                        ScannedPost(
                            path: path, contentSHA256: record.contentSHA256, references: recorded, file: stamp,
                            scannedWith: record.scannedWith, unchanged: true, key: key), []
                    ))
            }
            return SiteWalker.readStamped(path, now: now).map { bytes, stamp in
                let sha = ArchiveStore.sha256(of: bytes)
                if case let (record, recorded)? = prior, record.contentSHA256 == sha {
                    return (
                        ScannedPost(
                            path: path, contentSHA256: sha, references: recorded, file: stamp,
                            scannedWith: record.scannedWith, key: key), []
                    )
                }
                let scan = scanner.scan(bytes)
                return (
                    ScannedPost(
                        path: path, contentSHA256: sha, references: scan.references, file: stamp,
                        scannedWith: scan.diagnostics.isEmpty ? scanner.fingerprint : nil, key: key),
                    scan.diagnostics
                )
            }
        }
        for (path, result) in zip(files, results) {
            switch result {
            case .failure(let problem):
                unreadable += 1
                warn("\(problem.path): \(problem.message)")
            case .success(let (scanned, diagnostics)):
                for d in diagnostics { warn("\(path):\(d.line): \(d.message)") }
                var post = scanned
                // Only a post that has such a link gets a copy of its references (`results` holds them too).
                if let archiveLinks, post.references.contains(where: { archiveLinks.isArchiveLink($0.url) }) {
                    post.references.removeAll { archiveLinks.isArchiveLink($0.url) }
                }
                posts.append(post)
            }
        }
        return (posts, unreadable)
    }
}
