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

        /// Whether it puts its post on the text report's list: failed, not fetched yet, or shown without the
        /// thumbnail it should have.
        public var needsAttention: Bool { state == .failed || state == .notFetched || thumbnailMissing != nil }
    }

    /// Every entry, ordered by post, then by position.
    public var entries: [Entry]
    /// How many posts the report covers.
    public var postCount: Int

    /// Entries counted by state.
    public var counts: [State: Int] { Totals(entries, posts: postCount).counts }

    /// Archived or rewritten references whose copy a web archive rescued.
    public var rescuedCount: Int { Totals(entries, posts: postCount).rescued }

    /// The posts that have a failed or not yet fetched reference.
    public var postsNeedingAttention: Set<String> {
        Set(entries.lazy.filter(\.needsAttention).map(\.post))
    }

    /// What a report adds up to (its last line), kept while its entries are handed out a post at a time.
    public struct Totals: Sendable, Hashable {
        /// How many posts the report covers.
        public var posts = 0
        /// How many references (entries) it lists.
        public var references = 0
        /// Entries counted by state.
        public var counts: [State: Int] = [:]
        /// Archived or rewritten references whose copy a web archive rescued.
        public var rescued = 0

        /// The totals of `entries`, from `posts` posts.
        init(_ entries: some Sequence<Entry>, posts: Int) {
            self.posts = posts
            add(entries)
        }

        mutating func add(_ entries: some Sequence<Entry>) {
            for e in entries {
                references += 1
                counts[e.state, default: 0] += 1
                if e.rescue != nil { rescued += 1 }
            }
        }
    }

    /// Reads the report from the archive at `archiveRoot`: every post, or only those at or under `paths`
    /// (files or folders, compared as absolute paths from the current folder). Throws `StoreError` when
    /// there is no manifest (`.invalidArgument`, "no archive at ...") or it cannot be read.
    public static func make(
        archiveRoot: URL, paths: [String] = [], manifest location: ManifestLocation = .archiveFolder
    ) async throws -> StatusReport {
        var entries: [Entry] = []
        let totals = try await make(archiveRoot: archiveRoot, paths: paths, manifest: location) { entries += $0 }
        return StatusReport(entries: entries, postCount: totals.posts)
    }

    /// The report of `make(archiveRoot:paths:manifest:)` handed to `each` a post at a time (that post's entries,
    /// in order; posts with no entry are skipped), so a big site's report is never held whole; returns its totals.
    /// A read of the manifest that fails stops it there (the posts before have been handed to `each`).
    public static func make(
        archiveRoot: URL, paths: [String] = [], manifest location: ManifestLocation = .archiveFolder,
        each: ([Entry]) -> Void
    ) async throws -> Totals {
        let layout = ArchiveLayout(root: archiveRoot)
        guard try ArchiveBackend.hasManifest(layout, location: location) else {
            throw StoreError(
                code: .invalidArgument, path: layout.rootPath,
                message: "no archive at \(layout.rootPath); run imgarchive fetch first")
        }
        let manifest = try await ArchiveBackend.openManifest(layout, location: location)
        defer { try? manifest.close() }
        return try await make(ledger: manifest, layout: layout, paths: paths, each: each)
    }

    /// How many posts the report reads at a time: its peak holds one chunk's references and links with their
    /// URLs' standing, whatever the site's size.
    static let chunkSize = 1_000

    /// The report from a ledger, read a chunk of posts at a time (`postStandings(after:limit:)`: each post's
    /// references and rewrite links joined to their URLs' records and objects in the ledger, one read per
    /// chunk), so the peak does not grow with the site. A read that fails stops the report where it is: the
    /// posts before it have been handed to `each`.
    static func make(
        ledger manifest: some ArchiveLedgerReader, layout: ArchiveLayout, paths: [String], chunkSize: Int = chunkSize,
        each: ([Entry]) -> Void
    ) async throws -> Totals {
        let base = layout.postBase
        let filters = paths.map { ArchiveLayout.postPath(layout.postKey($0), base: base) }
        func selected(_ post: PostRecord) -> Bool {
            guard !filters.isEmpty else { return true }
            let path = ArchiveLayout.postPath(post.path, base: base)
            return filters.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
        }
        let here = ArchiveLayout.currentFolder()
        var totals = Totals([], posts: 0)
        var entries: [Entry] = []
        var after: String?
        while true {
            let chunk = try await manifest.postStandings(after: after, limit: chunkSize)
            guard let last = chunk.last else { break }
            after = last.post.path
            for standing in chunk where selected(standing.post) {
                totals.posts += 1
                report(standing, shown: ArchiveLayout.displayPath(standing.post.path, from: here, base: base), &entries)
                guard !entries.isEmpty else { continue }
                totals.add(entries)
                each(entries)
            }
        }
        return totals
    }

    /// One post's entries, into `entries` (emptied first).
    private static func report(_ standing: PostStanding, shown: String, _ entries: inout [Entry]) {
        entries.removeAll(keepingCapacity: true)
        let post = standing.post
        // Only a post with a recorded rewrite has rewrite rows (a revert clears both).
        let rewrites = post.rewrittenAt == nil ? [] : standing.links
        // A JPEG or PNG shown at a width below its own has a thumbnail there unless its making failed.
        func missingThumbnail(_ known: URLStanding?, width: Int?) -> Int? {
            guard let width, let known, let sha = known.objectSHA256,
                known.objectFormat == .jpeg || known.objectFormat == .png
            else { return nil }
            let made = standing.thumbnails[sha] ?? []
            return FetchPlanning.thumbnailWidths(requested: [width], imageWidth: known.objectWidth)
                .first { !made.contains($0) }
        }
        // A scan recorded before the last rewrite still lists the rewritten references (at their old
        // places); one recorded after it lists only the references still remote. Either way each
        // rewritten URL is reported once per rewrite, with the old position when the scan has it.
        let scanIsStale = post.rewrittenAt.map { post.scannedAt <= $0 } ?? false
        // The links each rewritten URL was given, in order, not yet matched to a reference.
        var unmatched: [String: ArraySlice<String>] = [:]
        for r in rewrites { unmatched[r.url, default: []].append(r.replacement) }
        // Link targets that turned out to be pages are not image references: not listed.
        for reference in standing.references
        where
            !(reference.kind == ImageReference.Kind.linkImage.rawValue && reference.standing == nil
            && (reference.isLinkPage
                || FetchPlanning.isUnsignedLink(url: reference.url, origin: reference.origin)))
        {
            let url = reference.url
            let known = reference.standing
            var e = entry(post: shown, reference.line, reference.column, url, known)
            // SVGs that cannot be published: archived, but the posts keep their remote URLs (failed, `unsafe-svg`).
            if e.state == .archived, let refusal = known?.svgRefusal {
                e.state = .failed
                e.errorClass = .unsafeSVG
                e.message = refusal
            }
            if scanIsStale, let link = unmatched[url]?.popFirst() {
                e = Entry(
                    post: shown, line: reference.line, column: reference.column, url: url,
                    state: .rewritten, objectPath: known?.objectPath, link: link)
            }
            if e.state == .archived || e.state == .rewritten {
                e.thumbnailMissing = missingThumbnail(known, width: reference.width)
                e.rescue = known?.rescue
            }
            entries.append(e)
        }
        for r in rewrites {
            guard unmatched[r.url]?.popFirst() != nil else { continue }
            entries.append(
                Entry(
                    post: shown, line: nil, column: nil, url: r.url, state: .rewritten,
                    objectPath: r.standing?.objectPath, link: r.replacement, rescue: r.standing?.rescue))
        }
    }

    private static func entry(post: String, _ line: Int, _ column: Int, _ url: String, _ known: URLStanding?) -> Entry {
        var e = Entry(post: post, line: line, column: column, url: url, state: .notFetched)
        guard let known else { return e }
        switch known.status {
        case .archived:
            e.state = .archived
            e.objectPath = known.objectPath
        case .failed:
            e.state = .failed
            e.errorClass = known.errorClass
            e.httpStatus = known.httpStatus
            e.message = known.errorMessage
            e.failingSince = known.failingSince
        }
        return e
    }
}
