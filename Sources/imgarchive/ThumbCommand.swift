import ArgumentParser
import Foundation
import ImgArchiveCore
import ImgArchiveImage
import ImgArchivePipeline

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
        let inputs: [String]
        let output: @Sendable (String, ImageFormat) -> String
        if let list, let out {
            let text: String
            do { text = try String(contentsOfFile: list, encoding: .utf8) } catch {
                throw ValidationError("cannot read --list \(list): \(error.localizedDescription)")
            }
            inputs = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            output = { input, format in
                let stem = ((input as NSString).lastPathComponent as NSString).deletingPathExtension
                return "\(out)/\(stem).\(format.fileExtension)"
            }
        } else {
            inputs = [paths[0]]
            let path = paths[1]
            output = { _, _ in path }
        }
        let failures = Pipeline.thumbnails(
            inputs: inputs, width: width, options: options, jobs: jobs, output: output,
            report: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        if failures > 0 { throw ExitCode(1) }
    }
}
