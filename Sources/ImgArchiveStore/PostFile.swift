import Foundation

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

    /// Reads a post's bytes.
    public static func read(_ path: String) throws(StoreError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw StoreError(
                code: .io, path: path, message: "\(path): cannot read the post (\(error.localizedDescription))",
                underlying: error)
        }
    }

    /// Writes `bytes` over the post at `path` if it still holds `expected`, keeping its permissions. A symbolic
    /// link is followed: the file it points at is replaced, the link stays. `beforeRename` runs once the new
    /// bytes are durable in the temporary file and the post was found unchanged (the rewriter records its
    /// bookkeeping there, so the manifest knows a rewrite before the post shows it).
    public static func replace(
        _ path: String, expected: [UInt8], with bytes: [UInt8], beforeRename: () async throws -> Void = {}
    ) async throws -> Outcome {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        var info = stat()
        guard stat(target, &info) == 0 else { throw StoreError.posix("reading the post's status", path: path) }
        let temporary = folder + "/." + name + temporaryMarker + "\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.posix("creating a temporary file beside the post", path: temporary) }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            guard writeAll(fd, bytes) else { throw StoreError.posix("writing the rewritten post", path: temporary) }
            guard fchmod(fd, info.st_mode & 0o7777) == 0 else {
                throw StoreError.posix("copying the post's permissions", path: temporary)
            }
            if getuid() == 0 { _ = fchown(fd, info.st_uid, info.st_gid) }
            guard fsync(fd) == 0 else { throw StoreError.posix("fsync", path: temporary) }
        }
        guard try self.read(target) == expected else { return .changedMeanwhile }
        try await beforeRename()
        try FileSystem.moveIntoPlace(temporary, to: target)
        renamed = true
        try FileSystem.syncDirectory(folder)
        return .replaced
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
        var removed = 0
        for name in try FileSystem.contents(of: folder)
        where name.hasPrefix(".") && name.hasSuffix(".tmp") && name.contains(temporaryMarker) {
            try FileSystem.removeFile(folder + "/" + name)
            removed += 1
        }
        return removed
    }
}
