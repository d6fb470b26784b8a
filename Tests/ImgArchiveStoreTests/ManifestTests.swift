import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

#if canImport(Glibc)
    import Glibc
#endif

private let t0 = Date(timeIntervalSince1970: 1_800_000_000)
private func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }
private func digest(_ n: Int) -> String { String(format: "%064x", n) }

private func object(_ n: Int, format: ImageFormat = .jpeg, created: Date = t0) throws -> ObjectRecord {
    ObjectRecord(
        sha256: digest(n), format: format, bytes: Int64(1000 + n), width: nil, height: nil,
        path: try ArchiveLayout.objectPath(sha256: digest(n), format: format), createdAt: created)
}

@Suite struct ManifestTests {
    private func open(_ folder: TemporaryFolder) throws(StoreError) -> SQLiteManifest {
        try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
    }

    @Test func aFreshManifestIsMigratedAndChecksClean() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        #expect(try await manifest.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"])
        #expect(try await manifest.integrityCheck())
        #expect(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("manifest.sqlite").path))
    }

    @Test func openingTwiceIsIdempotentAndKeepsData() async throws {
        let folder = try TemporaryFolder()
        let first = try open(folder)
        try await first.record(
            .failed(
                .init(
                    url: "https://a.example/1.jpg", failureClass: .http4xx, message: "404", httpStatus: 404,
                    attempts: 1, at: t0
                )))
        let second = try open(folder)  // while the first is open, as a second process would
        #expect(try await second.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"])
        try first.close()
        let third = try open(folder)
        #expect(try await third.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"])
        #expect(try await third.urlRecord("https://a.example/1.jpg")?.errorClass == .http4xx)
    }

    @Test func manyProcessesCreatingTheSameManifestAtOnceAllSucceed() async throws {
        let folder = try TemporaryFolder()
        let layout = ArchiveLayout(root: folder.url)
        try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<6 {
                group.addTask { try await SQLiteManifest(layout: layout).appliedMigrations() }
            }
            for try await migrations in group {
                #expect(migrations == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"])
            }
        }
    }

    @Test func aFileThatIsNotSQLiteIsReportedCorruptNotACrash() throws {
        let folder = try TemporaryFolder()
        try Data(repeating: 0x41, count: 8192).write(to: folder.url.appendingPathComponent("manifest.sqlite"))
        do {
            _ = try open(folder)
            Issue.record("a manifest of 'A's was opened")
        } catch {
            #expect(error.code == .corrupt)
        }
    }

    @Test(.enabled(if: hasSQLiteShell)) func aManifestFromANewerVersionIsRefused() throws {
        let folder = try TemporaryFolder()
        try open(folder).close()
        let file = folder.url.appendingPathComponent("manifest.sqlite").path
        #expect(try run("/usr/bin/sqlite3", [file, "INSERT INTO grdb_migrations VALUES ('v99')"]).status == 0)
        do {
            _ = try open(folder)
            Issue.record("a manifest with unknown migrations was opened")
        } catch {
            #expect(error.code == .unsupportedVersion)
        }
    }

    /// v8 drops the index of references by URL: a manifest made by an earlier version (the index there, v8 not
    /// applied) loses it when opened, and keeps its references, which are still found by URL.
    @Test(.enabled(if: hasSQLiteShell)) func anEarlierManifestLosesTheIndexOfReferencesByURL() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let references = [
            ReferenceRecord(
                rangeStart: 4, rangeEnd: 30, line: 1, column: 5, kind: "markdown-image", written: "https://a/1.jpg",
                url: "https://a/1.jpg")
        ]
        try await manifest.replaceReferences(
            post: "_posts/a.md", contentSHA256: digest(1), scannedAt: t0, references: references)
        try manifest.close()
        let file = folder.url.appendingPathComponent("manifest.sqlite").path
        let indexes = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reference'"
        let v7 = "CREATE INDEX reference_by_url ON reference(url); DELETE FROM grdb_migrations WHERE identifier = 'v8';"
        #expect(try run("/usr/bin/sqlite3", [file, v7]).status == 0)
        #expect(try run("/usr/bin/sqlite3", [file, indexes]).output == "1\n")
        let reopened = try open(folder)
        #expect(try await reopened.appliedMigrations().last == "v8")
        #expect(try run("/usr/bin/sqlite3", [file, indexes]).output == "0\n")
        #expect(try await reopened.references(post: "_posts/a.md") == references)
        #expect(try await reopened.posts(referencing: "https://a/1.jpg") == ["_posts/a.md"])
        #expect(try await reopened.integrityCheck())
    }

    /// Rows are read by column (`SQLiteManifest+Rows.swift`): a value written by a newer version reads as the
    /// `Decodable` records read it, an unknown failure class as `other`, an unknown image format as corrupt.
    @Test(.enabled(if: hasSQLiteShell)) func valuesOfANewerVersionReadAsOtherOrCorrupt() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let url = "https://a.example/1.jpg"
        try await manifest.record(
            .failed(.init(url: url, failureClass: .http4xx, message: "404", httpStatus: 404, attempts: 1, at: t0)))
        let file = folder.url.appendingPathComponent("manifest.sqlite").path
        let sql = """
            UPDATE url SET error_class = 'cosmic-ray';
            INSERT INTO object (sha256, ext, media_type, bytes, path, created_at)
            VALUES ('\(digest(9))', 'tiff', 'image/tiff', 1, 'objects/00/\(digest(9)).tif', '2027-01-15 08:00:00.000');
            """
        #expect(try run("/usr/bin/sqlite3", [file, sql]).status == 0)
        #expect(try await manifest.urlRecord(url)?.errorClass == .other)
        #expect(try await manifest.allURLRecords().map(\.errorClass) == [.other])
        #expect(try await manifest.urlRecords([url])[url]?.errorClass == .other)
        let reads: [() async throws -> Void] = [
            { _ = try await manifest.objects() }, { _ = try await manifest.object(sha256: digest(9)) },
        ]
        for read in reads {
            do {
                try await read()
                Issue.record("an object of an unknown format was read")
            } catch let error as StoreError {
                #expect(error.code == .corrupt)
            }
        }
    }

    // MARK: Round trips

    @Test func fetchSuccessRoundTripsAndStoresTheObjectOnce() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let image = try object(1)
        try await manifest.record(
            .archived(
                .init(
                    url: "https://cdn.example/640", archivedFrom: "https://origin.example/a.jpg", object: image,
                    httpStatus: 200, etag: "\"abc\"", lastModified: "Wed, 21 Oct 2015 07:28:00 GMT", attempts: 2,
                    at: at(10))))
        try await manifest.record(
            .archived(
                .init(
                    url: "https://other.example/640", archivedFrom: "https://other.example/640", object: image,
                    httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: at(20))))

        let record = try #require(try await manifest.urlRecord("https://cdn.example/640"))
        #expect(
            record
                == URLRecord(
                    url: "https://cdn.example/640", status: .archived, httpStatus: 200, attempts: 2, etag: "\"abc\"",
                    lastModified: "Wed, 21 Oct 2015 07:28:00 GMT", firstFetchedAt: at(10), lastFetchedAt: at(10),
                    lastCheckedAt: at(10), objectSHA256: digest(1), archivedFrom: "https://origin.example/a.jpg"))
        #expect(try await manifest.objects() == [image])
        #expect(try await manifest.object(sha256: digest(1)) == image)
        #expect(try await manifest.object(sha256: digest(2)) == nil)
        #expect(try await manifest.urlRecord("https://never.example/x") == nil)
        #expect(
            try await manifest.urlRecords(["https://cdn.example/640", "https://other.example/640", "https://x"]).count
                == 2)
        #expect(try await manifest.integrityCheck())
    }

    @Test func aChangedImageBecomesANewObjectAndTheOldOneStays() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let url = "https://cdn.example/a.png"
        try await manifest.record(
            .archived(
                .init(
                    url: url, archivedFrom: url, object: try object(1, format: .png), httpStatus: 200, etag: "\"1\"",
                    lastModified: nil, attempts: 1, at: at(0))))
        try await manifest.record(
            .archived(
                .init(
                    url: url, archivedFrom: url, object: try object(2, format: .webp), httpStatus: 200, etag: "\"2\"",
                    lastModified: nil, attempts: 1, at: at(100))))

        let record = try #require(try await manifest.urlRecord(url))
        #expect(record.objectSHA256 == digest(2))
        #expect(record.etag == "\"2\"")
        #expect(record.firstFetchedAt == at(0))
        #expect(record.lastFetchedAt == at(100))
        #expect(try await manifest.objectHistory(url: url) == [digest(1), digest(2)])
        #expect(try await manifest.objects().map(\.sha256) == [digest(1), digest(2)])
        #expect(try await manifest.object(sha256: digest(2))?.format == .webp)
    }

    @Test func failuresAreRecordedAndAnArchivedURLStaysArchived() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let failing = "https://gone.example/x.jpg"
        try await manifest.record(
            .failed(
                .init(
                    url: failing, failureClass: .http4xx, message: "HTTP 404", httpStatus: 404, attempts: 1, at: at(0)))
        )
        try await manifest.record(
            .failed(
                .init(
                    url: failing, failureClass: .timeout, message: "timed out", httpStatus: nil, attempts: 4, at: at(50)
                )))
        #expect(
            try await manifest.urlRecord(failing)
                == URLRecord(
                    url: failing, status: .failed, httpStatus: nil, errorClass: .timeout, errorMessage: "timed out",
                    attempts: 4, lastCheckedAt: at(50), failingSince: at(0)))

        let kept = "https://rotting.example/y.jpg"
        try await manifest.record(
            .archived(
                .init(
                    url: kept, archivedFrom: kept, object: try object(3), httpStatus: 200, etag: nil, lastModified: nil,
                    attempts: 1, at: at(0))))
        try await manifest.record(
            .failed(
                .init(
                    url: kept, failureClass: .http4xx, message: "HTTP 410", httpStatus: 410, attempts: 1, at: at(60))))
        let rotting = try #require(try await manifest.urlRecord(kept))
        #expect(rotting.status == .archived)
        #expect(rotting.objectSHA256 == digest(3))
        #expect(rotting.errorClass == .http4xx)
        #expect(rotting.failingSince == at(60))
        #expect(rotting.lastFetchedAt == at(0))

        // A later success clears the failure.
        try await manifest.record(
            .archived(
                .init(
                    url: failing, archivedFrom: failing, object: try object(4), httpStatus: 200, etag: nil,
                    lastModified: nil,
                    attempts: 1, at: at(70))))
        let recovered = try #require(try await manifest.urlRecord(failing))
        #expect(recovered.status == .archived)
        #expect(recovered.errorClass == nil && recovered.errorMessage == nil && recovered.failingSince == nil)
    }

    /// A lookup at the web archives is remembered on a failing URL (a later failure without one keeps it), and a
    /// rescue's provenance on the archived one until bytes come from the web again.
    @Test func rescueLookupsAndProvenanceAreRecorded() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let url = "https://gone.example/z.jpg"
        try await manifest.record(
            .failed(
                .init(
                    url: url, failureClass: .http4xx, message: "HTTP 404", httpStatus: 404, attempts: 1, at: at(0),
                    rescueCheckedAt: at(0))))
        try await manifest.record(
            .failed(.init(url: url, failureClass: .dns, message: "gone", attempts: 1, at: at(10))))
        #expect(try await manifest.urlRecord(url)?.rescueCheckedAt == at(0))

        let memento = "https://web.archive.org/web/20190601000000id_/https://gone.example/z.jpg"
        let provenance = MementoProvenance(
            timegate: "https://web.archive.org/web/", memento: memento, capturedAt: at(-1000))
        try await manifest.record(
            .archived(
                .init(
                    url: url, archivedFrom: memento, object: try object(5), httpStatus: 200, attempts: 1, at: at(20),
                    rescue: provenance)))
        let rescued = try #require(try await manifest.urlRecord(url))
        #expect(rescued.rescue == provenance)
        #expect(rescued.archivedFrom == memento)
        #expect(rescued.rescueCheckedAt == at(20))
        #expect(try await manifest.urls(archivedAs: digest(5)).map(\.archivedFrom) == [memento])

        // Bytes from the web again: no longer a rescue.
        try await manifest.record(
            .archived(
                .init(url: url, archivedFrom: url, object: try object(6), httpStatus: 200, attempts: 1, at: at(30))))
        #expect(try await manifest.urlRecord(url)?.rescue == nil)
    }

    @Test func aBatchOfOutcomesIsRecordedAllOrNone() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.record([
            .archived(
                .init(
                    url: "https://b/1", archivedFrom: "https://b/1", object: try object(50), httpStatus: 200,
                    etag: "\"x\"",
                    lastModified: nil, attempts: 1, at: at(0))),
            .failed(
                .init(
                    url: "https://b/2", failureClass: .http5xx, message: "503", httpStatus: 503, attempts: 4, at: at(0))
            ),
            .notModified(.init(url: "https://b/1", httpStatus: 304, at: at(9))),
        ])
        #expect(try await manifest.urlRecord("https://b/1")?.lastCheckedAt == at(9))
        #expect(try await manifest.urlRecord("https://b/1")?.httpStatus == 304)
        #expect(try await manifest.urlRecord("https://b/2")?.status == .failed)

        // A bad outcome anywhere rolls the whole batch back.
        await #expect(throws: StoreError.self) {
            try await manifest.record([
                .failed(
                    .init(url: "https://b/3", failureClass: .dns, message: "x", httpStatus: nil, attempts: 1, at: at(1))
                ),
                .notModified(.init(url: "https://b/never", httpStatus: 304, at: at(1))),
            ])
        }
        #expect(try await manifest.urlRecord("https://b/3") == nil)
        #expect(try await manifest.allURLRecords().count == 2)
    }

    @Test func notModifiedOnlyMovesTheCheckTime() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let url = "https://cdn.example/b.jpg"
        try await manifest.record(
            .archived(
                .init(
                    url: url, archivedFrom: url, object: try object(5), httpStatus: 200, etag: "\"e\"",
                    lastModified: "Mon, 01 Jan 2024 00:00:00 GMT", attempts: 1, at: at(0))))
        let before = try #require(try await manifest.urlRecord(url))
        try await manifest.record(.notModified(.init(url: url, at: at(3600))))
        var expected = before
        expected.lastCheckedAt = at(3600)
        expected.httpStatus = 304
        #expect(try await manifest.urlRecord(url) == expected)

        await #expect(throws: StoreError.self) {
            try await manifest.record(.notModified(.init(url: "https://unknown.example/", at: t0)))
        }
    }

    @Test func theFetchPlanSkipsArchivedURLsUnlessTheyAreDueForRevalidation() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.record(
            .archived(
                .init(
                    url: "https://a/old", archivedFrom: "https://a/old", object: try object(6), httpStatus: 200,
                    etag: "\"o\"",
                    lastModified: "Tue, 02 Jan 2024 00:00:00 GMT", attempts: 1, at: at(0))))
        try await manifest.record(
            .archived(
                .init(
                    url: "https://a/recent", archivedFrom: "https://a/recent", object: try object(7), httpStatus: 200,
                    etag: nil, lastModified: nil, attempts: 1, at: at(1000))))
        try await manifest.record(
            .failed(
                .init(
                    url: "https://a/broken", failureClass: .dns, message: "no such host", httpStatus: nil, attempts: 3,
                    at: at(0)
                )))
        let candidates = ["https://a/new", "https://a/old", "https://a/recent", "https://a/broken", "https://a/new"]

        #expect(
            try await manifest.urlsNeedingFetch(candidates: candidates, revalidation: .never)
                == [FetchNeed(url: "https://a/new", reason: .new), FetchNeed(url: "https://a/broken", reason: .retry)])
        #expect(
            try await manifest.urlsNeedingFetch(candidates: candidates, revalidation: .checkedBefore(at(500)))
                == [
                    FetchNeed(url: "https://a/new", reason: .new),
                    FetchNeed(
                        url: "https://a/old", reason: .revalidate, etag: "\"o\"",
                        lastModified: "Tue, 02 Jan 2024 00:00:00 GMT", archivedFrom: "https://a/old"),
                    FetchNeed(url: "https://a/broken", reason: .retry),
                ])
        // Everything archived, however recently checked.
        #expect(
            try await manifest.urlsNeedingFetch(candidates: candidates, revalidation: .all).map(\.url) == [
                "https://a/new", "https://a/old", "https://a/recent", "https://a/broken",
            ])
        // A 304 moves the check time past the cutoff.
        try await manifest.record(.notModified(.init(url: "https://a/old", at: at(600))))
        #expect(
            try await manifest.urlsNeedingFetch(candidates: candidates, revalidation: .checkedBefore(at(500))).count
                == 2)
    }

    @Test func thumbnailsAndObjectSizesRoundTrip() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.record(
            .archived(
                .init(
                    url: "https://t/1", archivedFrom: "https://t/1", object: try object(8), httpStatus: 200, etag: nil,
                    lastModified: nil, attempts: 1, at: t0)))
        try await manifest.setObjectSize(sha256: digest(8), width: 1920, height: 1080)
        #expect(try await manifest.object(sha256: digest(8))?.width == 1920)
        #expect(try await manifest.object(sha256: digest(8))?.height == 1080)
        await #expect(throws: StoreError.self) {
            try await manifest.setObjectSize(sha256: digest(9), width: 1, height: 1)
        }

        let small = ThumbnailRecord(
            objectSHA256: digest(8), width: 320, sha256: digest(40), height: 180, format: .jpeg, bytes: 9000,
            path: try ArchiveLayout.thumbnailPath(sha256: digest(8), width: 320, format: .jpeg), createdAt: at(5))
        let large = ThumbnailRecord(
            objectSHA256: digest(8), width: 640, sha256: digest(41), height: 360, format: .png, bytes: 40000,
            path: try ArchiveLayout.thumbnailPath(sha256: digest(8), width: 640, format: .png), createdAt: at(6))
        try await manifest.recordThumbnail(large)
        try await manifest.recordThumbnail(small)
        #expect(try await manifest.thumbnail(sha256: digest(8), width: 320) == small)
        #expect(try await manifest.thumbnail(sha256: digest(8), width: 100) == nil)
        #expect(try await manifest.thumbnails(sha256: digest(8)) == [small, large])
        #expect(try await manifest.thumbnails() == [small, large])

        var rebuilt = small
        rebuilt.bytes = 8000
        rebuilt.createdAt = at(99)
        try await manifest.recordThumbnail(rebuilt)
        #expect(try await manifest.thumbnails() == [rebuilt, large])

        // A thumbnail of an object the manifest does not know breaks a foreign key: refused.
        var orphan = small
        orphan.objectSHA256 = digest(10)
        orphan.path = try ArchiveLayout.thumbnailPath(sha256: digest(10), width: 320, format: .jpeg)
        await #expect(throws: StoreError.self) { try await manifest.recordThumbnail(orphan) }
        // A batch is one transaction: with the orphan in it, none of its rows is written.
        var wider = large
        wider.width = 1280
        wider.path = try ArchiveLayout.thumbnailPath(sha256: digest(8), width: 1280, format: .png)
        await #expect(throws: StoreError.self) { try await manifest.recordThumbnails([wider, orphan]) }
        #expect(try await manifest.thumbnails() == [rebuilt, large])
        try await manifest.recordThumbnails([wider])
        #expect(try await manifest.thumbnails(sha256: digest(8)) == [rebuilt, large, wider])
        #expect(try await manifest.integrityCheck())
    }

    @Test func sanitizedSVGsRoundTripWithACopyOrARefusal() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        for n in [20, 21] {
            try await manifest.record(
                .archived(
                    .init(
                        url: "https://s/\(n).svg", archivedFrom: "https://s/\(n).svg",
                        object: try object(n, format: .svg),
                        httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: t0)))
        }
        let path = try ArchiveLayout.sanitizedSVGPath(sha256: digest(20))
        #expect(path == "svg/00/\(digest(20)).svg")
        let copy = SanitizedSVGRecord(
            objectSHA256: digest(20), sha256: digest(50), bytes: 300, path: path, removed: 2, error: nil,
            createdAt: at(1))
        let refusal = SanitizedSVGRecord(
            objectSHA256: digest(21), sha256: nil, bytes: nil, path: nil, removed: 0, error: "line 1: not closed",
            createdAt: at(2))
        try await manifest.recordSanitizedSVG(copy)
        try await manifest.recordSanitizedSVG(refusal)
        #expect(
            try await manifest.sanitizedSVGs(sha256s: [digest(20), digest(21), digest(22)]) == [
                digest(20): copy, digest(21): refusal,
            ])
        #expect(try await manifest.sanitizedSVGs() == [copy, refusal])
        // A copy with an error, a path outside the archive's folders, or an unknown original: refused.
        var both = copy
        both.error = "x"
        await #expect(throws: StoreError.self) { try await manifest.recordSanitizedSVG(both) }
        var outside = copy
        outside.path = "../svg/x.svg"
        await #expect(throws: StoreError.self) { try await manifest.recordSanitizedSVG(outside) }
        var orphan = copy
        orphan.objectSHA256 = digest(23)
        orphan.path = try ArchiveLayout.sanitizedSVGPath(sha256: digest(23))
        await #expect(throws: StoreError.self) { try await manifest.recordSanitizedSVG(orphan) }
        #expect(try await manifest.integrityCheck())
    }

    @Test func aRescanReplacesAPostsReferencesAtomicallyAndKeepsRewrites() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let first = [
            ReferenceRecord(
                rangeStart: 10, rangeEnd: 40, line: 2, column: 5, kind: "markdown-image",
                written: "https://img.example/a\n.jpg", url: "https://img.example/a.jpg",
                origin: "https://origin.example/a.jpg", width: 550, wrapped: true),
            ReferenceRecord(
                rangeStart: 60, rangeEnd: 80, line: 4, column: 1, kind: "html-img", written: "https://b/c.png",
                url: "https://b/c.png"),
        ]
        try await manifest.replaceReferences(
            post: "_posts/a.md", contentSHA256: digest(20), scannedAt: at(0), references: first)
        #expect(try await manifest.references(post: "_posts/a.md") == first)
        #expect(
            try await manifest.post("_posts/a.md")
                == PostRecord(path: "_posts/a.md", contentSHA256: digest(20), scannedAt: at(0)))
        #expect(try await manifest.posts(referencing: "https://origin.example/a.jpg") == ["_posts/a.md"])

        let rewrite = RewriteRecord(
            rangeStart: 10, rangeEnd: 60, replacement: "/archive/w550/ab/x.jpg",
            original: Data("https://img.example/a\r\n.jpg".utf8) + Data([0xFF, 0x00]), url: "https://img.example/a.jpg",
            rewrittenAt: at(5), contextBefore: Data("![a](".utf8), contextAfter: Data([0x29, 0x0D, 0x0A]))
        let generation = try await manifest.recordRewrite(
            post: "_posts/a.md", inputSHA256: digest(20), outputSHA256: digest(21), rewrites: [rewrite], at: at(5))
        try await manifest.markRewriteApplied(post: "_posts/a.md", generation: generation)

        let second = [
            ReferenceRecord(
                rangeStart: 3, rangeEnd: 9, line: 1, column: 4, kind: "front-matter", written: "https://d/e",
                url: "https://d/e")
        ]
        try await manifest.replaceReferences(
            post: "_posts/a.md", contentSHA256: digest(22), scannedAt: at(10), references: second)
        #expect(try await manifest.references(post: "_posts/a.md") == second)
        #expect(try await manifest.posts(referencing: "https://b/c.png").isEmpty)
        let post = try #require(try await manifest.post("_posts/a.md"))
        #expect(post.contentSHA256 == digest(22))
        #expect(post.scannedAt == at(10))
        #expect(post.rewrittenAt == at(5))
        #expect(post.rewrittenSHA256 == digest(21))
        #expect(try await manifest.rewrites(post: "_posts/a.md") == [[rewrite]])

        try await manifest.replaceReferences(
            post: "_posts/a.md", contentSHA256: digest(22), scannedAt: at(11), references: [])
        #expect(try await manifest.references(post: "_posts/a.md").isEmpty)
    }

    @Test func aBatchOfScansIsRecordedLikeOneScanEach() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        func reference(_ n: Int) -> ReferenceRecord {
            ReferenceRecord(
                rangeStart: n, rangeEnd: n + 10, line: 1, column: n, kind: "html-img", written: "https://h/\(n)",
                url: "https://h/\(n)")
        }
        try await manifest.replaceReferences(
            post: "a.md", contentSHA256: digest(1), scannedAt: at(0), references: [reference(1), reference(2)])
        try await manifest.replaceReferences(
            [
                PostReferences(post: "a.md", contentSHA256: digest(2), references: [reference(3)]),
                PostReferences(post: "b.md", contentSHA256: digest(3), references: [reference(4), reference(5)]),
                PostReferences(post: "c.md", contentSHA256: digest(4), references: []),
            ], scannedAt: at(7))
        #expect(try await manifest.references(post: "a.md") == [reference(3)])
        #expect(try await manifest.references(post: "b.md") == [reference(4), reference(5)])
        #expect(try await manifest.references(post: "c.md").isEmpty)
        #expect(try await manifest.posts().map(\.path) == ["a.md", "b.md", "c.md"])
        #expect(try await manifest.post("a.md") == PostRecord(path: "a.md", contentSHA256: digest(2), scannedAt: at(7)))
        #expect(try await manifest.posts(referencing: "https://h/1").isEmpty)

        // A scan the schema refuses (a span that ends before it starts) leaves every post of the batch as it was.
        let broken = ReferenceRecord(
            rangeStart: 5, rangeEnd: 1, line: 1, column: 1, kind: "html-img", written: "x", url: "https://h/x")
        await #expect(throws: StoreError.self) {
            try await manifest.replaceReferences(
                [
                    PostReferences(post: "a.md", contentSHA256: digest(5), references: []),
                    PostReferences(post: "b.md", contentSHA256: digest(6), references: [broken]),
                ], scannedAt: at(9))
        }
        #expect(try await manifest.references(post: "a.md") == [reference(3)])
        #expect(try await manifest.post("a.md")?.contentSHA256 == digest(2))
        #expect(try await manifest.integrityCheck())
    }

    @Test func objectsAndThumbnailsAreLookedUpManyAtOnce() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        for n in [1, 2] {
            try await manifest.record(
                .archived(
                    .init(
                        url: "https://t/\(n)", archivedFrom: "https://t/\(n)", object: try object(n), httpStatus: 200,
                        etag: nil, lastModified: nil, attempts: 1, at: at(Double(n)))))
        }
        let thumbnail = ThumbnailRecord(
            objectSHA256: digest(1), width: 320, sha256: digest(40), height: 180, format: .jpeg, bytes: 9000,
            path: try ArchiveLayout.thumbnailPath(sha256: digest(1), width: 320, format: .jpeg), createdAt: at(5))
        try await manifest.recordThumbnail(thumbnail)

        let objects = try await manifest.objects(sha256s: [digest(1), digest(2), digest(1), digest(3)])
        #expect(objects.count == 2)
        #expect(objects[digest(1)] == (try await manifest.object(sha256: digest(1))))
        #expect(objects[digest(2)] == (try await manifest.object(sha256: digest(2))))
        #expect(objects[digest(3)] == nil)
        #expect(try await manifest.objects(sha256s: []).isEmpty)

        let thumbnails = try await manifest.thumbnails(sha256s: [digest(1), digest(2)])
        #expect(thumbnails == [digest(1): [320: thumbnail]])
    }

    @Test func rewritesAreKeptByGenerationAndForgottenOnRevert() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.replaceReferences(post: "p.md", contentSHA256: digest(30), scannedAt: t0, references: [])
        let one = RewriteRecord(
            rangeStart: 5, rangeEnd: 10, replacement: "/a", original: Data("https://x/1".utf8), url: "https://x/1",
            rewrittenAt: at(1))
        let two = RewriteRecord(
            rangeStart: 0, rangeEnd: 2, replacement: "/b", original: Data("https://x/2".utf8), url: "https://x/2",
            rewrittenAt: at(2))
        let three = RewriteRecord(
            rangeStart: 20, rangeEnd: 22, replacement: "/c", original: Data("https://x/3".utf8), url: "https://x/3",
            rewrittenAt: at(2))
        let first = try await manifest.recordRewrite(
            post: "p.md", inputSHA256: digest(30), outputSHA256: digest(31), rewrites: [one], at: at(1))
        #expect(first == 1)
        #expect(try await manifest.rewrites(post: "p.md").isEmpty, "a pending generation is not yet a rewrite")
        #expect(try await manifest.post("p.md")?.rewrittenSHA256 == nil)
        try await manifest.markRewriteApplied(post: "p.md", generation: first)
        let second = try await manifest.recordRewrite(
            post: "p.md", inputSHA256: digest(31), outputSHA256: digest(32), rewrites: [three, two], at: at(2))
        try await manifest.markRewriteApplied(post: "p.md", generation: second)
        #expect(try await manifest.rewrites(post: "p.md") == [[one], [two, three]])
        #expect(try await manifest.post("p.md")?.rewrittenSHA256 == digest(32))
        #expect(try await manifest.post("p.md")?.rewrittenAt == at(2))
        let generations = try await manifest.rewriteGenerations(post: "p.md")
        #expect(generations.map(\.generation) == [1, 2])
        #expect(generations.map(\.inputSHA256) == [digest(30), digest(31)])
        #expect(generations.map(\.outputSHA256) == [digest(31), digest(32)])
        #expect(generations.allSatisfy { $0.applied })
        await #expect(throws: StoreError.self) {
            _ = try await manifest.recordRewrite(
                post: "never-scanned.md", inputSHA256: digest(1), outputSHA256: digest(2), rewrites: [one], at: t0)
        }

        let pending = try await manifest.recordRewrite(
            post: "p.md", inputSHA256: digest(32), outputSHA256: digest(33), rewrites: [one], at: at(3))
        #expect(try await manifest.rewriteGenerations(post: "p.md").last?.applied == false)
        try await manifest.discardRewrite(post: "p.md", generation: pending)
        #expect(try await manifest.rewriteGenerations(post: "p.md").map(\.generation) == [1, 2])
        #expect(try await manifest.rewrittenPosts() == ["p.md"])

        try await manifest.recordRevert(post: "p.md", contentSHA256: digest(30))
        #expect(try await manifest.rewrites(post: "p.md").isEmpty)
        #expect(try await manifest.rewriteGenerations(post: "p.md").isEmpty)
        #expect(try await manifest.rewrittenPosts().isEmpty)
        #expect(try await manifest.post("p.md") == PostRecord(path: "p.md", contentSHA256: digest(30), scannedAt: t0))

        try await manifest.replaceReferences(post: "q.md", contentSHA256: digest(33), scannedAt: t0, references: [])
        #expect(try await manifest.posts().map(\.path) == ["p.md", "q.md"])
        let q = try await manifest.recordRewrite(
            post: "q.md", inputSHA256: digest(33), outputSHA256: digest(34), rewrites: [one], at: at(1))
        try await manifest.markRewriteApplied(post: "q.md", generation: q)
        try await manifest.removePost("q.md")
        #expect(try await manifest.posts().map(\.path) == ["p.md"])
        #expect(try await manifest.rewrites(post: "q.md").isEmpty)
        #expect(try await manifest.rewriteGenerations(post: "q.md").isEmpty)
        #expect(try await manifest.integrityCheck())
    }

    @Test func everyPostsReferencesAndRewritesAreReadAtOnceAsOneAtATime() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        func reference(_ n: Int) -> ReferenceRecord {
            ReferenceRecord(
                rangeStart: n, rangeEnd: n + 10, line: n, column: 2, kind: "markdown-inline",
                written: "https://h/\(n)", url: "https://h/\(n)", origin: n == 2 ? "https://o/2" : nil,
                width: n == 3 ? 160 : nil, wrapped: n == 4)
        }
        func span(_ n: Int, url: String) -> RewriteRecord {
            RewriteRecord(
                rangeStart: n, rangeEnd: n + 2, replacement: "/\(n)", original: Data(url.utf8), url: url,
                rewrittenAt: at(Double(n)), contextBefore: Data("(".utf8), contextAfter: Data(")".utf8))
        }
        try await manifest.replaceReferences(
            [
                PostReferences(post: "b.md", contentSHA256: digest(1), references: [reference(3), reference(1)]),
                PostReferences(post: "a.md", contentSHA256: digest(2), references: [reference(2), reference(4)]),
                PostReferences(post: "c.md", contentSHA256: digest(3), references: []),
            ], scannedAt: t0)
        let a1 = try await manifest.recordRewrite(
            post: "a.md", inputSHA256: digest(2), outputSHA256: digest(4),
            rewrites: [span(9, url: "https://h/4"), span(1, url: "https://h/2")], at: at(1))
        try await manifest.markRewriteApplied(post: "a.md", generation: a1)
        _ = try await manifest.recordRewrite(
            post: "a.md", inputSHA256: digest(4), outputSHA256: digest(5), rewrites: [span(5, url: "https://h/9")],
            at: at(2))
        _ = try await manifest.recordRewrite(
            post: "b.md", inputSHA256: digest(1), outputSHA256: digest(6), rewrites: [span(3, url: "https://h/3")],
            at: at(3))

        let references = try await manifest.allReferences()
        #expect(references.keys.sorted() == ["a.md", "b.md"])
        for post in ["a.md", "b.md", "c.md"] {
            #expect(references[post] ?? [] == (try await manifest.references(post: post)))
        }
        #expect(references["b.md"] == [reference(3), reference(1)], "in recorded order")
        let generations = try await manifest.rewriteGenerations(posts: ["c.md", "b.md", "a.md", "b.md", "never.md"])
        #expect(generations.keys.sorted() == ["a.md", "b.md"])
        for post in ["a.md", "b.md", "c.md"] {
            #expect(generations[post] ?? [] == (try await manifest.rewriteGenerations(post: post)))
        }
        #expect(generations["a.md"]?.map(\.applied) == [true, false])
        #expect(generations["a.md"]?.first?.spans.map(\.rangeStart) == [1, 9])
    }

    @Test func aScanIsRecordedWithItsFileStampAndScannerAndANewScanWithoutThemClearsThem() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let stamp = FileStamp(
            size: 120, modified: 1_800_000_000_123_456_789, changed: 1_800_000_001_000_000_001, inode: -5)
        try await manifest.replaceReferences(
            [
                PostReferences(post: "a.md", contentSHA256: digest(1), references: [], file: stamp, scannedWith: "s1"),
                PostReferences(post: "b.md", contentSHA256: digest(2), references: [], scannedWith: "s1"),
                PostReferences(post: "c.md", contentSHA256: digest(3), references: []),
            ], scannedAt: t0)
        #expect(
            try await manifest.recordedScans() == [
                "a.md": RecordedScan(contentSHA256: digest(1), file: stamp, scannedWith: "s1"),
                "b.md": RecordedScan(contentSHA256: digest(2), file: nil, scannedWith: "s1"),
                "c.md": RecordedScan(contentSHA256: digest(3), file: nil, scannedWith: nil),
            ])
        // A scan recorded without them (a rewrite's) leaves no stale stamp behind.
        try await manifest.replaceReferences(post: "a.md", contentSHA256: digest(4), scannedAt: at(1), references: [])
        #expect(
            try await manifest.recordedScans()["a.md"]
                == RecordedScan(contentSHA256: digest(4), file: nil, scannedWith: nil))
    }

    /// The batch methods a rewrite and a revert use per batch of posts: one transaction each, all or none, with
    /// the same results as the one-post methods.
    @Test func rewriteBatchesRoundTrip() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let posts = ["a.md", "b.md", "c.md"]
        try await manifest.replaceReferences(
            posts.enumerated().map { PostReferences(post: $1, contentSHA256: digest(40 + $0), references: []) },
            scannedAt: t0)
        func span(_ i: Int) -> RewriteRecord {
            RewriteRecord(
                rangeStart: i, rangeEnd: i + 2, replacement: "/\(i)", original: Data("https://x/\(i)".utf8),
                url: "https://x/\(i)", rewrittenAt: at(1))
        }
        func rewrite(_ i: Int, _ post: String) -> PostRewrite {
            PostRewrite(
                post: post, inputSHA256: digest(40 + i), outputSHA256: digest(50 + i),
                rewrites: [span(i), span(10 + i)], at: at(1))
        }
        // One post never scanned: nothing of the batch is recorded.
        await #expect(throws: StoreError.self) {
            _ = try await manifest.recordRewrites([rewrite(0, "a.md"), rewrite(9, "never-scanned.md")])
        }
        #expect(try await manifest.rewrittenPosts().isEmpty)
        #expect(try await manifest.recordRewrites(posts.enumerated().map { rewrite($0, $1) }) == [1, 1, 1])
        #expect(try await manifest.postsWithPendingRewrites() == posts)
        try await manifest.markRewritesApplied([("a.md", 1), ("c.md", 1)])
        #expect(try await manifest.postsWithPendingRewrites() == ["b.md"])
        #expect(try await manifest.rewrites(post: "a.md") == [[span(0), span(10)]])
        #expect(try await manifest.post("c.md")?.rewrittenSHA256 == digest(52))
        #expect(try await manifest.post("b.md")?.rewrittenSHA256 == nil)
        #expect(try await manifest.recordRewrites([rewrite(1, "b.md")]) == [2], "generations go on per post")
        try await manifest.discardRewrite(post: "b.md", generation: 2)
        try await manifest.discardRewrite(post: "b.md", generation: 1)

        try await manifest.recordReverts([
            PostRevert(post: "a.md", contentSHA256: digest(60)), PostRevert(post: "c.md", forgetting: [(1, 2)]),
        ])
        #expect(try await manifest.rewriteGenerations(post: "a.md").isEmpty)
        #expect(try await manifest.post("a.md")?.contentSHA256 == digest(60))
        #expect(try await manifest.rewrites(post: "c.md") == [[span(12)]], "only the span put back is forgotten")
        #expect(try await manifest.rewrittenPosts() == ["c.md"])
        #expect(try await manifest.integrityCheck())
    }

    @Test func theRewritesOfMorePostsThanAStatementNamesAreReadAsOneAtATime() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        // Three statements' worth (`ManifestSQL.postsPerStatement`); every fourth post is never rewritten.
        let posts = (0..<1_201).map { String(format: "p%04d.md", $0) }
        try await manifest.replaceReferences(
            posts.map { PostReferences(post: $0, contentSHA256: digest(1), references: []) }, scannedAt: t0)
        let rewritten = posts.indices.filter { $0 % 4 != 3 }
        _ = try await manifest.recordRewrites(
            rewritten.map { i in
                PostRewrite(
                    post: posts[i], inputSHA256: digest(1), outputSHA256: digest(2 + i),
                    rewrites: (0...(i % 3)).map {
                        RewriteRecord(
                            rangeStart: 10 * $0, rangeEnd: 10 * $0 + 2, replacement: "/\(i)/\($0)",
                            original: Data("https://x/\(i)/\($0)".utf8), url: "https://x/\(i)/\($0)",
                            rewrittenAt: at(1))
                    }, at: at(1))
            })
        let chunk = try await manifest.rewriteGenerations(posts: posts.reversed() + ["never.md"])
        #expect(chunk.keys.sorted() == rewritten.map { posts[$0] })
        for (i, post) in posts.enumerated() where i % 97 == 0 || i % 4 == 3 || i == posts.count - 1 {
            #expect(chunk[post] ?? [] == (try await manifest.rewriteGenerations(post: post)), "\(post)")
        }
        #expect(chunk[posts[1_200]]?.first?.spans.map(\.replacement) == ["/1200/0"])
        #expect(chunk[posts[5]]?.first?.spans.count == 3)
    }

    @Test func runsRoundTrip() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        let first = try await manifest.startRun(command: "fetch", at: at(0))
        let second = try await manifest.startRun(command: "archive", at: at(10))
        try await manifest.finishRun(id: first, at: at(5), counts: ["archived": 12, "failed": 1], exitCode: 1)
        #expect(
            try await manifest.runs()
                == [
                    RunRecord(id: second, command: "archive", startedAt: at(10)),
                    RunRecord(
                        id: first, command: "fetch", startedAt: at(0), finishedAt: at(5),
                        counts: ["archived": 12, "failed": 1], exitCode: 1),
                ])
        #expect(try await manifest.runs(limit: 1).map(\.id) == [second])
        await #expect(throws: StoreError.self) {
            try await manifest.finishRun(id: 999, at: t0, counts: [:], exitCode: 0)
        }
    }

    // MARK: Several processes

    @Test func twoManifestsOnOneFileWriteConcurrentlyWithoutLockErrors() async throws {
        let folder = try TemporaryFolder()
        let layout = ArchiveLayout(root: folder.url)
        let manifests = [try SQLiteManifest(layout: layout), try SQLiteManifest(layout: layout)]
        let writersPerManifest = 4
        let writesPerWriter = 60
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (m, manifest) in manifests.enumerated() {
                for w in 0..<writersPerManifest {
                    group.addTask {
                        for i in 0..<writesPerWriter {
                            let n = (m * writersPerManifest + w) * writesPerWriter + i
                            let url = "https://load.example/\(n)"
                            if n % 3 == 0 {
                                try await manifest.record(
                                    .failed(
                                        .init(
                                            url: url, failureClass: .timeout, message: "slow", httpStatus: nil,
                                            attempts: 1,
                                            at: t0)))
                            } else {
                                try await manifest.record(
                                    .archived(
                                        .init(
                                            url: url, archivedFrom: url, object: try object(n % 17), httpStatus: 200,
                                            etag: nil, lastModified: nil, attempts: 1, at: t0)))
                            }
                            _ = try await manifest.urlRecord(url)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = manifests.count * writersPerManifest * writesPerWriter
        let all = try await manifests[1].allURLRecords()
        #expect(all.count == total)
        #expect(all.filter { $0.status == .failed }.count == (0..<total).filter { $0 % 3 == 0 }.count)
        #expect(try await manifests[0].objects().count == 17)
        #expect(try await manifests[0].integrityCheck())
    }

    // MARK: Crashes

    @Test func aSnapshotTakenMidTransactionOpensCleanWithOnlyCommittedData() async throws {
        // What a crash leaves on disk is the database, WAL and shared-memory files as they are at that
        // instant: copy them while a large write transaction is open (its pages spilled into the WAL).
        let folder = try TemporaryFolder()
        let crashed = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.record(
            .failed(
                .init(
                    url: "https://committed/", failureClass: .dns, message: "x", httpStatus: nil, attempts: 1, at: t0)))
        let writer = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        try writer.withUncommittedWriteForTesting(rows: 20_000) {
            for name in ["manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm"] {
                let source = folder.url.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: source.path) {
                    try FileManager.default.copyItem(at: source, to: crashed.url.appendingPathComponent(name))
                }
            }
        }
        let reopened = try open(crashed)
        #expect(try await reopened.integrityCheck())
        #expect(try await reopened.urlRecord("https://committed/")?.errorClass == .dns)
        #expect(try await reopened.allURLRecords().count == 1)
        #expect(try await reopened.runs().isEmpty)
    }

    @Test(.enabled(if: hasSQLiteShell)) func aWriterKilledMidTransactionLeavesAManifestThatChecksClean() async throws {
        let folder = try TemporaryFolder()
        let manifest = try open(folder)
        try await manifest.record(
            .failed(
                .init(
                    url: "https://committed/", failureClass: .dns, message: "x", httpStatus: nil, attempts: 1, at: t0)))
        try manifest.close()

        // A second process (the sqlite3 shell) opens the manifest, commits one run, starts a big write with a
        // tiny page cache so pages spill into the WAL, says so, and is SIGKILLed without closing anything.
        var shell = try Child("/usr/bin/sqlite3", [folder.url.appendingPathComponent("manifest.sqlite").path])
        shell.write(
            """
            PRAGMA cache_size = 8;
            INSERT INTO run (command, started_at) VALUES ('committed', '2027-01-15 08:00:00.000');
            BEGIN IMMEDIATE;
            INSERT INTO run (command, started_at)
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
                SELECT 'uncommitted ' || i || ' ' || hex(randomblob(64)), '2027-01-15 08:00:00.000' FROM n;
            SELECT 'ready';

            """)
        #expect(shell.read(until: "ready").contains("ready"))
        let wal = folder.url.appendingPathComponent("manifest.sqlite-wal")
        let walSize = (try FileManager.default.attributesOfItem(atPath: wal.path)[.size] as? Int) ?? 0
        #expect(walSize > 100_000, "the uncommitted write should have spilled into the WAL")
        kill(shell.pid, SIGKILL)
        #expect(shell.wait().signal == SIGKILL)

        let reopened = try open(folder)
        #expect(try await reopened.integrityCheck())
        #expect(try await reopened.urlRecord("https://committed/")?.errorClass == .dns)
        #expect(try await reopened.runs().map(\.command) == ["committed"])
        // And it takes writes again.
        _ = try await reopened.startRun(command: "after", at: t0)
        #expect(try await reopened.runs().count == 2)
    }
}
