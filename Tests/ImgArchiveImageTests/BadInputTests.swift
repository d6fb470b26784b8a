import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveImage

#if canImport(Glibc)
    import Glibc
#endif

/// Peak resident memory of this process so far, in bytes.
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

@Suite struct BadInputTests {
    func jpegFixture(_ dir: TempDir, progressive: Bool = false) throws -> [UInt8] {
        let path = dir.file("src.jpg")
        try writeJPEG(photo(width: 320, height: 240, channels: 3), path, JPEGEncodeOptions(progressive: progressive))
        return try read(path)
    }

    func pngFixture() -> [UInt8] {
        let w = 200, h = 150
        var samples: [Int] = []
        var rng = LCG(state: 5)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { samples.append(Int(photoSample(x, y, c, w, h, &rng))) } } }
        return PNGFixture(width: w, height: h, colorType: 2, bitDepth: 8, samples: samples).encoded()
    }

    func expectFailure(_ bytes: [UInt8], codes: [ImageError.Code], name: String) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file(name), output = dir.file("out")
        try write(bytes, to: input)
        do {
            let outcome = try makeThumbnail(inputPath: input, outputPath: output, width: 50)
            Issue.record("expected a failure, got \(outcome)")
        } catch {
            #expect(codes.contains(error.code), "\(error)")
            #expect(error.path == input)
        }
        #expect(dir.contents() == [name], "no output and no temporary file is left behind")
    }

    @Test func truncatedJPEGHeader() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let bytes = try jpegFixture(dir)
        try expectFailure(Array(bytes.prefix(120)), codes: [.truncated], name: "head.jpg")
    }

    /// Policy: a scan cut short is an error (`.truncated`), never a grey-padded thumbnail.
    @Test(arguments: [false, true])
    func truncatedJPEGScan(progressive: Bool) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let bytes = try jpegFixture(dir, progressive: progressive)
        try expectFailure(Array(bytes.prefix(bytes.count * 6 / 10)), codes: [.truncated], name: "scan.jpg")
    }

    /// Policy, documented: libjpeg cannot tell a file that lacks only its EOI marker from a cut scan
    /// (both end the data inside its read-ahead), so it is `.truncated` as well.
    @Test func jpegWithoutEOIIsTruncated() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let bytes = try jpegFixture(dir)
        #expect(bytes.suffix(2) == [0xFF, 0xD9])
        try expectFailure(Array(bytes.dropLast(2)), codes: [.truncated], name: "noeoi.jpg")
    }

    @Test func truncatedPNGHeader() throws {
        try expectFailure(Array(pngFixture().prefix(20)), codes: [.truncated, .corrupt], name: "head.png")
    }

    /// A chunk that declares 2 GB in a small file (found by the PNG fuzzer) is refused before libpng allocates it.
    @Test func pngChunkDeclaringGigabytesIsRefusedUnread() throws {
        let png = pngFixture()
        let header: [UInt8] = [0x7F, 0xFF, 0xFF, 0xF0] + Array("tEXt".utf8) + Array("Comment\0x".utf8)
        let bytes = Array(png.prefix(33)) + header + Array(png.dropFirst(33))
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("text-bomb.png")
        try write(bytes, to: input)
        #expect {
            _ = try makeThumbnail(inputPath: input, outputPath: dir.file("out"), width: 50)
        } throws: { error in
            guard let error = error as? ImageError else { return false }
            return error.code == .corrupt && error.message.contains("tEXt chunk declares 2147483632 bytes")
        }
        #expect(dir.contents() == ["text-bomb.png"])
    }

    @Test func truncatedPNGData() throws {
        let bytes = pngFixture()
        try expectFailure(Array(bytes.prefix(bytes.count / 2)), codes: [.truncated], name: "data.png")
    }

    @Test func garbage() throws {
        var rng = LCG(state: 99)
        let noise = (0..<4000).map { _ in UInt8(rng.next() & 0xFF) }
        try expectFailure(noise, codes: [.notAnImage], name: "noise.bin")
        try expectFailure([], codes: [.notAnImage], name: "empty.jpg")
        try expectFailure([0xFF, 0xD8, 0xFF] + noise, codes: [.corrupt, .truncated], name: "noise.jpg")
        try expectFailure(Array(pngFixture().prefix(8)) + noise, codes: [.corrupt, .truncated], name: "noise.png")
        try expectFailure(Array("<html><body>not found</body></html>".utf8), codes: [.notAnImage], name: "page.jpg")
    }

    @Test func missingFile() throws {
        #expect(throws: ImageError.self) {
            try makeThumbnail(inputPath: "/nonexistent/imgarchive/x.jpg", outputPath: "/tmp/never", width: 10)
        }
    }

    /// A JPEG and a PNG whose headers claim 60000 x 60000 are rejected from the header, with no
    /// large allocation (60000 x 60000 x 3 bytes would be 10 GB).
    @Test func hugeHeadersAreRejectedCheaply() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var jpeg = try jpegFixture(dir)
        guard let sof = zip(jpeg.indices, jpeg.dropFirst()).first(where: { jpeg[$0.0] == 0xFF && $0.1 == 0xC0 })?.0
        else {
            Issue.record("no SOF0 in the fixture")
            return
        }
        // SOF0: FF C0, length(2), precision(1), height(2), width(2)
        jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60; jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60
        var png = pngFixture()
        // IHDR data starts at 16: width(4), height(4); then fix its CRC (at 29).
        png.replaceSubrange(16..<24, with: be32(60000) + be32(60000))
        png.replaceSubrange(29..<33, with: be32(CRC32.of(Array(png[12..<29]))))
        let before = peakRSS()
        for (name, bytes) in [("huge.jpg", jpeg), ("huge.png", png)] {
            let input = dir.file(name)
            try write(bytes, to: input)
            let info = try imageInfo(path: input)
            #expect(info.width == 60000 && info.height == 60000)
            #expect(throws: ImageError.self) {
                try makeThumbnail(inputPath: input, outputPath: dir.file("out-\(name)"), width: 550)
            }
            do {
                _ = try makeThumbnail(inputPath: input, outputPath: dir.file("out-\(name)"), width: 550)
            } catch {
                #expect(error.code == .tooLarge)
            }
        }
        #expect(peakRSS() - before < 64 << 20, "peak memory grew by \((peakRSS() - before) >> 20) MB")
        #expect(dir.contents() == ["huge.jpg", "huge.png", "src.jpg"])
    }

    @Test func configurablePixelLimit() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        _ = try jpegFixture(dir)
        do {
            _ = try makeThumbnail(
                inputPath: dir.file("src.jpg"), outputPath: dir.file("t.jpg"), width: 100,
                options: ThumbnailOptions(maxPixels: 320 * 240 - 1))
            Issue.record("expected tooLarge")
        } catch {
            #expect(error.code == .tooLarge)
        }
        #expect(
            try makeThumbnail(
                inputPath: dir.file("src.jpg"), outputPath: dir.file("t.jpg"), width: 100,
                options: ThumbnailOptions(maxPixels: 320 * 240)) == .written(width: 100, height: 75, format: .jpeg))
    }

    @Test func otherFormatsAreKeptAsTheyAre() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let samples: [(String, [UInt8])] = [
            ("a.gif", Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]),
            ("a.webp", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8)),
            ("a.svg", Array("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>".utf8)),
        ]
        for (name, bytes) in samples {
            try write(bytes, to: dir.file(name))
            let outcome = try makeThumbnail(inputPath: dir.file(name), outputPath: dir.file("t-" + name), width: 10)
            guard case .originalSuffices(let reason) = outcome else {
                Issue.record("\(name): \(outcome)")
                continue
            }
            #expect(reason.contains("archived as it is"))
        }
        #expect(dir.contents() == ["a.gif", "a.svg", "a.webp"])
    }

    @Test func invalidArguments() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        _ = try jpegFixture(dir)
        for (width, quality) in [(0, 85), (-5, 85), (10, 0), (10, 101)] {
            do {
                _ = try makeThumbnail(
                    inputPath: dir.file("src.jpg"), outputPath: dir.file("t.jpg"), width: width,
                    options: ThumbnailOptions(quality: quality))
                Issue.record("width \(width) quality \(quality) accepted")
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
    }
}
