import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

/// The read-only queries `verify` uses to name the URLs a damaged file came from.
@Suite struct ManifestQueryTests {
    private static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    private static func digest(_ n: Int) -> String { String(format: "%064x", n) }
    private static func object(_ n: Int) throws -> ObjectRecord {
        ObjectRecord(
            sha256: digest(n), format: .jpeg, bytes: 100, width: nil, height: nil,
            path: try ArchiveLayout.objectPath(sha256: digest(n), format: .jpeg), createdAt: t0)
    }

    @Test func urlsArchivedAsAnObjectAreListedOldestFirstWithTheirSources() async throws {
        let folder = try TemporaryFolder()
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        defer { try? manifest.close() }
        // Two URLs give object 1 (the second later, from its origin); the first then changes to object 2.
        try await manifest.record(
            .archived(
                .init(
                    url: "https://b.example/x.jpg", archivedFrom: "https://b.example/x.jpg", object: try Self.object(1),
                    httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: Self.t0)))
        try await manifest.record(
            .archived(
                .init(
                    url: "https://a.example/x.jpg?w=300", archivedFrom: "https://a.example/x.jpg",
                    object: try Self.object(1),
                    httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: Self.t0.addingTimeInterval(10))))
        try await manifest.record(
            .archived(
                .init(
                    url: "https://b.example/x.jpg", archivedFrom: "https://b.example/x.jpg", object: try Self.object(2),
                    httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: Self.t0.addingTimeInterval(20))))

        let first = try await manifest.urls(archivedAs: Self.digest(1))
        #expect(first.map(\.url) == ["https://b.example/x.jpg", "https://a.example/x.jpg?w=300"])
        #expect(first.map(\.archivedFrom) == ["https://b.example/x.jpg", "https://a.example/x.jpg"])
        let second = try await manifest.urls(archivedAs: Self.digest(2))
        #expect(second.map(\.url) == ["https://b.example/x.jpg"])
        #expect(try await manifest.urls(archivedAs: Self.digest(3)).isEmpty)
    }
}
