public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension ArchiveLayout {
    /// The folder of manifest snapshots, relative to the root.
    public static let backupsFolder = "backups"

    /// What to do when the manifest is lost or damaged, for messages.
    public static let wayOut =
        "run imgarchive verify --repair to restore the newest snapshot from archive/backups/ and adopt the "
        + "originals no row names (docs/troubleshooting.md)"

    /// The folder of manifest snapshots.
    public var backupsDirectory: URL { root.appendingPathComponent(Self.backupsFolder, isDirectory: true) }

    /// Whether the archive has a manifest to open: false for a new archive (no manifest, no originals).
    /// Throws `.manifestLost` when originals are there but the manifest is missing or empty: opening would
    /// create a fresh, empty manifest and every command would silently act as if nothing were archived.
    public func hasManifest() throws(StoreError) -> Bool {
        let size = try FileSystem.fileSize(manifestURL.path)
        if let size, size > 0 { return true }
        guard try holdsOriginals() else { return false }
        throw StoreError(
            code: .manifestLost, path: manifestURL.path,
            message: "\(rootPath) holds archived originals but its manifest \(manifestURL.path) is "
                + (size == nil ? "missing" : "empty") + "; nothing was changed: " + Self.wayOut)
    }

    /// Whether any original is stored under `objects/`.
    func holdsOriginals() throws(StoreError) -> Bool {
        let objects = rootPath + "/" + Self.objectsFolder
        guard try FileSystem.fileSize(objects) != nil else { return false }
        for shard in try FileSystem.contents(of: objects) {
            let path = objects + "/" + shard
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, try !FileSystem.contents(of: path).isEmpty {
                return true
            }
        }
        return false
    }

    /// Calls `body` with every file at an archive path (`objects/<x>/<y>`, `w<n>/<x>/<y>`), relative to the root,
    /// sorted, one shard folder's names held at a time: what `verify` compares with the manifest's rows.
    public func forEachArchivedFile(_ body: (String) throws(StoreError) -> Void) throws(StoreError) {
        for top in try FileSystem.contents(of: rootPath).sorted() {
            guard (try? Self.checkRelativePath(top + "/x/y")) != nil else { continue }
            let topPath = rootPath + "/" + top
            var info = stat()
            guard stat(topPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            for shard in try FileSystem.contents(of: topPath).sorted() {
                let shardPath = topPath + "/" + shard
                guard stat(shardPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
                for name in try FileSystem.contents(of: shardPath).sorted() {
                    let relative = top + "/" + shard + "/" + name
                    guard (try? Self.checkRelativePath(relative)) != nil else { continue }
                    try body(relative)
                }
            }
        }
    }
}

/// Snapshots of the manifest in `archive/backups/` (`manifest-<UTC time>.sqlite`), taken with SQLite's online
/// backup at the end of every run that wrote the archive or a post, the newest `kept` kept. Each is written to
/// `tmp/`, fsynced and renamed into place, so a snapshot is whole or absent. `verify --repair` restores the
/// newest one that opens and passes SQLite's integrity check when the manifest is lost or damaged.
public struct ManifestBackups: Sendable {
    /// How many snapshots are kept.
    public static let kept = 7
    private static let prefix = "manifest-"
    private static let suffix = ".sqlite"

    /// The archive.
    public let layout: ArchiveLayout

    /// Describes the snapshots of the archive at `layout`.
    public init(layout: ArchiveLayout) {
        self.layout = layout
    }

    /// The snapshots' file names, newest first.
    public func list() throws(StoreError) -> [String] {
        let folder = layout.backupsDirectory.path
        guard try FileSystem.fileSize(folder) != nil else { return [] }
        return try FileSystem.contents(of: folder)
            .filter { $0.hasPrefix(Self.prefix) && $0.hasSuffix(Self.suffix) }
            .sorted(by: >)
    }

    /// Takes a snapshot of `manifest` (the manifest of this archive; the caller holds the archive's lock) and
    /// removes the oldest beyond `kept`. Returns the snapshot's path relative to the archive.
    @discardableResult
    public func snapshot(of manifest: SQLiteManifest, at date: Date = Date()) async throws(StoreError) -> String {
        let folder = layout.backupsDirectory.path
        try FileSystem.makeDirectory(folder)
        try FileSystem.makeDirectory(layout.temporaryDirectory.path)
        var name = Self.prefix + Self.stamp(date) + Self.suffix
        let existing = try list()
        if existing.contains(name) { name = Self.prefix + Self.stamp(date) + "-\(getpid())" + Self.suffix }
        let temporary = layout.temporaryDirectory.path + "/." + name + ".part"
        try FileSystem.removeFile(temporary)
        do {
            try await manifest.backup(to: temporary)
            try FileSystem.syncFile(temporary)
            try FileSystem.moveIntoPlace(temporary, to: folder + "/" + name)
        } catch {
            try? FileSystem.removeFile(temporary)
            throw error
        }
        try FileSystem.syncDirectory(folder)
        for old in try list().dropFirst(Self.kept) { try FileSystem.removeFile(folder + "/" + old) }
        return ArchiveLayout.backupsFolder + "/" + name
    }

    /// Replaces a lost or damaged manifest by the newest snapshot that opens and checks clean; the damaged
    /// file (when there is one) is moved to `quarantine` first. Returns the snapshot used (relative path), or
    /// nil when there is none usable (the caller then starts a fresh manifest and adopts the archive's files).
    /// Only call it holding the archive's lock.
    public func restoreNewest(holding lock: ArchiveLock, quarantine: String) async throws(StoreError) -> String? {
        guard lock.isHeld, lock.root.path == layout.root.path else {
            throw StoreError(
                code: .invalidArgument, path: lock.path,
                message: "restoring the manifest needs this archive's lock, held (\(lock.path))")
        }
        let folder = layout.backupsDirectory.path
        let manifestPath = layout.manifestURL.path
        for name in try list() {
            let temporary = layout.temporaryDirectory.path + "/.restore-" + name
            try FileSystem.removeFile(temporary)
            do {
                try FileSystem.copyFile(folder + "/" + name, to: temporary)
                let candidate = try await SQLiteManifest.open(url: URL(fileURLWithPath: temporary))
                let clean = try await candidate.integrityCheck()
                try candidate.close()
                // Opening may have switched the copy to WAL; a closed pool leaves its WAL checkpointed.
                for side in ["-wal", "-shm"] { try FileSystem.removeFile(temporary + side) }
                guard clean else {
                    try FileSystem.removeFile(temporary)
                    continue
                }
            } catch {
                for side in ["", "-wal", "-shm"] { try? FileSystem.removeFile(temporary + side) }
                continue
            }
            try FileSystem.syncFile(temporary)
            try moveAside(manifestPath, to: quarantine)
            try FileSystem.moveIntoPlace(temporary, to: manifestPath)
            try FileSystem.syncDirectory(layout.rootPath)
            return ArchiveLayout.backupsFolder + "/" + name
        }
        try moveAside(manifestPath, to: quarantine)
        return nil
    }

    /// Moves the manifest and its WAL and shared-memory files (a stale WAL must never meet another database)
    /// to `quarantine` (relative to the root), when they exist.
    private func moveAside(_ manifestPath: String, to quarantine: String) throws(StoreError) {
        let destination = layout.rootPath + "/" + quarantine
        for side in ["", "-wal", "-shm"] where try FileSystem.fileSize(manifestPath + side) != nil {
            try FileSystem.makeDirectory(destination)
            try FileSystem.moveIntoPlace(
                manifestPath + side, to: destination + "/" + ArchiveLayout.manifestName + side)
        }
    }

    private static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02d.%03dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0,
            c.minute ?? 0, c.second ?? 0, (c.nanosecond ?? 0) / 1_000_000)
    }
}
