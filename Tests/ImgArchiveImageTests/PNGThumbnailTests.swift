import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveImage

/// PNG colour types, depths and interlacing, each written by the test's own PNG writer.
enum PNGKind: String, CaseIterable, Sendable {
    case gray1, gray2, gray4, gray8, gray16, grayAlpha8, grayAlpha16, rgb8, rgb16, rgba8, rgba16
    case palette, paletteTRNS, grayTRNS, rgbTRNS, interlacedRGB8, interlacedRGBA16, interlacedPalette
}

@Suite struct PNGThumbnailTests {
    /// Builds the fixture and the 8-bit image it stands for (the truth: 1 gray, 2 GA, 3 RGB, 4 RGBA).
    func fixture(_ kind: PNGKind, width w: Int, height h: Int) -> (PNGFixture, truth: PixelBuffer) {
        var rng = LCG(state: 21)
        var base = [Double](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w { for c in 0..<3 { base[(y * w + x) * 3 + c] = photoSample(x, y, c, w, h, &rng) } }
        }
        func alpha(_ x: Int, _ y: Int) -> Double {  // opaque, transparent and soft regions
            if x < w / 4 { return 255 }
            if y < h / 5 { return 0 }
            return min(255, max(0, 128 + 120 * sin(Double(x) * 0.05) * cos(Double(y) * 0.07)))
        }
        let gray = { (p: Int) in (base[p * 3] * 0.3 + base[p * 3 + 1] * 0.59 + base[p * 3 + 2] * 0.11) }
        var samples: [Int] = [], truth: [UInt8] = [], channels = 0
        var fx = PNGFixture(width: w, height: h, colorType: 0, bitDepth: 8, samples: [])
        switch kind {
        case .gray1, .gray2, .gray4, .gray8, .gray16, .grayTRNS:
            let depth = [.gray1: 1, .gray2: 2, .gray4: 4, .gray16: 16][kind] ?? 8
            let maxV = Double((1 << depth) - 1)
            channels = kind == .grayTRNS ? 2 : 1
            fx.bitDepth = depth
            for p in 0..<(w * h) {
                let v = Int((gray(p) / 255 * maxV).rounded())
                samples.append(v)
                truth.append(UInt8((Double(v) * 255 / maxV).rounded()))
                if kind == .grayTRNS { truth.append(v == 100 ? 0 : 255) }
            }
            if kind == .grayTRNS { fx.transparency = [0, 100] }
        case .grayAlpha8, .grayAlpha16:
            channels = 2
            fx.colorType = 4
            fx.bitDepth = kind == .grayAlpha16 ? 16 : 8
            for p in 0..<(w * h) {
                let a = alpha(p % w, p / w)
                if fx.bitDepth == 16 {
                    let g = Int((gray(p) * 257).rounded()), a16 = Int((a * 257).rounded())
                    samples += [g, a16]
                    truth += [UInt8((Double(g) / 257).rounded()), UInt8((Double(a16) / 257).rounded())]
                } else {
                    samples += [Int(gray(p).rounded()), Int(a.rounded())]
                    truth += [UInt8(gray(p).rounded()), UInt8(a.rounded())]
                }
            }
        case .rgb8, .rgb16, .rgba8, .rgba16, .interlacedRGB8, .interlacedRGBA16, .rgbTRNS:
            let hasAlpha = kind == .rgba8 || kind == .rgba16 || kind == .interlacedRGBA16
            channels = hasAlpha || kind == .rgbTRNS ? 4 : 3
            fx.colorType = hasAlpha ? 6 : 2
            fx.bitDepth = kind == .rgb16 || kind == .rgba16 || kind == .interlacedRGBA16 ? 16 : 8
            fx.interlaced = kind == .interlacedRGB8 || kind == .interlacedRGBA16
            for p in 0..<(w * h) {
                var px = (0..<3).map { base[p * 3 + $0] }
                if hasAlpha { px.append(alpha(p % w, p / w)) }
                for v in px {
                    if fx.bitDepth == 16 {
                        let v16 = Int((v * 257).rounded()) ^ (p & 0x3F)  // low bits that 8-bit output drops
                        samples.append(v16)
                        truth.append(UInt8((Double(v16) / 257).rounded()))
                    } else {
                        samples.append(Int(v.rounded()))
                        truth.append(UInt8(v.rounded()))
                    }
                }
                if kind == .rgbTRNS {
                    let n = samples.count
                    let key = samples[n - 3] == 40 && samples[n - 2] == 40 && samples[n - 1] == 40
                    truth.append(key ? 0 : 255)
                }
            }
            if kind == .rgbTRNS { fx.transparency = [0, 40, 0, 40, 0, 40] }
        case .palette, .paletteTRNS, .interlacedPalette:
            fx.colorType = 3
            fx.interlaced = kind == .interlacedPalette
            let withAlpha = kind == .paletteTRNS
            channels = withAlpha ? 4 : 3
            // 6 x 6 x 6 colour cube (216 entries), quantised; with tRNS the first 40 entries are translucent.
            fx.palette = (0..<216).map { (i: Int) -> [UInt8] in
                let r = UInt8(i / 36 * 51), g = UInt8(i / 6 % 6 * 51), b = UInt8(i % 6 * 51)
                return [r, g, b]
            }
            if withAlpha { fx.transparency = (0..<40).map { UInt8($0 * 6) } }
            for p in 0..<(w * h) {
                let q = (0..<3).map { Int((base[p * 3 + $0] / 51).rounded()) }
                let index = q[0] * 36 + q[1] * 6 + q[2]
                samples.append(index)
                truth += fx.palette[index]
                if withAlpha { truth.append(index < 40 ? UInt8(index * 6) : 255) }
            }
        }
        fx.samples = samples
        return (fx, PixelBuffer(width: w, height: h, channels: channels, pixels: truth))
    }

    /// Every PNG kind: the thumbnail is an 8-bit PNG of the right size, alpha kept, within 35 dB of
    /// the reference Lanczos (premultiplied alpha, composited over grey) of the image the file holds.
    @Test(arguments: PNGKind.allCases)
    func thumbnailMatchesReferenceLanczos(kind: PNGKind) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (fx, truth) = fixture(kind, width: 240, height: 150)
        let input = dir.file("in.png"), output = dir.file("out.png")
        try write(fx.encoded(), to: input)

        // The decoder reads exactly the image the fixture holds.
        let decoded = try PNGDecoder(path: input).decode()
        #expect(decoded.channels == truth.channels)
        // 16-bit with alpha goes through libpng's premultiplied 16-bit output: colour may be off by one,
        // and the colour of fully transparent pixels is not kept.
        let c = truth.channels
        var differing = 0
        for i in truth.pixels.indices where i < decoded.pixels.count {
            let transparent = truth.hasAlpha && truth.pixels[i - i % c + c - 1] == 0 && i % c != c - 1
            if !transparent && abs(Int(decoded.pixels[i]) - Int(truth.pixels[i])) > (truth.hasAlpha ? 1 : 0) {
                differing += 1
            }
        }
        #expect(decoded.pixels.count == truth.pixels.count && differing == 0, "\(differing) samples differ")

        #expect(
            try makeThumbnail(inputPath: input, outputPath: output, width: 80)
                == .written(width: 80, height: 50, format: .png))
        let thumb = try PNGDecoder(path: output).decode()
        #expect(thumb.width == 80 && thumb.height == 50 && thumb.channels == truth.channels)
        let alpha = truth.hasAlpha
        let reference = referenceResize(
            doubles(truth), width: truth.width, height: truth.height,
            channels: truth.channels, alpha: alpha, to: 80, 50)
        let quality = psnr(
            composited(reference, channels: truth.channels, alpha: alpha),
            composited(doubles(thumb), channels: thumb.channels, alpha: alpha))
        #expect(quality >= 35, "PSNR \(quality) dB")
        let header = try read(output)
        #expect(header[24] == 8, "8-bit output")
        #expect(dir.contents() == ["in.png", "out.png"])
    }

    @Test(arguments: [(240, nil), (500, nil), (6, 4), (1, 1)] as [(Int, Int?)])
    func targetWidths(width: Int, expectedHeight: Int?) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (fx, _) = fixture(.rgba8, width: 240, height: 150)
        let input = dir.file("in.png"), output = dir.file("out.png")
        try write(fx.encoded(), to: input)
        let info = try imageInfo(path: input)
        #expect(info.width == 240 && info.height == 150 && info.format == .png)
        let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: width)
        if let expectedHeight {
            #expect(outcome == .written(width: width, height: expectedHeight, format: .png))
            let t = try PNGDecoder(path: output).decode()
            #expect(t.width == width && t.height == expectedHeight && t.channels == 4)
        } else {
            #expect(outcome == .originalSuffices(reason: "target width \(width) >= image width 240: never upscaled"))
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }
}
