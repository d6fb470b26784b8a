import Foundation
import ImgArchiveCore
import Testing

/// A JPEG's structure with filler: SOI, an APP1 segment holding `app1` (an EXIF thumbnail's own SOI...EOI, say),
/// SOS, then `scan` as entropy-coded data (its 0xFF bytes stuffed, as an encoder writes them), then EOI.
func structuredJPEG(app1: [UInt8] = [], scan: [UInt8]) -> [UInt8] {
    let segment = app1 + [0x45, 0x78, 0x69, 0x66, 0, 0]
    var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, UInt8((segment.count + 2) >> 8), UInt8((segment.count + 2) & 0xFF)]
    bytes += segment
    bytes += [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]
    for byte in scan { bytes += byte == 0xFF ? [0xFF, 0x00] : [byte] }
    return bytes + [0xFF, 0xD9]
}

/// `looksComplete`: the checks that tell a body the server cut short (when it sent no length) from a whole one.
@Test func anImageIsCompleteWhenItHasTheEndItsFormatRequires() {
    func complete(_ format: ImageFormat, _ body: [UInt8], count: Int? = nil) -> Bool {
        format.looksComplete(
            prefix: Array(body.prefix(512)), end: ImageFormat.BodyEnd(body), count: count ?? body.count)
    }
    let filler = [UInt8](repeating: 0x55, count: 100)
    let jpeg = structuredJPEG(scan: filler)
    #expect(complete(.jpeg, jpeg))
    #expect(!complete(.jpeg, Array(jpeg.dropLast(2))))
    #expect(!complete(.jpeg, Array(jpeg.prefix(90))), "cut in the scan")
    // Whatever follows the EOI: padding, or any trailer.
    #expect(complete(.jpeg, jpeg + [0x0D, 0x0A, 0x00]))
    #expect(complete(.jpeg, jpeg + [0x41]))
    #expect(!complete(.jpeg, [0xFF, 0xD8, 0xFF, 0xE0, 0x00]), "cut in a segment's length")

    let iend = Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
    #expect(complete(.png, [0, 0, 0, 0] + iend, count: 500))
    #expect(!complete(.png, Array(iend.dropLast()), count: 500))
    #expect(complete(.gif, filler + [0x3B], count: 500))
    #expect(!complete(.gif, filler, count: 500))
    #expect(complete(.svg, Array("</svg>\n".utf8), count: 500))
    #expect(complete(.svg, Array("</SVG>".utf8), count: 500))
    #expect(!complete(.svg, Array("<rect wid".utf8), count: 500))
    #expect(!complete(.svg, Array("<g/><g/>".utf8), count: 500), "cut between tags")

    // WebP and BMP say their size in their header: RIFF's is the bytes after its first 8, BMP's the whole file.
    let webp = Array("RIFF".utf8) + [0xF4, 0x01, 0, 0] + Array("WEBPVP8 ".utf8)
    #expect(complete(.webp, webp, count: 508))
    #expect(!complete(.webp, webp, count: 507))
    let bmp = Array("BM".utf8) + [0x00, 0x04, 0, 0] + [UInt8](repeating: 0, count: 8)
    #expect(complete(.bmp, bmp, count: 1024))
    #expect(!complete(.bmp, bmp, count: 1000))
    #expect(!complete(.bmp, Array(bmp.prefix(4)), count: 1000))
    // Formats without a cheap check pass.
    #expect(complete(.avif, [], count: 10))
    #expect(complete(.ico, [], count: 10))
}

/// A JPEG has ended exactly when its EOI has arrived, however the body is split into chunks and whatever follows:
/// an MP4 after the image (a motion photo) with EOI-like bytes in it, an EOI inside an APP1 segment (an EXIF
/// thumbnail) does not end the image, nor do stuffed 0xFF bytes, RST markers or fill bytes in the scan.
@Test(arguments: [1, 2, 7, 33, 4096])
func jpegWalkEndsAtTheImagesOwnEOI(chunkSize: Int) {
    let thumbnail = structuredJPEG(scan: [0x10, 0xFF, 0x20])
    var scan = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 >> 3) }
    scan.replaceSubrange(1000..<1000, with: [0xFF, 0xD9])  // written FF 00 D9: stuffing, not EOI
    var image = structuredJPEG(app1: thumbnail, scan: scan)
    // An RST marker (not between a stuffed FF and its 00), and fill bytes before the EOI.
    let rst = image.count - 200 - (image[image.count - 201] == 0xFF ? 1 : 0)
    image.insert(contentsOf: [0xFF, 0xD3], at: rst)
    image.insert(contentsOf: [0xFF, 0xFF, 0xFF], at: image.count - 2)
    let mp4 = [0, 0, 0, 0x18] + Array("ftypmp42".utf8) + [0, 0, 0, 0] + Array("mp42isom".utf8)
    let trailer = mp4 + [0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xDA] + [UInt8](repeating: 0xFF, count: 40) + [0xFF, 0xD9]
    let body = image + trailer

    var walk = JPEGSegmentWalk()
    var endedAt: Int?
    for start in stride(from: 0, to: body.count, by: chunkSize) {
        walk.append(body[start..<min(body.count, start + chunkSize)])
        if walk.reachedEnd && endedAt == nil { endedAt = min(body.count, start + chunkSize) }
    }
    #expect(walk.reachedEnd)
    // Ended in the chunk holding the image's last byte: not before (the thumbnail's EOI, the scan), not after.
    let expected = image.count
    #expect(
        endedAt.map { $0 >= expected && $0 - chunkSize < expected } == true, "ended at \(String(describing: endedAt))")
    for cut in [1, 2, 5, 12, thumbnail.count, thumbnail.count + 6, thumbnail.count + 20, 1100, image.count - 1] {
        #expect(!JPEGSegmentWalk.walk(body.prefix(cut)), "cut at \(cut) of \(image.count)")
    }
    #expect(!JPEGSegmentWalk.walk(Array("<html>".utf8) + [0xFF, 0xD9]), "not a JPEG")
}

extension JPEGSegmentWalk {
    /// Whether `bytes` in one chunk reach the end.
    static func walk(_ bytes: some Collection<UInt8>) -> Bool {
        var walk = JPEGSegmentWalk()
        walk.append(bytes)
        return walk.reachedEnd
    }
}

/// A body's tail skips trailing padding however long it is, in any chunks: a PNG's IEND behind 100 NULs is seen
/// (the last 32 bytes alone are all padding), and padding followed by content is content.
@Test(arguments: [1, 7, 33, 200])
func tailSeesTheEndBehindLongPadding(chunkSize: Int) {
    let png: [UInt8] =
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0x41, count: 60)
        + [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
    let body = png + [UInt8](repeating: 0, count: 100) + Array("\r\n  \t".utf8)
    var end = ImageFormat.BodyEnd()
    for start in stride(from: 0, to: body.count, by: chunkSize) {
        end.append(body[start..<min(body.count, start + chunkSize)])
    }
    #expect(end.tail.bytes == Array(png.suffix(ImageFormat.tailLength)))
    #expect(ImageFormat.png.looksComplete(prefix: png, end: end, count: body.count))
    // The old window: only the last 32 bytes, all padding.
    #expect(!ImageFormat.png.looksComplete(prefix: png, end: ImageFormat.BodyEnd(body.suffix(32)), count: body.count))
    // Cut after padding that was inside the image: not complete.
    var cut = end
    cut.append([0x41, 0x42])
    #expect(cut.tail.bytes.suffix(4) == [0x20, 0x09, 0x41, 0x42])
    #expect(!ImageFormat.png.looksComplete(prefix: png, end: cut, count: body.count + 2))
}

/// The tail read in chunks is the tail of the whole body: bodies of content and padding runs (seeded), every split
/// into chunks of 1 to 70 bytes, against the definition (the last `tailLength` bytes before the trailing padding).
@Test(arguments: 1...70)
func tailInChunksIsTheTailOfTheWholeBody(chunkSize: Int) {
    let padding: [UInt8] = [0, 0x20, 0x0A, 0x0D, 0x09]  // NUL and whitespace
    var g = SplitMix(seed: UInt64(chunkSize))
    for _ in 0..<40 {
        var body: [UInt8] = []
        for _ in 0..<Int.random(in: 0...6, using: &g) {
            let isPadding = Bool.random(using: &g)
            for _ in 0..<Int.random(in: 0...80, using: &g) {
                body.append(
                    isPadding
                        ? padding[Int.random(in: 0..<padding.count, using: &g)]
                        : UInt8.random(in: 0x41...0x5A, using: &g))
            }
        }
        let contentEnd = (body.lastIndex { !padding.contains($0) } ?? -1) + 1
        var tail = ImageFormat.Tail()
        for start in stride(from: 0, to: body.count, by: chunkSize) {
            tail.append(body[start..<min(body.count, start + chunkSize)])
        }
        #expect(tail.bytes == Array(body[..<contentEnd].suffix(ImageFormat.tailLength)), "body \(body)")
    }
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
