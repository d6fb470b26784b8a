import Foundation
import GRDB
import ImgArchiveCore

/// The records of the tables a whole-site read covers (`url`, `object`, `thumbnail`, `post`), read from GRDB's
/// rows by column position instead of decoded as `Decodable` records through `Fetched`: GRDB's decoder looks up
/// every column of every row by name, which was most of `status`'s CPU on a site of tens of thousands of URLs.
/// Each `...Columns` list is the `SELECT` list its reader expects, in order; values convert as the decoder
/// converted them (dates as GRDB stores them), and a value this version cannot read (an unknown status or
/// format) throws a `DecodingError`, which the manifest reports as corrupt, as the decoder did.
extension SQLiteManifest {
    static let urlColumns = """
        url, status, http_status, error_class, error_message, attempts, etag, last_modified, first_fetched_at,
        last_fetched_at, last_checked_at, failing_since, object_sha256, archived_from, rescue_timegate,
        rescue_memento, rescue_memento_at, rescue_checked_at
        """

    static func urlRecord(_ row: Row) throws -> URLRecord {
        let status: String = try row.decode(atIndex: 1)
        guard let known = URLRecord.Status(rawValue: status) else { throw ManifestSQL.unreadable("URL status", status) }
        let errorClass: String? = try row.decode(atIndex: 3)
        var record = URLRecord(
            url: try row.decode(atIndex: 0), status: known, httpStatus: try row.decode(atIndex: 2),
            // A class this version does not know reads as `other`, as `FailureClass`'s decoder has it.
            errorClass: errorClass.map { FailureClass(rawValue: $0) ?? .other },
            errorMessage: try row.decode(atIndex: 4),
            attempts: try row.decode(atIndex: 5), etag: try row.decode(atIndex: 6),
            lastModified: try row.decode(atIndex: 7), firstFetchedAt: try row.decode(atIndex: 8),
            lastFetchedAt: try row.decode(atIndex: 9), lastCheckedAt: try row.decode(atIndex: 10),
            failingSince: try row.decode(atIndex: 11), objectSHA256: try row.decode(atIndex: 12),
            archivedFrom: try row.decode(atIndex: 13), rescueCheckedAt: try row.decode(atIndex: 17))
        // Each column as stored (the initializer's `rescue` sets the three only together).
        record.rescueTimegate = try row.decode(atIndex: 14)
        record.rescueMemento = try row.decode(atIndex: 15)
        record.rescueMementoAt = try row.decode(atIndex: 16)
        return record
    }

    /// The `object` table's columns as `ObjectRecord` names them (`ext` holds its format; the PostgreSQL ledger
    /// decodes its rows by these names).
    static let objectColumns = "sha256, ext AS format, bytes, width, height, path, created_at"

    static func objectRecord(_ row: Row) throws -> ObjectRecord {
        ObjectRecord(
            sha256: try row.decode(atIndex: 0), format: try imageFormat(row, 1), bytes: try row.decode(atIndex: 2),
            width: try row.decode(atIndex: 3), height: try row.decode(atIndex: 4), path: try row.decode(atIndex: 5),
            createdAt: try row.decode(atIndex: 6))
    }

    static let thumbnailColumns = "object_sha256, width, sha256, height, format, bytes, path, created_at"

    static func thumbnailRecord(_ row: Row) throws -> ThumbnailRecord {
        ThumbnailRecord(
            objectSHA256: try row.decode(atIndex: 0), width: try row.decode(atIndex: 1),
            sha256: try row.decode(atIndex: 2), height: try row.decode(atIndex: 3), format: try imageFormat(row, 4),
            bytes: try row.decode(atIndex: 5), path: try row.decode(atIndex: 6), createdAt: try row.decode(atIndex: 7))
    }

    static let postColumns = "path, content_sha256, scanned_at, rewritten_at, rewritten_sha256"

    static func postRecord(_ row: Row) throws -> PostRecord {
        PostRecord(
            path: try row.decode(atIndex: 0), contentSHA256: try row.decode(atIndex: 1),
            scannedAt: try row.decode(atIndex: 2), rewrittenAt: try row.decode(atIndex: 3),
            rewrittenSHA256: try row.decode(atIndex: 4))
    }

    /// Every row `sql` selects, each made into a record by `make`, in the query's order.
    static func fetchAll<Record>(
        _ db: Database, sql: String, arguments: StatementArguments = [], _ make: (Row) throws -> Record
    ) throws -> [Record] {
        var records: [Record] = []
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() { records.append(try make(row)) }
        return records
    }

    /// How many keys one `IN` list of `forEachRow(_:_:keys:_:)` holds.
    static let keysPerStatement = 500

    /// Hands `body` every row of `select` (a query ending in `WHERE column IN`) for `keys`, their list added to
    /// the query `keysPerStatement` at a time, in the keys' sorted order: one statement per list instead of one run
    /// per key (whose bindings and cursor cost more than the lookup), and the index's pages visited in order.
    static func forEachRow(
        _ db: Database, _ select: String, keys: some Sequence<String>, _ body: (Row) throws -> Void
    ) throws {
        let sorted = Set(keys).sorted()
        var start = 0
        while start < sorted.count {
            let end = min(start + keysPerStatement, sorted.count)
            let sql = select + " (" + repeatElement("?", count: end - start).joined(separator: ",") + ")"
            // A full list's statement is kept for the next one; a shorter one, whose length varies, is not.
            let statement =
                end - start == keysPerStatement ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(sorted[start..<end]))
            while let row = try rows.next() { try body(row) }
            start = end
        }
    }

    private static func imageFormat(_ row: Row, _ index: Int) throws -> ImageFormat {
        let name: String = try row.decode(atIndex: index)
        guard let format = ImageFormat(nameOrExtension: name) else {
            throw ManifestSQL.unreadable("image format", name)
        }
        return format
    }
}
