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
    public static func scan<T: Sendable>(
        _ posts: [String], with scanner: PostScanner, then: @Sendable @escaping (String, [UInt8], PostScan) -> T,
        inOrder emit: @Sendable (Int, Outcome<T>) -> Void
    ) {
        let order = Mutex<(next: Int, ready: [Int: Outcome<T>])>((0, [:]))
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(workers, max(posts.count, 1))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < posts.count else { return }
                let result: Outcome<T> = SiteWalker.read(posts[i]).map {
                    let scan = scanner.scan($0)
                    return (scan, then(posts[i], $0, scan))
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
    let scans: [String: RecordedScan]
    let references: [String: [ReferenceRecord]]

    /// Reads the records of the archive at `archiveRoot`; nil when it has no manifest yet.
    static func read(archiveRoot: URL, manifest location: ManifestLocation) async throws -> KnownScans? {
        let layout = ArchiveLayout(root: archiveRoot)
        guard try ArchiveBackend.hasManifest(layout, location: location) else { return nil }
        let manifest = try await ArchiveBackend.openManifest(layout, location: location)
        defer { try? manifest.close() }
        return KnownScans(
            layout: layout, scans: try await manifest.recordedScans(), references: try await manifest.allReferences())
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
        let scanner = PostScanner(options: scanOptions)
        let (files, problems) = SiteWalker.posts(in: roots)
        for problem in problems { warn("\(problem.path): \(problem.message)") }
        var unreadable = problems.count
        var posts: [ScannedPost] = []
        let keys = known.map { $0.layout.postKeys(files) }
        let results = ScanRun.map(files.count) { i -> Result<(ScannedPost, [ScanDiagnostic]), SiteWalker.Problem> in
            let path = files[i]
            let prior = keys.flatMap { known?.reusable($0[i], fingerprint: scanner.fingerprint) }
            if case let (record, recorded)? = prior, let stamp = record.file, FileStamp.of(path) == stamp {
                return .success(
                    (
                        ScannedPost(
                            path: path, contentSHA256: record.contentSHA256, references: recorded, file: stamp,
                            scannedWith: record.scannedWith, unchanged: true), []
                    ))
            }
            return SiteWalker.readStamped(path, now: now).map { bytes, stamp in
                let sha = ArchiveStore.sha256(of: bytes)
                if case let (record, recorded)? = prior, record.contentSHA256 == sha {
                    return (
                        ScannedPost(
                            path: path, contentSHA256: sha, references: recorded, file: stamp,
                            scannedWith: record.scannedWith), []
                    )
                }
                let scan = scanner.scan(bytes)
                return (
                    ScannedPost(
                        path: path, contentSHA256: sha, references: scan.references, file: stamp,
                        scannedWith: scan.diagnostics.isEmpty ? scanner.fingerprint : nil), scan.diagnostics
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
        var listed: [URLList.Entry] = []
        if let urlList {
            let list = try read(urlList: urlList, cdnRules: scanOptions.cdnRules)
            for problem in list.problems { warn(list.message(for: problem)) }
            listed = list.entries
        }
        // The items straight from the posts' references, not from a copy of every reference of the site.
        let references = posts.lazy.flatMap { post in
            post.references.lazy.map { (post: Optional(post.path), reference: $0) }
        }
        return SiteScan(items: FetchItem.items(from: references, listed: listed), posts: posts, unreadable: unreadable)
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
