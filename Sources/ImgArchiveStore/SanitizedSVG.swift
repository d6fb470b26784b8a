public import Foundation
import GRDB

/// The sanitized copy of one SVG original (what posts link to), or why the SVG cannot be published.
public struct SanitizedSVGRecord: Sendable, Hashable {
    /// The original's SHA-256.
    public var objectSHA256: String
    /// The SHA-256 of the sanitized copy's bytes (what `verify` re-hashes); nil when there is no copy.
    public var sha256: String?
    /// Its size in bytes; nil when there is no copy.
    public var bytes: Int64?
    /// Its path relative to the archive root (`svg/ab/<original sha256>.svg`); nil when there is no copy.
    public var path: String?
    /// How many elements, attributes, declarations and entity references the sanitizer removed.
    public var removed: Int
    /// Why the SVG cannot be published (not well-formed XML, ...); nil when there is a copy.
    public var error: String?
    /// When it was made (or refused).
    public var createdAt: Date

    /// Creates a record.
    public init(
        objectSHA256: String, sha256: String?, bytes: Int64?, path: String?, removed: Int, error: String?,
        createdAt: Date
    ) {
        self.objectSHA256 = objectSHA256
        self.sha256 = sha256
        self.bytes = bytes
        self.path = path
        self.removed = removed
        self.error = error
        self.createdAt = createdAt
    }
}

extension Manifest {
    /// Records (or replaces) the sanitized copy of an SVG original, or the reason there is none.
    public func recordSanitizedSVG(_ record: SanitizedSVGRecord) throws(StoreError) {
        try ArchiveLayout.checkSHA256(record.objectSHA256)
        if let path = record.path { try ArchiveLayout.checkRelativePath(path) }
        if let sha256 = record.sha256 { try ArchiveLayout.checkSHA256(sha256) }
        guard (record.path == nil) == (record.error != nil), (record.path == nil) == (record.sha256 == nil) else {
            throw StoreError(
                code: .invalidArgument, message: "a sanitized SVG has either a path and digest or an error")
        }
        try write("recording a sanitized SVG") { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO sanitized_svg (object_sha256, sha256, bytes, path, removed, error, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.objectSHA256, record.sha256, record.bytes, record.path, record.removed, record.error,
                    record.createdAt,
                ])
        }
    }

    /// The sanitized copies (or refusals) of these SVG originals, keyed by the original's digest; one read.
    public func sanitizedSVGs(sha256s: some Sequence<String>) throws(StoreError) -> [String: SanitizedSVGRecord] {
        try read("reading sanitized SVGs") { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM sanitized_svg WHERE object_sha256 = ?")
            var records: [String: SanitizedSVGRecord] = [:]
            for sha256 in Set(sha256s) {
                if let row = try Row.fetchOne(statement, arguments: [sha256]) {
                    records[sha256] = try Self.sanitizedSVGRecord(row)
                }
            }
            return records
        }
    }

    /// Every sanitized copy or refusal, ordered by the original's digest (for `verify`).
    public func sanitizedSVGs() throws(StoreError) -> [SanitizedSVGRecord] {
        try read("reading sanitized SVGs") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sanitized_svg ORDER BY object_sha256").map(
                Self.sanitizedSVGRecord)
        }
    }

    private static func sanitizedSVGRecord(_ row: Row) throws -> SanitizedSVGRecord {
        SanitizedSVGRecord(
            objectSHA256: try row.decode(forColumn: "object_sha256"), sha256: try row.decode(forColumn: "sha256"),
            bytes: try row.decode(forColumn: "bytes"), path: try row.decode(forColumn: "path"),
            removed: try row.decode(forColumn: "removed"), error: try row.decode(forColumn: "error"),
            createdAt: try row.decode(forColumn: "created_at"))
    }
}
