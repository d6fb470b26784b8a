public import Foundation
import GRDB
import ImgArchiveCore

/// The read side of the PostgreSQL manifest: the same queries as `SQLiteManifest+Reading.swift`, with the
/// lookups of many keys made in one statement (`= ANY(?)`) instead of one per key (a network round trip each).
extension PostgresManifest: ArchiveLedgerReader {
    // MARK: URLs

    public func urlRecord(_ url: String) async throws(StoreError) -> URLRecord? {
        try await read("reading a URL") { c throws(StoreError) in
            try c.fetchAll(URLRecord.self, "SELECT * FROM url WHERE url = ?", [url]).first
        }
    }

    public func urlRecords(_ urls: [String]) async throws(StoreError) -> [String: URLRecord] {
        let keys = PostgresConnection.textArray(Set(urls))
        return try await read("reading URLs") { c throws(StoreError) in
            let records = try c.fetchAll(URLRecord.self, "SELECT * FROM url WHERE url = ANY(?::text[])", [keys])
            return Dictionary(records.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func allURLRecords() async throws(StoreError) -> [URLRecord] {
        try await read("reading URLs") { c throws(StoreError) in
            try c.fetchAll(URLRecord.self, "SELECT * FROM url ORDER BY url")
        }
    }

    public func linkPages(_ urls: [String]?) async throws(StoreError) -> [String: Date] {
        let keys = urls.map { PostgresConnection.textArray(Set($0)) }
        return try await read("reading link pages") { c throws(StoreError) in
            let rows =
                if let keys {
                    try c.execute("SELECT url, checked_at FROM link_page WHERE url = ANY(?::text[])", [keys]).rows
                } else {
                    try c.execute("SELECT url, checked_at FROM link_page").rows
                }
            var pages: [String: Date] = [:]
            for row in rows {
                if let url = row["url"] as String?, let date = row["checked_at"] as Date? { pages[url] = date }
            }
            return pages
        }
    }

    public func objectHistory(url: String) async throws(StoreError) -> [String] {
        try await read("reading a URL's history") { c throws(StoreError) in
            try c.execute(
                "SELECT object_sha256 FROM url_object WHERE url = ? ORDER BY first_archived_at, object_sha256", [url]
            ).column(String.self)
        }
    }

    public func urls(archivedAs sha256: String) async throws(StoreError) -> [(url: String, archivedFrom: String)] {
        let rows = try await read("reading an object's URLs") { c throws(StoreError) in
            try c.fetchAll(
                PostgresArchivedURL.self,
                "SELECT url, archived_from FROM url_object WHERE object_sha256 = ? ORDER BY first_archived_at, url",
                [sha256])
        }
        return rows.map { (url: $0.url, archivedFrom: $0.archivedFrom) }
    }

    // MARK: Objects and derivatives

    public func object(sha256: String) async throws(StoreError) -> ObjectRecord? {
        try await read("reading an object") { c throws(StoreError) in
            try c.fetchAll(
                ObjectRecord.self, "SELECT \(SQLiteManifest.objectColumns) FROM object WHERE sha256 = ?", [sha256]
            ).first
        }
    }

    public func objects(sha256s: some Sequence<String>) async throws(StoreError) -> [String: ObjectRecord] {
        let keys = PostgresConnection.textArray(Set(sha256s))
        return try await read("reading objects") { c throws(StoreError) in
            let objects = try c.fetchAll(
                ObjectRecord.self,
                "SELECT \(SQLiteManifest.objectColumns) FROM object WHERE sha256 = ANY(?::text[])", [keys])
            return Dictionary(objects.map { ($0.sha256, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func objects(after: String?, limit: Int) async throws(StoreError) -> [ObjectRecord] {
        try await read("reading objects") { c throws(StoreError) in
            try c.fetchAll(
                ObjectRecord.self,
                "SELECT \(SQLiteManifest.objectColumns) FROM object WHERE sha256 > ? ORDER BY sha256 LIMIT ?",
                [after ?? "", limit])
        }
    }

    public func thumbnail(sha256: String, width: Int) async throws(StoreError) -> ThumbnailRecord? {
        try await read("reading a thumbnail") { c throws(StoreError) in
            try c.fetchAll(
                ThumbnailRecord.self, "SELECT * FROM thumbnail WHERE object_sha256 = ? AND width = ?", [sha256, width]
            ).first
        }
    }

    public func thumbnails(sha256s: some Sequence<String>) async throws(StoreError)
        -> [String: [Int: ThumbnailRecord]]
    {
        let keys = PostgresConnection.textArray(Set(sha256s))
        return try await read("reading thumbnails") { c throws(StoreError) in
            var thumbnails: [String: [Int: ThumbnailRecord]] = [:]
            for record in try c.fetchAll(
                ThumbnailRecord.self, "SELECT * FROM thumbnail WHERE object_sha256 = ANY(?::text[])", [keys])
            {
                thumbnails[record.objectSHA256, default: [:]][record.width] = record
            }
            return thumbnails
        }
    }

    public func thumbnails(sha256: String?) async throws(StoreError) -> [ThumbnailRecord] {
        try await read("reading thumbnails") { c throws(StoreError) in
            if let sha256 {
                return try c.fetchAll(
                    ThumbnailRecord.self, "SELECT * FROM thumbnail WHERE object_sha256 = ? ORDER BY width", [sha256])
            }
            return try c.fetchAll(ThumbnailRecord.self, "SELECT * FROM thumbnail ORDER BY object_sha256, width")
        }
    }

    public func sanitizedSVGs(sha256s: some Sequence<String>) async throws(StoreError)
        -> [String: SanitizedSVGRecord]
    {
        let keys = PostgresConnection.textArray(Set(sha256s))
        return try await read("reading sanitized SVGs") { c throws(StoreError) in
            let records = try c.fetchAll(
                SanitizedSVGRecord.self, "SELECT * FROM sanitized_svg WHERE object_sha256 = ANY(?::text[])", [keys])
            return Dictionary(records.map { ($0.objectSHA256, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func sanitizedSVGs() async throws(StoreError) -> [SanitizedSVGRecord] {
        try await read("reading sanitized SVGs") { c throws(StoreError) in
            try c.fetchAll(SanitizedSVGRecord.self, "SELECT * FROM sanitized_svg ORDER BY object_sha256")
        }
    }

    // MARK: Posts, references and rewrites

    public func post(_ path: String) async throws(StoreError) -> PostRecord? {
        try await read("reading a post") { c throws(StoreError) in
            try c.fetchAll(PostRecord.self, "SELECT * FROM post WHERE path = ?", [path]).first
        }
    }

    public func posts() async throws(StoreError) -> [PostRecord] {
        try await read("reading posts") { c throws(StoreError) in
            try c.fetchAll(PostRecord.self, "SELECT * FROM post ORDER BY path")
        }
    }

    public func recordedScans() async throws(StoreError) -> [String: RecordedScan] {
        try await read("reading posts") { c throws(StoreError) in
            var all: [String: RecordedScan] = [:]
            for row in try c.execute(ManifestSQL.selectRecordedScans).rows {
                if let (path, scan) = Self.recordedScan(row) { all[path] = scan }
            }
            return all
        }
    }

    /// A `selectRecordedScans` row, read by name (a row's columns come back keyed, not in order).
    private static func recordedScan(_ row: Row) -> (String, RecordedScan)? {
        var file: FileStamp?
        if let size: Int64 = row["file_size"], let modified: Int64 = row["file_mtime_ns"],
            let changed: Int64 = row["file_ctime_ns"], let inode: Int64 = row["file_inode"]
        {
            file = FileStamp(size: size, modified: modified, changed: changed, inode: inode)
        }
        guard let path: String = row["path"], let content: String = row["content_sha256"] else { return nil }
        return (path, RecordedScan(contentSHA256: content, file: file, scannedWith: row["scanned_with"]))
    }

    public func allReferences() async throws(StoreError) -> [String: [ReferenceRecord]] {
        let location = location
        return try await read("reading references") { c throws(StoreError) in
            try Self.referencesByPost(c.execute("SELECT * FROM reference ORDER BY post, ordinal").rows, location)
        }
    }

    /// `reference` rows (in post and ordinal order) grouped by post.
    private static func referencesByPost(_ rows: [Row], _ location: String) throws(StoreError)
        -> [String: [ReferenceRecord]]
    {
        var all: [String: [ReferenceRecord]] = [:]
        for row in rows {
            do {
                let post: String = try row.decode(String.self, forColumn: "post")
                all[post, default: []].append(try Fetched<ReferenceRecord>(row: row).record)
            } catch {
                throw StoreError(
                    code: .corrupt, path: location, message: "a reference of \(location) does not decode: \(error)",
                    underlying: error)
            }
        }
        return all
    }

    public func postPaths(after: String?, limit: Int) async throws(StoreError) -> [String] {
        try await read("reading posts") { c throws(StoreError) in
            try c.execute(ManifestSQL.selectPostPaths, [after ?? "", limit]).column(String.self)
        }
    }

    public func recordedScans(posts paths: [String]) async throws(StoreError) -> [String: RecordedScan] {
        let keys = PostgresConnection.textArray(Set(paths))
        return try await read("reading posts") { c throws(StoreError) in
            var scans: [String: RecordedScan] = [:]
            for row in try c.execute(ManifestSQL.selectRecordedScansIn, [keys]).rows {
                if let (path, scan) = Self.recordedScan(row) { scans[path] = scan }
            }
            return scans
        }
    }

    public func references(posts paths: [String]) async throws(StoreError) -> [String: [ReferenceRecord]] {
        let keys = PostgresConnection.textArray(Set(paths))
        let location = location
        return try await read("reading references") { c throws(StoreError) in
            try Self.referencesByPost(c.execute(ManifestSQL.selectReferencesIn, [keys]).rows, location)
        }
    }

    public func references(post: String) async throws(StoreError) -> [ReferenceRecord] {
        try await read("reading references") { c throws(StoreError) in
            try c.fetchAll(ReferenceRecord.self, "SELECT * FROM reference WHERE post = ? ORDER BY ordinal", [post])
        }
    }

    public func posts(referencing url: String) async throws(StoreError) -> [String] {
        try await read("reading references") { c throws(StoreError) in
            try c.execute(
                "SELECT DISTINCT post FROM reference WHERE url = ? OR origin = ? ORDER BY post", [url, url]
            ).column(String.self)
        }
    }

    public func rewriteGenerations(post: String) async throws(StoreError) -> [RewriteGeneration] {
        try await read("reading rewrites") { c throws(StoreError) in
            try Self.generations(c, where: "WHERE post = ?", [post])[post] ?? []
        }
    }

    public func rewriteGenerations(posts paths: [String]) async throws(StoreError) -> [String: [RewriteGeneration]] {
        let keys = PostgresConnection.textArray(Set(paths))
        return try await read("reading rewrites") { c throws(StoreError) in
            try Self.generations(c, where: "WHERE post = ANY(?::text[])", [keys])
        }
    }

    /// The rewrite generations of the posts a `WHERE` clause picks, with their spans, per post.
    private static func generations(
        _ c: PostgresConnection, where clause: String, _ arguments: [(any DatabaseValueConvertible)?]
    ) throws(StoreError) -> [String: [RewriteGeneration]] {
        var spans: [String: [Int: [RewriteRecord]]] = [:]
        for span in try c.fetchAll(
            PostgresRewriteSpan.self, "SELECT * FROM rewrite \(clause) ORDER BY post, generation, range_start",
            arguments)
        {
            spans[span.post, default: [:]][span.generation, default: []].append(span.span)
        }
        var all: [String: [RewriteGeneration]] = [:]
        for g in try c.fetchAll(
            PostgresGenerationRow.self, "SELECT * FROM rewrite_generation \(clause) ORDER BY post, generation",
            arguments)
        {
            all[g.post, default: []].append(
                RewriteGeneration(
                    generation: g.generation, inputSHA256: g.inputSHA256, outputSHA256: g.outputSHA256,
                    applied: g.applied, rewrittenAt: g.rewrittenAt, spans: spans[g.post]?[g.generation] ?? []))
        }
        return all
    }

    public func postStandings(after: String?, limit: Int) async throws(StoreError) -> [PostStanding] {
        let location = location
        return try await read("reading the posts' standing") { c throws(StoreError) in
            let posts = try c.fetchAll(PostRecord.self, ManifestSQL.selectPostChunk, [after ?? "", limit])
            guard let last = posts.last?.path else { return [] }
            let range: [(any DatabaseValueConvertible)?] = [after ?? "", last]
            let names = ManifestSQL.standingColumns.map(\.name)
            var references: [String: [PostStanding.Reference]] = [:]
            var links: [String: [PostStanding.Link]] = [:]
            var thumbnails: [String: [String: [Int]]] = [:]
            let referenceRows = try c.execute(ManifestSQL.selectChunkReferences, range).rows
            let linkRows = try c.execute(ManifestSQL.selectChunkLinks, range).rows
            let thumbnailRows = try c.execute(ManifestSQL.selectChunkThumbnails, range).rows
            do {
                // By name: a row's columns come back keyed, not in order.
                for row in referenceRows {
                    let post: String = try row.decode(String.self, forColumn: "post")
                    references[post, default: []].append(
                        PostStanding.Reference(
                            line: try row.decode(Int.self, forColumn: "line"),
                            column: try row.decode(Int.self, forColumn: "column"),
                            kind: try row.decode(String.self, forColumn: "kind"),
                            url: try row.decode(String.self, forColumn: "url"), origin: row["origin"],
                            width: row["width"], standing: try ManifestSQL.standing { row[names[$0]] ?? .null },
                            isLinkPage: try row.decode(Bool.self, forColumn: "is_link_page")))
                }
                for row in linkRows {
                    let post: String = try row.decode(String.self, forColumn: "post")
                    links[post, default: []].append(
                        PostStanding.Link(
                            url: try row.decode(String.self, forColumn: "url"),
                            replacement: try row.decode(String.self, forColumn: "replacement"),
                            standing: try ManifestSQL.standing { row[names[$0]] ?? .null }))
                }
                for row in thumbnailRows {
                    let post: String = try row.decode(String.self, forColumn: "post")
                    let sha256: String = try row.decode(String.self, forColumn: "object_sha256")
                    thumbnails[post, default: [:]][sha256, default: []].append(
                        try row.decode(Int.self, forColumn: "width"))
                }
            } catch {
                throw StoreError(
                    code: .corrupt, path: location,
                    message: "a post's standing in \(location) does not decode: \(error)",
                    underlying: error)
            }
            return ManifestSQL.standings(
                posts: posts, references: references, links: links, thumbnails: thumbnails)
        }
    }

    public func rewrittenPosts() async throws(StoreError) -> [String] {
        try await read("reading rewrites") { c throws(StoreError) in
            try c.execute("SELECT DISTINCT post FROM rewrite_generation ORDER BY post").column(String.self)
        }
    }

    // MARK: Runs

    public func runs(limit: Int) async throws(StoreError) -> [RunRecord] {
        try await read("reading runs") { c throws(StoreError) in
            try c.fetchAll(RunRecord.self, "SELECT * FROM run ORDER BY id DESC LIMIT ?", [limit])
        }
    }
}

/// A URL of an object's history (`url_object`).
private struct PostgresArchivedURL: Decodable, Sendable {
    var url: String
    var archivedFrom: String
}

/// A row of `rewrite`: a span with its generation.
private struct PostgresRewriteSpan: Decodable, Sendable {
    var post: String
    var generation: Int
    var span: RewriteRecord

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        post = try container.decode(String.self, forKey: .post)
        generation = try container.decode(Int.self, forKey: .generation)
        span = try RewriteRecord(from: decoder)
    }

    private enum Keys: String, CodingKey { case post, generation }
}

/// A row of `rewrite_generation` (the spans come from `rewrite`).
private struct PostgresGenerationRow: Decodable, Sendable {
    var post: String
    var generation: Int
    var inputSHA256: String
    var outputSHA256: String
    var applied: Bool
    var rewrittenAt: Date
}
