import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

/// A scan recorded again: the references the manifest already holds for a post are kept as they are when the scan
/// finds the same ones (`replaceReferences` then writes only the post's row), replaced otherwise.
@Suite struct RescanTests {
    private func reference(_ n: Int, origin: String? = nil, width: Int? = nil, wrapped: Bool = false)
        -> ReferenceRecord
    {
        ReferenceRecord(
            rangeStart: n, rangeEnd: n + 10, line: 1, column: n + 1, kind: "html-img", written: "https://h/\(n)",
            url: "https://h/\(n)", origin: origin, width: width, wrapped: wrapped)
    }

    @Test func theSameReferencesAreKeptAndTheRowIsUpdated() async throws {
        let folder = try TemporaryFolder()
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        let sha = String(repeating: "a", count: 64)
        let references = [reference(1, origin: "https://o/1", width: 550, wrapped: true), reference(2)]
        try await manifest.replaceReferences(
            post: "a.md", contentSHA256: sha, scannedAt: Date(timeIntervalSince1970: 0), references: references)
        let stamp = FileStamp(size: 9, modified: 1, changed: 2, inode: 3)
        let newSHA = String(repeating: "b", count: 64)
        try await manifest.replaceReferences(
            [
                PostReferences(
                    post: "a.md", contentSHA256: newSHA, references: references, file: stamp, scannedWith: "s")
            ],
            scannedAt: Date(timeIntervalSince1970: 60))
        #expect(try await manifest.references(post: "a.md") == references)
        #expect(try await manifest.post("a.md")?.contentSHA256 == newSHA)
        #expect(try await manifest.post("a.md")?.scannedAt == Date(timeIntervalSince1970: 60))
        #expect(
            try await manifest.recordedScans()["a.md"]
                == RecordedScan(contentSHA256: newSHA, file: stamp, scannedWith: "s"))
        #expect(try await manifest.posts(referencing: "https://o/1") == ["a.md"])
    }

    @Test(arguments: [
        [1],  // fewer
        [1, 2, 3],  // more
        [2, 1],  // reordered
        [],  // none
    ])
    func otherReferencesReplaceThem(_ numbers: [Int]) async throws {
        let folder = try TemporaryFolder()
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        let sha = String(repeating: "a", count: 64)
        try await manifest.replaceReferences(
            post: "a.md", contentSHA256: sha, scannedAt: Date(), references: [reference(1), reference(2)])
        let references = numbers.map { reference($0) }
        try await manifest.replaceReferences(
            post: "a.md", contentSHA256: sha, scannedAt: Date(), references: references)
        #expect(try await manifest.references(post: "a.md") == references)
    }

    @Test func aChangeInAnyFieldReplacesThem() async throws {
        let folder = try TemporaryFolder()
        let manifest = try SQLiteManifest(layout: ArchiveLayout(root: folder.url))
        let sha = String(repeating: "a", count: 64)
        var recorded = [reference(1), reference(2, origin: "https://o/2", width: 100)]
        try await manifest.replaceReferences(post: "a.md", contentSHA256: sha, scannedAt: Date(), references: recorded)
        let changes: [(inout ReferenceRecord) -> Void] = [
            { $0.rangeStart -= 1 }, { $0.rangeEnd += 1 }, { $0.line += 1 }, { $0.column += 1 },
            { $0.kind = "markdown-image" },
            { $0.written += "x" }, { $0.url += "x" }, { $0.origin = nil }, { $0.width = 200 }, { $0.wrapped = true },
        ]
        for change in changes {
            change(&recorded[1])
            try await manifest.replaceReferences(
                post: "a.md", contentSHA256: sha, scannedAt: Date(), references: recorded)
            #expect(try await manifest.references(post: "a.md") == recorded)
        }
    }
}
