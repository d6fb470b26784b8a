import Foundation
import ImgArchiveCore
import ImgArchiveStore

/// Makes the sanitized copy of an SVG original (`SVGSanitizer`), which posts link to instead of the original:
/// read the original, sanitize it, write the copy to `tmp/`, commit it to `svg/ab/<sha256>.svg` (fsynced before
/// its row, as thumbnails are), and record it. An SVG the sanitizer refuses gets a row with the reason and no
/// file, so the rewrite leaves its references remote and `status` says why.
enum SVGDerivatives {
    /// The outcome of one SVG: the record written; `refusal` is the reason in words when it cannot be published.
    struct Made {
        var record: SanitizedSVGRecord
        var refusal: String? { record.error }
    }

    /// Sanitizes `object` (an SVG original) and records the result. Throws only for archive or manifest errors.
    static func make(_ object: ObjectRecord, store: any ObjectStore, manifest: some FetchLedger) async throws
        -> Made
    {
        let source = try Data(contentsOf: store.fileForReading(object.path))
        let now = Date()
        let sanitized: SanitizedSVG
        do {
            sanitized = try SVGSanitizer.sanitize(Array(source))
        } catch {
            let record = SanitizedSVGRecord(
                objectSHA256: object.sha256, sha256: nil, bytes: nil, path: nil, removed: 0,
                error: "the SVG cannot be published (\(error)); the post keeps its remote URL", createdAt: now)
            try await manifest.recordSanitizedSVG(record)
            return Made(record: record)
        }
        let path = try ArchiveLayout.sanitizedSVGPath(sha256: object.sha256)
        let temporary = store.makeTemporaryFileURL(suffix: ImageFormat.svg.fileExtension)
        do {
            try Data(sanitized.bytes).write(to: temporary)
            try store.commitDerivative(temporaryFile: temporary, to: path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        let record = SanitizedSVGRecord(
            objectSHA256: object.sha256, sha256: ArchiveStore.sha256(of: sanitized.bytes),
            bytes: Int64(sanitized.bytes.count), path: path, removed: sanitized.removedCount, error: nil, createdAt: now
        )
        try await manifest.recordSanitizedSVG(record)
        return Made(record: record)
    }

    /// Makes the sanitized copies the SVG originals lack (or whose file is gone); `archived` pairs a URL with its
    /// object's path. Returns how many were made and a failure per SVG (naming a URL that gave it) that cannot be
    /// published or could not be written.
    static func makeMissing(
        archived: [(url: String, path: String)], store: any ObjectStore, manifest: some FetchLedger
    ) async throws -> (Int, [ThumbnailFailure]) {
        var urls: [String: String] = [:]
        for (url, path) in archived where path.hasSuffix("." + ImageFormat.svg.fileExtension) {
            if let sha = digest(path), urls[sha] == nil { urls[sha] = url }
        }
        let shas = Set(urls.keys)
        guard !shas.isEmpty else { return (0, []) }
        let objects = try await manifest.objects(sha256s: shas)
        let done = try await manifest.sanitizedSVGs(sha256s: shas)
        var made = 0
        var failures: [ThumbnailFailure] = []
        for sha in shas.sorted() {
            guard let object = objects[sha], object.format == .svg else { continue }
            func failure(_ message: String) -> ThumbnailFailure {
                ThumbnailFailure(
                    objectPath: object.path, derivative: .sanitizedSVG(url: urls[sha] ?? ""), message: message)
            }
            if let existing = done[sha] {
                if let error = existing.error {
                    failures.append(failure(error))
                    continue
                }
                if let path = existing.path, try store.fileExists(path) { continue }
            }
            do {
                let result = try await make(object, store: store, manifest: manifest)
                if let refusal = result.refusal {
                    failures.append(failure(refusal))
                } else {
                    made += 1
                }
            } catch {
                failures.append(failure("the sanitized SVG could not be written (\(error))"))
            }
        }
        return (made, failures)
    }

    /// The digest in an archive path's file name.
    static func digest(_ path: String) -> String? {
        let stem = String(path.split(separator: "/").last?.prefix { $0 != "." } ?? "")
        return ArchiveLayout.isSHA256(stem) ? stem : nil
    }
}
