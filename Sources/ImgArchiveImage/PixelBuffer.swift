/// The one pixel type decode, resample and encode meet at: 8-bit samples, rows packed without
/// padding, interleaved channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; alpha is straight, not
/// premultiplied).
struct PixelBuffer: Sendable {
    var width: Int
    var height: Int
    var channels: Int
    var pixels: [UInt8]

    var hasAlpha: Bool { channels == 2 || channels == 4 }
    var rowBytes: Int { width * channels }

    init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A buffer with every sample zero.
    init(width: Int, height: Int, channels: Int) {
        self.init(
            width: width, height: height, channels: channels,
            pixels: [UInt8](repeating: 0, count: width * height * channels))
    }
}
