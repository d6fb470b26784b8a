import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

#if canImport(Glibc)
    import Glibc
#endif

/// A full disk, for real, on a 1 MB tmpfs (mounted and unmounted here; skipped with a message where mounting
/// is not permitted): SQLite's SQLITE_FULL and the file system's ENOSPC both map to `.diskFull`, and SQLite's
/// 13 is shown as SQLite's, not as errno 13 ("permission denied").
@Suite(.serialized) struct DiskFullStoreTests {
    @Test func fullDiskIsDiskFullFromSQLiteAndFromTheFileSystem() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imgarchive-full-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        guard mount("tmpfs", folder, "tmpfs", 0, "size=1m") == 0 else {
            print("DiskFullStoreTests skipped: mounting a tmpfs is not permitted (\(String(cString: strerror(errno))))")
            return
        }
        defer { umount(folder) }
        let root = URL(fileURLWithPath: folder + "/archive")
        let store = try ArchiveStore(root: root)
        let manifest = try SQLiteManifest(layout: store.layout)
        defer { try? manifest.close() }

        var sqliteError: StoreError?
        let message = String(repeating: "x", count: 4000)
        for i in 0..<2000 {
            do {
                try await manifest.record(
                    .failed(
                        .init(
                            url: "http://example.test/\(i).jpg", failureClass: .dns, message: message, httpStatus: nil,
                            attempts: 1, at: Date())))
            } catch {
                sqliteError = error
                break
            }
        }
        let full = try #require(sqliteError, "1 MB never filled up")
        #expect(full.code == .diskFull, "\(full)")
        #expect(full.cCodeSource == .sqlite && (full.cCode ?? 0) & 0xFF == 13)
        #expect(full.description.contains("[sqlite 13]") && !full.description.contains("errno"), "\(full)")

        // The file system's side: copying 2 MB into the full file system.
        let source = folder + "-source"
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: source))
        defer { try? FileManager.default.removeItem(atPath: source) }
        var posixError: StoreError?
        do {
            try FileSystem.copyFile(source, to: folder + "/archive/big")
        } catch {
            posixError = error
        }
        let enospc = try #require(posixError, "no ENOSPC from the file system")
        #expect(enospc.code == .diskFull, "\(enospc)")
        #expect(enospc.description.contains("[errno \(ENOSPC)]"), "\(enospc)")
    }
}
