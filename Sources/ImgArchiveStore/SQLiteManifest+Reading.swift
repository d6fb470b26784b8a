public import Foundation
import GRDB
import ImgArchiveCore
import Synchronization

/// The read side of the SQLite manifest: status, verify, reports, and the lookups of the other flows. The rows of
/// the tables a whole-site read covers are read by column (`SQLiteManifest+Rows.swift`); the others decode into
/// the public records through `Fetched` (GRDB's `Decodable` records).
extension SQLiteManifest: ArchiveLedgerReader {
    // MARK: URLs

    public func urlRecord(_ url: String) async throws(StoreError) -> URLRecord? {
        try await read("reading a URL") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.urlColumns) FROM url WHERE url = ?", arguments: [url])
                .map(Self.urlRecord)
        }
    }

    public func urlRecords(_ urls: [String]) async throws(StoreError) -> [String: URLRecord] {
        try await read("reading URLs") { db in
            var records: [String: URLRecord] = [:]
            try Self.forEachRow(db, "SELECT \(Self.urlColumns) FROM url WHERE url IN", keys: urls) { row in
                let record = try Self.urlRecord(row)
                records[record.url] = record
            }
            return records
        }
    }

    public func allURLRecords() async throws(StoreError) -> [URLRecord] {
        try await read("reading URLs") { db in
            try Self.fetchAll(db, sql: "SELECT \(Self.urlColumns) FROM url ORDER BY url", Self.urlRecord)
        }
    }

    public func linkPages(_ urls: [String]?) async throws(StoreError) -> [String: Date] {
        try await read("reading link pages") { db in
            var pages: [String: Date] = [:]
            if let keys = urls {
                try Self.forEachRow(db, "SELECT url, checked_at FROM link_page WHERE url IN", keys: keys) { row in
                    pages[row[0]] = row[1]
                }
            } else {
                for row in try Row.fetchAll(db, sql: "SELECT url, checked_at FROM link_page") {
                    pages[row["url"]] = row["checked_at"]
                }
            }
            return pages
        }
    }

    public func objectHistory(url: String) async throws(StoreError) -> [String] {
        try await read("reading a URL's history") { db in
            try String.fetchAll(
                db,
                sql: "SELECT object_sha256 FROM url_object WHERE url = ? ORDER BY first_archived_at, object_sha256",
                arguments: [url])
        }
    }

    public func urls(archivedAs sha256: String) async throws(StoreError) -> [(url: String, archivedFrom: String)] {
        let rows = try await read("reading an object's URLs") { db in
            try Fetched<ArchivedURL>.fetchAll(
                db,
                sql: """
                    SELECT url, archived_from FROM url_object WHERE object_sha256 = ?
                    ORDER BY first_archived_at, url
                    """,
                arguments: [sha256])
        }
        return rows.map { (url: $0.record.url, archivedFrom: $0.record.archivedFrom) }
    }

    // MARK: Objects and derivatives

    public func object(sha256: String) async throws(StoreError) -> ObjectRecord? {
        try await read("reading an object") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.objectColumns) FROM object WHERE sha256 = ?", arguments: [sha256])
                .map(Self.objectRecord)
        }
    }

    public func objects(sha256s: some Sequence<String>) async throws(StoreError) -> [String: ObjectRecord] {
        let keys = Array(sha256s)
        return try await read("reading objects") { db in
            var objects: [String: ObjectRecord] = [:]
            try Self.forEachRow(db, "SELECT \(Self.objectColumns) FROM object WHERE sha256 IN", keys: keys) { row in
                let object = try Self.objectRecord(row)
                objects[object.sha256] = object
            }
            return objects
        }
    }

    public func objects(after: String?, limit: Int) async throws(StoreError) -> [ObjectRecord] {
        try await read("reading objects") { db in
            try Self.fetchAll(
                db, sql: "SELECT \(Self.objectColumns) FROM object WHERE sha256 > ? ORDER BY sha256 LIMIT ?",
                arguments: [after ?? "", limit], Self.objectRecord)
        }
    }

    public func thumbnail(sha256: String, width: Int) async throws(StoreError) -> ThumbnailRecord? {
        try await read("reading a thumbnail") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.thumbnailColumns) FROM thumbnail WHERE object_sha256 = ? AND width = ?",
                arguments: [sha256, width]
            ).map(Self.thumbnailRecord)
        }
    }

    public func thumbnails(sha256s: some Sequence<String>) async throws(StoreError)
        -> [String: [Int: ThumbnailRecord]]
    {
        let keys = Array(sha256s)
        return try await read("reading thumbnails") { db in
            var thumbnails: [String: [Int: ThumbnailRecord]] = [:]
            let select = "SELECT \(Self.thumbnailColumns) FROM thumbnail WHERE object_sha256 IN"
            try Self.forEachRow(db, select, keys: keys) { row in
                let record = try Self.thumbnailRecord(row)
                thumbnails[record.objectSHA256, default: [:]][record.width] = record
            }
            return thumbnails
        }
    }

    public func thumbnails(sha256: String?) async throws(StoreError) -> [ThumbnailRecord] {
        try await read("reading thumbnails") { db in
            if let sha256 {
                return try Self.fetchAll(
                    db, sql: "SELECT \(Self.thumbnailColumns) FROM thumbnail WHERE object_sha256 = ? ORDER BY width",
                    arguments: [sha256], Self.thumbnailRecord)
            }
            return try Self.fetchAll(
                db, sql: "SELECT \(Self.thumbnailColumns) FROM thumbnail ORDER BY object_sha256, width",
                Self.thumbnailRecord)
        }
    }

    public func sanitizedSVGs(sha256s: some Sequence<String>) async throws(StoreError)
        -> [String: SanitizedSVGRecord]
    {
        let keys = Set(sha256s)
        return try await read("reading sanitized SVGs") { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM sanitized_svg WHERE object_sha256 = ?")
            var records: [String: SanitizedSVGRecord] = [:]
            for sha256 in keys {
                if let row = try Fetched<SanitizedSVGRecord>.fetchOne(statement, arguments: [sha256]) {
                    records[sha256] = row.record
                }
            }
            return records
        }
    }

    public func sanitizedSVGs() async throws(StoreError) -> [SanitizedSVGRecord] {
        try await read("reading sanitized SVGs") { db in
            try Fetched<SanitizedSVGRecord>.fetchAll(db, sql: "SELECT * FROM sanitized_svg ORDER BY object_sha256")
                .map(\.record)
        }
    }

    // MARK: Posts, references and rewrites

    public func post(_ path: String) async throws(StoreError) -> PostRecord? {
        try await read("reading a post") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.postColumns) FROM post WHERE path = ?", arguments: [path])
                .map(Self.postRecord)
        }
    }

    public func posts() async throws(StoreError) -> [PostRecord] {
        try await read("reading posts") { db in
            try Self.fetchAll(db, sql: "SELECT \(Self.postColumns) FROM post ORDER BY path", Self.postRecord)
        }
    }

    public func recordedScans() async throws(StoreError) -> [String: RecordedScan] {
        try await read("reading posts") { db in
            var all: [String: RecordedScan] = [:]
            let rows = try Row.fetchCursor(
                db,
                sql: ManifestSQL.selectRecordedScans)
            while let row = try rows.next() { all[row[0]] = Self.recordedScan(row) }
            return all
        }
    }

    public func postPaths(after: String?, limit: Int) async throws(StoreError) -> [String] {
        try await read("reading posts") { db in
            try String.fetchAll(db, sql: ManifestSQL.selectPostPaths, arguments: [after ?? "", limit])
        }
    }

    public func recordedScans(posts paths: [String]) async throws(StoreError) -> [String: RecordedScan] {
        let keys = Array(Set(paths))
        return try await read("reading posts") { db in
            var scans: [String: RecordedScan] = [:]
            // A statement per `postsPerStatement` posts, not per post: GRDB's cost per statement run was most of
            // the job's manifest reads on a rerun.
            for part in Self.parts(of: keys) {
                let statement = try db.cachedStatement(sql: ManifestSQL.selectRecordedScans(count: part.count))
                let rows = try Row.fetchCursor(statement, arguments: StatementArguments(part))
                while let row = try rows.next() { scans[row[0]] = Self.recordedScan(row) }
            }
            return scans
        }
    }

    /// `keys` in parts of at most `ManifestSQL.postsPerStatement`.
    private static func parts(of keys: [String]) -> [ArraySlice<String>] {
        stride(from: 0, to: keys.count, by: ManifestSQL.postsPerStatement).map {
            keys[$0..<min($0 + ManifestSQL.postsPerStatement, keys.count)]
        }
    }

    /// A `selectRecordedScans` row, read by position.
    private static func recordedScan(_ row: Row) -> RecordedScan {
        var file: FileStamp?
        if let size: Int64 = row[2], let modified: Int64 = row[3], let changed: Int64 = row[4],
            let inode: Int64 = row[5]
        {
            file = FileStamp(size: size, modified: modified, changed: changed, inode: inode)
        }
        return RecordedScan(contentSHA256: row[1], file: file, scannedWith: row[6])
    }

    public func references(posts paths: [String]) async throws(StoreError) -> [String: [ReferenceRecord]] {
        let keys = Array(Set(paths))
        return try await read("reading references") { db in
            var all: [String: [ReferenceRecord]] = [:]
            for part in Self.parts(of: keys) {
                let statement = try db.cachedStatement(sql: ManifestSQL.selectReferences(count: part.count))
                let rows = try Row.fetchCursor(statement, arguments: StatementArguments(part))
                while let row = try rows.next() { all[row[0], default: []].append(Self.referenceRecord(row)) }
            }
            return all
        }
    }

    /// A reference row of `ManifestSQL.referenceColumns`, read by position.
    private static func referenceRecord(_ row: Row) -> ReferenceRecord {
        ReferenceRecord(
            rangeStart: row[1], rangeEnd: row[2], line: row[3], column: row[4], kind: row[5], written: row[6],
            url: row[7], origin: row[8], width: row[9], wrapped: row[10])
    }

    public func references(post: String) async throws(StoreError) -> [ReferenceRecord] {
        try await read("reading references") { db in
            try Fetched<ReferenceRecord>.fetchAll(
                db, sql: "SELECT * FROM reference WHERE post = ? ORDER BY ordinal", arguments: [post]
            ).map(\.record)
        }
    }

    public func posts(referencing url: String) async throws(StoreError) -> [String] {
        try await read("reading references") { db in
            try String.fetchAll(
                db, sql: "SELECT DISTINCT post FROM reference WHERE url = ? OR origin = ? ORDER BY post",
                arguments: [url, url])
        }
    }

    public func rewriteGenerations(post: String) async throws(StoreError) -> [RewriteGeneration] {
        try await read("reading rewrites") { db in
            try Self.rewriteGenerations(db, where: "WHERE post = ?", arguments: [post])[post] ?? []
        }
    }

    public func allReferences() async throws(StoreError) -> [String: [ReferenceRecord]] {
        try await read("reading references") { db in
            // Read by column (a site has tens of thousands of references): see `rewriteGenerations(_:where:)`.
            var all: [String: [ReferenceRecord]] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT \(ManifestSQL.referenceColumns) FROM reference ORDER BY post, ordinal")
            while let row = try rows.next() { all[row[0], default: []].append(Self.referenceRecord(row)) }
            return all
        }
    }

    public func rewriteGenerations(posts paths: [String]) async throws(StoreError) -> [String: [RewriteGeneration]] {
        let keys = Array(Set(paths))
        return try await read("reading rewrites") { db in
            var all: [String: [RewriteGeneration]] = [:]
            // A statement per `postsPerStatement` posts, as `recordedScans(posts:)`; each post is in one part.
            for part in Self.parts(of: keys) {
                let filter = "WHERE post IN (\(ManifestSQL.placeholders(part.count)))"
                all.merge(
                    try Self.rewriteGenerations(db, where: filter, arguments: StatementArguments(part)),
                    uniquingKeysWith: { $1 })
            }
            return all
        }
    }

    /// The rewrite generations of the posts `filter` selects (a `WHERE` clause on `post`), keyed by post, each
    /// post's oldest first with its spans ordered by range. Rows are read by column, not decoded as `Decodable`
    /// records: a site's rewrites are tens of thousands of rows, and GRDB's decoder maps every column name of
    /// every row.
    private static func rewriteGenerations(_ db: Database, where filter: String, arguments: StatementArguments)
        throws -> [String: [RewriteGeneration]]
    {
        var spans: [String: [Int: [RewriteRecord]]] = [:]
        let spanRows = try Row.fetchCursor(
            db,
            sql: """
                SELECT post, generation, range_start, range_end, replacement, original, url, rewritten_at,
                       context_before, context_after
                FROM rewrite \(filter) ORDER BY post, generation, range_start
                """, arguments: arguments)
        while let row = try spanRows.next() {
            let span = RewriteRecord(
                rangeStart: row[2], rangeEnd: row[3], replacement: row[4], original: row[5], url: row[6],
                rewrittenAt: row[7], contextBefore: row[8], contextAfter: row[9])
            spans[row[0], default: [:]][row[1], default: []].append(span)
        }
        var all: [String: [RewriteGeneration]] = [:]
        let generationRows = try Row.fetchCursor(
            db,
            sql: """
                SELECT post, generation, input_sha256, output_sha256, applied, rewritten_at
                FROM rewrite_generation \(filter) ORDER BY post, generation
                """, arguments: arguments)
        while let row = try generationRows.next() {
            let post: String = row[0]
            let generation: Int = row[1]
            all[post, default: []].append(
                RewriteGeneration(
                    generation: generation, inputSHA256: row[2], outputSHA256: row[3], applied: row[4],
                    rewrittenAt: row[5], spans: spans[post]?[generation] ?? []))
        }
        return all
    }

    public func postStandings(after: String?, limit: Int) async throws(StoreError) -> [PostStanding] {
        try await read("reading the posts' standing") { db in
            let posts = try Self.fetchAll(
                db, sql: ManifestSQL.selectPostChunk, arguments: [after ?? "", limit], Self.postRecord)
            guard let last = posts.last?.path else { return [] }
            let range: StatementArguments = [after ?? "", last]
            // Rows by column position (`ManifestSQL.standingColumns` from the given column on).
            func standing(_ row: Row, from first: Int) throws -> URLStanding? {
                try ManifestSQL.standing { row[first + $0] }
            }
            var references: [String: [PostStanding.Reference]] = [:]
            let referenceRows = try Row.fetchCursor(db, sql: ManifestSQL.selectChunkReferences, arguments: range)
            while let row = try referenceRows.next() {
                references[row[0], default: []].append(
                    PostStanding.Reference(
                        line: row[1], column: row[2], kind: row[3], url: row[4], origin: row[5], width: row[6],
                        standing: try standing(row, from: 8), isLinkPage: row[7]))
            }
            var links: [String: [PostStanding.Link]] = [:]
            let linkRows = try Row.fetchCursor(db, sql: ManifestSQL.selectChunkLinks, arguments: range)
            while let row = try linkRows.next() {
                links[row[0], default: []].append(
                    PostStanding.Link(url: row[1], replacement: row[2], standing: try standing(row, from: 3)))
            }
            var thumbnails: [String: [String: [Int]]] = [:]
            let thumbnailRows = try Row.fetchCursor(db, sql: ManifestSQL.selectChunkThumbnails, arguments: range)
            while let row = try thumbnailRows.next() {
                thumbnails[row[0], default: [:]][row[1], default: []].append(row[2])
            }
            return ManifestSQL.standings(
                posts: posts, references: references, links: links, thumbnails: thumbnails)
        }
    }

    public func rewrittenPosts() async throws(StoreError) -> [String] {
        try await read("reading rewrites") { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT post FROM rewrite_generation ORDER BY post")
        }
    }

    // MARK: Runs

    public func runs(limit: Int) async throws(StoreError) -> [RunRecord] {
        try await read("reading runs") { db in
            try Fetched<RunRecord>.fetchAll(db, sql: "SELECT * FROM run ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map(\.record)
        }
    }
}

/// A row decoded into a `Decodable` record by GRDB: columns are matched to properties by name, snake case
/// to camel case with `sha` spelled `SHA` (`object_sha256` is `objectSHA256`); columns a record has no
/// property for are ignored. Dates and blobs decode as GRDB stores them; a dictionary from its JSON text.
struct Fetched<Record: Decodable & Sendable>: FetchableRecord, Decodable, Sendable {
    var record: Record

    init(from decoder: any Decoder) throws { record = try Record(from: decoder) }

    static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy {
        // GRDB asks for every column of every row: each name is worked out once per process.
        .custom { column in
            ColumnKey(
                stringValue: propertyNames.withLock { names in
                    if let name = names[column] { return name }
                    let name = propertyName(column)
                    names[column] = name
                    return name
                })
        }
    }

    /// `object_sha256` → `objectSHA256`, `created_at` → `createdAt`, `sha256` → `sha256`.
    static func propertyName(_ column: String) -> String {
        let parts = column.split(separator: "_")
        guard let first = parts.first else { return column }
        return String(first)
            + parts.dropFirst().map { part in
                part.hasPrefix("sha") ? "SHA" + part.dropFirst(3) : part.prefix(1).uppercased() + part.dropFirst()
            }.joined()
    }

    private struct ColumnKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// `Fetched.propertyName` of each column name met so far (the schema's few dozen).
private let propertyNames = Mutex<[String: String]>([:])

/// A URL of an object's history (`url_object`).
private struct ArchivedURL: Decodable, Sendable {
    var url: String
    var archivedFrom: String
}
