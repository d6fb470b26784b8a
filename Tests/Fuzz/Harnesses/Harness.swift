import Foundation
import ImgArchiveImage

@testable import ImgArchiveCore

/// The fuzzed entry points. Each `check` takes any bytes, must not crash, and returns what went wrong when a
/// property that must hold for every input did not (nil when all held). The libFuzzer builds turn a failure into
/// a crash (so the input is saved); the replay test reports it.
public enum Harness: String, CaseIterable, Sendable {
    /// `PostScanner.scan` over a whole post.
    case scanner
    /// The input as YAML and as TOML front matter of a post.
    case frontMatter = "front-matter"
    /// `CDNRules.resolve` over the input as a URL: the fast paths against the general engine.
    case cdnRules = "cdn-rules"
    /// Scan, plan, apply, scan and rewrite again, then revert both: the input must come back.
    case rewrite
    /// The JPEG decoder: header, EXIF orientation, scaled decode, resample, encode.
    case jpeg
    /// The PNG decoder: header, decode, resample, encode.
    case png
    /// The HTTP body checks: format sniffing and the end markers of `looksComplete`.
    case responseChecks = "response-checks"

    /// Checks one input.
    public func check(_ bytes: [UInt8]) -> String? {
        switch self {
        case .scanner: ScanChecks.post(bytes)
        case .frontMatter: ScanChecks.frontMatter(bytes)
        case .cdnRules: CDNChecks.url(bytes)
        case .rewrite: RewriteChecks.roundTrip(bytes)
        case .jpeg: ImageChecks.decode(bytes, as: .jpeg)
        case .png: ImageChecks.decode(bytes, as: .png)
        case .responseChecks: ResponseChecks.body(bytes)
        }
    }
}

/// Properties of every scan: references lie inside the post, in order, without overlapping, and each one's
/// `written` is the text of its range.
enum ScanChecks {
    static let scanner = PostScanner()

    static func post(_ bytes: [UInt8]) -> String? {
        spans(of: scanner.scan(bytes), in: bytes)
    }

    static func frontMatter(_ bytes: [UInt8]) -> String? {
        for (open, close) in [("---\n", "\n---\n"), ("+++\n", "\n+++\n")] {
            let head = Array(open.utf8)
            let post = head + bytes + Array(close.utf8) + Array("body ![b](https://img.test/body.jpg)\n".utf8)
            let scan = scanner.scan(post)
            if let problem = spans(of: scan, in: post) { return "\(open.prefix(3)) front matter: \(problem)" }
            let end = head.count + bytes.count + close.utf8.count
            for r in scan.references where r.kind == .frontMatter && r.range.upperBound > end {
                return "\(open.prefix(3)) front-matter reference \(r.range) lies past the front matter (ends at \(end))"
            }
        }
        return nil
    }

    static func spans(of scan: PostScan, in bytes: [UInt8]) -> String? {
        var end = 0
        for r in scan.references {
            guard r.range.lowerBound >= end, r.range.upperBound <= bytes.count else {
                return
                    "reference \(r.range) overlaps the one before (ending at \(end)) or lies outside \(bytes.count) bytes"
            }
            guard r.written == String(decoding: bytes[r.range], as: UTF8.self) else {
                return "reference \(r.range): written \(r.written.debugDescription) is not its range's text"
            }
            guard r.line >= 1, r.column >= 1 else { return "reference \(r.range) at line \(r.line):\(r.column)" }
            end = r.range.upperBound
        }
        return nil
    }
}

/// The CDN rules' fast paths (triggers, host cache, byte-level URL split) must answer as the general engine does.
enum CDNChecks {
    static let fast = CDNRules(rules: CDNRule.builtIn, fastPaths: true)
    static let general = CDNRules(rules: CDNRule.builtIn, fastPaths: false)

    static func url(_ bytes: [UInt8]) -> String? {
        let url = String(decoding: bytes, as: UTF8.self)
        let quick = fast.resolve(url)
        let slow = general.resolve(url)
        guard quick == slow else {
            return "fast path \(quick) differs from general \(slow) for \(url.debugDescription)"
        }
        if let width = quick.width, width <= 0 { return "width \(width) for \(url.debugDescription)" }
        if let height = quick.height, height <= 0 { return "height \(height) for \(url.debugDescription)" }
        return nil
    }
}

/// What `rewrite` then `rewrite --revert` do to a post, without the disk: every revert gives the input back.
enum RewriteChecks {
    static let linker = ArchiveLinker(style: .prefix("/archive"))

    /// Archive paths from a hash of the URL; about one URL in four is "not fetched", so some stay remote.
    static func asset(_ url: String, generation: Int) -> ArchivedAsset {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in url.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        if generation == 1 && hash % 4 == 0 { return .notFetched }
        let name = String(hash, radix: 16)
        return .archived(original: "objects/\(name.prefix(2))/\(name).jpg", thumbnails: [320: "w320/\(name).jpg"])
    }

    /// One rewrite of `bytes`: the output and the step that undoes it; a message when the plan cannot apply.
    static func rewrite(_ bytes: [UInt8], generation: Int) -> Result<([UInt8], RevertStep), Failure> {
        let scan = ScanChecks.scanner.scan(bytes)
        let plan = RewritePlan(references: scan.references, postPath: "post.md", linker: linker) {
            asset($0, generation: generation)
        }
        guard let (output, ranges) = Splice.apply(plan.splices, to: bytes) else {
            return .failure(Failure(message: "generation \(generation): the plan's splices overlap"))
        }
        let step = RevertStep(
            spans: zip(plan.rewrites, ranges).map { rewrite, range in
                let context = RevertStep.Span.context(of: range, in: output)
                return RevertStep.Span(
                    range: range, replacement: Array(rewrite.replacement.utf8),
                    original: Array(bytes[rewrite.reference.range]), before: context.before, after: context.after)
            })
        return .success((output, step))
    }

    struct Failure: Error {
        var message: String
    }

    static func roundTrip(_ bytes: [UInt8]) -> String? {
        do {
            let (first, step1) = try rewrite(bytes, generation: 1).get()
            let (second, step2) = try rewrite(first, generation: 2).get()
            guard let back1 = step2.undoExactly(second) else { return "generation 2 cannot be undone exactly" }
            guard back1.bytes == first else { return "undoing generation 2 does not give generation 1's output" }
            guard let back0 = step1.undoExactly(back1.bytes) else { return "generation 1 cannot be undone exactly" }
            guard back0.bytes == bytes else { return "undoing generation 1 does not give the input" }
            // By content too (what --revert does once the post was edited), when no link written was in the input.
            let links = Set(step1.spans.map(\.replacement))
            if !links.contains(where: { bytes.firstRange(of: $0) != nil }) {
                let (content, _, notFound) = step1.undoByContent(first)
                guard notFound.isEmpty else { return "undoing generation 1 by content misses spans \(notFound)" }
                guard content == bytes else { return "undoing generation 1 by content does not give the input" }
            }
            return nil
        } catch {
            return error.message
        }
    }
}

/// The decoders through the public API, as `fetch` uses them: header, then a thumbnail.
enum ImageChecks {
    /// Where inputs are written for the path-based decoders: one pair of files per process.
    static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(base)/imgarchive-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func decode(_ bytes: [UInt8], as format: ImageFormat) -> String? {
        // Fuzzed bytes without the magic would never reach the decoder: put it in front when it is missing.
        let magic: [UInt8] = format == .jpeg ? [0xFF, 0xD8, 0xFF] : [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var input = bytes.starts(with: magic) ? bytes : magic + bytes
        // libpng rejects a chunk whose CRC is wrong before reading it: fix them, so mutations reach the decoder.
        if format == .png { fixChunkCRCs(&input) }
        let path = "\(folder)/in.\(format.fileExtension)"
        let output = "\(folder)/out.\(format.fileExtension)"
        guard FileManager.default.createFile(atPath: path, contents: Data(input)) else {
            return "cannot write \(path)"
        }
        // A small pixel limit keeps each run fast; headers that declare more are refused before any decode.
        let options = ThumbnailOptions(quality: 75, maxPixels: 1 << 20)
        let fromFile = try? imageInfo(path: path)
        if let info = fromFile {
            guard info.format == format, info.width > 0, info.height > 0 else {
                return "imageInfo says \(info) for a \(format) input"
            }
        }
        // The same bytes in memory, whole and cut in half (as a download's first block): the file's answer or none.
        for (count, whole) in [(input.count, true), (input.count / 2, false)] {
            let memory = input.withUnsafeBytes {
                imageInfo(head: UnsafeRawBufferPointer(rebasing: $0[..<count]), whole: whole)
            }
            guard let memory else { continue }
            guard let file = fromFile, memory.width == file.width, memory.height == file.height,
                memory.format == file.format
            else {
                return
                    "imageInfo of \(count) bytes in memory says \(memory), of the file \(String(describing: fromFile))"
            }
        }
        switch try? makeThumbnail(inputPath: path, outputPath: output, width: 7, options: options) {
        case .written(let width, let height, let written)?:
            guard width == 7, height >= 1, written == format else {
                return "thumbnail \(width)x\(height) \(written) for width 7 of a \(format) input"
            }
            guard let made = try? imageInfo(path: output), made.width == width, made.height == height else {
                return "the thumbnail written cannot be read back as \(width)x\(height)"
            }
        case .originalSuffices?, nil:
            break
        }
        return nil
    }
}

/// Rewrites the CRC of every whole chunk after the PNG signature.
func fixChunkCRCs(_ png: inout [UInt8]) {
    var at = 8
    while at + 12 <= png.count {
        let length = png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= png.count - at - 12 else { return }
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in png[(at + 4)..<(at + 8 + length)] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc = ~crc
        for i in 0..<4 { png[at + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
        at += length + 12
    }
}

/// The checks `fetch` makes on a body: sniff the first bytes, then look for the format's end (a JPEG's EOI by walking its
/// segments as the chunks arrive, the other formats' in their last bytes).
enum ResponseChecks {
    static func body(_ bytes: [UInt8]) -> String? {
        let prefix = Array(bytes.prefix(ImageFormat.sniffLength))
        let format = ImageFormat.sniff(prefix)
        guard format == ImageFormat.sniff(bytes) else { return "sniffing the prefix and the whole body differ" }
        guard let format else { return nil }
        // In chunks, as a transfer delivers them: whole, split where the first byte says, and 7 bytes at a time
        // must all agree (the JPEG walk and the tail carry their state across chunks).
        let whole = ImageFormat.BodyEnd(bytes)
        var split = ImageFormat.BodyEnd()
        let cut = bytes.first.map { Int($0) % (bytes.count + 1) } ?? 0
        split.append(bytes[..<cut])
        split.append(bytes[cut...])
        var small = ImageFormat.BodyEnd()
        for start in stride(from: 0, to: bytes.count, by: 7) {
            small.append(bytes[start..<min(bytes.count, start + 7)])
        }
        let complete = format.looksComplete(prefix: prefix, end: whole, count: bytes.count)
        for (name, end) in [("split in two", split), ("in 7-byte chunks", small)]
        where format.looksComplete(prefix: prefix, end: end, count: bytes.count) != complete {
            return "\(format) complete \(complete) whole, but not \(name)"
        }
        guard complete else { return nil }
        // Padding after the end never makes a complete body incomplete.
        var padded = whole
        padded.append([UInt8](repeating: 0, count: 40))
        if !format.looksComplete(prefix: prefix, end: padded, count: bytes.count + 40) {
            return "\(format) complete, but not with 40 NULs of padding"
        }
        // Nor, for a JPEG, does any trailer (here the body again) after its EOI.
        var trailed = whole
        trailed.append(bytes)
        if format == .jpeg && !format.looksComplete(prefix: prefix, end: trailed, count: 2 * bytes.count) {
            return "jpeg complete, but not with a trailer after its EOI"
        }
        return nil
    }
}
