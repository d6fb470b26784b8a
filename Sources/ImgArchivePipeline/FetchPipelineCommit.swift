import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveImage
import ImgArchiveStore

/// Puts files into the archive, the one way fetch and verify's repair both use: a downloaded original to its
/// content address, a derivative made from an original to its width's path (durable, then its row).
struct ArchiveWriter: Sendable {
    let store: any ObjectStore
    let manifest: any FetchLedger

    /// Moves a downloaded image to its content address and returns the object's record (not written: a fetch
    /// records it with its URL's row, by the recorder; a repair already has it). `format` overrides the
    /// sniffed format (a repair keeps the one its path names).
    func commitOriginal(_ download: Download, format: ImageFormat? = nil) throws -> ObjectRecord {
        guard let file = download.temporaryFile, let format = format ?? download.format else {
            throw StoreError(code: .invalidArgument, path: nil, message: "a download without an image file")
        }
        let path = try store.commitObject(
            temporaryFile: URL(fileURLWithPath: file), sha256: download.sha256, format: format)
        // The size read from the first block as it was written (`imageSize`), else from the file's header.
        let size =
            download.imageSize
            ?? (try? imageInfo(path: store.fileForReading(path).path, sniffed: download.format))
            .map { PixelSize(width: $0.width, height: $0.height) }
        return ObjectRecord(
            sha256: download.sha256, format: format, bytes: Int64(download.byteCount), width: size?.width,
            height: size?.height, path: path, createdAt: Date())
    }

    /// `DownloadOptions.imageSize` for every fetch: the image's size from a body's first block, as `commitOriginal`
    /// would read it from the file's header.
    static let imageSize: @Sendable (UnsafeRawBufferPointer, Bool) -> PixelSize? = { head, whole in
        imageInfo(head: head, whole: whole).map { PixelSize(width: $0.width, height: $0.height) }
    }

    /// Makes the derivative of original `originalSHA256` (at `originalPath`) at `width`, commits it (durable
    /// before its row: posts will link to it) and records it; returns its record, or nil when no derivative is
    /// made at that width. `beforeCommit` runs once the derivative is ready, before it replaces anything (a
    /// repair moves the damaged file to quarantine there). The temporary file is removed on failure. With
    /// `record` false the row is the caller's to write (a fetch writes its thumbnails' rows in batches): the
    /// file is durable when this returns, so the row may follow at any time.
    func makeDerivative(
        originalSHA256: String, originalPath: String, width: Int, suffix: String, options: ThumbnailOptions,
        record recordNow: Bool = true, beforeCommit: () throws -> Void = {}
    ) async throws -> ThumbnailRecord? {
        let temporary = store.makeTemporaryFileURL(suffix: suffix)
        do {
            let outcome = try makeThumbnail(
                inputPath: store.fileForReading(originalPath).path, outputPath: temporary.path, width: width,
                options: options)
            guard case .written(_, let height, let format) = outcome else {
                try? FileManager.default.removeItem(at: temporary)
                return nil
            }
            let path = try ArchiveLayout.thumbnailPath(sha256: originalSHA256, width: width, format: format)
            // `FileSystem.fileSize`, one `stat`: Foundation's `attributesOfItem` also looks up the owner's user and
            // group names (0.7 % of a fetch's CPU with a thumbnail for 12 % of its URLs).
            let size = try? FileSystem.fileSize(temporary.path)
            let digest = try ArchiveStore.sha256(ofFileAt: temporary)
            try beforeCommit()
            try store.commitDerivative(temporaryFile: temporary, to: path)
            let record = ThumbnailRecord(
                objectSHA256: originalSHA256, width: width, sha256: digest, height: height, format: format,
                bytes: size ?? 0, path: path, createdAt: Date())
            if recordNow { try await manifest.recordThumbnail(record) }
            return record
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}
