public import Foundation
import GRDB
import ImgArchiveCore

/// The fetch ledger of the SQLite manifest: planning, outcomes in batches, derivatives, scans and runs.
extension SQLiteManifest: FetchLedger {
    // MARK: Planning

    public func urlsNeedingFetch(candidates: [String], revalidation: Revalidation) async throws(StoreError)
        -> [FetchNeed]
    {
        // The hot path of every fetch's plan (one lookup per URL of the site): the columns are read from GRDB's
        // row by position, and the revalidation columns only for a URL that is due, not decoded into a record.
        try await read("planning fetches") { db in
            let statement = try db.cachedStatement(
                sql: "SELECT status, last_checked_at, etag, last_modified, archived_from FROM url WHERE url = ?")
            var seen = Set<String>()
            var needs: [FetchNeed] = []
            for url in candidates where seen.insert(url).inserted {
                guard let row = try Row.fetchOne(statement, arguments: [url]) else {
                    needs.append(FetchNeed(url: url, reason: .new))
                    continue
                }
                let status: String = row[0]
                if status != URLRecord.Status.archived.rawValue {
                    needs.append(FetchNeed(url: url, reason: .retry))
                } else if revalidation != .never, revalidation.isDue(lastChecked: row[1]) {
                    needs.append(
                        FetchNeed(
                            url: url, reason: .revalidate, etag: row[2], lastModified: row[3], archivedFrom: row[4]))
                }
            }
            return needs
        }
    }

    // MARK: Outcomes

    public func record(_ outcomes: [FetchOutcome]) async throws(StoreError) {
        for object in outcomes.compactMap(\.archivedObject) {
            try ArchiveLayout.checkSHA256(object.sha256)
            try ArchiveLayout.checkRelativePath(object.path)
        }
        let path = path
        try await write("recording fetches") { db in
            for outcome in outcomes {
                switch outcome {
                case .archived(let a): try Self.recordArchived(a, db)
                case .notModified(let n):
                    try db.cachedStatement(
                        sql: ManifestSQL.notModified
                    ).execute(arguments: [n.date, n.httpStatus, n.url])
                    if db.changesCount == 0 {
                        throw StoreError(
                            code: .invalidArgument, path: path,
                            message: "a not-modified answer for \(n.url), which has nothing archived")
                    }
                case .failed(let f):
                    let stamp = f.date.databaseValue
                    try db.cachedStatement(
                        sql: ManifestSQL.upsertFailedURL
                    ).execute(
                        arguments: [
                            f.url, f.httpStatus, f.failureClass.rawValue, f.message, f.attempts, stamp, stamp,
                            f.rescueCheckedAt,
                        ])
                case .linkPage(let p):
                    try db.cachedStatement(
                        sql: ManifestSQL.upsertLinkPage
                    ).execute(arguments: [p.url, p.httpStatus, p.contentType, p.date])
                    // A page is no failure: an earlier failure of the same link is forgotten.
                    try db.cachedStatement(sql: "DELETE FROM url WHERE url = ? AND status = 'failed'")
                        .execute(arguments: [p.url])
                }
            }
        }
    }

    private static func recordArchived(_ a: FetchOutcome.Archived, _ db: Database) throws {
        // A date is bound as text made by a DateFormatter, the costliest part of a row: made once per row (the
        // object is usually created at the fetch's own date).
        let stamp = a.date.databaseValue
        try insertObject(
            a.object, createdAt: a.object.createdAt == a.date ? stamp : a.object.createdAt.databaseValue, db)
        try db.cachedStatement(
            sql: ManifestSQL.upsertArchivedURL
        ).execute(
            arguments: [
                a.url, a.httpStatus, a.attempts, a.etag, a.lastModified, stamp, stamp, stamp, a.object.sha256,
                a.archivedFrom, a.rescue?.timegate, a.rescue?.memento, a.rescue?.capturedAt,
                a.rescue == nil ? nil : stamp,
            ])
        try db.cachedStatement(sql: "DELETE FROM link_page WHERE url = ?").execute(arguments: [a.url])
        try db.cachedStatement(
            sql: ManifestSQL.insertURLObject
        ).execute(arguments: [a.url, a.object.sha256, a.archivedFrom, stamp])
    }

    static func insertObject(_ object: ObjectRecord, createdAt: DatabaseValue, _ db: Database) throws {
        try db.cachedStatement(
            sql: ManifestSQL.insertObject
        ).execute(
            arguments: [
                object.sha256, object.format.fileExtension, object.format.mediaType, object.bytes, object.width,
                object.height, object.path, createdAt,
            ])
    }

    // MARK: Objects and derivatives

    public func recordThumbnail(_ thumbnail: ThumbnailRecord) async throws(StoreError) {
        try await recordThumbnails([thumbnail])
    }

    public func recordThumbnails(_ thumbnails: [ThumbnailRecord]) async throws(StoreError) {
        guard !thumbnails.isEmpty else { return }
        for thumbnail in thumbnails {
            try ArchiveLayout.checkRelativePath(thumbnail.path)
            try ArchiveLayout.checkSHA256(thumbnail.sha256)
        }
        try await write(thumbnails.count == 1 ? "recording a thumbnail" : "recording thumbnails") { db in
            let statement = try db.cachedStatement(
                sql: ManifestSQL.upsertThumbnail)
            for thumbnail in thumbnails {
                try statement.execute(arguments: [
                    thumbnail.objectSHA256, thumbnail.width, thumbnail.sha256, thumbnail.height,
                    thumbnail.format.rawValue, thumbnail.bytes, thumbnail.path, thumbnail.createdAt,
                ])
            }
        }
    }

    public func recordSanitizedSVG(_ record: SanitizedSVGRecord) async throws(StoreError) {
        try ArchiveLayout.checkSHA256(record.objectSHA256)
        if let path = record.path { try ArchiveLayout.checkRelativePath(path) }
        if let sha256 = record.sha256 { try ArchiveLayout.checkSHA256(sha256) }
        guard (record.path == nil) == (record.error != nil), (record.path == nil) == (record.sha256 == nil) else {
            throw StoreError(
                code: .invalidArgument, message: "a sanitized SVG has either a path and digest or an error")
        }
        try await write("recording a sanitized SVG") { db in
            try db.execute(
                sql: ManifestSQL.upsertSanitizedSVG,
                arguments: [
                    record.objectSHA256, record.sha256, record.bytes, record.path, record.removed, record.error,
                    record.createdAt,
                ])
        }
    }

    public func setObjectSize(sha256: String, width: Int, height: Int) async throws(StoreError) {
        let path = path
        try await write("recording an object's size") { db in
            try db.execute(
                sql: "UPDATE object SET width = ?, height = ? WHERE sha256 = ?", arguments: [width, height, sha256])
            if db.changesCount == 0 {
                throw StoreError(code: .invalidArgument, path: path, message: "no object \(sha256) in the manifest")
            }
        }
    }

    @discardableResult
    public func adoptObject(_ object: ObjectRecord) async throws(StoreError) -> Bool {
        try ArchiveLayout.checkSHA256(object.sha256)
        try ArchiveLayout.checkRelativePath(object.path)
        return try await write("adopting an object") { db in
            let known = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM object WHERE sha256 = ? OR path = ?", arguments: [object.sha256, object.path])
            guard known == nil else { return false }
            try Self.insertObject(object, createdAt: object.createdAt.databaseValue, db)
            return true
        }
    }

    // MARK: Scans

    public func replaceReferences(_ scans: [PostReferences], scannedAt: Date) async throws(StoreError) {
        guard !scans.isEmpty else { return }
        try await write("recording a scan") { db in
            let stamp = scannedAt.databaseValue
            let upsertPost = try db.cachedStatement(sql: ManifestSQL.upsertPost)
            let recorded = try db.cachedStatement(
                sql: """
                    SELECT range_start, range_end, line, "column", kind, written, url, origin, width, wrapped
                    FROM reference WHERE post = ? ORDER BY ordinal
                    """)
            let deleteReferences = try db.cachedStatement(sql: "DELETE FROM reference WHERE post = ?")
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO reference (post, ordinal, range_start, range_end, line, "column", kind, written, url,
                                           origin, width, wrapped)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for scan in scans {
                let file = scan.file
                try upsertPost.execute(arguments: [
                    scan.post, scan.contentSHA256, stamp, file?.size, file?.modified, file?.changed, file?.inode,
                    scan.scannedWith,
                ])
                // The same references as recorded (a post scanned again unchanged, the scan a rewrite records
                // before its rewrite): left as they are, so their pages and the URL index's are not written again.
                if try Self.references(recorded, post: scan.post, equal: scan.references) { continue }
                try deleteReferences.execute(arguments: [scan.post])
                for (ordinal, reference) in scan.references.enumerated() {
                    try insert.execute(arguments: [
                        scan.post, ordinal, reference.rangeStart, reference.rangeEnd, reference.line,
                        reference.column, reference.kind, reference.written, reference.url, reference.origin,
                        reference.width, reference.wrapped,
                    ])
                }
            }
        }
    }

    /// Whether the references recorded for `post` (read with `statement`, as `replaceReferences` prepares it)
    /// are `references`, in order.
    private static func references(_ statement: Statement, post: String, equal references: [ReferenceRecord])
        throws -> Bool
    {
        // Every row is read (the statement runs to its end before the caller writes the table), each compared as
        // it comes, by column.
        let rows = try Row.fetchCursor(statement, arguments: [post])
        var count = 0
        var equal = true
        while let row = try rows.next() {
            if equal {
                equal =
                    count < references.count
                    && ReferenceRecord(
                        rangeStart: row[0], rangeEnd: row[1], line: row[2], column: row[3], kind: row[4],
                        written: row[5], url: row[6], origin: row[7], width: row[8], wrapped: row[9])
                        == references[count]
            }
            count += 1
        }
        return equal && count == references.count
    }

    public func removePost(_ path: String) async throws(StoreError) {
        try await write("removing a post") { db in
            try db.execute(sql: "DELETE FROM post WHERE path = ?", arguments: [path])
        }
    }

    // MARK: Runs

    public func startRun(command: String, at date: Date) async throws(StoreError) -> Int64 {
        let path = path
        return try await write("recording a run") { db in
            guard
                let id = try Int64.fetchOne(
                    db, sql: "INSERT INTO run (command, started_at) VALUES (?, ?) RETURNING id",
                    arguments: [command, date])
            else { throw StoreError(code: .database, path: path, message: "recording a run gave no id") }
            return id
        }
    }

    public func finishRun(id: Int64, at date: Date, counts: [String: Int], exitCode: Int) async throws(StoreError) {
        let json: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            json = String(decoding: try encoder.encode(counts), as: UTF8.self)
        } catch {
            throw StoreError(code: .invalidArgument, path: path, message: "run counts: \(error)", underlying: error)
        }
        let path = path
        try await write("recording a run") { db in
            try db.execute(
                sql: "UPDATE run SET finished_at = ?, counts = ?, exit_code = ? WHERE id = ?",
                arguments: [date, json, exitCode, id])
            if db.changesCount == 0 {
                throw StoreError(code: .invalidArgument, path: path, message: "no run \(id) in the manifest")
            }
        }
    }
}
