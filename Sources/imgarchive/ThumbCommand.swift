import ArgumentParser
import Dispatch
import Foundation
import ImgArchiveCore
import ImgArchiveImage
import Synchronization

/// `imgarchive thumb`: makes width-N thumbnails of JPEG and PNG files, one file or a list.
struct ThumbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thumb",
        abstract: "Make thumbnails N pixels wide (Lanczos-3, never upscaled) of JPEG and PNG files.",
        discussion: """
            One file: imgarchive thumb --width N IN OUT
            Many: imgarchive thumb --width N --list FILE --out DIR (writes DIR/<stem>.jpg or .png)

            When no thumbnail is made (the image is not wider than N, or a GIF, WebP, AVIF, SVG... \
            that is archived as it is), the original is copied to the output and the reason goes to stderr. \
            A file that fails is reported on stderr with its path and the others go on; the exit status \
            is 1 if any failed.
            """)

    @Option(help: "Target width in pixels (the height follows the aspect ratio).")
    var width: Int

    @Option(help: "JPEG quality, 1-100.")
    var quality: Int = 85

    @Option(help: "Largest image accepted, in pixels (width x height from the header).")
    var maxPixels: Int = 100_000_000

    @Option(
        name: .customLong("thumbnail-memory"),
        help: "Most memory one thumbnail may take, e.g. 512MB (default); larger images are refused.")
    var thumbnailMemory: String?

    @Option(help: "A file listing one input path per line (use with --out).")
    var list: String?

    @Option(help: "Output folder for --list: each input becomes <stem>.jpg or <stem>.png there.")
    var out: String?

    @Option(help: "Parallel workers for --list (at most the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Argument(help: "IN OUT: the input image and the output path (without --list).")
    var paths: [String] = []

    func validate() throws {
        guard width >= 1 else { throw ValidationError("--width must be at least 1") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be in 1...100") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let text = thumbnailMemory, ConfigFile.parseByteSize(text) == nil {
            throw ValidationError("--thumbnail-memory \(text): write a size such as 512MB or 1GiB")
        }
        if list != nil {
            guard out != nil, paths.isEmpty else { throw ValidationError("--list needs --out DIR and no IN OUT") }
        } else {
            guard paths.count == 2, out == nil else { throw ValidationError("give IN OUT, or --list FILE --out DIR") }
        }
    }

    func run() throws {
        let budget = thumbnailMemory.flatMap(ConfigFile.parseByteSize).map { Int($0) }
        let options = ThumbnailOptions(
            quality: quality, maxPixels: maxPixels, memoryBudget: budget ?? ThumbnailOptions.defaultMemoryBudget)
        if let list, let out {
            let text: String
            do { text = try String(contentsOfFile: list, encoding: .utf8) } catch {
                throw ValidationError("cannot read --list \(list): \(error.localizedDescription)")
            }
            // Largest files first: with a few big images in the list, dealing them out early keeps
            // both workers busy to the end instead of one finishing the biggest file alone.
            let inputs = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
                .map { path in
                    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                    return (path, size)
                }
                .sorted { $0.1 > $1.1 }
                .map(\.0)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let failures = Atomic<Int>(0)
            let next = Atomic<Int>(0)
            let width = self.width
            let workers = min(jobs, ProcessInfo.processInfo.activeProcessorCount, max(inputs.count, 1))
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < inputs.count else { return }
                    let input = inputs[i]
                    let stem = ((input as NSString).lastPathComponent as NSString).deletingPathExtension
                    if !Self.one(input, outputFor: { "\(out)/\(stem).\($0.fileExtension)" }, width, options) {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            if failures.load(ordering: .relaxed) > 0 { throw ExitCode(1) }
        } else {
            if !Self.one(paths[0], outputFor: { _ in paths[1] }, width, options) { throw ExitCode(1) }
        }
    }

    /// Thumbnails one file; reports problems on stderr. Returns false when it failed.
    private static func one(
        _ input: String, outputFor: (ImageFormat) -> String, _ width: Int,
        _ options: ThumbnailOptions
    ) -> Bool {
        do {
            let format = try imageFormat(input)
            let output = outputFor(format)
            switch try makeThumbnail(inputPath: input, outputPath: output, width: width, options: options) {
            case .written:
                return true
            case .originalSuffices(let reason):
                try copyAtomically(input, to: output)
                diagnose("\(input): original kept: \(reason)")
                return true
            }
        } catch let error as ImageError {
            diagnose("\(error)")  // "path: code: message"
            return false
        } catch {
            diagnose("\(input): \(error)")
            return false
        }
    }

    private static func imageFormat(_ path: String) throws -> ImageFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImageError(code: .unreadable, path: path, message: "cannot open")
        }
        defer { try? handle.close() }
        let head = try handle.read(upToCount: ImageFormat.sniffLength) ?? Data()
        guard let format = ImageFormat.sniff(Array(head)) else {
            throw ImageError(code: .notAnImage, path: path, message: "not a recognised image format")
        }
        return format
    }

    private static func copyAtomically(_ input: String, to output: String) throws {
        let temp = "\(output).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try Data(contentsOf: URL(fileURLWithPath: input)).write(to: URL(fileURLWithPath: temp))
            guard rename(temp, output) == 0 else {
                throw ImageError(code: .writeFailed, path: output, message: "rename failed", libraryCode: errno)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    private static func diagnose(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
