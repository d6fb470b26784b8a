import Foundation
import Testing

@testable import ImgArchiveImage

/// Memory estimates from headers, the budget refusal, and libjpeg's own cap.
@Suite struct MemoryEstimateTests {
    /// A PNG that is only its header (and the start of the image data): enough for an estimate.
    func headerOnlyPNG(_ path: String, width: Int, height: Int, depth: UInt8, colorType: UInt8, interlaced: Bool)
        throws
    {
        var ihdr = be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [depth, colorType, 0, 0, interlaced ? 1 : 0]
        let bytes: [UInt8] =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", ihdr) + pngChunk("IDAT", [0x78, 0x01])
            + pngChunk("IEND", [])
        try write(bytes, to: path)
    }

    struct PNGHeader: Sendable, CustomTestStringConvertible {
        var depth: UInt8
        var colorType: UInt8
        var interlaced: Bool
        /// The estimate for a 550 px thumbnail of 10000 x 10000 is at least / below these.
        var atLeast: Int
        var below: Int
        var testDescription: String { "depth \(depth) type \(colorType)\(interlaced ? " interlaced" : "")" }
    }

    /// 10000 x 10000: rows stream (a few MB) unless the file is interlaced (the whole 8-bit image, and
    /// for 16-bit with alpha the 16-bit samples as well).
    @Test(arguments: [
        PNGHeader(depth: 8, colorType: 6, interlaced: false, atLeast: 2_000_000, below: 10_000_000),
        PNGHeader(depth: 16, colorType: 6, interlaced: false, atLeast: 2_000_000, below: 10_000_000),
        PNGHeader(depth: 1, colorType: 0, interlaced: false, atLeast: 2_000_000, below: 10_000_000),
        PNGHeader(depth: 8, colorType: 6, interlaced: true, atLeast: 400_000_000, below: 420_000_000),
        PNGHeader(depth: 16, colorType: 6, interlaced: true, atLeast: 1_200_000_000, below: 1_220_000_000),
        PNGHeader(depth: 8, colorType: 2, interlaced: true, atLeast: 300_000_000, below: 320_000_000),
    ])
    func pngEstimates(header: PNGHeader) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("bomb.png")
        try headerOnlyPNG(
            input, width: 10000, height: 10000, depth: header.depth, colorType: header.colorType,
            interlaced: header.interlaced)
        let bytes = try thumbnailMemoryEstimate(inputPath: input, width: 550)
        #expect(bytes >= header.atLeast && bytes < header.below, "\(bytes)")
        #expect(try thumbnailMemoryEstimate(inputPath: input, width: 10000) == 0, "no thumbnail: never upscaled")
    }

    /// The coefficient buffer libjpeg keeps for a multi-scan file: every component's blocks, rounded up
    /// to whole MCUs (4:2:0 luma in pairs of blocks), 128 bytes each.
    @Test(arguments: [(false, 3), (true, 3), (true, 1)])
    func jpegCoefficientBytes(progressive: Bool, channels: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("in.jpg")
        try writeJPEG(
            photo(width: 1001, height: 699, channels: channels), input, JPEGEncodeOptions(progressive: progressive))
        let decoder = try JPEGDecoder(path: input)
        #expect(decoder.multiScan == progressive)
        // 1001 x 699: 126 x 88 blocks of luma (4:2:0: rounded up to whole 2 x 2 MCUs), 63 x 44 of each chroma.
        let expected = channels == 1 ? 126 * 88 * 128 : (126 * 88 + 2 * 63 * 44) * 128
        #expect(decoder.coefficientBytes == expected)
    }

    /// A progressive JPEG over the budget gets no thumbnail and a message naming the setting; the same
    /// picture as a baseline JPEG streams and fits.
    @Test func overBudgetImageGetsNoThumbnail() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let image = photo(width: 2000, height: 1500, channels: 3, seed: 4)
        let progressive = dir.file("p.jpg"), baseline = dir.file("b.jpg")
        try writeJPEG(image, progressive, JPEGEncodeOptions(progressive: true))
        try writeJPEG(image, baseline)
        let options = ThumbnailOptions(memoryBudget: 6_000_000)  // 2000 x 1500 at 4:2:0: 9 MB of coefficients
        #expect(try thumbnailMemoryEstimate(inputPath: progressive, width: 300) > 6_000_000)
        #expect(try thumbnailMemoryEstimate(inputPath: baseline, width: 300) < 6_000_000)
        do {
            _ = try makeThumbnail(
                inputPath: progressive, outputPath: dir.file("p-300.jpg"), width: 300, options: options)
            Issue.record("a thumbnail was made over the budget")
        } catch {
            #expect(error.code == .overMemoryBudget)
            #expect(error.path == progressive)
            #expect(error.message.contains("thumbnail-memory") && error.message.contains("progressive"), "\(error)")
            #expect(error.message.contains("budget of 6 MB"), "\(error)")
        }
        #expect(
            try makeThumbnail(inputPath: baseline, outputPath: dir.file("b-300.jpg"), width: 300, options: options)
                == .written(width: 300, height: 225, format: .jpeg))
        #expect(dir.contents() == ["b-300.jpg", "b.jpg", "p.jpg"], "nothing left of the refused one")
    }

    /// libjpeg itself is capped too: past the limit it fails instead of allocating.
    @Test func libjpegStopsAtItsCap() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let input = dir.file("p.jpg")
        try writeJPEG(photo(width: 1200, height: 900, channels: 3), input, JPEGEncodeOptions(progressive: true))
        let decoder = try JPEGDecoder(path: input)
        decoder.limitMemory(to: 500_000)  // the coefficients take 3.3 MB
        #expect {
            _ = try decoder.rows(scaleNumerator: 1)
        } throws: { error in
            (error as? ImageError)?.code == .outOfMemory
        }
        let free = try JPEGDecoder(path: input)
        free.limitMemory(to: 8_000_000)
        let rows = try free.rows(scaleNumerator: 1)
        _ = rows.readAll()
        #expect(rows.failure == nil)
    }
}
