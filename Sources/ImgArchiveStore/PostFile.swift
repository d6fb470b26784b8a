import CFileShim
import Foundation
import ImgArchiveCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Replaces a post's bytes atomically: a temporary file beside the post, fsynced, with the post's permissions,
/// renamed over it. A reader (or a crash) sees the old post or the new one, never a mixture or an empty file.
public enum PostFile {
    /// The prefix of the temporary files written beside posts (`.<post name>.imgarchive-<pid>-<n>.tmp`).
    static let temporaryMarker = ".imgarchive-"

    /// What `replace` found when it looked at the post again just before the rename.
    public enum Outcome: Sendable, Hashable {
        /// The new bytes are in place.
        case replaced
        /// The post no longer holds `expected` (someone edited it); nothing was changed.
        case changedMeanwhile
    }

    /// Reads a post's bytes (a regular file by open, fstat and read, as the scan reads it).
    public static func read(_ path: String) throws(StoreError) -> [UInt8] {
        if let bytes = SiteWalker.regularFileBytes(path) { return bytes }
        do {  // not a regular file, or it failed: Foundation reads it or says why
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw StoreError(
                code: .io, path: path, message: "\(path): cannot read the post (\(error.localizedDescription))",
                underlying: error)
        }
    }

    /// The file a post's path names, symbolic links resolved (the post's own too): where `stage` writes.
    public static func target(of path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// `target(of:)` of many posts: each folder is resolved once, and each post looked at once (`lstat`). A post
    /// that is not a regular file (a symbolic link, or gone), or whose path has a `.`, `..` or empty part (or a
    /// hidden name), is resolved as a whole.
    public static func targets(of paths: [String]) -> [String] {
        let here = FileManager.default.currentDirectoryPath
        var folders: [String: String] = [:]
        return paths.map { path in
            let plain =
                !path.isEmpty && !path.hasPrefix(".") && !path.hasSuffix("/") && !path.contains("/.")
                && !path.contains("//")
            var info = stat()
            guard plain, lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return target(of: path) }
            let (folder, name) = ArchiveLayout.folderAndName(path, in: here)
            let resolved: String
            if let known = folders[folder] {
                resolved = known
            } else {
                resolved = ArchiveLayout.resolved(folder: folder)
                folders[folder] = resolved
            }
            return (resolved == "/" ? "" : resolved) + "/" + name
        }
    }

    /// Writes `bytes` over the post at `path` if it still holds `expected`, keeping its permissions. A symbolic
    /// link is followed: the file it points at is replaced, the link stays. `beforeRename` runs once the new
    /// bytes are durable in the temporary file and the post was found unchanged (the rewriter records its
    /// bookkeeping there, so the manifest knows a rewrite before the post shows it).
    public static func replace(
        _ path: String, expected: [UInt8], with bytes: [UInt8], beforeRename: () async throws -> Void = {}
    ) async throws -> Outcome {
        let staged = try stage(path, expected: expected, with: bytes)
        var done = false
        defer { if !done { discard(staged) } }
        if let error = await sync([staged])[0] { throw error }
        guard try self.read(staged.target) == expected else { return .changedMeanwhile }
        try await beforeRename()
        done = true
        guard try moveIntoPlace(staged) == .replaced else { return .changedMeanwhile }
        try syncFolders(of: [staged])
        return .replaced
    }

    // MARK: Batches

    // A batch of posts is replaced in four steps, so its durability costs one fsync per post (issued from a
    // few threads at once, sharing the file system's journal commits) and one per folder: `stage` writes each
    // post's temporary file, `sync` makes them all durable, then (after the caller's durable record)
    // `moveIntoPlace` renames each over its post, and `syncFolders` makes the renames durable. Until its
    // rename a post is its old bytes; after it, its new bytes.

    /// Writes a post's new bytes to a temporary file beside it (the file a symbolic link names), with the
    /// post's permissions; not yet durable (`sync`) nor in place (`moveIntoPlace`). `target` is `path` with
    /// symbolic links resolved, when the caller knows it. With `spares`, the file of a post of the same folder
    /// replaced earlier in the run is written again when there is one (`Spares`).
    public static func stage(
        _ path: String, target: String? = nil, expected: [UInt8], with bytes: [UInt8], spares: Spares? = nil
    ) throws(StoreError) -> Staged {
        let target = target ?? Self.target(of: path)
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        var info = stat()
        guard stat(target, &info) == 0 else { throw StoreError.posix("reading the post's status", path: path) }
        let temporary: String
        let fd: Int32
        let spare = spares?.take(in: folder)
        if let spare {
            (temporary, fd) = spare
        } else {
            temporary = folder + "/." + name + temporaryMarker + "\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw StoreError.posix("creating a temporary file beside the post", path: temporary) }
        }
        defer { close(fd) }
        // A spare is written from its start and cut to the new length; a new file is empty.
        guard writeAll(fd, bytes), spare == nil || ftruncate(fd, off_t(bytes.count)) == 0 else {
            let error = StoreError.posix("writing the rewritten post", path: temporary)
            unlink(temporary)
            throw error
        }
        guard fchmod(fd, info.st_mode & 0o7777) == 0 else {
            let error = StoreError.posix("copying the post's permissions", path: temporary)
            unlink(temporary)
            throw error
        }
        if getuid() == 0 { _ = fchown(fd, info.st_uid, info.st_gid) }
        return Staged(
            path: path, target: target, folder: folder.isEmpty ? "." : folder, temporary: temporary,
            expected: expected)
    }

    /// Flushes the temporary files of staged posts to stable storage, from up to `threads` threads at once
    /// (off Swift's cooperative pool). Returns, for each, nil or why it failed (the caller discards it).
    public static func sync(_ staged: [Staged], threads: Int = 8) async -> [StoreError?] {
        guard !staged.isEmpty else { return [] }
        let work = SyncWork(staged.map(\.temporary), workers: max(1, min(threads, staged.count)))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for _ in 0..<work.workers {
                Thread { if work.run() { continuation.resume() } }.start()
            }
        }
        return work.state.withLock { $0.errors }
    }

    /// The fsyncs of one `sync`, shared by its threads.
    private final class SyncWork: Sendable {
        let paths: [String]
        let workers: Int
        let state: Mutex<(next: Int, errors: [StoreError?], running: Int)>

        init(_ paths: [String], workers: Int) {
            self.paths = paths
            self.workers = workers
            state = Mutex((0, [StoreError?](repeating: nil, count: paths.count), workers))
        }

        /// One thread's share: takes files until none is left; true for the last thread to finish.
        func run() -> Bool {
            while true {
                let i = state.withLock { s in
                    defer { s.next += 1 }
                    return s.next
                }
                guard i < paths.count else { break }
                do { try FileSystem.syncFile(paths[i]) } catch { state.withLock { $0.errors[i] = error } }
            }
            return state.withLock { s in
                s.running -= 1
                return s.running == 0
            }
        }
    }

    /// Renames a staged post's temporary file over the post if the post still holds the bytes it was staged
    /// against; otherwise deletes the temporary file and changes nothing. With `spares`, the two are swapped
    /// instead, and the post's old file is kept under the temporary name to be written again (`Spares`).
    public static func moveIntoPlace(_ staged: Staged, spares: Spares? = nil) throws(StoreError) -> Outcome {
        guard (try? read(staged.target)) == staged.expected else {
            discard(staged)
            return .changedMeanwhile
        }
        if let spares, spares.exchange(staged.temporary, staged.target, in: staged.folder) { return .replaced }
        do {
            try FileSystem.moveIntoPlace(staged.temporary, to: staged.target)
        } catch {
            discard(staged)
            throw error
        }
        return .replaced
    }

    /// Flushes the folders of these posts (each once) to stable storage, so their renames survive a power loss;
    /// then the old files their swaps kept in `spares` may be written again (`Spares.release`).
    public static func syncFolders(of staged: [Staged], releasing spares: Spares? = nil) throws(StoreError) {
        let folders = Set(staged.map(\.folder))
        let swapped = spares?.parked(in: folders) ?? []
        for folder in folders { try FileSystem.syncDirectory(folder) }
        spares?.release(swapped)
    }

    /// Deletes a staged post's temporary file (a post never put in place).
    public static func discard(_ staged: Staged) { unlink(staged.temporary) }

    /// The files of the posts a run replaced, kept to be written again. Each replaced post would otherwise free a
    /// file and each staged one create one; on a file system that searches its free inodes for every new file
    /// (ext4 without a journal steps over each inode freed in the last minute or so, docs/performance.md), that
    /// was a third of a rewrite's CPU. `moveIntoPlace` swaps the post and its new file (`RENAME_EXCHANGE`, one
    /// step: a reader sees one or the other) and keeps the old file under the temporary name; `stage` writes a
    /// later post of the same folder into it only when no one else can see its bytes change: a regular file with
    /// that one name (a hard link elsewhere still shows the old post), no extended attributes (they were the old
    /// post's), and no other open file description in any process (a reader of the old post keeps reading the
    /// old bytes; Linux grants a write lease only then), and only once the folder has been fsynced after the swap
    /// (`PostFile.syncFolders(of:releasing:)`): until then a power loss could undo the swap and give the post's name
    /// back to the old file, which must still hold the post's old bytes. A file that fails any of these is deleted,
    /// as the rename would have freed it. Where the swap is refused (a file system without it), posts are renamed
    /// over as before. `removeAll` deletes what is left at the end of a run; a killed run's are stale temporary files,
    /// which the next run removes.
    public final class Spares: Sendable {
        /// At most this many files are kept (the rest are deleted at once): four of a rewrite's batches (it stages a
        /// batch while the one before it is put in place).
        static let limit = 512
        /// The files that may be written again, by folder; those whose swap is not yet durable (`parked`, by folder);
        /// how many in all; whether swaps work here.
        private let state = Mutex<
            (byFolder: [String: [String]], parked: [String: Set<String>], count: Int, swaps: Bool)
        >(([:], [:], 0, true))

        /// An empty set.
        public init() {}

        /// Swaps `temporary` and `target`, keeping the old file under `temporary`; false (nothing changed) where
        /// the swap is refused, which stops the swaps for the rest of the run when the file system cannot.
        func exchange(_ temporary: String, _ target: String, in folder: String) -> Bool {
            guard state.withLock({ $0.swaps }) else { return false }
            guard CFileShim_exchange(temporary, target) == 0 else {
                if errno == EINVAL || errno == ENOSYS || errno == ENOTSUP { state.withLock { $0.swaps = false } }
                return false
            }
            let kept = state.withLock { s in
                guard s.count < Self.limit else { return false }
                s.parked[folder, default: []].insert(temporary)
                s.count += 1
                return true
            }
            if !kept { unlink(temporary) }
            return true
        }

        /// The files kept from swaps in `folders` that wait for their folder's fsync (`syncFolders`), as they are now.
        func parked(in folders: Set<String>) -> [(folder: String, path: String)] {
            state.withLock { s in folders.flatMap { folder in (s.parked[folder] ?? []).map { (folder, $0) } } }
        }

        /// Makes these parked files (`parked(in:)`, their folders fsynced since) ones that may be written again.
        func release(_ files: [(folder: String, path: String)]) {
            state.withLock { s in
                for (folder, path) in files where s.parked[folder]?.remove(path) != nil {
                    s.byFolder[folder, default: []].append(path)
                }
            }
        }

        /// A kept file of `folder` opened for writing, which only this run can see; nil when there is none.
        func take(in folder: String) -> (path: String, fd: Int32)? {
            let folder = folder.isEmpty ? "." : folder
            while let path = state.withLock({ s -> String? in
                guard let path = s.byFolder[folder]?.popLast() else { return nil }
                s.count -= 1
                return path
            }) {
                let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { continue }
                var info = stat()
                if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1,
                    CFileShim_noExtendedAttributes(fd) == 1, CFileShim_aloneOpen(fd) == 1
                {
                    return (path, fd)
                }
                close(fd)
                unlink(path)
            }
            return nil
        }

        /// Deletes the kept files.
        public func removeAll() {
            let paths = state.withLock { s in
                defer { (s.byFolder, s.parked, s.count) = ([:], [:], 0) }
                return Array(s.byFolder.values.joined()) + Array(s.parked.values.joined())
            }
            for path in paths { unlink(path) }
        }
    }

    /// A post's new bytes in a temporary file beside it (`stage`).
    public struct Staged: Sendable {
        /// The post's path, as given.
        public let path: String
        /// The file written: the post, symbolic links resolved.
        let target: String
        /// The folder holding `target` (synced once per batch).
        let folder: String
        /// The temporary file.
        let temporary: String
        /// The bytes the post must still hold when it is replaced.
        let expected: [UInt8]
    }

    /// Writes every byte, retrying short writes and EINTR; false with `errno` set on failure.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
    }

    /// Deletes the temporary files a killed rewrite left in `folder`; returns how many.
    @discardableResult
    public static func removeStaleTemporaryFiles(inFolder folder: String) throws(StoreError) -> Int {
        // Only the temporary files' names are made `String`s: a post folder may hold 50,000 names (3-4 MB of
        // `String`s, a rewrite rerun's peak).
        var temporary: [String] = []
        let end = FolderListing.forEach(in: folder) { name, _ in
            guard name.first == UInt8(ascii: "."), name.count > 4, name.suffix(4).elementsEqual(".tmp".utf8) else {
                return
            }
            let text = String(decoding: name, as: UTF8.self)
            if text.contains(temporaryMarker) { temporary.append(text) }
        }
        if case .notOpened(let code) = end { throw StoreError.posix("listing the folder", path: folder, errno: code) }
        for name in temporary { try FileSystem.removeFile(folder + "/" + name) }
        return temporary.count
    }
}
