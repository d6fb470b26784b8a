import Foundation
import Testing

@testable import FuzzHarnesses

/// Every committed fuzzing input (the seed corpora and the crashes found, Tests/Fuzz/Corpus/<harness>/) passes its
/// harness's checks in the plain build: the regression tests of what the fuzzers found.
@Suite("Fuzz corpora")
struct FuzzReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus").path

    @Test(arguments: Harness.allCases)
    func corpusPasses(_ harness: Harness) throws {
        let files = Harness.files(in: "\(Self.corpus)/\(harness.rawValue)")
        #expect(!files.isEmpty, "no corpus for \(harness.rawValue)")
        for file in files {
            let data = try #require(FileManager.default.contents(atPath: file), "cannot read \(file)")
            let problem = harness.check(Array(data))
            #expect(problem == nil, "\(file): \(problem ?? "")")
        }
    }

    /// The checks can fail: a scan whose reference's range does not hold its text, or overlaps the one before.
    @Test func checksCanFail() {
        let post = Array("![a](https://img.test/a.jpg)".utf8)
        let good = ScanChecks.scanner.scan(post)
        #expect(ScanChecks.spans(of: good, in: post) == nil)
        var moved = good
        moved.references[0].range = 0..<5
        #expect(ScanChecks.spans(of: moved, in: post) != nil)
        var twice = good
        twice.references.append(good.references[0])
        #expect(ScanChecks.spans(of: twice, in: post) != nil)
    }

    /// The PNG harness's CRC repair gives a valid file's bytes back after its CRCs were spoiled.
    @Test func pngCRCsAreRepaired() throws {
        let seed = try #require(FileManager.default.contents(atPath: "\(Self.corpus)/png/gray8.png"))
        var spoiled = Array(seed)
        for i in [29, 30, spoiled.count - 1] { spoiled[i] ^= 0xFF }  // the IHDR and IEND CRCs
        #expect(spoiled != Array(seed))
        fixChunkCRCs(&spoiled)
        #expect(spoiled == Array(seed))
    }
}
