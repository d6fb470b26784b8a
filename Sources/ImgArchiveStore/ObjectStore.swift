public import Foundation
public import ImgArchiveCore

/// Where archived files live: originals by content address, derivatives (thumbnails, sanitized SVG copies)
/// beside them. The pipeline reaches files only through this protocol, so another storage (a bucket, a test's
/// store that fails on command) is one new type; today's is `ArchiveStore`, folders on the local disk.
///
/// Paths are relative to the archive (`objects/ab/<sha256>.jpg`, `w640/ab/<sha256>.jpg`): they are what the
/// manifest records and what posts link to, whatever the storage. New files are written by the caller to a
/// local temporary file first (`makeTemporaryFileURL`, in `temporaryDirectory`), then committed whole: a reader
/// never sees a partial file at an archive path.
public protocol ObjectStore: Sendable {
    /// A local folder for files being written (downloads' bodies, derivatives being encoded).
    var temporaryDirectory: URL { get }

    /// A fresh, unused local path in `temporaryDirectory`.
    func makeTemporaryFileURL(suffix: String) -> URL

    /// Deletes the temporary files a run that died left; safe only under the archive's lock. Returns how many
    /// entries were removed.
    @discardableResult
    func removeStaleTemporaryFiles(holding lock: ArchiveLock) throws(StoreError) -> Int

    /// Commits a finished temporary file as the original with digest `sha256` (which the caller vouches for)
    /// and returns its archive path. An original already there (the same bytes from another URL) is kept and
    /// the temporary file deleted. Durable when `makeDurable` says so (see the store's durability).
    func commitObject(temporaryFile: URL, sha256: String, format: ImageFormat) throws(StoreError) -> String

    /// Commits a finished temporary file to a derivative's path, replacing any file there (a rebuilt
    /// derivative). Durable when it returns: a row naming it may be written next.
    func commitDerivative(temporaryFile: URL, to relativePath: String) throws(StoreError)

    /// Whether a file exists at an archive path.
    func fileExists(_ relativePath: String) throws(StoreError) -> Bool

    /// A local file holding the bytes at an archive path, for reading (decoding a thumbnail's original,
    /// sanitizing an SVG); the caller does not change or delete it.
    func fileForReading(_ relativePath: String) throws(StoreError) -> URL

    /// Makes one committed original's bytes durable (after `commitObject` with deferred durability); the
    /// batch's `makeDurable(objects:movedFrom:)` then makes its name durable.
    func makeDurable(object relativePath: String) throws(StoreError)

    /// Makes the names of committed originals durable: after it returns, rows naming them may be written.
    /// `folders` are the temporary folders their files were committed from.
    func makeDurable(objects relativePaths: [String], movedFrom folders: [String]) throws(StoreError)

    /// Re-hashes the file at an archive path and compares it with `sha256`.
    func verify(_ relativePath: String, sha256: String) throws(StoreError) -> ArchiveStore.HashCheck

    /// Calls `body` with every file at an archive path (originals and derivatives), relative, in order, for
    /// finding files no row names: a folder (or a listing's page) at a time, so what is held does not grow with
    /// the archive.
    func forEachArchivedFile(_ body: (String) throws(StoreError) -> Void) throws(StoreError)

    /// Moves the file at an archive path aside to `folder/<its path>` (`folder` relative to the archive,
    /// e.g. `quarantine/<time>`), never deleting it; returns that path, or nil when there is no file.
    func quarantine(_ relativePath: String, into folder: String) throws(StoreError) -> String?

    /// Deletes an original that no row names (its rows could not be written).
    func removeUnrecorded(_ relativePath: String) throws(StoreError)
}

extension ObjectStore {
    /// Every file at an archive path, relative, in order (`forEachArchivedFile`, gathered).
    public func archivedFiles() throws(StoreError) -> [String] {
        var files: [String] = []
        try forEachArchivedFile { files.append($0) }
        return files
    }
}
