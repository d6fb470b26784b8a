import Foundation
import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin POSIX wrappers: every call that can fail maps `errno` through `StoreError.posix`.
package enum FileSystem {
    /// Creates a folder (and its parents); an existing folder is fine.
    package static func makeDirectory(_ path: String) throws(StoreError) {
        if mkdir(path, 0o755) == 0 { return }
        let code = errno
        if code == EEXIST {
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw StoreError(code: .io, path: path, message: "\(path) exists and is not a folder", cCode: EEXIST)
        }
        if code == ENOENT {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty && parent != path {
                try makeDirectory(parent)
                if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
            }
        }
        throw StoreError.posix("creating the folder", path: path, errno: code)
    }

    /// Whether a path exists, and its size when it is a regular file.
    package static func fileSize(_ path: String) throws(StoreError) -> Int64? {
        var info = stat()
        if stat(path, &info) == 0 { return Int64(info.st_size) }
        if errno == ENOENT { return nil }
        throw StoreError.posix("reading the file's status", path: path)
    }

    /// Flushes a file's bytes to stable storage.
    static func syncFile(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix("opening the file to sync it", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError.posix("fsync", path: path) }
    }

    /// Flushes a folder's entries (a rename into it) to stable storage.
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix("opening the folder to sync it", path: path) }
        defer { close(fd) }
        // Some file systems refuse fsync on folders (EINVAL); the rename is then as durable as they allow.
        guard fsync(fd) == 0 || errno == EINVAL else { throw StoreError.posix("fsync of the folder", path: path) }
    }

    /// Flushes the whole file system holding `path` (Linux `syncfs`, looked up at run time because Glibc's
    /// module map hides it behind `_GNU_SOURCE`; `sync()` where it is missing).
    static func syncFileSystem(containing path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix("opening the folder to sync it", path: path) }
        defer { close(fd) }
        guard let syncfs = syncfsFunction else {
            sync()
            return
        }
        guard syncfs(fd) == 0 else { throw StoreError.posix("syncfs", path: path) }
    }

    private typealias SyncFS = @convention(c) (Int32) -> Int32
    private static let syncfsFunction: SyncFS? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: SyncFS.self)
    }()

    /// Atomically renames `source` to `destination` (replacing it when present).
    package static func moveIntoPlace(_ source: String, to destination: String) throws(StoreError) {
        guard rename(source, destination) == 0 else {
            throw StoreError.posix("renaming \(source) into place", path: destination)
        }
    }

    /// Copies a file's bytes to a new file at `destination` (created, or truncated when present).
    static func copyFile(_ source: String, to destination: String) throws(StoreError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw StoreError.posix("opening the file to copy it", path: source) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw StoreError.posix("creating the copy", path: destination) }
        defer { close(output) }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(input, buffer.baseAddress, chunk)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw StoreError.posix("reading the file to copy it", path: source) }
            if count == 0 { return }
            var offset = 0
            while offset < count {
                let written = write(output, buffer.baseAddress.map { $0 + offset }, count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw StoreError.posix("writing the copy", path: destination) }
                offset += written
            }
        }
    }

    /// Removes a file; a missing file is fine.
    package static func removeFile(_ path: String) throws(StoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.posix("removing the file", path: path) }
    }

    /// The names in a folder (without `.` and `..`).
    package static func contents(of path: String) throws(StoreError) -> [String] {
        var names: [String] = []
        let end = FolderListing.forEach(in: path) { name, _ in names.append(String(decoding: name, as: UTF8.self)) }
        if case .notOpened(let code) = end { throw StoreError.posix("listing the folder", path: path, errno: code) }
        return names
    }

    /// Removes a file or a folder tree.
    package static func removeTree(_ path: String) throws(StoreError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw StoreError.posix("reading the file's status", path: path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try contents(of: path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw StoreError.posix("removing the folder", path: path) }
        } else {
            try removeFile(path)
        }
    }
}
