/// Rows of 8-bit pixels handed over once each, top to bottom: where a streaming decoder and the resampler
/// meet, so that a whole decoded image is never held. Same sample layout as `PixelBuffer` (interleaved
/// channels, straight alpha). A source that fails hands out zero rows from then on and keeps its first
/// error in `failure`, which the consumer checks after the last row it read (the resampler does).
protocol RowSource: AnyObject {
    var width: Int { get }
    var height: Int { get }
    var channels: Int { get }
    /// Writes the next row, `width * channels` samples, to `row`.
    func readRow(into row: UnsafeMutablePointer<UInt8>)
    /// The first failure, if reading failed.
    var failure: ImageError? { get }
}

/// The rows of a decoded image held in memory.
final class BufferRows: RowSource {
    private let image: PixelBuffer
    private var next = 0

    init(_ image: PixelBuffer) { self.image = image }

    var width: Int { image.width }
    var height: Int { image.height }
    var channels: Int { image.channels }
    var failure: ImageError? { nil }

    func readRow(into row: UnsafeMutablePointer<UInt8>) {
        let n = image.rowBytes
        if next >= image.height {
            row.update(repeating: 0, count: n)
            return
        }
        image.pixels.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            row.update(from: base + next * n, count: n)
        }
        next += 1
    }
}

extension RowSource {
    /// Reads every remaining row into a buffer; zeros where the source failed (check `failure`).
    func readAll() -> PixelBuffer {
        let n = width * channels
        let pixels = [UInt8](unsafeUninitializedCapacity: n * height) { buffer, initialized in
            if let base = buffer.baseAddress {
                for y in 0..<height { readRow(into: base + y * n) }
            }
            initialized = n * height
        }
        return PixelBuffer(width: width, height: height, channels: channels, pixels: pixels)
    }
}
