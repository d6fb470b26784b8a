import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveImage

#if canImport(Glibc)
    import Glibc
#endif

enum JPEGKind: String, CaseIterable, Sendable {
    case baseline, progressive, restartMarkers, grayscale, progressiveGray
}

@Suite struct JPEGThumbnailTests {
    /// Every JPEG kind: the thumbnail has the exact size and is within 35 dB of a reference Lanczos
    /// downscale (computed here, in Double) of the full-size decode.
    @Test(arguments: JPEGKind.allCases)
    func thumbnailMatchesReferenceLanczos(kind: JPEGKind) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let gray = kind == .grayscale || kind == .progressiveGray
        let source = photo(width: 640, height: 426, channels: gray ? 1 : 3, seed: 7)
        var options = JPEGEncodeOptions(quality: 92)
        options.progressive = kind == .progressive || kind == .progressiveGray
        options.restartInterval = kind == .restartMarkers ? 3 : 0
        let input = dir.file("in.jpg"), output = dir.file("out.jpg")
        try writeJPEG(source, input, options)
        let bytes = try read(input)
        if kind == .restartMarkers { #expect(containsMarker(bytes, 0xD0)) }  // RST0 present
        if options.progressive { #expect(containsMarker(bytes, 0xC2)) }  // SOF2

        let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: 150)
        #expect(outcome == .written(width: 150, height: 100, format: .jpeg))  // 426*150/640 = 99.8
        let full = try readJPEG(input)
        let thumb = try readJPEG(output)
        #expect(thumb.width == 150 && thumb.height == 100 && thumb.channels == full.channels)
        let reference = referenceResize(
            doubles(full), width: full.width, height: full.height, channels: full.channels,
            alpha: false, to: 150, 100)
        let quality = psnr(reference, doubles(thumb))
        #expect(quality >= 35, "PSNR \(quality) dB")
        #expect(dir.contents() == ["in.jpg", "out.jpg"])
    }

    /// CMYK stored Adobe-style (inverted) comes out as the RGB colours it encodes.
    @Test func adobeInvertedCMYKBecomesRGB() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let w = 256, h = 128
        let rgb = photo(width: w, height: h, channels: 3, seed: 3)
        var cmyk = [UInt8](repeating: 0, count: w * h * 4)
        for p in 0..<(w * h) {
            let r = Double(rgb.pixels[p * 3]), g = Double(rgb.pixels[p * 3 + 1]), b = Double(rgb.pixels[p * 3 + 2])
            let k = 255 - max(r, g, b)
            let scale = k < 255 ? 255 / (255 - k) : 0
            let plain = [(255 - r - k) * scale, (255 - g - k) * scale, (255 - b - k) * scale, k]
            for i in 0..<4 { cmyk[p * 4 + i] = UInt8((255 - plain[i]).rounded()) }  // Adobe: inverted
        }
        let input = dir.file("cmyk.jpg"), output = dir.file("out.jpg")
        try writeJPEG(
            PixelBuffer(width: w, height: h, channels: 4, pixels: cmyk), input, JPEGEncodeOptions(quality: 95))
        let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: 64)
        #expect(outcome == .written(width: 64, height: 32, format: .jpeg))
        let thumb = try readJPEG(output)
        #expect(thumb.channels == 3)
        let reference = referenceResize(doubles(rgb), width: w, height: h, channels: 3, alpha: false, to: 64, 32)
        let quality = psnr(reference, doubles(thumb))
        #expect(quality >= 30, "PSNR \(quality) dB against the RGB the CMYK encodes")
    }

    /// Each EXIF orientation 1...8: the stored image has red, green, blue and white quadrants; the
    /// thumbnail's corners must show them where the EXIF specification puts them.
    @Test(arguments: 1...8)
    func exifOrientationIsApplied(orientation: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let red: [UInt8] = [255, 0, 0], green: [UInt8] = [0, 255, 0], blue: [UInt8] = [0, 0, 255]
        let white: [UInt8] = [255, 255, 255]
        let w = 192, h = 128
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let color = y < h / 2 ? (x < w / 2 ? red : green) : (x < w / 2 ? blue : white)
                for k in 0..<3 { px[(y * w + x) * 3 + k] = color[k] }
            }
        }
        let input = dir.file("o.jpg"), output = dir.file("t.jpg")
        try writeJPEG(
            PixelBuffer(width: w, height: h, channels: 3, pixels: px), input,
            JPEGEncodeOptions(quality: 95, app1: exifOrientation(orientation, bigEndian: orientation % 2 == 0)))
        // Expected (top-left, top-right, bottom-left, bottom-right) per the EXIF specification.
        let expected: [Int: [[UInt8]]] = [
            1: [red, green, blue, white], 2: [green, red, white, blue], 3: [white, blue, green, red],
            4: [blue, white, red, green], 5: [red, blue, green, white], 6: [blue, red, white, green],
            7: [white, green, blue, red], 8: [green, white, red, blue],
        ]
        let swapped = orientation >= 5
        let info = try imageInfo(path: input)
        #expect(info.width == (swapped ? h : w) && info.height == (swapped ? w : h) && info.format == .jpeg)
        let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: 48)
        let outH = swapped ? 72 : 32
        #expect(outcome == .written(width: 48, height: outH, format: .jpeg))
        let t = try readJPEG(output)
        func corner(_ x: Int, _ y: Int) -> [Int] { (0..<3).map { Int(t.pixels[(y * t.width + x) * 3 + $0]) } }
        let corners = [
            corner(3, 3), corner(t.width - 4, 3), corner(3, t.height - 4), corner(t.width - 4, t.height - 4),
        ]
        for (got, want) in zip(corners, expected[orientation] ?? []) {
            #expect(
                zip(got, want).allSatisfy { abs($0 - Int($1)) <= 40 }, "orientation \(orientation): \(got) vs \(want)")
        }
    }

    /// The ICC profile (APP2) is carried into the thumbnail; none in, none out.
    @Test(arguments: [true, false])
    func iccProfileIsCarried(withProfile: Bool) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var rng = LCG(state: 11)
        let profile = withProfile ? (0..<3000).map { _ in UInt8(rng.next() & 0xFF) } : nil  // spans one APP2
        let input = dir.file("icc.jpg"), output = dir.file("t.jpg")
        try writeJPEG(photo(width: 320, height: 200, channels: 3), input, JPEGEncodeOptions(iccProfile: profile))
        _ = try makeThumbnail(inputPath: input, outputPath: output, width: 100)
        #expect(try JPEGDecoder(path: output).iccProfile() == profile)
    }

    /// Target width equal to, above, far below the image, and 1 px.
    @Test(arguments: [(640, nil), (900, nil), (8, 5), (1, 1)] as [(Int, Int?)])
    func targetWidths(width: Int, expectedHeight: Int?) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("w.jpg"), output = dir.file("t.jpg")
        try writeJPEG(photo(width: 640, height: 400, channels: 3), input)
        let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: width)
        if let expectedHeight {
            #expect(outcome == .written(width: width, height: expectedHeight, format: .jpeg))
            let t = try readJPEG(output)
            #expect(t.width == width && t.height == expectedHeight)
        } else {
            guard case .originalSuffices(let reason) = outcome else {
                Issue.record("expected originalSuffices, got \(outcome)")
                return
            }
            #expect(reason.contains("never upscaled"))
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    /// DCT scaling: the largest power-of-two reduction that keeps the decoded width at least twice the target.
    @Test(arguments: [
        (6000, 550, 2), (2560, 550, 4), (3264, 550, 4), (1280, 550, 8), (1000, 550, 8), (640, 1, 1),
        (4000, 250, 1), (4390, 275, 2),
    ])
    func scaleChoice(full: Int, target: Int, expected: Int) {
        let m = JPEGDecoder.scaleNumerator(fullWidth: full, targetWidth: target)
        #expect(m == expected)
        #expect([1, 2, 4, 8].contains(m))
        #expect(m == 8 || (full * m + 7) / 8 >= 2 * target, "decoded width keeps a 2x margin")
        #expect(m == 1 || (full * m / 2 + 7) / 8 < 2 * target, "the next smaller scale would not")
    }

    func containsMarker(_ bytes: [UInt8], _ marker: UInt8) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == 0xFF && $1 == marker }
    }
}
