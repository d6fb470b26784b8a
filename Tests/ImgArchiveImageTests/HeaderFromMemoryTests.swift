import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveImage

/// `imageInfo(head:whole:)`, which a fetch calls on each body's first block: it gives the answer the file's header
/// gives, or nil (the caller then reads the file), never another answer.
@Suite struct HeaderFromMemoryTests {
    /// The offset just past a JPEG's SOS segment: where libjpeg stops reading the header.
    private func headerEnd(_ jpeg: [UInt8]) -> Int? {
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if jpeg[i + 1] == 0xDA { return i + 2 + length }
            i += 2 + length
        }
        return nil
    }

    /// Every cut of the file: nil or the file's answer; the file's answer from the end of its header on.
    private func expectCutsAgree(_ bytes: [UInt8], path: String, headerEnd end: Int?) throws {
        let file = try imageInfo(path: path)
        let cuts = Set([0, 1, 2, 3, 20, 100, 400] + (end.map { [$0 - 1, $0, $0 + 1] } ?? []) + [bytes.count])
        for cut in cuts.sorted() where cut <= bytes.count {
            for whole in [false, true] where !whole || cut == bytes.count {
                let memory = bytes.withUnsafeBytes {
                    imageInfo(head: UnsafeRawBufferPointer(rebasing: $0[..<cut]), whole: whole)
                }
                if let memory {
                    #expect(memory == file, "cut \(cut), whole \(whole)")
                }
                if let end, cut >= end || whole {
                    #expect(memory != nil, "cut \(cut) of \(bytes.count), header ends at \(end)")
                }
                if let end, cut < end {
                    #expect(memory == nil, "cut \(cut): the header ends at \(end)")
                }
            }
        }
    }

    @Test(arguments: 1...8)
    func jpegSizesTurnedByExifAsTheFileGivesThem(orientation: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("o.jpg")
        var options = JPEGEncodeOptions(
            quality: 90, app1: exifOrientation(orientation, bigEndian: orientation % 2 == 0))
        options.progressive = orientation == 3
        options.iccProfile = orientation == 4 ? (0..<70_000).map { UInt8($0 % 251) } : nil  // several APP2 markers
        try writeJPEG(photo(width: 96, height: 40, channels: orientation == 2 ? 1 : 3, seed: 5), path, options)
        let bytes = try read(path)
        let end = try #require(headerEnd(bytes))
        try expectCutsAgree(bytes, path: path, headerEnd: end)
        let whole = bytes.withUnsafeBytes { imageInfo(head: $0, whole: true) }
        #expect(whole?.width == (orientation >= 5 ? 40 : 96) && whole?.format == .jpeg)
    }

    /// A PNG is read from memory only whole: its reading walks every chunk (the oversized-chunk check).
    @Test func pngOnlyWhole() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("in.png")
        let bytes = rgbaPNG(width: 240, height: 150)
        try write(bytes, to: path)
        try expectCutsAgree(bytes, path: path, headerEnd: nil)
        #expect(bytes.withUnsafeBytes { imageInfo(head: $0, whole: false) } == nil)
        let whole = bytes.withUnsafeBytes { imageInfo(head: $0, whole: true) }
        #expect(whole?.width == 240 && whole?.height == 150 && whole?.format == .png)
    }

    /// What the file's reading refuses gives nil: the caller reads the file, which says why.
    @Test func refusedHeadersGiveNothing() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // A PNG with a 9 MB tEXt chunk declared after IHDR (the oversized-chunk limit is 8 MB).
        var png = rgbaPNG(width: 8, height: 8)
        png.insert(contentsOf: be32(9_000_000) + Array("tEXt".utf8), at: 33)
        let path = dir.file("big.png")
        try write(png, to: path)
        #expect(throws: ImageError.self) { try imageInfo(path: path) }
        #expect(png.withUnsafeBytes { imageInfo(head: $0, whole: true) } == nil)
        // A JPEG whose SOF is cut off, HTML, a GIF.
        let jpegPath = dir.file("a.jpg")
        try writeJPEG(photo(width: 16, height: 16, channels: 3), jpegPath)
        let jpeg = try read(jpegPath)
        for bytes in [
            Array(jpeg.prefix(30)), Array("<!doctype html><p>gone</p>".utf8), Array("GIF89a\u{1}\0\u{1}\0".utf8),
        ] {
            #expect(bytes.withUnsafeBytes { imageInfo(head: $0, whole: true) } == nil)
        }
    }
}

/// An RGBA PNG of 8-bit samples.
private func rgbaPNG(width: Int, height: Int) -> [UInt8] {
    PNGFixture(
        width: width, height: height, colorType: 6, bitDepth: 8,
        samples: (0..<width * height * 4).map { $0 * 7 % 256 }
    ).encoded()
}

private func == (
    a: (width: Int, height: Int, format: ImageFormat)?, b: (width: Int, height: Int, format: ImageFormat)
) -> Bool {
    a.map { $0.width == b.width && $0.height == b.height && $0.format == b.format } ?? false
}
