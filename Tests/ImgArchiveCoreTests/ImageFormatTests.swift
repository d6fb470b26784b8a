import Foundation
import ImgArchiveCore
import Testing

/// `looksComplete`: the checks that tell a body the server cut short (when it sent no length) from a whole one.
@Test func anImageIsCompleteWhenItHasTheEndItsFormatRequires() {
    let filler = [UInt8](repeating: 0x55, count: 100)
    let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + filler + [0xFF, 0xD9]
    #expect(ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: Array(jpeg.suffix(32)), count: jpeg.count))
    #expect(!ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: Array(filler.suffix(32)), count: 90))
    // Padding after the end is allowed; anything else is not.
    #expect(ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: [0xFF, 0xD9, 0x0D, 0x0A, 0x00], count: 200))
    #expect(!ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: [0xFF, 0xD9, 0x41], count: 200))

    let iend = Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
    #expect(ImageFormat.png.looksComplete(prefix: [], suffix: [0, 0, 0, 0] + iend, count: 500))
    #expect(!ImageFormat.png.looksComplete(prefix: [], suffix: Array(iend.dropLast()), count: 500))
    #expect(ImageFormat.gif.looksComplete(prefix: [], suffix: filler + [0x3B], count: 500))
    #expect(!ImageFormat.gif.looksComplete(prefix: [], suffix: filler, count: 500))
    #expect(ImageFormat.svg.looksComplete(prefix: [], suffix: Array("</svg>\n".utf8), count: 500))
    #expect(ImageFormat.svg.looksComplete(prefix: [], suffix: Array("</SVG>".utf8), count: 500))
    #expect(!ImageFormat.svg.looksComplete(prefix: [], suffix: Array("<rect wid".utf8), count: 500))
    #expect(!ImageFormat.svg.looksComplete(prefix: [], suffix: Array("<g/><g/>".utf8), count: 500), "cut between tags")

    // WebP and BMP say their size in their header: RIFF's is the bytes after its first 8, BMP's the whole file.
    let webp = Array("RIFF".utf8) + [0xF4, 0x01, 0, 0] + Array("WEBPVP8 ".utf8)
    #expect(ImageFormat.webp.looksComplete(prefix: webp, suffix: [], count: 508))
    #expect(!ImageFormat.webp.looksComplete(prefix: webp, suffix: [], count: 507))
    let bmp = Array("BM".utf8) + [0x00, 0x04, 0, 0] + [UInt8](repeating: 0, count: 8)
    #expect(ImageFormat.bmp.looksComplete(prefix: bmp, suffix: [], count: 1024))
    #expect(!ImageFormat.bmp.looksComplete(prefix: bmp, suffix: [], count: 1000))
    #expect(!ImageFormat.bmp.looksComplete(prefix: Array(bmp.prefix(4)), suffix: [], count: 1000))
    // Formats without a cheap check pass.
    #expect(ImageFormat.avif.looksComplete(prefix: [], suffix: [], count: 10))
    #expect(ImageFormat.ico.looksComplete(prefix: [], suffix: [], count: 10))
}

/// A body's tail skips trailing padding however long it is, in any chunks: a JPEG's EOI behind 100 NULs is seen
/// (a fuzzing find: the last 32 bytes alone were all padding), and padding followed by content is content.
@Test(arguments: [1, 7, 33, 200])
func tailSeesTheEndBehindLongPadding(chunkSize: Int) {
    let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x41, count: 60) + [0xFF, 0xD9]
    let body = jpeg + [UInt8](repeating: 0, count: 100) + Array("\r\n  \t".utf8)
    var tail = ImageFormat.Tail()
    for start in stride(from: 0, to: body.count, by: chunkSize) {
        tail.append(body[start..<min(body.count, start + chunkSize)])
    }
    #expect(tail.bytes == Array(jpeg.suffix(ImageFormat.tailLength)))
    #expect(ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: tail.bytes, count: body.count))
    // The old window: only the last 32 bytes, all padding.
    #expect(!ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: Array(body.suffix(32)), count: body.count))
    // Cut after padding that was inside the image: not complete.
    var cut = tail
    cut.append([0x41, 0x42])
    #expect(cut.bytes.suffix(4) == [0x20, 0x09, 0x41, 0x42])
    #expect(!ImageFormat.jpeg.looksComplete(prefix: jpeg, suffix: cut.bytes, count: body.count + 2))
}

@Suite struct ImageFormatDecodingTests {
    /// The manifest's `object.ext` holds the file extension, `thumbnail.format` the name: both decode.
    @Test(arguments: [("\"jpg\"", ImageFormat.jpeg), ("\"jpeg\"", .jpeg), ("\"png\"", .png), ("\"svg\"", .svg)])
    func aFormatDecodesFromItsNameOrExtension(json: String, expected: ImageFormat) throws {
        #expect(try JSONDecoder().decode(ImageFormat.self, from: Data(json.utf8)) == expected)
    }

    @Test func anUnknownFormatIsADecodingError() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ImageFormat.self, from: Data("\"tiff\"".utf8)) }
    }
}
