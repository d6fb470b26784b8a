import Foundation
import Testing

@testable import ImgArchiveImage

/// `makeThumbnailOrCopy`, what `imgarchive thumb` runs: the output is named after the sniffed format, and an image
/// that needs no thumbnail is copied there by the same temporary-file-and-rename path.
@Suite("Thumbnail or copy")
struct ThumbnailOrCopyTests {
    /// A 200x150 PNG.
    static func png() -> [UInt8] {
        let w = 200, h = 150
        var samples: [Int] = []
        var rng = LCG(state: 7)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { samples.append(Int(photoSample(x, y, c, w, h, &rng))) } } }
        return PNGFixture(width: w, height: h, colorType: 2, bitDepth: 8, samples: samples).encoded()
    }

    @Test("a wider image is thumbnailed to the path its format names")
    func thumbnailed() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try write(Self.png(), to: dir.file("in.dat"))
        let made = try makeThumbnailOrCopy(inputPath: dir.file("in.dat"), width: 100) {
            dir.file("out.\($0.fileExtension)")
        }
        #expect(made.outcome == .written(width: 100, height: 75, format: .png))
        #expect(made.outputPath == dir.file("out.png"))
        #expect(dir.contents() == ["in.dat", "out.png"], "no temporary file is left behind")
    }

    @Test("an image not wider than the width is copied byte for byte", arguments: [200, 400])
    func copied(width: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let bytes = Self.png()
        try write(bytes, to: dir.file("in.dat"))
        try write(Array("an older output".utf8), to: dir.file("out.png"))
        let made = try makeThumbnailOrCopy(inputPath: dir.file("in.dat"), width: width) {
            dir.file("out.\($0.fileExtension)")
        }
        guard case .originalSuffices = made.outcome else {
            Issue.record("expected the original to suffice, got \(made.outcome)")
            return
        }
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("out.png")))) == bytes)
        #expect(dir.contents() == ["in.dat", "out.png"], "no temporary file is left behind")
    }

    @Test("what is no image, or cannot be read, fails with the thumbnailer's own codes and writes nothing")
    func failures() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try write(Array("plain text, no image".utf8), to: dir.file("note.txt"))
        for (input, code) in [("note.txt", ImageError.Code.notAnImage), ("missing.png", .unreadable)] {
            do {
                _ = try makeThumbnailOrCopy(inputPath: dir.file(input), width: 50) { _ in dir.file("out") }
                Issue.record("\(input) was thumbnailed")
            } catch {
                #expect(error.code == code, "\(error)")
                #expect(error.path == dir.file(input))
            }
        }
        #expect(dir.contents() == ["note.txt"])
    }
}
