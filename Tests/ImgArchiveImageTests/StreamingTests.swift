import Foundation
import Testing

@testable import ImgArchiveImage

/// Streaming decode: rows handed to the resampler as they are decoded give exactly what decoding the
/// whole image gave, for every PNG and JPEG kind; images that cannot stream still work.
@Suite struct StreamingTests {
    static let streamingPNGKinds = PNGKind.allCases.filter { !$0.rawValue.hasPrefix("interlaced") }

    /// libpng's row API (with the simplified API's transformations) reads the same samples as
    /// png_image_finish_read, for every non-interlaced colour type and depth of the test's own writer.
    @Test(arguments: streamingPNGKinds)
    func pngRowsMatchWholeDecode(kind: PNGKind) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (fx, _) = PNGThumbnailTests().fixture(kind, width: 97, height: 61)
        let input = dir.file("in.png")
        try write(fx.encoded(), to: input)
        try expectRowsMatch(input)
    }

    /// A gAMA chunk makes libpng convert samples to sRGB: the rows do the same conversion.
    @Test(arguments: [PNGKind.rgb8, .rgba16, .gray16, .palette, .grayAlpha8], [100_000, 45455, 220_000])
    func pngRowsMatchWholeDecodeWithGamma(kind: PNGKind, gamma: UInt32) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (fx, _) = PNGThumbnailTests().fixture(kind, width: 53, height: 29)
        var bytes = fx.encoded()
        bytes.insert(contentsOf: pngChunk("gAMA", be32(gamma)), at: 33)  // after the signature and IHDR
        let input = dir.file("in.png")
        try write(bytes, to: input)
        try expectRowsMatch(input)
    }

    /// Files libpng writes (filtered, compressed), 1 to 4 channels.
    @Test(arguments: [1, 2, 3, 4])
    func pngRowsMatchWholeDecodeOfLibpngFiles(channels: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("in.png")
        try PNGEncoder.write(photo(width: 131, height: 77, channels: channels, seed: 5), to: input)
        try expectRowsMatch(input)
    }

    func expectRowsMatch(_ input: String) throws {
        let whole = try PNGDecoder(path: input).decode()
        let reader = try PNGRowReader(path: input)
        #expect(!reader.interlaced)
        try reader.start()
        let streamed = reader.readAll()
        #expect(reader.failure == nil)
        #expect(streamed.width == whole.width && streamed.height == whole.height)
        #expect(streamed.channels == whole.channels)
        let differing = zip(streamed.pixels, whole.pixels).filter { $0 != $1 }.count
        #expect(streamed.pixels.count == whole.pixels.count && differing == 0, "\(differing) samples differ")
    }

    /// Adam7 files are not read by rows (their passes cover the whole image); the row reader says so.
    @Test(arguments: [PNGKind.interlacedRGB8, .interlacedRGBA16, .interlacedPalette])
    func interlacedPNGIsDecodedWhole(kind: PNGKind) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (fx, _) = PNGThumbnailTests().fixture(kind, width: 60, height: 40)
        let input = dir.file("in.png")
        try write(fx.encoded(), to: input)
        let reader = try PNGRowReader(path: input)
        #expect(reader.interlaced)
        #expect(throws: ImageError.self) { try reader.start() }
        #expect(
            try makeThumbnail(inputPath: input, outputPath: dir.file("out.png"), width: 30)
                == .written(width: 30, height: 20, format: .png))
    }

    enum JPEGShape: String, CaseIterable, Sendable {
        case baselineRGB, progressiveRGB, baselineGray, progressiveGray, adobeCMYK
    }

    /// libjpeg's scanlines read one at a time are the pixels of a whole decode, at every DCT scale.
    @Test(arguments: JPEGShape.allCases, [1, 2, 4, 8])
    func jpegScanlinesMatchWholeDecode(shape: JPEGShape, scale: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let channels = shape == .adobeCMYK ? 4 : shape.rawValue.hasSuffix("Gray") ? 1 : 3
        let input = dir.file("in.jpg")
        try writeJPEG(
            photo(width: 203, height: 117, channels: channels, seed: 3), input,
            JPEGEncodeOptions(progressive: shape.rawValue.hasPrefix("progressive")))
        let whole = try JPEGDecoder(path: input).decode(scaleNumerator: scale)
        let rows = try JPEGDecoder(path: input).rows(scaleNumerator: scale)
        let streamed = rows.readAll()
        #expect(rows.failure == nil)
        #expect(streamed.width == whole.width && streamed.height == whole.height && streamed.channels == whole.channels)
        #expect(streamed.pixels == whole.pixels)
    }

    /// The shapes of the bombs, smaller: the streamed thumbnail is the one the whole-image path
    /// (decode everything, then resize) made before, byte for byte.
    enum Bomb: String, CaseIterable, Sendable {
        case rgba8PNG, rgba16PNG, interlacedPNG, baselineJPEG, progressiveJPEG
    }

    @Test(arguments: Bomb.allCases)
    func bombShapesGiveTheSameThumbnailAsWholeDecoding(bomb: Bomb) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let width = 550
        switch bomb {
        case .rgba8PNG, .rgba16PNG, .interlacedPNG:
            let input = dir.file("in.png"), output = dir.file("out.png")
            if bomb == .rgba8PNG {
                try PNGEncoder.write(bands(width: 4000, height: 4000, channels: 4), to: input)
            } else {
                let kind: PNGKind = bomb == .rgba16PNG ? .rgba16 : .interlacedRGBA16
                try write(PNGThumbnailTests().fixture(kind, width: 1500, height: 1100).0.encoded(), to: input)
            }
            let decoder = try PNGDecoder(path: input)
            let height = targetHeight(width: decoder.width, height: decoder.height, targetWidth: width)
            let before = Resampler.resize(try decoder.decode(), width: width, height: height)
            #expect(
                try makeThumbnail(inputPath: input, outputPath: output, width: width)
                    == .written(width: width, height: height, format: .png))
            let after = try PNGDecoder(path: output).decode()
            #expect(after.channels == before.channels && after.pixels == before.pixels)
        case .baselineJPEG, .progressiveJPEG:
            let input = dir.file("in.jpg"), output = dir.file("out.jpg"), expected = dir.file("before.jpg")
            try writeJPEG(
                bands(width: 4000, height: 3000, channels: 3), input,
                JPEGEncodeOptions(progressive: bomb == .progressiveJPEG))
            let height = targetHeight(width: 4000, height: 3000, targetWidth: width)
            let m = min(
                JPEGDecoder.scaleNumerator(fullWidth: 4000, targetWidth: width),
                JPEGDecoder.scaleNumerator(fullWidth: 3000, targetWidth: height))
            let decoded = try JPEGDecoder(path: input).decode(scaleNumerator: m)
            try JPEGEncoder.write(
                Resampler.resize(decoded, width: width, height: height), to: expected, options: JPEGEncodeOptions())
            #expect(
                try makeThumbnail(inputPath: input, outputPath: output, width: width)
                    == .written(width: width, height: height, format: .jpeg))
            #expect(try read(output) == read(expected))
        }
    }

    /// Cheap, varied content for big test images: bands, a fine pattern, a soft alpha.
    func bands(width w: Int, height h: Int, channels c: Int) -> PixelBuffer {
        var px = [UInt8](repeating: 0, count: w * h * c)
        px.withUnsafeMutableBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    let i = (y * w + x) * c
                    for k in 0..<c {
                        p[i + k] =
                            k == 3
                            ? UInt8(truncatingIfNeeded: 128 &+ (x / 37) &- (y / 23))
                            : UInt8(truncatingIfNeeded: (x >> 3) &* (k + 1) &+ (y >> 2) &* (3 - k) &+ ((x ^ y) & 15))
                    }
                }
            }
        }
        return PixelBuffer(width: w, height: h, channels: c, pixels: px)
    }
}
