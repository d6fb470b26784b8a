import ImgArchiveCore
import Testing

private let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
private let ihdr: [UInt8] = [0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 0, 16, 0, 0, 0, 16, 8, 6, 0, 0, 0, 1, 2, 3, 4]

/// A PNG text chunk (CRC not checked by the sniffer).
private func tEXt(_ text: String) -> [UInt8] {
    let body = Array("Comment\0\(text)".utf8)
    return [0, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + Array("tEXt".utf8) + body + [0, 0, 0, 0]
}

/// Bytes that sniff as an image and as a page or script at once are refused, each with its reason.
@Test(arguments: [
    ("PNG with <script> in a text chunk", pngSignature + ihdr + tEXt("<script>alert(1)</script>"), "<script"),
    (
        "SVG behind a PNG signature", pngSignature + Array("<svg xmlns='http://www.w3.org/2000/svg' onload='x'/>".utf8),
        "<svg"
    ),
    ("GIF with an HTML page", Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0] + Array("<HTML><BODY>".utf8), "<html"),
    ("GIF/JavaScript", Array("GIF89a/*".utf8) + [0, 0, 0] + Array("*/=alert(1);".utf8), "JavaScript"),
    ("JPEG/JavaScript", [0xFF, 0xD8, 0xFF, 0xE0] + Array("/*JFIF*/=alert(1);".utf8), "JavaScript"),
    ("JPEG with <iframe in a comment", [0xFF, 0xD8, 0xFF, 0xFE, 0, 30] + Array("<iframe src=//x>".utf8), "<iframe"),
    (
        "PNG with <script> after tag-like text that is none",
        pngSignature + ihdr + tEXt("a<b <scripts <<SCRIPT\talert(1)"),
        "<script"
    ),
    (
        "PNG with a tag in its last bytes", pngSignature + ihdr + tEXt(String(repeating: "<", count: 440) + "<img/"),
        "<img"
    ),
    (
        "SVG with an HTML DOCTYPE", Array("<!DOCTYPE html><svg xmlns='http://www.w3.org/2000/svg'/>".utf8),
        "DOCTYPE html"
    ),
])
func polyglotIsRefused(name: String, bytes: [UInt8], reason: String) throws {
    let format = try #require(ImageFormat.sniff(bytes), "\(name) does not sniff as an image")
    let why = try #require(format.polyglotReason(bytes), "\(name) was not refused")
    #expect(why.lowercased().contains(reason.lowercased()), "\(name): \(why)")
}

/// Ordinary images pass: JFIF and Exif JPEGs, PNGs with XMP metadata, a GIF, SVGs with their own DOCTYPE, and
/// 2,000 images' worth of random compressed-looking bytes behind each binary signature.
@Test func ordinaryImagesAreNotRefused() throws {
    let cases: [[UInt8]] = [
        [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF\0".utf8) + [1, 1, 0, 0, 1, 0, 1, 0, 0],
        [0xFF, 0xD8, 0xFF, 0xE1, 0x1C, 0x2A] + Array("Exif\0\0MM".utf8),
        pngSignature + ihdr + tEXt("<?xpacket begin='' id='W5M0'?><x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/>"),
        Array("GIF89a".utf8) + [0x20, 0x03, 0x58, 0x02, 0xF7, 0, 0],
        Array(
            """
            <?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>
            """.utf8),
        Array("<svg xmlns='http://www.w3.org/2000/svg'><style>rect{fill:red}</style><script/></svg>".utf8),
    ]
    for bytes in cases {
        let format = try #require(ImageFormat.sniff(bytes))
        #expect(format.polyglotReason(bytes) == nil, "\(format) refused: \(format.polyglotReason(bytes) ?? "")")
    }
    var generator = SplitMix(seed: 15)
    let headers: [[UInt8]] = [
        [0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43], pngSignature + ihdr, Array("GIF89a".utf8) + [1, 2],
    ]
    var refused = 0
    for header in headers {
        let format = try #require(ImageFormat.sniff(header + [UInt8](repeating: 0, count: 64)))
        for _ in 0..<2_000 {
            let noise = (0..<(ImageFormat.sniffLength - header.count)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            if format.polyglotReason(header + noise) != nil { refused += 1 }
        }
    }
    #expect(refused == 0)
}
