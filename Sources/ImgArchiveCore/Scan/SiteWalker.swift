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

    /// The posts under `paths`, sorted: files named directly are taken whatever their extension; folders are
    /// walked without following links to folders.
    public static func posts(in paths: [String]) -> (posts: [String], problems: [Problem]) {
        var posts: [String] = []
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
            walk(path, into: &posts, problems: &problems)
        }
        return (posts.sorted(), problems)
    }

    private static func walk(_ folder: String, into posts: inout [String], problems: inout [Problem]) {
        let fm = FileManager.default
        let entries: [String]
        do {
            entries = try fm.contentsOfDirectory(atPath: folder)
        } catch {
            problems.append(Problem(path: folder, message: "cannot list this folder (\(error.localizedDescription))"))
            return
        }
        for name in entries.sorted() {
            let path = folder == "." ? name : (folder.hasSuffix("/") ? folder + name : folder + "/" + name)
            // lstat, not `attributesOfItem`: that one also looks up the owner's and group's names, per file.
            var status = stat()
            guard lstat(path, &status) == 0 else { continue }
            let type = status.st_mode & S_IFMT
            if type == S_IFDIR {
                if !skippedFolders.contains(name) { walk(path, into: &posts, problems: &problems) }
            } else if type == S_IFREG || type == S_IFLNK {
                let ext = (name as NSString).pathExtension.lowercased()
                if postExtensions.contains(ext) { posts.append(path) }
            }
        }
    }

    /// Reads a post's bytes, or says why it cannot be read.
    public static func read(_ path: String) -> Result<[UInt8], Problem> {
        if let bytes = readRegularFile(path) { return .success(bytes) }
        do {  // not a regular file, or it failed: Foundation says why
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            return .success([UInt8](data))
        } catch {
            return .failure(
                Problem(path: path, message: "cannot read this post (\(error.localizedDescription)); skipped"))
        }
    }

    /// A regular file's bytes by open, fstat and read (no URL, no `Data` copy: a small post costs three calls);
    /// nil when it is not a regular file or a call fails.
    private static func readRegularFile(_ path: String) -> [UInt8]? {
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
        return bytes
    }

    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.read(fd, buffer, count)
        #else
            Darwin.read(fd, buffer, count)
        #endif
    }
}
