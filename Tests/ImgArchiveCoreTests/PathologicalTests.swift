import Foundation
import Testing

@testable import ImgArchiveCore

/// Posts built to make a naive scanner quadratic. Each must scan in time linear in its size: scanning 8 times
/// the input may take at most 24 times as long (a quadratic scanner takes 64 times). This compares two
/// measurements of the same code in one run, so it does not depend on how fast the machine is.
struct PathologicalCase: CustomTestStringConvertible, Sendable {
    var name: String
    /// Builds an input about `n` bytes long.
    var make: @Sendable (Int) -> [UInt8]
    var testDescription: String { name }
}

private func repeated(_ unit: String, toBytes n: Int, prefix: String = "", suffix: String = "") -> [UInt8] {
    let u = Array(unit.utf8)
    var out = Array(prefix.utf8)
    out.reserveCapacity(n + 64)
    while out.count < n { out += u }
    return out + Array(suffix.utf8)
}

let pathologicalCases: [PathologicalCase] = [
    PathologicalCase(name: "one long line of text") { repeated("lorem ipsum dolor ", toBytes: $0) },
    PathologicalCase(name: "nested brackets") { n in
        Array(repeating: ASCII.openBracket, count: n / 2) + Array(repeating: ASCII.closeBracket, count: n / 2)
    },
    PathologicalCase(name: "nested image openers") { repeated("![", toBytes: $0) },
    PathologicalCase(name: "unclosed inline links") { repeated("[a](b", toBytes: $0) },
    PathologicalCase(name: "unclosed parentheses in destinations") { repeated("![a](b(", toBytes: $0) },
    PathologicalCase(name: "unclosed titles") { repeated("![a](b \"", toBytes: $0) },
    PathologicalCase(name: "unterminated img tags") { repeated("<img src=\"x ", toBytes: $0) },
    PathologicalCase(name: "unterminated bare tags") { repeated("<img ", toBytes: $0) },
    PathologicalCase(name: "unterminated comments") { repeated("<!-- ", toBytes: $0) },
    PathologicalCase(name: "backtick runs of growing length") { n in
        var out: [UInt8] = []
        var k = 1
        while out.count < n {
            out += Array(repeating: ASCII.backtick, count: k) + [0x61]
            k = k % 64 + 1
        }
        return out
    },
    PathologicalCase(name: "unterminated fence") {
        repeated("![a](http://x.test/a.png)\n", toBytes: $0, prefix: "```\n")
    },
    PathologicalCase(name: "fence openers") { repeated("```\n~~~~\n", toBytes: $0) },
    PathologicalCase(name: "unterminated front matter") { repeated("key: value\n", toBytes: $0, prefix: "---\n") },
    PathologicalCase(name: "unterminated liquid blocks") { repeated("{% highlight x %}\n", toBytes: $0) },
    PathologicalCase(name: "wrapped-looking lines") { repeated("![](http://a.test/\n", toBytes: $0) },
    PathologicalCase(name: "reference labels") { repeated("![x][y] [y]: ", toBytes: $0) },
    PathologicalCase(name: "srcset with many commas") {
        repeated(",", toBytes: $0, prefix: "<img srcset=\"", suffix: "\">")
    },
    PathologicalCase(name: "unclosed shortcodes") { repeated("{{< figure src=\"https://x.test/a.jpg\" ", toBytes: $0) },
    PathologicalCase(name: "unclosed shortcode quotes") { repeated("{{< a \"{{% b '`", toBytes: $0) },
    PathologicalCase(name: "unclosed liquid tags") { repeated("{% img left https://x.test/a.jpg 'x ", toBytes: $0) },
    PathologicalCase(name: "unclosed escaped shortcodes") { repeated("{{</* figure */ >}", toBytes: $0) },
    PathologicalCase(name: "a shortcode with many parameters") {
        repeated("p=\"https://x.test/a.jpg\" ", toBytes: $0, prefix: "{{< figure width=\"5\" ", suffix: ">}}")
    },
    PathologicalCase(name: "an unclosed include with many parameters") {
        repeated("url=https://x.test/a.jpg ", toBytes: $0, prefix: "{% include image.html ")
    },
    PathologicalCase(name: "deeply nested list items and blank lines") { n in
        Array(String(repeating: "- ", count: n / 4).utf8) + Array(repeating: ASCII.lf, count: n / 2)
    },
    PathologicalCase(name: "nested block quotes with lazy lines") { repeated("> > > > > > > > a\nb\n", toBytes: $0) },
    PathologicalCase(name: "unclosed processing instructions and CDATA") { repeated("a <? <![CDATA[ ?", toBytes: $0) },
    PathologicalCase(name: "comments left open by their block quote") { repeated("> <!--\na\n", toBytes: $0) },
    PathologicalCase(name: "multi-line reference definitions") { repeated("[a]:\n/u\n'", toBytes: $0) },
    PathologicalCase(name: "random bytes") { n in
        var g = SplitMix(seed: 42)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    },
    PathologicalCase(name: "random Markdown punctuation") { n in
        var g = SplitMix(seed: 7)
        let alphabet = Array("![]()<>`\"' \n{}%-:=/ah*".utf8)
        return (0..<n).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }
    },
]

/// A small deterministic generator (SplitMix64), so the random bytes are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// CPU time of the calling thread, so that other tests and processes running at the same time do not count.
private func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func fastestScan(_ bytes: [UInt8], _ scanner: PostScanner) -> Double {
    var best = Double.infinity
    for _ in 0..<3 {
        let start = threadCPUSeconds()
        _ = scanner.scan(bytes)
        best = min(best, threadCPUSeconds() - start)
    }
    return best
}

@Test(arguments: pathologicalCases)
func pathologicalPostsScanInLinearTime(_ c: PathologicalCase) {
    let scanner = PostScanner()
    let small = c.make(50_000)
    let large = c.make(400_000)
    _ = scanner.scan(small)  // warm up
    let ts = fastestScan(small, scanner)
    let tl = fastestScan(large, scanner)
    let ratio = tl / max(ts, 0.002)  // below 2 ms, timer resolution dominates
    #expect(ratio < 24, "8x input took \(ratio)x as long (\(ts) s -> \(tl) s)")
}

@Test func tenMegabyteLineFinishes() {
    // The size the issue names: a 10 MB line with an image at its end is scanned, and the image found.
    var bytes = Array(repeating: UInt8(ascii: "a"), count: 10_000_000)
    bytes += Array(" ![x](http://x.test/end.png)".utf8)
    let refs = PostScanner().scan(bytes).references
    #expect(refs.map(\.url) == ["http://x.test/end.png"])
}

@Test func hundredThousandNestedBrackets() {
    let n = 100_000
    let bytes =
        Array(repeating: ASCII.openBracket, count: n) + Array("![x](http://x.test/in.png)".utf8)
        + Array(repeating: ASCII.closeBracket, count: n)
    #expect(PostScanner().scan(bytes).references.map(\.url) == ["http://x.test/in.png"])
}
