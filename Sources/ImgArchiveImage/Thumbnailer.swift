public import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Settings for `makeThumbnail`.
public struct ThumbnailOptions: Sendable, Equatable {
    /// JPEG quality, 1...100 (85 by default).
    public var quality: Int
    /// The largest pixel count (width x height from the header) accepted before any large allocation.
    public var maxPixels: Int
    /// The most memory one thumbnail may take, in bytes (estimated from the header; `thumbnail-memory`).
    /// An image that needs more gets no thumbnail. A run shares this budget between its thumbnails.
    public var memoryBudget: Int

    /// The default memory budget: 512 MB.
    public static let defaultMemoryBudget = 512_000_000

    /// Creates options; the defaults are quality 85, 100 megapixels and a 512 MB memory budget.
    public init(quality: Int = 85, maxPixels: Int = 100_000_000, memoryBudget: Int = defaultMemoryBudget) {
        self.quality = quality
        self.maxPixels = maxPixels
        self.memoryBudget = memoryBudget
    }
}

/// What `makeThumbnail` did.
public enum ThumbnailOutcome: Sendable, Equatable {
    /// A derivative of this size and format was written atomically to the output path.
    case written(width: Int, height: Int, format: ImageFormat)
    /// No derivative: the reference should use the original, for the reason given (never upscaled,
    /// or a format archived as it is).
    case originalSuffices(reason: String)
}

/// Reads the header only: the upright pixel size (EXIF orientation applied for JPEG) and the format. `sniffed` is
/// the format `ImageFormat.sniff` gave for the file's first bytes when the caller has it (a download's, sniffed as
/// it streamed): those bytes are then not read again.
public func imageInfo(path: String, sniffed: ImageFormat? = nil) throws(ImageError) -> (
    width: Int, height: Int, format: ImageFormat
) {
    let format: ImageFormat
    if let sniffed { format = sniffed } else { format = try sniffFile(path) }
    switch format {
    case .jpeg:
        let decoder = try JPEGDecoder(path: path)
        let swap = decoder.orientation.swapsAxes
        return (swap ? decoder.height : decoder.width, swap ? decoder.width : decoder.height, .jpeg)
    case .png:
        let decoder = try PNGDecoder(path: path)
        return (decoder.width, decoder.height, .png)
    default:
        throw ImageError(
            code: .notAnImage, path: path,
            message: "\(format.rawValue.uppercased()) headers are not read; the file is archived as it is")
    }
}

/// `imageInfo(path:)` from a file's first bytes held in memory (`whole`: all of its bytes), as a download's first
/// block is while it is written: nil when they do not tell, and the caller reads the file. They do not tell when
/// the JPEG header goes on past them, when a PNG is not whole (its reading walks every chunk), for other formats,
/// and for a header the library refuses (the file's reading says why). Bytes that tell give the file's answer:
/// the header is read from the same bytes by the same library.
public func imageInfo(head: UnsafeRawBufferPointer, whole: Bool) -> (width: Int, height: Int, format: ImageFormat)? {
    switch ImageFormat.sniff(head) {
    case .jpeg:
        guard let decoder = try? JPEGDecoder(bytes: head, path: "(memory)") else { return nil }
        let swap = decoder.orientation.swapsAxes
        return (swap ? decoder.height : decoder.width, swap ? decoder.width : decoder.height, .jpeg)
    case .png where whole:
        guard let decoder = try? PNGDecoder(bytes: head, path: "(memory)") else { return nil }
        return (decoder.width, decoder.height, .png)
    default:
        return nil
    }
}

/// Makes a `width`-pixel-wide derivative of the JPEG or PNG at `inputPath` (height from the aspect
/// ratio, EXIF orientation applied, ICC profile carried) and writes it atomically to `outputPath`
/// in the input's format. Never upscales; other formats are left as they are.
public func makeThumbnail(
    inputPath: String, outputPath: String, width: Int,
    options: ThumbnailOptions = ThumbnailOptions()
) throws(ImageError) -> ThumbnailOutcome {
    try checkArguments(inputPath, width, options)
    return try thumbnail(inputPath, format: try sniffFile(inputPath), outputPath, width, options)
}

/// `makeThumbnail` for a tool that writes every input somewhere (`imgarchive thumb`): the output path is named
/// after the input's format (`outputPath(format)`; the file is sniffed once), and when no derivative is made the
/// original's bytes are copied there, atomically like a derivative. Returns what was written, and where.
public func makeThumbnailOrCopy(
    inputPath: String, width: Int, options: ThumbnailOptions = ThumbnailOptions(),
    outputPath: (ImageFormat) -> String
) throws(ImageError) -> (outcome: ThumbnailOutcome, outputPath: String) {
    try checkArguments(inputPath, width, options)
    let format = try sniffFile(inputPath)
    let output = outputPath(format)
    let outcome = try thumbnail(inputPath, format: format, output, width, options)
    if case .originalSuffices = outcome {
        try writeAtomically(output) { (temp) throws(ImageError) in try copyFile(inputPath, to: temp) }
    }
    return (outcome, output)
}

/// Refuses a target width below 1 and a quality outside 1...100.
private func checkArguments(_ inputPath: String, _ width: Int, _ options: ThumbnailOptions) throws(ImageError) {
    guard width >= 1 else {
        throw ImageError(code: .invalidArgument, path: inputPath, message: "target width \(width) is below 1")
    }
    guard (1...100).contains(options.quality) else {
        throw ImageError(
            code: .invalidArgument, path: inputPath, message: "quality \(options.quality) is not in 1...100")
    }
}

/// The derivative of an input whose format is known.
private func thumbnail(
    _ inputPath: String, format: ImageFormat, _ outputPath: String, _ width: Int, _ options: ThumbnailOptions
) throws(ImageError) -> ThumbnailOutcome {
    switch format {
    case .jpeg: return try jpegThumbnail(inputPath, outputPath, width, options)
    case .png: return try pngThumbnail(inputPath, outputPath, width, options)
    default:
        return .originalSuffices(reason: "\(format.rawValue.uppercased()) is archived as it is, without a thumbnail")
    }
}

/// The target height for `width`, rounded half up, at least 1.
func targetHeight(width: Int, height: Int, targetWidth: Int) -> Int {
    max(1, (2 * height * targetWidth + width) / (2 * width))
}

private func checkSize(_ w: Int, _ h: Int, _ maxPixels: Int, _ path: String) throws(ImageError) {
    guard w > 0, h > 0 else { throw ImageError(code: .corrupt, path: path, message: "image has no pixels") }
    let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
    if overflow || pixels > maxPixels {
        throw ImageError(
            code: .tooLarge, path: path,
            message: "\(w) x \(h) pixels exceeds the limit of \(maxPixels)")
    }
}

private func neverUpscale(_ width: Int, _ imageWidth: Int) -> ThumbnailOutcome {
    .originalSuffices(reason: "target width \(width) >= image width \(imageWidth): never upscaled")
}

/// The peak memory, in bytes, that `makeThumbnail` is expected to take for `inputPath` at `width`, from the
/// header alone (no pixels are decoded); 0 when no derivative would be made (never upscaled, or a format
/// archived as it is). Schedulers weigh concurrent thumbnails with it.
public func thumbnailMemoryEstimate(inputPath: String, width: Int) throws(ImageError) -> Int {
    guard width >= 1 else { return 0 }
    switch try sniffFile(inputPath) {
    case .jpeg: return try JPEGPlan(inputPath, width).memory?.bytes ?? 0
    case .png: return try PNGPlan(inputPath, width)?.memory.bytes ?? 0
    default: return 0
    }
}

/// Refuses an image whose estimate exceeds the budget, naming what it needs and the setting to raise.
private func checkMemory(_ estimate: MemoryEstimate, _ options: ThumbnailOptions, _ path: String) throws(ImageError) {
    guard estimate.bytes > options.memoryBudget else { return }
    let why = estimate.held.map { " (\($0))" } ?? ""
    throw ImageError(
        code: .overMemoryBudget, path: path,
        message: "a thumbnail needs about \(MemoryEstimate.megabytes(estimate.bytes))\(why), more than the "
            + "thumbnail memory budget of \(MemoryEstimate.megabytes(options.memoryBudget)); no thumbnail is made "
            + "and posts link the original. Raise thumbnail-memory in imgarchive.yml (thumb: --thumbnail-memory) "
            + "to make one")
}

/// What a JPEG thumbnail will do: the upright and stored target sizes, the DCT scale, the memory.
private struct JPEGPlan {
    let decoder: JPEGDecoder
    let orientation: Orientation
    let storedWidth: Int, storedHeight: Int
    let scaleNumerator: Int
    /// The upright width.
    let shownWidth: Int
    /// nil when no thumbnail is made (the image is not wider than the target: never upscaled).
    let memory: MemoryEstimate?

    init(_ path: String, _ width: Int, maxPixels: Int = .max) throws(ImageError) {
        let decoder = try JPEGDecoder(path: path)
        try checkSize(decoder.width, decoder.height, maxPixels, path)
        let orientation = decoder.orientation
        let swap = orientation.swapsAxes
        let shownW = swap ? decoder.height : decoder.width, shownH = swap ? decoder.width : decoder.height
        self.decoder = decoder
        self.orientation = orientation
        shownWidth = shownW
        guard width < shownW else {
            (storedWidth, storedHeight, scaleNumerator, memory) = (0, 0, 8, nil)
            return
        }
        let height = targetHeight(width: shownW, height: shownH, targetWidth: width)
        // Stored-orientation target: resample first, then turn the small image.
        let storedW = swap ? height : width, storedH = swap ? width : height
        let m = min(
            JPEGDecoder.scaleNumerator(fullWidth: decoder.width, targetWidth: storedW),
            JPEGDecoder.scaleNumerator(fullWidth: decoder.height, targetWidth: storedH))
        storedWidth = storedW
        storedHeight = storedH
        scaleNumerator = m
        memory = MemoryEstimate.jpeg(
            width: decoder.width, height: decoder.height, multiScan: decoder.multiScan,
            coefficientBytes: decoder.coefficientBytes, decodedWidth: (decoder.width * m + 7) / 8,
            decodedHeight: (decoder.height * m + 7) / 8, channels: 3, outWidth: storedW, outHeight: storedH)
    }
}

/// What a PNG thumbnail will do: the target size, whether rows stream, the memory.
private struct PNGPlan {
    let rows: PNGRowReader
    let height: Int
    let memory: MemoryEstimate

    /// nil when the image is not wider than `width` (never upscaled).
    init?(_ path: String, _ width: Int, maxPixels: Int = .max) throws(ImageError) {
        let rows = try PNGRowReader(path: path)
        try checkSize(rows.width, rows.height, maxPixels, path)
        guard width < rows.width else { return nil }
        self.rows = rows
        height = targetHeight(width: rows.width, height: rows.height, targetWidth: width)
        memory = MemoryEstimate.png(
            width: rows.width, height: rows.height, channels: rows.channels, bitDepth: rows.bitDepth,
            fileRowBytes: rows.fileRowBytes, interlaced: rows.interlaced, outWidth: width, outHeight: height)
    }
}

private func jpegThumbnail(
    _ input: String, _ output: String, _ width: Int,
    _ options: ThumbnailOptions
) throws(ImageError) -> ThumbnailOutcome {
    let plan = try JPEGPlan(input, width, maxPixels: options.maxPixels)
    guard let memory = plan.memory else { return neverUpscale(width, plan.shownWidth) }
    try checkMemory(memory, options, input)
    let decoder = plan.decoder
    decoder.limitMemory(to: options.memoryBudget)  // a cap in libjpeg too, should the estimate fall short
    let icc = decoder.iccProfile()
    // Scanlines go straight into the resampler: only a few rows of the decoded image exist at a time.
    let rows = try decoder.rows(scaleNumerator: plan.scaleNumerator)
    let resized = try Resampler.resize(rows, width: plan.storedWidth, height: plan.storedHeight)
    let thumb = plan.orientation.apply(to: resized)
    try writeAtomically(output) { (temp) throws(ImageError) in
        try JPEGEncoder.write(thumb, to: temp, options: JPEGEncodeOptions(quality: options.quality, iccProfile: icc))
    }
    return .written(width: thumb.width, height: thumb.height, format: .jpeg)
}

private func pngThumbnail(
    _ input: String, _ output: String, _ width: Int,
    _ options: ThumbnailOptions
) throws(ImageError) -> ThumbnailOutcome {
    let decoder = try PNGDecoder(path: input)  // the simplified API's header checks and messages
    try checkSize(decoder.width, decoder.height, options.maxPixels, input)
    guard let plan = try PNGPlan(input, width, maxPixels: options.maxPixels) else {
        return neverUpscale(width, decoder.width)
    }
    try checkMemory(plan.memory, options, input)
    let thumb: PixelBuffer
    if plan.rows.interlaced {
        // Adam7 passes cover the whole image: decoded whole (the estimate counted it).
        thumb = Resampler.resize(try decoder.decode(), width: width, height: plan.height)
    } else {
        try plan.rows.start()
        thumb = try Resampler.resize(plan.rows, width: width, height: plan.height)
    }
    try writeAtomically(output) { (temp) throws(ImageError) in try PNGEncoder.write(thumb, to: temp) }
    return .written(width: thumb.width, height: thumb.height, format: .png)
}

/// Reads the first bytes and identifies the format.
func sniffFile(_ path: String) throws(ImageError) -> ImageFormat {
    guard let file = fopen(path, "rb") else {
        throw ImageError(
            code: .unreadable, path: path, message: "cannot open: \(String(cString: strerror(errno)))",
            libraryCode: errno)
    }
    defer { fclose(file) }
    var bytes = [UInt8](repeating: 0, count: ImageFormat.sniffLength)
    let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
    guard let format = ImageFormat.sniff(bytes.prefix(n)) else {
        throw ImageError(
            code: .notAnImage, path: path, message: n == 0 ? "empty file" : "not a recognised image format")
    }
    return format
}

/// Runs `write` on a temporary path beside `path`, then renames it into place; the temporary file is
/// removed when anything fails, so `path` is never half-written.
func writeAtomically(_ path: String, _ write: (String) throws(ImageError) -> Void) throws(ImageError) {
    let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
        try write(temp)
    } catch {
        unlink(temp)
        throw error
    }
    if rename(temp, path) != 0 {
        let code = errno
        unlink(temp)
        throw ImageError(
            code: .writeFailed, path: path,
            message: "rename: \(String(cString: strerror(code)))", libraryCode: code)
    }
}

/// Copies the bytes of `input` to `output` (a fresh temporary path).
private func copyFile(_ input: String, to output: String) throws(ImageError) {
    guard let source = fopen(input, "rb") else {
        throw ImageError(
            code: .unreadable, path: input, message: "cannot open: \(String(cString: strerror(errno)))",
            libraryCode: errno)
    }
    defer { fclose(source) }
    guard let target = fopen(output, "wb") else {
        throw ImageError(
            code: .writeFailed, path: output, message: "cannot create: \(String(cString: strerror(errno)))",
            libraryCode: errno)
    }
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var failure: ImageError?
    while failure == nil {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, source) }
        if n > 0, buffer.withUnsafeBytes({ fwrite($0.baseAddress, 1, n, target) }) != n {
            failure = ImageError(
                code: .writeFailed, path: output, message: "write: \(String(cString: strerror(errno)))",
                libraryCode: errno)
        } else if n < buffer.count {
            if ferror(source) != 0 {
                failure = ImageError(code: .unreadable, path: input, message: "read failed", libraryCode: errno)
            }
            break
        }
    }
    if fclose(target) != 0, failure == nil {
        failure = ImageError(
            code: .writeFailed, path: output, message: "close: \(String(cString: strerror(errno)))",
            libraryCode: errno)
    }
    if let failure { throw failure }
}
