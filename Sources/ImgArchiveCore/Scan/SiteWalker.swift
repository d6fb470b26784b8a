import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the posts under the paths a user names.
public enum SiteWalker {
    /// File name extensions of posts.
    public static let postExtensions: Set<String> = ["md", "markdown", "mdown", "html"]
    /// Folders that hold generated output, dependencies or the archive itself, never posts.
    public static let skippedFolders: Set<String> = [".git", "_site", "public", "node_modules", "archive"]

    /// A path that could not be walked, and why.
    public struct Problem: Error, Sendable, Hashable {
        /// The path as given or found.
        public var path: String
        /// What went wrong and what to do.
        public var message: String

        /// Creates a problem report.
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    /// The posts under `paths`, in the order of their paths' bytes (`PackedStrings.sortByBytes`): files named
    /// directly are taken whatever their extension; folders are walked without following links to folders. A
    /// folder that cannot be listed, and a post or folder whose name is not UTF-8, is a problem (in the order of
    /// their paths) and is skipped. The paths are packed as they are found, with no `String` made of each name (a
    /// `String` a name and a path had been 9 MB at 50,000 posts, the scan's peak).
    public static func posts(in paths: [String]) -> (posts: PackedStrings, problems: [Problem]) {
        var posts = PackedStrings()
        var problems: [Problem] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                problems.append(Problem(path: path, message: "no such file or folder: check the path"))
                continue
            }
            guard isDirectory.boolValue else {
                posts.append(path)
                continue
            }
            let prefix = path == "." ? [] : Array(path.utf8) + (path.hasSuffix("/") ? [] : [slash])
            walk(path, prefix: prefix, into: &posts, problems: &problems)
        }
        posts.sortByBytes()
        problems.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return (posts, problems)
    }

    private static let slash = UInt8(ascii: "/")

    /// Adds the posts under `folder` to `posts` in the order the folder lists them, each path `prefix` then its
    /// path in the folder; then walks its folders.
    private static func walk(
        _ folder: String, prefix: [UInt8], into posts: inout PackedStrings, problems: inout [Problem]
    ) {
        var folders: [[UInt8]] = []
        let end = FolderListing.forEach(in: folder) { name, listedType in
            var type = listedType
            if type == DT_UNKNOWN {  // a file system that does not say: lstat, which does not follow a link
                var status = stat()
                guard lstat(String(decoding: prefix + name, as: UTF8.self), &status) == 0 else { return }
                let mode = status.st_mode & S_IFMT
                type = mode == S_IFDIR ? DT_DIR : mode == S_IFREG ? DT_REG : mode == S_IFLNK ? DT_LNK : DT_UNKNOWN
            }
            let isFolder = type == DT_DIR
            guard isFolder || ((type == DT_REG || type == DT_LNK) && isPostName(name)) else { return }
            guard let text = String(validating: name, as: UTF8.self) else {
                let what =
                    isFolder
                    ? "this folder's name is not UTF-8: rename it to have its posts read"
                    : "this post's name is not UTF-8: rename it to have it read"
                problems.append(
                    Problem(path: String(decoding: prefix + name, as: UTF8.self), message: "\(what) (skipped)"))
                return
            }
            if !isFolder {
                posts.append(prefix, name)
            } else if !skippedFolders.contains(text) {
                folders.append(Array(name))
            }
        }
        switch end {
        case .listed: break
        case .notOpened(let code):
            problems.append(
                Problem(path: folder, message: "cannot list this folder (\(String(cString: strerror(code))))"))
        case .cutShort(let code):
            problems.append(
                Problem(path: folder, message: "cannot list all of this folder (\(String(cString: strerror(code))))"))
        }
        for name in folders {
            walk(
                String(decoding: prefix + name, as: UTF8.self), prefix: prefix + name + [slash], into: &posts,
                problems: &problems)
        }
    }

    /// Whether a file name ends in a post extension (`NSString.pathExtension`, lowercased, in `postExtensions`).
    static func isPostName(_ name: String) -> Bool { isPostName(Array(name.utf8)) }

    /// `isPostName` on a name's bytes: this runs once per file of the site. ASCII's lowercase is enough: the only
    /// other character that lowercases to a letter of an extension (U+212A, KELVIN SIGN, to "k") is 3 bytes long,
    /// which makes "markdown" longer than the 8 bytes an extension is looked up at.
    private static func isPostName(_ name: some BidirectionalCollection<UInt8>) -> Bool {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot != name.startIndex else { return false }
        let ext = name[name.index(after: dot)...]
        guard ext.count <= 8 else { return false }
        let lower = ext.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        return postExtensions.contains { $0.utf8.elementsEqual(lower) }
    }

    /// Reads a post's bytes, or says why it cannot be read.
    public static func read(_ path: String) -> Result<[UInt8], Problem> {
        readStamped(path).map(\.bytes)
    }

    /// Reads a post's bytes with the stamp of the file they were read from (`FileStamp`, nil when the file
    /// changed too recently for a stamp to be trusted, or is not a regular file), or says why it cannot be read.
    /// `now` is the time it is (tests move it on to see a stamp trusted).
    public static func readStamped(_ path: String, now: Int64 = FileStamp.now()) -> Result<
        (bytes: [UInt8], stamp: FileStamp?), Problem
    > {
        if let (bytes, status) = readRegularFile(path) {
            let stamp = status.map(FileStamp.init)
            return .success((bytes, stamp?.isSettled(at: now) == true ? stamp : nil))
        }
        do {  // not a regular file, or it failed: Foundation says why
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            return .success(([UInt8](data), nil))
        } catch {
            return .failure(
                Problem(path: path, message: "cannot read this post (\(error.localizedDescription)); skipped"))
        }
    }

    /// A regular file's bytes (`readRegularFile`); nil when it is not a regular file or a call fails (the caller
    /// reads it the general way, which says why). Posts are read with it again when they are rewritten.
    package static func regularFileBytes(_ path: String) -> [UInt8]? {
        readRegularFile(path)?.0
    }

    /// A regular file's bytes by open, fstat and read (no URL, no `Data` copy: a small post costs three calls);
    /// nil when it is not a regular file or a call fails.
    private static func readRegularFile(_ path: String) -> ([UInt8], stat?)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        let size = Int(status.st_size)
        var failed = false
        // One byte more than its size: the end of the file is seen without another call.
        let bytes = [UInt8](unsafeUninitializedCapacity: max(size, 0) + 1) { buffer, count in
            var done = 0
            while done < buffer.count {
                let n = systemRead(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0, errno == EINTR { continue }
                if n < 0 { failed = true }
                if n <= 0 { break }
                done += n
            }
            count = done
        }
        guard !failed, bytes.count <= size else { return nil }  // it grew since fstat: read it the general way
        // Shorter than its size: it changed while being read, its stamp says nothing of the bytes read.
        return (bytes, bytes.count == size ? status : nil)
    }

    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.read(fd, buffer, count)
        #else
            Darwin.read(fd, buffer, count)
        #endif
    }
}

/// What `stat` says of a post's file: enough to tell that it has not changed since it was last read, without
/// reading it. Size, modification and status-change times to the nanosecond, and inode: an editor that writes
/// in place changes the times (and usually the size); one that saves by rename makes a new inode; `touch -d`,
/// `cp -p` or `rsync -t`, which set the modification time back, still change the status-change time, which no
/// program can set.
public struct FileStamp: Sendable, Hashable {
    /// The file's size in bytes.
    public var size: Int64
    /// Its modification time, in nanoseconds since 1970.
    public var modified: Int64
    /// Its status-change time (ctime), in nanoseconds since 1970.
    public var changed: Int64
    /// Its inode number (as a signed 64-bit integer, for the manifest).
    public var inode: Int64

    /// How much older than the moment it was taken a file's last change must be for its stamp to be trusted:
    /// 2 s. A file system stamps changes with a coarse clock (a kernel tick on ext4, whole seconds on some, 2 s
    /// on FAT), so a change in the same tick as the stamp, to the same size, would look like no change; a stamp
    /// of a file changed less than 2 s before is not recorded, and the file is read again next time.
    public static let settleTime: Int64 = 2_000_000_000

    /// Creates a stamp.
    public init(size: Int64, modified: Int64, changed: Int64, inode: Int64) {
        self.size = size
        self.modified = modified
        self.changed = changed
        self.inode = inode
    }

    init(_ s: stat) {
        #if canImport(Darwin)
            let (m, c) = (s.st_mtimespec, s.st_ctimespec)
        #else
            let (m, c) = (s.st_mtim, s.st_ctim)
        #endif
        self.init(
            size: Int64(s.st_size), modified: Int64(m.tv_sec) &* 1_000_000_000 &+ Int64(m.tv_nsec),
            changed: Int64(c.tv_sec) &* 1_000_000_000 &+ Int64(c.tv_nsec), inode: Int64(bitPattern: UInt64(s.st_ino)))
    }

    /// The stamp of the file at `path` (symbolic links followed), nil when it cannot be had.
    public static func of(_ path: String) -> FileStamp? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return FileStamp(status)
    }

    /// Whether the file's last change is at least `settleTime` before `time` (nanoseconds since 1970).
    public func isSettled(at time: Int64) -> Bool { max(modified, changed) <= time - Self.settleTime }

    /// The time now, in nanoseconds since 1970 (the clock file systems stamp changes with).
    public static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
