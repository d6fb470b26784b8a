public import Foundation
import GRDB

/// The fetch ledger of the PostgreSQL manifest: the statements of `SQLiteManifest+Fetch.swift` (the long ones
/// shared through `ManifestSQL`), with the plan read in one statement.
extension PostgresManifest: FetchLedger {
    // MARK: Planning

    public func urlsNeedingFetch(candidates: [String], revalidation: Revalidation) async throws(StoreError)
        -> [FetchNeed]
    {
        let keys = PostgresConnection.textArray(Set(candidates))
        let known = try await read("planning fetches") { c throws(StoreError) in
            try c.fetchAll(URLRecord.self, "SELECT * FROM url WHERE url = ANY(?::text[])", [keys])
        }
        let records = Dictionary(known.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        var seen = Set<String>()
        var needs: [FetchNeed] = []
        for url in candidates where seen.insert(url).inserted {
            guard let row = records[url] else {
                needs.append(FetchNeed(url: url, reason: .new))
                continue
            }
            if row.status != .archived {
                needs.append(FetchNeed(url: url, reason: .retry))
            } else if revalidation.isDue(lastChecked: row.lastCheckedAt) {
                needs.append(
                    FetchNeed(
                        url: url, reason: .revalidate, etag: row.etag, lastModified: row.lastModified,
                        archivedFrom: row.archivedFrom))
            }
        }
        return needs
    }

    // MARK: Outcomes

    public func record(_ outcomes: [FetchOutcome]) async throws(StoreError) {
        for object in outcomes.compactMap(\.archivedObject) {
            try ArchiveLayout.checkSHA256(object.sha256)
            try ArchiveLayout.checkRelativePath(object.path)
        }
        let location = location
        try await write("recording fetches") { c throws(StoreError) in
            for outcome in outcomes {
                switch outcome {
                case .archived(let a): try Self.recordArchived(a, c)
                case .notModified(let n):
                    let changed = try c.execute(
                        ManifestSQL.notModified, [n.date, n.httpStatus, n.url]
                    ).changes
                    if changed == 0 {
                        throw StoreError(
                            code: .invalidArgument, path: location,
                            message: "a not-modified answer for \(n.url), which has nothing archived")
                    }
                case .failed(let f):
                    let stamp = f.date.databaseValue
                    try c.execute(
                        ManifestSQL.upsertFailedURL,
                        [
                            f.url, f.httpStatus, f.failureClass.rawValue, f.message, f.attempts, stamp, stamp,
                            f.rescueCheckedAt,
                        ])
                case .linkPage(let p):
                    try c.execute(
                        ManifestSQL.upsertLinkPage, [p.url, p.httpStatus, p.contentType, p.date])
                    // A page is no failure: an earlier failure of the same link is forgotten.
                    try c.execute("DELETE FROM url WHERE url = ? AND status = 'failed'", [p.url])
                }
            }
        }
    }

    private static func recordArchived(_ a: FetchOutcome.Archived, _ c: PostgresConnection) throws(StoreError) {
        let stamp = a.date.databaseValue
        try insertObject(a.object, createdAt: a.object.createdAt.databaseValue, c)
        try c.execute(
            ManifestSQL.upsertArchivedURL,
            [
                a.url, a.httpStatus, a.attempts, a.etag, a.lastModified, stamp, stamp, stamp, a.object.sha256,
                a.archivedFrom, a.rescue?.timegate, a.rescue?.memento, a.rescue?.capturedAt,
                a.rescue == nil ? nil : stamp,
            ])
        try c.execute("DELETE FROM link_page WHERE url = ?", [a.url])
        try c.execute(
            ManifestSQL.insertURLObject, [a.url, a.object.sha256, a.archivedFrom, stamp])
    }

    private static func insertObject(_ object: ObjectRecord, createdAt: DatabaseValue, _ c: PostgresConnection)
        throws(StoreError)
    {
        try c.execute(
            ManifestSQL.insertObject,
            [
                object.sha256, object.format.fileExtension, object.format.mediaType, object.bytes, object.width,
                object.height, object.path, createdAt,
            ])
    }

    // MARK: Objects and derivatives

    public func recordThumbnail(_ thumbnail: ThumbnailRecord) async throws(StoreError) {
        try ArchiveLayout.checkRelativePath(thumbnail.path)
        try ArchiveLayout.checkSHA256(thumbnail.sha256)
        try await write("recording a thumbnail") { c throws(StoreError) in
            _ = try c.execute(
                ManifestSQL.upsertThumbnail,
                [
                    thumbnail.objectSHA256, thumbnail.width, thumbnail.sha256, thumbnail.height,
                    thumbnail.format.rawValue, thumbnail.bytes, thumbnail.path, thumbnail.createdAt,
                ])
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
        try await write("recording a sanitized SVG") { c throws(StoreError) in
            _ = try c.execute(
                ManifestSQL.upsertSanitizedSVG,
                [
                    record.objectSHA256, record.sha256, record.bytes, record.path, record.removed, record.error,
                    record.createdAt,
                ])
        }
    }

    public func setObjectSize(sha256: String, width: Int, height: Int) async throws(StoreError) {
        let location = location
        try await write("recording an object's size") { c throws(StoreError) in
            let changed = try c.execute(
                "UPDATE object SET width = ?, height = ? WHERE sha256 = ?", [width, height, sha256]
            ).changes
            if changed == 0 {
                throw StoreError(
                    code: .invalidArgument, path: location, message: "no object \(sha256) in the manifest")
            }
        }
    }

    @discardableResult
    public func adoptObject(_ object: ObjectRecord) async throws(StoreError) -> Bool {
        try ArchiveLayout.checkSHA256(object.sha256)
        try ArchiveLayout.checkRelativePath(object.path)
        return try await write("adopting an object") { c throws(StoreError) in
            let known = try c.execute(
                "SELECT 1 FROM object WHERE sha256 = ? OR path = ?", [object.sha256, object.path]
            ).rows
            guard known.isEmpty else { return false }
            try Self.insertObject(object, createdAt: object.createdAt.databaseValue, c)
            return true
        }
    }

    // MARK: Scans

    public func replaceReferences(_ scans: [PostReferences], scannedAt: Date) async throws(StoreError) {
        guard !scans.isEmpty else { return }
        try await write("recording a scan") { c throws(StoreError) in
            let stamp = scannedAt.databaseValue
            for scan in scans {
                let file = scan.file
                try c.execute(
                    ManifestSQL.upsertPost,
                    [
                        scan.post, scan.contentSHA256, stamp, file?.size, file?.modified, file?.changed, file?.inode,
                        scan.scannedWith,
                    ])
                try c.execute("DELETE FROM reference WHERE post = ?", [scan.post])
                // Many rows per statement (a network round trip each), at most 1,000 (12,000 arguments).
                let references = Array(scan.references.enumerated())
                for start in stride(from: 0, to: references.count, by: 1000) {
                    let chunk = references[start..<min(start + 1000, references.count)]
                    var arguments: [(any DatabaseValueConvertible)?] = []
                    arguments.reserveCapacity(chunk.count * 12)
                    for (ordinal, reference) in chunk {
                        arguments += [
                            scan.post, ordinal, reference.rangeStart, reference.rangeEnd, reference.line,
                            reference.column, reference.kind, reference.written, reference.url, reference.origin,
                            reference.width, reference.wrapped,
                        ]
                    }
                    try c.execute(
                        """
                        INSERT INTO reference (post, ordinal, range_start, range_end, line, "column", kind, written,
                                               url, origin, width, wrapped)
                        VALUES
                        """
                            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count)
                            .joined(separator: ", "), arguments)
                }
            }
        }
    }

    public func removePost(_ path: String) async throws(StoreError) {
        try await write("removing a post") { c throws(StoreError) in
            _ = try c.execute("DELETE FROM post WHERE path = ?", [path])
        }
    }

    // MARK: Runs

    public func startRun(command: String, at date: Date) async throws(StoreError) -> Int64 {
        let location = location
        return try await write("recording a run") { c throws(StoreError) in
            guard
                let id = try c.execute(
                    "INSERT INTO run (command, started_at) VALUES (?, ?) RETURNING id", [command, date]
                ).column(Int64.self).first
            else { throw StoreError(code: .database, path: location, message: "recording a run gave no id") }
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
            throw StoreError(code: .invalidArgument, path: location, message: "run counts: \(error)", underlying: error)
        }
        let location = location
        try await write("recording a run") { c throws(StoreError) in
            let changed = try c.execute(
                "UPDATE run SET finished_at = ?, counts = ?, exit_code = ? WHERE id = ?", [date, json, exitCode, id]
            ).changes
            if changed == 0 {
                throw StoreError(code: .invalidArgument, path: location, message: "no run \(id) in the manifest")
            }
        }
    }
}
