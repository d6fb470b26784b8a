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

    /// Creates options; the defaults are quality 85 and 100 megapixels.
    public init(quality: Int = 85, maxPixels: Int = 100_000_000) {
        self.quality = quality
        self.maxPixels = maxPixels
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

/// Reads the header only: the upright pixel size (EXIF orientation applied for JPEG) and the format.
public func imageInfo(path: String) throws(ImageError) -> (width: Int, height: Int, format: ImageFormat) {
    let format = try sniffFile(path)
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

/// Makes a `width`-pixel-wide derivative of the JPEG or PNG at `inputPath` (height from the aspect
/// ratio, EXIF orientation applied, ICC profile carried) and writes it atomically to `outputPath`
/// in the input's format. Never upscales; other formats are left as they are.
public func makeThumbnail(
    inputPath: String, outputPath: String, width: Int,
    options: ThumbnailOptions = ThumbnailOptions()
) throws(ImageError) -> ThumbnailOutcome {
    guard width >= 1 else {
        throw ImageError(code: .invalidArgument, path: inputPath, message: "target width \(width) is below 1")
    }
    guard (1...100).contains(options.quality) else {
        throw ImageError(
            code: .invalidArgument, path: inputPath, message: "quality \(options.quality) is not in 1...100")
    }
    let format = try sniffFile(inputPath)
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

private func checkSize(_ w: Int, _ h: Int, _ options: ThumbnailOptions, _ path: String) throws(ImageError) {
    guard w > 0, h > 0 else { throw ImageError(code: .corrupt, path: path, message: "image has no pixels") }
    let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
    if overflow || pixels > options.maxPixels {
        throw ImageError(
            code: .tooLarge, path: path,
            message: "\(w) x \(h) pixels exceeds the limit of \(options.maxPixels)")
    }
}

private func neverUpscale(_ width: Int, _ imageWidth: Int) -> ThumbnailOutcome? {
    width >= imageWidth
        ? .originalSuffices(reason: "target width \(width) >= image width \(imageWidth): never upscaled") : nil
}

private func jpegThumbnail(
    _ input: String, _ output: String, _ width: Int,
    _ options: ThumbnailOptions
) throws(ImageError) -> ThumbnailOutcome {
    let decoder = try JPEGDecoder(path: input)
    try checkSize(decoder.width, decoder.height, options, input)
    let orientation = decoder.orientation
    let swap = orientation.swapsAxes
    let shownW = swap ? decoder.height : decoder.width, shownH = swap ? decoder.width : decoder.height
    if let same = neverUpscale(width, shownW) { return same }
    let height = targetHeight(width: shownW, height: shownH, targetWidth: width)
    // Stored-orientation target: resample first, then turn the small image.
    let storedW = swap ? height : width, storedH = swap ? width : height
    let m = min(
        JPEGDecoder.scaleNumerator(fullWidth: decoder.width, targetWidth: storedW),
        JPEGDecoder.scaleNumerator(fullWidth: decoder.height, targetWidth: storedH))
    let icc = decoder.iccProfile()
    let decoded = try decoder.decode(scaleNumerator: m)
    let thumb = orientation.apply(to: Resampler.resize(decoded, width: storedW, height: storedH))
    try writeAtomically(output) { (temp) throws(ImageError) in
        try JPEGEncoder.write(thumb, to: temp, options: JPEGEncodeOptions(quality: options.quality, iccProfile: icc))
    }
    return .written(width: thumb.width, height: thumb.height, format: .jpeg)
}

private func pngThumbnail(
    _ input: String, _ output: String, _ width: Int,
    _ options: ThumbnailOptions
) throws(ImageError) -> ThumbnailOutcome {
    let decoder = try PNGDecoder(path: input)
    try checkSize(decoder.width, decoder.height, options, input)
    if let same = neverUpscale(width, decoder.width) { return same }
    let height = targetHeight(width: decoder.width, height: decoder.height, targetWidth: width)
    let thumb = Resampler.resize(try decoder.decode(), width: width, height: height)
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
