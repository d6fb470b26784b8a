import Crypto
public import Foundation
public import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The content-addressed archive on disk: originals under `objects/`, derivatives under `w<width>/`,
/// in-flight files under `tmp/`. Files enter only by rename from `tmp/`, after fsync, so a crash leaves
/// either no file or a complete one at an archive path.
public struct ArchiveStore: Sendable {
    /// Where everything lives.
    public let layout: ArchiveLayout
    /// When committed files reach stable storage.
    public let durability: Durability
    /// The root as a path, made once (a `URL` made per file was most of `fileExists`).
    private let rootPath: String

    /// When committed files reach stable storage. Either way a commit is a rename from `tmp/`, so a killed
    /// process never leaves a partial file at an archive path; the choice matters only for power loss.
    public enum Durability: Sendable, Hashable {
        /// Each commit fsyncs the file before the rename and the folder after it (about 3 to 5 ms each on
        /// the development VM's ext4).
        case immediate
        /// Commits only rename; `synchronize()` (one `syncfs` of the archive's file system) makes everything
        /// committed so far durable. For bulk runs: call it before recording a batch as final.
        case deferred
    }

    /// The outcome of re-hashing an archived file.
    public enum HashCheck: Sendable, Hashable {
        /// The file exists and hashes to the expected digest.
        case intact
        /// No file at the path.
        case missing
        /// The file's bytes hash to another digest.
        case mismatch(actualSHA256: String)
    }

    /// Opens the archive at `root`, creating it and its folders when missing.
    public init(root: URL, durability: Durability = .immediate) throws(StoreError) {
        layout = ArchiveLayout(root: root)
        self.durability = durability
        rootPath = layout.rootPath
        for folder in ["", ArchiveLayout.objectsFolder, ArchiveLayout.temporaryFolder, ArchiveLayout.reportsFolder] {
            try FileSystem.makeDirectory(folder.isEmpty ? layout.rootPath : layout.rootPath + "/" + folder)
        }
    }

    /// The folder where in-flight files are written (same file system as the archive, so rename works).
    public var temporaryDirectory: URL { layout.temporaryDirectory }

    /// A fresh, unused path in the temporary folder (the name is random, never from a URL).
    public func makeTemporaryFileURL(suffix: String = "part") -> URL {
        let name = UUID().uuidString.lowercased() + "." + suffix.filter { $0.isLetter || $0.isNumber }
        return temporaryDirectory.appendingPathComponent(name, isDirectory: false)
    }

    /// Moves a complete temporary file to its content address and returns the relative object path.
    ///
    /// The file is fsynced, renamed into place when no object has that address yet (or when the one there
    /// has another size, which only a damaged archive has), and the folder is fsynced. When the object is
    /// already there (the same bytes from another URL), the temporary file is deleted. The caller vouches
    /// for `sha256` (computed while streaming); `verify` re-hashes.
    public func commitObject(temporaryFile: URL, sha256: String, format: ImageFormat) throws(StoreError) -> String {
        let relative = try ArchiveLayout.objectPath(sha256: sha256, format: format)
        try commit(temporaryFile: temporaryFile, relativePath: relative, replace: false)
        return relative
    }

    /// The relative path of the derivative of original `sha256` at `width` pixels in `format`.
    public func thumbnailPath(sha256: String, width: Int, format: ImageFormat) throws(StoreError) -> String {
        try ArchiveLayout.thumbnailPath(sha256: sha256, width: width, format: format)
    }

    /// Moves a complete temporary file to a derivative path made by `thumbnailPath`, replacing any file
    /// there (a rebuilt derivative), with the fsync and rename discipline of `.immediate` originals whatever
    /// `durability` says: derivatives are few and their rows are written one by one, each after its file is
    /// durable (posts will link to it).
    public func commitDerivative(temporaryFile: URL, to relativePath: String) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(relativePath)
        guard !relativePath.hasPrefix(ArchiveLayout.objectsFolder + "/") else {
            throw StoreError(
                code: .invalidArgument, path: relativePath,
                message: "derivatives never replace originals: \(relativePath)")
        }
        try commit(temporaryFile: temporaryFile, relativePath: relativePath, replace: true, durable: true)
    }

    private func commit(
        temporaryFile: URL, relativePath: String, replace: Bool, durable: Bool? = nil
    ) throws(StoreError) {
        let source = temporaryFile.standardizedFileURL.path
        let destination = layout.url(for: relativePath).path
        func missing() -> StoreError {
            StoreError(code: .io, path: source, message: "the temporary file \(source) does not exist", cCode: ENOENT)
        }
        // Per object, in the common case (a new address in a shard that exists): one `stat` of the address and
        // the rename. The source's size is read only to compare with an object already there; a missing shard
        // folder, or a missing source, is found by the rename failing with ENOENT.
        if !replace, let existing = try FileSystem.fileSize(destination) {
            guard let size = try FileSystem.fileSize(source) else { throw missing() }
            if existing == size {
                try FileSystem.removeFile(source)
                return
            }
        }
        let durable = durable ?? (durability == .immediate)
        if durable {
            guard try FileSystem.fileSize(source) != nil else { throw missing() }
            try FileSystem.syncFile(source)
        }
        let shard = (destination as NSString).deletingLastPathComponent
        do {
            try FileSystem.moveIntoPlace(source, to: destination)
        } catch  where error.cCode == ENOENT {
            guard try FileSystem.fileSize(source) != nil else { throw missing() }
            try FileSystem.makeDirectory(shard)  // an existing folder (made by another commit meanwhile) is fine
            if durable {
                let parent = (shard as NSString).deletingLastPathComponent
                try FileSystem.syncDirectory(parent)
                try FileSystem.syncDirectory((parent as NSString).deletingLastPathComponent)
            }
            try FileSystem.moveIntoPlace(source, to: destination)
        }
        if durable { try FileSystem.syncDirectory(shard) }
    }

    /// Makes every file committed so far durable: one `syncfs` of the archive's file system (a no-op
    /// worth calling with `.immediate` too).
    public func synchronize() throws(StoreError) {
        try FileSystem.syncFileSystem(containing: layout.rootPath)
    }

    /// Makes one committed object file durable (its data and inode) with `fsync`, without syncing the whole
    /// file system; `synchronizeFolders(of:movedFrom:)` then makes its folder entry durable.
    package func synchronizeFile(object relativePath: String) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(relativePath)
        try FileSystem.syncFile(layout.url(for: relativePath).path)
    }

    /// Makes the folder entries of committed objects durable (with `synchronizeFile(object:)` for each file, a
    /// scoped alternative to `synchronize()`, cheaper when other programs have dirty data on the file system):
    /// `fsync` of each folder in `movedFrom` (the temporary folders the files were renamed out of), of each shard
    /// folder holding one of `relativePaths`, of `objects/` and of the root (new shard folders), each once.
    package func synchronizeFolders(of relativePaths: [String], movedFrom folders: [String]) throws(StoreError) {
        var shards = Set<String>()
        for relative in relativePaths {
            try ArchiveLayout.checkRelativePath(relative)
            shards.insert((layout.url(for: relative).path as NSString).deletingLastPathComponent)
        }
        guard !shards.isEmpty else { return }
        for folder in Set(folders).sorted() { try FileSystem.syncDirectory(folder) }
        for shard in shards.sorted() { try FileSystem.syncDirectory(shard) }
        try FileSystem.syncDirectory(layout.url(for: ArchiveLayout.objectsFolder).path)
        try FileSystem.syncDirectory(layout.rootPath)
    }

    /// Whether a file exists at a relative archive path.
    public func fileExists(_ relativePath: String) throws(StoreError) -> Bool {
        try ArchiveLayout.checkRelativePath(relativePath)
        return try FileSystem.fileSize(rootPath + "/" + relativePath) != nil
    }

    /// Deletes everything in the temporary folder: files left by a run that died. Only safe while no other
    /// run writes there, hence the lock parameter; returns how many entries were removed.
    @discardableResult
    public func removeStaleTemporaryFiles(holding lock: ArchiveLock) throws(StoreError) -> Int {
        try Self.removeStaleTemporaryFiles(in: temporaryDirectory.path, of: layout, holding: lock)
    }

    /// Deletes everything in `folder`, the temporary folder of a store of the archive at `layout` (every store
    /// keeps its temporary files on the local disk, under the archive's `tmp/`), under the archive's lock.
    package static func removeStaleTemporaryFiles(
        in folder: String, of layout: ArchiveLayout, holding lock: ArchiveLock
    ) throws(StoreError) -> Int {
        guard lock.isHeld, lock.root.path == layout.root.path else {
            throw StoreError(
                code: .invalidArgument, path: lock.path,
                message: "removing temporary files needs this archive's lock, held (\(lock.path))")
        }
        // `tmp/warc/` holds WARC files being written: a killed run's are cut back to whole records and finished
        // by the next fetch (`WARCWriter.salvage`), not removed.
        let names = try FileSystem.contents(of: folder).filter { $0 != "warc" }
        for name in names { try FileSystem.removeTree(folder + "/" + name) }
        return names.count
    }

    /// Re-hashes the file at a relative archive path (streaming) and compares it with `sha256`.
    public func verify(_ relativePath: String, sha256: String) throws(StoreError) -> HashCheck {
        try ArchiveLayout.checkRelativePath(relativePath)
        try ArchiveLayout.checkSHA256(sha256)
        guard let actual = try Self.sha256(ofFileAt: layout.url(for: relativePath), missingOK: true) else {
            return .missing
        }
        return actual == sha256 ? .intact : .mismatch(actualSHA256: actual)
    }

    /// The SHA-256 of bytes in memory (a post's content), lowercase hex.
    public static func sha256(of bytes: [UInt8]) -> String {
        Hex.lowercase(SHA256.hash(data: bytes))
    }

    /// The lowercase hex SHA-256 of a file's bytes, read in 64 KiB chunks.
    public static func sha256(ofFileAt url: URL) throws(StoreError) -> String {
        guard let digest = try sha256(ofFileAt: url, missingOK: false) else {
            throw StoreError(code: .io, path: url.path, message: "no file at \(url.path)", cCode: ENOENT)
        }
        return digest
    }

    private static func sha256(ofFileAt url: URL, missingOK: Bool) throws(StoreError) -> String? {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT && missingOK { return nil }
            throw StoreError.posix("opening the file", path: path)
        }
        defer { close(fd) }
        var hasher = SHA256()
        // Below malloc's map threshold (`MallocTuning`): a block from there up would be mapped and unmapped for
        // every file (verify hashes each archived file once), its pages faulted in anew each time.
        let chunk = 1 << 16
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(fd, buffer.baseAddress, chunk)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("reading the file", path: path)
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return Hex.lowercase(hasher.finalize())
    }
}

extension ArchiveStore: ObjectStore {
    public func fileForReading(_ relativePath: String) throws(StoreError) -> URL {
        try ArchiveLayout.checkRelativePath(relativePath)
        return layout.url(for: relativePath)
    }

    public func makeDurable(object relativePath: String) throws(StoreError) {
        try synchronizeFile(object: relativePath)
    }

    public func makeDurable(objects relativePaths: [String], movedFrom folders: [String]) throws(StoreError) {
        try synchronizeFolders(of: relativePaths, movedFrom: folders)
    }

    public func forEachArchivedFile(_ body: (String) throws(StoreError) -> Void) throws(StoreError) {
        try layout.forEachArchivedFile(body)
    }

    public func quarantine(_ relativePath: String, into folder: String) throws(StoreError) -> String? {
        try ArchiveLayout.checkRelativePath(relativePath)
        let source = layout.url(for: relativePath).path
        guard try FileSystem.fileSize(source) != nil else { return nil }
        let relative = folder + "/" + relativePath
        let destination = layout.root.appendingPathComponent(relative, isDirectory: false).path
        try FileSystem.makeDirectory((destination as NSString).deletingLastPathComponent)
        try FileSystem.moveIntoPlace(source, to: destination)
        return relative
    }

    public func removeUnrecorded(_ relativePath: String) throws(StoreError) {
        try ArchiveLayout.checkRelativePath(relativePath)
        try FileSystem.removeFile(layout.url(for: relativePath).path)
    }
}
