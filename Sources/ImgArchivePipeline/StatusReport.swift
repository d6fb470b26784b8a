public import Foundation
public import ImgArchiveCore
public import ImgArchiveStore

/// The link-rot report: every reference the manifest knows, per post, with where it stands. Read-only and
/// lock-free (the manifest is in WAL mode, so it works while a fetch runs).
public struct StatusReport: Sendable {
    /// Where one reference stands.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// The post now points at the archive (the rewrite table has it).
        case rewritten
        /// Archived, the post not yet rewritten.
        case archived
        /// Every fetch of the URL failed.
        case failed
        /// No fetch of the URL was recorded yet.
        case notFetched = "not-fetched"
    }

    /// One reference of one post.
    public struct Entry: Sendable, Hashable {
        /// The post's path, as recorded by the scan.
        public var post: String
        /// The 1-based line in the post, when known (a rewritten reference recorded before its post was
        /// scanned again has none).
        public var line: Int?
        /// The 1-based column in the post, when known.
        public var column: Int?
        /// The URL as written in the post (resolved).
        public var url: String
        /// Where it stands.
        public var state: State
        /// The failure class (`dns`, `http-4xx`, `not-an-image`, ...), for failed references.
        public var errorClass: FailureClass?
        /// The last HTTP status, for failed references.
        public var httpStatus: Int?
        /// What went wrong and what to do, for failed references.
        public var message: String?
        /// When the URL started failing, for failed references.
        public var failingSince: Date?
        /// The archived object's path, relative to the archive, when archived or rewritten.
        public var objectPath: String?
        /// What the post links to now, as written there (a thumbnail's or the original's path), when rewritten.
        public var link: String?
        /// The width the post shows an archived JPEG or PNG at, when no thumbnail of that width is recorded
        /// (its making failed): the post links the original instead.
        public var thumbnailMissing: Int?
        /// Where the archived copy came from when a web archive rescued it (nil when it came from the web).
        public var rescue: MementoProvenance? = nil
    }

    /// Every entry, ordered by post, then by position.
    public var entries: [Entry]
    /// How many posts the report covers.
    public var postCount: Int

    /// Entries counted by state.
    public var counts: [State: Int] { entries.reduce(into: [:]) { $0[$1.state, default: 0] += 1 } }

    /// Archived or rewritten references whose copy a web archive rescued.
    public var rescuedCount: Int { entries.lazy.filter { $0.rescue != nil }.count }

    /// The posts that have a failed or not yet fetched reference.
    public var postsNeedingAttention: Set<String> {
        Set(
            entries.lazy.filter { $0.state == .failed || $0.state == .notFetched || $0.thumbnailMissing != nil }
                .map(\.post))
    }

    /// Reads the report from the archive at `archiveRoot`: every post, or only those at or under `paths`
    /// (files or folders, compared as absolute paths from the current folder). Throws `StoreError` when
    /// there is no manifest (`.invalidArgument`, "no archive at ...") or it cannot be read.
    public static func make(
        archiveRoot: URL, paths: [String] = [], manifest location: ManifestLocation = .archiveFolder
    ) async throws -> StatusReport {
        let layout = ArchiveLayout(root: archiveRoot)
        guard try ArchiveBackend.hasManifest(layout, location: location) else {
            throw StoreError(
                code: .invalidArgument, path: layout.rootPath,
                message: "no archive at \(layout.rootPath); run imgarchive fetch first")
        }
        let manifest = try await ArchiveBackend.openManifest(layout, location: location)
        defer { try? manifest.close() }
        return try await make(ledger: manifest, layout: layout, paths: paths)
    }

    /// The report from a ledger.
    static func make(ledger manifest: some ArchiveLedgerReader, layout: ArchiveLayout, paths: [String])
        async throws -> StatusReport
    {
        let filters = paths.map { layout.postPath(layout.postKey($0)) }
        let posts = try await manifest.posts().filter { post in
            guard !filters.isEmpty else { return true }
            let path = layout.postPath(post.path)
            return filters.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
        }
        var entries: [Entry] = []
        // Two queries for every URL and object beat one per reference (a blog has thousands).
        let urls = Dictionary(try await manifest.allURLRecords().map { ($0.url, $0) }, uniquingKeysWith: { a, _ in a })
        // Link targets that turned out to be pages are not image references: not listed.
        let pages = try await manifest.linkPages()
        // SVGs that cannot be published: archived, but the posts keep their remote URLs (failed, `unsafe-svg`).
        let refusals = Dictionary(
            try await manifest.sanitizedSVGs().compactMap { r in r.error.map { (r.objectSHA256, $0) } },
            uniquingKeysWith: { a, _ in a })
        let objects = try await manifest.objects()
        let objectPaths = Dictionary(objects.map { ($0.sha256, $0.path) }, uniquingKeysWith: { a, _ in a })
        let objectsBySHA = Dictionary(objects.map { ($0.sha256, $0) }, uniquingKeysWith: { a, _ in a })
        let thumbnails = Set(try await manifest.thumbnails().map { "\($0.objectSHA256)/\($0.width)" })
        // A JPEG or PNG shown at a width below its own has a thumbnail there unless its making failed.
        func missingThumbnail(_ url: String, width: Int?) -> Int? {
            guard let width, let sha = urls[url]?.objectSHA256, let object = objectsBySHA[sha],
                object.format == .jpeg || object.format == .png
            else { return nil }
            return FetchPlanning.thumbnailWidths(requested: [width], imageWidth: object.width)
                .first { !thumbnails.contains("\(sha)/\($0)") }
        }
        // Every post's references and rewrites in two reads, not two per post.
        let allReferences = try await manifest.allReferences()
        let allRewrites = try await manifest.allRewriteGenerations()
        let here = ArchiveLayout.currentFolder()
        for post in posts {
            let references = allReferences[post.path] ?? []
            // Only a post with a recorded rewrite has rewrite rows (a revert clears both).
            let rewrites =
                post.rewrittenAt == nil ? [] : (allRewrites[post.path] ?? []).filter(\.applied).flatMap(\.spans)
            let shown = layout.displayPath(post.path, from: here)
            // A scan recorded before the last rewrite still lists the rewritten references (at their old
            // places); one recorded after it lists only the references still remote. Either way each
            // rewritten URL is reported once per rewrite, with the old position when the scan has it.
            let scanIsStale = post.rewrittenAt.map { post.scannedAt <= $0 } ?? false
            // The links each rewritten URL was given, in order, not yet matched to a reference.
            var unmatched: [String: ArraySlice<String>] = [:]
            for r in rewrites { unmatched[r.url, default: []].append(r.replacement) }
            for reference in references
            where
                !(reference.kind == ImageReference.Kind.linkImage.rawValue && urls[reference.url] == nil
                && (pages[reference.url] != nil
                    || FetchPlanning.isUnsignedLink(url: reference.url, origin: reference.origin)))
            {
                let url = reference.url
                var e = entry(
                    post: shown, reference.line, reference.column, url, urls[url], objectPaths)
                if e.state == .archived, let sha = urls[url]?.objectSHA256, let refusal = refusals[sha] {
                    e.state = .failed
                    e.errorClass = .unsafeSVG
                    e.message = refusal
                }
                if scanIsStale, let link = unmatched[url]?.popFirst() {
                    e = Entry(
                        post: shown, line: reference.line, column: reference.column, url: url,
                        state: .rewritten, objectPath: objectPath(urls[url], objectPaths), link: link)
                }
                if e.state == .archived || e.state == .rewritten {
                    e.thumbnailMissing = missingThumbnail(url, width: reference.width)
                    e.rescue = urls[url]?.rescue
                }
                entries.append(e)
            }
            for r in rewrites {
                guard unmatched[r.url]?.popFirst() != nil else { continue }
                entries.append(
                    Entry(
                        post: shown, line: nil, column: nil, url: r.url, state: .rewritten,
                        objectPath: objectPath(urls[r.url], objectPaths), link: r.replacement,
                        rescue: urls[r.url]?.rescue))
            }
        }
        return StatusReport(entries: entries, postCount: posts.count)
    }

    private static func objectPath(_ record: URLRecord?, _ objectPaths: [String: String]) -> String? {
        record?.objectSHA256.flatMap { objectPaths[$0] }
    }

    private static func entry(
        post: String, _ line: Int, _ column: Int, _ url: String, _ record: URLRecord?,
        _ objectPaths: [String: String]
    ) -> Entry {
        var e = Entry(post: post, line: line, column: column, url: url, state: .notFetched)
        guard let record else { return e }
        switch record.status {
        case .archived:
            e.state = .archived
            e.objectPath = objectPath(record, objectPaths)
        case .failed:
            e.state = .failed
            e.errorClass = record.errorClass
            e.httpStatus = record.httpStatus
            e.message = record.errorMessage
            e.failingSince = record.failingSince
        }
        return e
    }

}
