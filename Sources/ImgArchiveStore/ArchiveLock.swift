public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive, non-blocking `flock` on `<archive>/lock`, held from `acquire` until `release` or deinit.
///
/// `flock` belongs to the open file description, so the lock is released by the kernel when the process
/// dies however it dies (SIGKILL included); a stale lock file on disk means nothing.
public final class ArchiveLock: Sendable {
    /// The lock file's path.
    public let path: String
    /// The archive root this lock protects.
    public let root: URL
    private let descriptor: Mutex<Int32>

    private init(path: String, root: URL, descriptor: Int32) {
        self.path = path
        self.root = root
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the archive's lock or throws `StoreError` with code `.locked` at once when another run holds it.
    /// Creates the archive root when missing.
    public static func acquire(_ root: URL) throws(StoreError) -> ArchiveLock {
        let layout = ArchiveLayout(root: root)
        try FileSystem.makeDirectory(layout.rootPath)
        let path = layout.lockURL.path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.posix("opening the lock file", path: path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw StoreError.posix("locking", path: path, errno: code)
        }
        // For people who look: the holder's process id (informational only; the flock is what counts).
        let note = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return ArchiveLock(path: path, root: layout.root, descriptor: fd)
    }

    /// Whether this object still holds the lock.
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    /// Releases the lock (idempotent; deinit does it too).
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
