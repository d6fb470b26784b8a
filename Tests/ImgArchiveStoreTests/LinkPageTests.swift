import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

@Test func linkPagesAreRecordedAndForgottenOnceArchived() async throws {
    let folder = try TemporaryFolder()
    let manifest = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    try await manifest.record([
        .linkPage(.init(url: "https://x.test/page", httpStatus: 200, contentType: "text/html", at: t0)),
        .linkPage(.init(url: "https://x.test/later-image", httpStatus: 200, contentType: nil, at: t0)),
    ])
    // A page is not a URL record: never "failed", never "archived".
    #expect(try await manifest.urlRecord("https://x.test/page") == nil)
    #expect(
        try await manifest.linkPages(["https://x.test/page", "https://x.test/other"]) == ["https://x.test/page": t0])
    // Checked again later: the date moves on.
    try await manifest.record([
        .linkPage(.init(url: "https://x.test/page", httpStatus: 200, contentType: "text/html", at: t0 + 60))
    ])
    #expect(try await manifest.linkPages(["https://x.test/page"])["https://x.test/page"] == t0 + 60)
    // It became an image: archived, no longer a page.
    let sha = String(repeating: "a", count: 64)
    let object = ObjectRecord(
        sha256: sha, format: .jpeg, bytes: 10, width: 1, height: 1,
        path: try ArchiveLayout.objectPath(sha256: sha, format: .jpeg), createdAt: t0)
    try await manifest.record(
        .archived(
            .init(
                url: "https://x.test/later-image", archivedFrom: "https://x.test/later-image", object: object,
                httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: t0 + 120)))
    #expect(try await manifest.linkPages().keys.sorted() == ["https://x.test/page"])
    try manifest.close()
}
