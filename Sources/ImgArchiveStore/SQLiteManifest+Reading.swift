public import Foundation
import GRDB
import Synchronization

/// The read side of the SQLite manifest: status, verify, reports, and the lookups of the other flows. Rows
/// decode into the public records through `Fetched` (GRDB's `Decodable` records).
extension SQLiteManifest: ArchiveLedgerReader {
    // MARK: URLs

    public func urlRecord(_ url: String) async throws(StoreError) -> URLRecord? {
        try await read("reading a URL") { db in
            try Fetched<URLRecord>.fetchOne(db, sql: "SELECT * FROM url WHERE url = ?", arguments: [url])?.record
        }
    }

    public func urlRecords(_ urls: [String]) async throws(StoreError) -> [String: URLRecord] {
        let keys = Set(urls)
        return try await read("reading URLs") { db in
            var records: [String: URLRecord] = [:]
            let statement = try db.cachedStatement(sql: "SELECT * FROM url WHERE url = ?")
            for url in keys {
                if let row = try Fetched<URLRecord>.fetchOne(statement, arguments: [url]) { records[url] = row.record }
            }
            return records
        }
    }

    public func allURLRecords() async throws(StoreError) -> [URLRecord] {
        try await read("reading URLs") { db in
            try Fetched<URLRecord>.fetchAll(db, sql: "SELECT * FROM url ORDER BY url").map(\.record)
        }
    }

    public func linkPages(_ urls: [String]?) async throws(StoreError) -> [String: Date] {
        let keys = urls.map(Set.init)
        return try await read("reading link pages") { db in
            var pages: [String: Date] = [:]
            if let keys {
                let statement = try db.cachedStatement(sql: "SELECT checked_at FROM link_page WHERE url = ?")
                for url in keys {
                    if let date = try Date.fetchOne(statement, arguments: [url]) { pages[url] = date }
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
            try Fetched<ObjectRecord>.fetchOne(
                db, sql: "SELECT \(Self.objectColumns) FROM object WHERE sha256 = ?", arguments: [sha256])?.record
        }
    }

    public func objects(sha256s: some Sequence<String>) async throws(StoreError) -> [String: ObjectRecord] {
        let keys = Set(sha256s)
        return try await read("reading objects") { db in
            let statement = try db.cachedStatement(sql: "SELECT \(Self.objectColumns) FROM object WHERE sha256 = ?")
            var objects: [String: ObjectRecord] = [:]
            for sha256 in keys {
                if let row = try Fetched<ObjectRecord>.fetchOne(statement, arguments: [sha256]) {
                    objects[sha256] = row.record
                }
            }
            return objects
        }
    }

    public func objects() async throws(StoreError) -> [ObjectRecord] {
        try await read("reading objects") { db in
            try Fetched<ObjectRecord>.fetchAll(db, sql: "SELECT \(Self.objectColumns) FROM object ORDER BY sha256")
                .map(\.record)
        }
    }

    public func thumbnail(sha256: String, width: Int) async throws(StoreError) -> ThumbnailRecord? {
        try await read("reading a thumbnail") { db in
            try Fetched<ThumbnailRecord>.fetchOne(
                db, sql: "SELECT * FROM thumbnail WHERE object_sha256 = ? AND width = ?", arguments: [sha256, width]
            )?.record
        }
    }

    public func thumbnails(sha256s: some Sequence<String>) async throws(StoreError)
        -> [String: [Int: ThumbnailRecord]]
    {
        let keys = Set(sha256s)
        return try await read("reading thumbnails") { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM thumbnail WHERE object_sha256 = ?")
            var thumbnails: [String: [Int: ThumbnailRecord]] = [:]
            for sha256 in keys {
                for row in try Fetched<ThumbnailRecord>.fetchAll(statement, arguments: [sha256]) {
                    thumbnails[sha256, default: [:]][row.record.width] = row.record
                }
            }
            return thumbnails
        }
    }

    public func thumbnails(sha256: String?) async throws(StoreError) -> [ThumbnailRecord] {
        try await read("reading thumbnails") { db in
            if let sha256 {
                return try Fetched<ThumbnailRecord>.fetchAll(
                    db, sql: "SELECT * FROM thumbnail WHERE object_sha256 = ? ORDER BY width", arguments: [sha256]
                ).map(\.record)
            }
            return try Fetched<ThumbnailRecord>.fetchAll(
                db, sql: "SELECT * FROM thumbnail ORDER BY object_sha256, width"
            ).map(\.record)
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
            try Fetched<PostRecord>.fetchOne(db, sql: "SELECT * FROM post WHERE path = ?", arguments: [path])?.record
        }
    }

    public func posts() async throws(StoreError) -> [PostRecord] {
        try await read("reading posts") { db in
            try Fetched<PostRecord>.fetchAll(db, sql: "SELECT * FROM post ORDER BY path").map(\.record)
        }
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
            var all: [String: [ReferenceRecord]] = [:]
            for row in try Fetched<PostReference>.fetchAll(db, sql: "SELECT * FROM reference ORDER BY post, ordinal") {
                all[row.record.post, default: []].append(row.record.reference)
            }
            return all
        }
    }

    public func allRewriteGenerations() async throws(StoreError) -> [String: [RewriteGeneration]] {
        try await read("reading rewrites") { db in try Self.rewriteGenerations(db, where: "", arguments: []) }
    }

    /// The rewrite generations of the posts `filter` selects (a `WHERE` clause on `post`, or empty for all),
    /// keyed by post, each post's oldest first with its spans ordered by range.
    private static func rewriteGenerations(_ db: Database, where filter: String, arguments: StatementArguments)
        throws -> [String: [RewriteGeneration]]
    {
        var spans: [String: [Int: [RewriteRecord]]] = [:]
        for span in try Fetched<RewriteSpan>.fetchAll(
            db, sql: "SELECT * FROM rewrite \(filter) ORDER BY post, generation, range_start", arguments: arguments)
        {
            spans[span.record.post, default: [:]][span.record.generation, default: []].append(span.record.span)
        }
        var all: [String: [RewriteGeneration]] = [:]
        for row in try Fetched<RewriteGeneration.Row>.fetchAll(
            db, sql: "SELECT * FROM rewrite_generation \(filter) ORDER BY post, generation", arguments: arguments)
        {
            let g = row.record
            all[g.post, default: []].append(
                RewriteGeneration(
                    generation: g.generation, inputSHA256: g.inputSHA256, outputSHA256: g.outputSHA256,
                    applied: g.applied, rewrittenAt: g.rewrittenAt, spans: spans[g.post]?[g.generation] ?? []))
        }
        return all
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

    /// The `object` table's columns as `ObjectRecord` names them (`ext` holds its format).
    static let objectColumns = "sha256, ext AS format, bytes, width, height, path, created_at"
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

/// A row of `rewrite`: a span with its post and generation.
private struct RewriteSpan: Decodable, Sendable {
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

/// A row of `reference`: a reference with its post.
private struct PostReference: Decodable, Sendable {
    var post: String
    var reference: ReferenceRecord

    init(from decoder: any Decoder) throws {
        post = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .post)
        reference = try ReferenceRecord(from: decoder)
    }

    private enum Keys: String, CodingKey { case post }
}

extension RewriteGeneration {
    /// A row of `rewrite_generation` (the spans come from `rewrite`).
    fileprivate struct Row: Decodable, Sendable {
        var post: String
        var generation: Int
        var inputSHA256: String
        var outputSHA256: String
        var applied: Bool
        var rewrittenAt: Date
    }
}
