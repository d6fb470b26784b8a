/// The memory one thumbnail takes, estimated from the image's header before anything large is allocated:
/// what the decoder holds, the resampler's rows and weights, the output. Streaming decodes (baseline JPEG,
/// non-interlaced PNG) hold a few rows; the others hold `held`.
struct MemoryEstimate: Equatable {
    /// Peak bytes, all parts together.
    var bytes: Int
    /// What the decoder must hold whole, when it cannot stream (for messages); nil when it streams.
    var held: String?

    /// The libraries' own state, the encoder's buffers, headers and markers: a flat allowance.
    static let fixedBytes = 2_000_000

    /// A JPEG decoded at `decodedWidth` x `decodedHeight` (its DCT scale) and resized to outW x outH.
    /// libjpeg's strip buffers are a few MCU rows of the decoded width (at most 2 x 16 rows of samples,
    /// before and after upsampling, per component: 64 rows of 4 bytes a pixel is an upper bound); a
    /// multi-scan file also holds every coefficient.
    static func jpeg(
        width: Int, height: Int, multiScan: Bool, coefficientBytes: Int, decodedWidth: Int, decodedHeight: Int,
        channels: Int, outWidth: Int, outHeight: Int
    ) -> MemoryEstimate {
        var bytes = fixedBytes + decodedWidth * 4 * 64
        bytes += Resampler.workingBytes(
            inWidth: decodedWidth, inHeight: decodedHeight, outWidth: outWidth, outHeight: outHeight, channels: channels
        )
        bytes += 2 * outWidth * outHeight * channels  // the output, and its turned copy (EXIF orientation)
        guard multiScan else { return MemoryEstimate(bytes: bytes, held: nil) }
        return MemoryEstimate(
            bytes: bytes + coefficientBytes,
            held: "a progressive or multi-scan JPEG: libjpeg holds every DCT coefficient of its \(width) x \(height) "
                + "pixels, \(megabytes(coefficientBytes))")
    }

    /// A PNG resized to outW x outH. Read by rows, libpng holds the current and previous row as stored
    /// plus a transformed row and zlib's window; an interlaced file is decoded whole (8-bit), and a
    /// 16-bit one with alpha first as 16-bit samples too.
    static func png(
        width: Int, height: Int, channels: Int, bitDepth: Int, fileRowBytes: Int, interlaced: Bool,
        outWidth: Int, outHeight: Int
    ) -> MemoryEstimate {
        var bytes = fixedBytes
        bytes += Resampler.workingBytes(
            inWidth: width, inHeight: height, outWidth: outWidth, outHeight: outHeight, channels: channels)
        bytes += outWidth * outHeight * channels
        let samples = width * channels
        guard interlaced else {
            bytes += 3 * (fileRowBytes + 1) + 3 * samples * (bitDepth == 16 ? 2 : 1) + 300_000
            return MemoryEstimate(bytes: bytes, held: nil)
        }
        var whole = samples * height
        if bitDepth == 16 && (channels == 2 || channels == 4) { whole += 2 * samples * height }
        return MemoryEstimate(
            bytes: bytes + whole + 2 * (fileRowBytes + 1),
            held: "an interlaced PNG: its \(width) x \(height) pixels are decoded whole, \(megabytes(whole))")
    }

    /// "613 MB" (decimal megabytes, rounded up, as sizes are written in imgarchive.yml).
    static func megabytes(_ bytes: Int) -> String {
        "\((bytes + 999_999) / 1_000_000) MB"
    }
}
