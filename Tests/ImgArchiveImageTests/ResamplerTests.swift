import Testing

@testable import ImgArchiveImage

@Suite struct ResamplerTests {
    /// Weights sum to 1, so a flat image stays exactly flat at any reduction.
    @Test(arguments: [(100, 37), (640, 550), (1000, 3), (9, 1), (50, 50), (20, 40)])
    func flatStaysFlat(from: Int, to: Int) {
        let image = PixelBuffer(
            width: from, height: 7, channels: 3,
            pixels: [UInt8](repeating: 0, count: from * 7 * 3).enumerated().map { UInt8(60 + $0.offset % 3 * 50) })
        let out = Resampler.resize(image, width: to, height: 3)
        #expect(out.width == to && out.height == 3)
        for p in 0..<(to * 3) { #expect(Array(out.pixels[(p * 3)..<(p * 3 + 3)]) == [60, 110, 160]) }
    }

    /// The Float Lanczos pass agrees with the Double reference to within rounding.
    @Test(arguments: [1, 2, 3, 4])
    func agreesWithReference(channels: Int) {
        let src = photo(width: 173, height: 91, channels: channels, seed: UInt64(channels))
        let out = Resampler.lanczos(src, width: 41, height: 23)
        let ref = referenceResize(
            doubles(src), width: 173, height: 91, channels: channels,
            alpha: src.hasAlpha, to: 41, 23)
        var worst = 0.0
        for i in ref.indices {
            let a = src.hasAlpha && i % channels != channels - 1 ? ref[i - i % channels + channels - 1] : 255
            // The colour of near-transparent pixels is unstable.
            if a >= 8 { worst = max(worst, abs(ref[i] - Double(out.pixels[i]))) }
        }
        #expect(worst <= 1.0, "largest difference \(worst)")
    }

    /// Large reductions go through an integer box pre-shrink first; the result stays within 35 dB of
    /// the pure Lanczos reference (composited over grey when there is alpha), and exact in size.
    @Test(arguments: [(3, 8), (4, 5), (1, 12), (2, 4)])
    func largeReductionsStayCloseToLanczos(channels: Int, factor: Int) {
        var image = photo(width: 400, height: 300, channels: channels, seed: 9)
        if image.hasAlpha {  // a soft alpha ramp with a transparent band
            for p in 0..<(400 * 300) {
                let x = p % 400
                image.pixels[p * channels + channels - 1] = x < 60 ? 0 : UInt8(min(255, 60 + x / 2))
            }
        }
        let ow = 400 / factor, oh = 300 / factor
        let out = Resampler.resize(image, width: ow, height: oh)
        #expect(out.width == ow && out.height == oh && out.channels == channels)
        let ref = referenceResize(
            doubles(image), width: 400, height: 300, channels: channels, alpha: image.hasAlpha,
            to: ow, oh)
        let quality = psnr(
            composited(ref, channels: channels, alpha: image.hasAlpha),
            composited(doubles(out), channels: channels, alpha: image.hasAlpha))
        #expect(quality >= 35, "PSNR \(quality) dB")
    }

    @Test func boxShrinkAveragesBlocks() {
        // 5 x 3 gray, 2 x 2 blocks: the last column and row are partial blocks.
        let image = PixelBuffer(
            width: 5, height: 3, channels: 1,
            pixels: [
                0, 10, 20, 30, 40,
                50, 60, 70, 80, 90,
                100, 110, 120, 130, 140,
            ])
        let out = Resampler.boxShrink(image, 2, 2)
        #expect(out.width == 3 && out.height == 2)
        #expect(out.pixels == [30, 50, 65, 105, 125, 140])  // (0+10+50+60)/4, (20+30+70+80)/4, (40+90)/2, ...
    }

    /// Premultiplied alpha: the colour of fully transparent pixels never bleeds into visible ones.
    @Test func transparentColourDoesNotBleed() {
        let w = 64, h = 8
        var px = [UInt8](repeating: 0, count: w * h * 4)
        for y in 0..<h {
            for x in 0..<w {
                let p = (y * w + x) * 4
                // Red, then invisible green.
                if x % 2 == 0 { px[p] = 255; px[p + 3] = 255 } else { px[p + 1] = 255; px[p + 3] = 0 }
            }
        }
        let out = Resampler.resize(PixelBuffer(width: w, height: h, channels: 4, pixels: px), width: 16, height: 2)
        for p in 0..<(16 * 2) {
            #expect(
                out.pixels[p * 4] == 255 && out.pixels[p * 4 + 1] == 0,
                "pixel \(p) is \(out.pixels[(p * 4)..<(p * 4 + 4)])")
            #expect((100...155).contains(out.pixels[p * 4 + 3]), "alpha is about half")
        }
    }

    @Test func orientationFromExif() {
        for value in 1...8 {
            for bigEndian in [true, false] {
                let app1 = exifOrientation(value, bigEndian: bigEndian).dropFirst(6)
                let parsed = Array(app1).withUnsafeBufferPointer { Orientation.fromExif($0) }
                #expect(parsed.rawValue == value)
            }
        }
        let junk: [[UInt8]] = [
            [], [0x49, 0x49, 42, 0], [0x4D, 0x4D, 0, 42, 0xFF, 0xFF, 0xFF, 0xFF], Array(repeating: 0x49, count: 64),
            Array(exifOrientation(9, bigEndian: true).dropFirst(6)),
        ]
        for bytes in junk { #expect(bytes.withUnsafeBufferPointer { Orientation.fromExif($0) } == .up) }
    }
}
