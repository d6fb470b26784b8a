import Dispatch
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveCore

/// The fast paths of `CDNRules.resolve` (one-pass `requires` triggers, per-host candidate cache, required-literal
/// prefilters, captures by group number, byte-buffer URL split) must give exactly what the general engine gives.
@Suite("CDN fast paths")
struct CDNFastPathTests {
    static let fast = CDNRules(rules: CDNRule.builtIn, fastPaths: true)
    static let general = CDNRules(rules: CDNRule.builtIn, fastPaths: false)

    /// Every fixture row, the hand-written and malformed cases, and variants of each fixture URL: case changes,
    /// fragments, extra and encoded query items, truncations, non-ASCII bytes, and URLs spliced from two rows.
    static let inputs: [String] = {
        let rows = CDNCase.all.map(\.input)
        var out = rows + CDNExtraCase.all.map(\.input) + malformedURLs + CDNRulesTests.crafted.map(\.url)
        for url in rows {
            out.append(url.uppercased())
            out.append(url.replacingOccurrences(of: "https://", with: "HTTP://"))
            out.append(url + "#frag")
            out.append(url + (url.contains("?") ? "&a=1" : "?a=1"))
            out.append(url.replacingOccurrences(of: "?", with: "?v=2&"))
            out.append(url.replacingOccurrences(of: "/", with: "%2F"))
            out.append(url.replacingOccurrences(of: "&", with: "&&"))
            out.append(url.replacingOccurrences(of: ".jpg", with: "图片.jpg"))
            out.append(url.replacingOccurrences(of: "://", with: "://user@"))
            out.append(url.replacingOccurrences(of: ".com/", with: ".com:8080/"))
            out.append(url.replacingOccurrences(of: "://", with: "://例."))
            out.append(url.replacingOccurrences(of: "://", with: "://[::1]"))
            // Cut after each separator: every prefix a rule might half-match.
            let bytes = Array(url.utf8)
            for (i, b) in bytes.enumerated() where "/?&=#!@_-.,".utf8.contains(b) {
                out.append(String(decoding: bytes[..<i], as: UTF8.self))
                out.append(String(decoding: bytes[...i], as: UTF8.self))
            }
        }
        // The host and path of one row with the path and query of another.
        var g = SplitMix(seed: 2)
        for _ in 0..<300 {
            let a = rows[Int(g.next() % UInt64(rows.count))]
            let b = rows[Int(g.next() % UInt64(rows.count))]
            let head = a.prefix(while: { $0 != "?" })
            let tail = b.drop(while: { $0 != "?" })
            let cut = b.index(b.startIndex, offsetBy: min(b.count, 8 + Int(g.next() % 40)))
            out.append(String(head + tail))
            out.append(String(head) + "/" + b[cut...])
        }
        return out
    }()

    @Test("the fast paths give the general engine's resolution for every input")
    func sameResolution() {
        #expect(Self.inputs.count > 2_000)
        var differences: [String] = []
        for url in Self.inputs where Self.fast.resolve(url) != Self.general.resolve(url) {
            differences.append(url)
        }
        #expect(differences.isEmpty, "\(differences.count) differ, first: \(differences.prefix(3))")
    }

    @Test("the second resolution of a host (from the candidate cache) is the first one")
    func cachedHostsAgree() {
        let fresh = CDNRules.builtIn.adding(userRules: [])
        let first = CDNCase.all.map { fresh.resolve($0.input) }
        let second = CDNCase.all.map { fresh.resolve($0.input) }
        #expect(first == second)
        #expect(first == CDNCase.all.map { Self.general.resolve($0.input) })
    }

    @Test("threads sharing one table (and its host cache) get the general engine's answers")
    func concurrentResolution() {
        let shared = CDNRules.builtIn.adding(userRules: [])  // a fresh, empty host cache
        let urls = Array(Self.inputs.prefix(1_200))
        let expected = urls.map { Self.general.resolve($0) }
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            // Each worker walks the list from a different point, so hosts are first seen concurrently.
            for k in 0..<urls.count {
                let i = (k + worker * urls.count / 4) % urls.count
                if shared.resolve(urls[i]) != expected[i] { mismatches.withLock { $0 += 1 } }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }

    @Test("the byte-buffer URL split is the general one")
    func sameSplit() {
        for url in Self.inputs {
            let a = CDNURL(url, fast: true)
            let b = CDNURL(url, fast: false)
            #expect(a?.base == b?.base && a?.query == b?.query && a?.host == b?.host, "\(url)")
        }
    }

    @Test("user rules with unnamed groups, classes and escapes resolve the same both ways")
    func userRulesAgree() throws {
        let yaml = #"""
            cdn-rules:
              - name: groups
                host: img.example.com
                pattern: '^(https?)://([^/]+)/(?<origin>[^!]*(?:\.(?:jpg|png)))!(w)(?<width>\d+)(?:[(]x\))?$'
              - name: quoted
                requires: "\\Q"
                pattern: '^(?<origin>[^?#]+)\?\Q\Q\E(?<width>\d+)$'
              - name: bracket
                host: "*.example.org"
                pattern: '^(?<origin>[^?#]+)\?[]a]*size=(?<width>\d+)'
              - name: items
                in: query-item
                pattern: '^(r|resize)=(?<width>\d+)(,(?<height>\d+))?$'
            """#
        let user = try CDNRules.decodeRules(yaml: yaml)
        let fast = CDNRules(rules: user + CDNRule.builtIn, fastPaths: true)
        let general = CDNRules(rules: user + CDNRule.builtIn, fastPaths: false)
        let urls = [
            "https://img.example.com/a/b.jpg!w300", "https://img.example.com/a/b.png!w300(x)",
            "https://img.example.com/a/b.gif!w300", "https://x.test/a.jpg?\\Q12", "https://x.test/a.jpg?Q12",
            "https://a.example.org/p.jpg?]]asize=40", "https://a.example.org/p.jpg?size=40",
            "https://x.test/a.jpg?v=1&resize=30,20&z", "https://x.test/a.jpg?r=30", "https://x.test/a.jpg?resize=3,",
        ]
        #expect(fast.resolve(urls[0]).width == 300)
        for url in urls + Self.inputs.prefix(400) {
            #expect(fast.resolve(url) == general.resolve(url), "\(url)")
        }
    }

    /// Literals the prefilter requires must be in every subject the regex matches, or the fast path would miss.
    @Test("required literals are in every matched subject, for every built-in pattern and search")
    func requiredLiteralsAreSound() throws {
        var subjects = Set(Self.inputs)
        for url in Self.inputs {
            guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { continue }
            for item in query.split(separator: "&") { subjects.insert(item.removingPercentEncoding ?? String(item)) }
        }
        var checked = 0
        for rule in CDNRule.builtIn {
            for pattern in [rule.pattern] + rule.find {
                let literals = RequiredLiterals.of(pattern)
                let regex = try NSRegularExpression(pattern: pattern)
                for subject in subjects
                where regex.firstMatch(in: subject, range: NSRange(subject.startIndex..., in: subject)) != nil {
                    checked += 1
                    for literal in literals {
                        #expect(CDNURL.contains(subject, literal), "\(rule.name): \(pattern) on \(subject)")
                    }
                }
            }
        }
        #expect(checked > 1_000)
    }

    @Test("every built-in regex has its captures numbered, so the fast path reads them by number")
    func groupsAreCounted() throws {
        for rule in CDNRule.builtIn {
            for pattern in [rule.pattern] + rule.find {
                let compiled = try CompiledRegex(pattern)
                #expect(compiled.groupNumbers != nil, "\(rule.name): \(pattern)")
            }
        }
        #expect(RequiredLiterals.captureGroups(#"(a)(?:b)(?<n>c)(?=d)(?<!e)[(](\()"#) == [nil, "n", nil])
        #expect(RequiredLiterals.captureGroups(#"\Q(\E(a)"#) == nil)
    }

    @Test("required literals are read from the mandatory path of a pattern only")
    func requiredLiteralsOfPatterns() {
        func text(_ p: String) -> [String] { RequiredLiterals.of(p).map { String(decoding: $0, as: UTF8.self) } }
        #expect(text(#"^imageMogr2/(?<scope>[^|]*)"#) == ["imageMogr2/"])
        #expect(text(#"[?&]url=(?<inner>[^&#]+)"#) == ["url="])
        #expect(text(#"a|b"#).isEmpty)
        #expect(text(#"(?:x-oss)?process"#) == ["process"])
        #expect(text(#"(?i)abc"#).isEmpty)
    }
}

/// URLs built to make a careless resolver quadratic: long hosts of many labels (the `*.domain` walk), repeated
/// rule triggers, many query items, long proxy chains.
struct CDNPathologicalCase: CustomTestStringConvertible, Sendable {
    var name: String
    /// Builds a URL about `n` bytes long; `k` makes it (and its host, where the host is long) distinct.
    var make: @Sendable (_ n: Int, _ k: Int) -> String
    var testDescription: String { name }

    static func filled(_ unit: String, _ n: Int) -> String {
        String(repeating: unit, count: max(1, n / unit.utf8.count))
    }

    static let all: [CDNPathologicalCase] = [
        CDNPathologicalCase(name: "host of many labels") { n, k in "https://h\(k)" + filled(".cn", n) + "/a.jpg" },
        CDNPathologicalCase(name: "host of many labels under a known domain") { n, k in
            "https://h\(k)" + filled(".a", n) + ".sinaimg.cn/mw690/a.jpg"
        },
        CDNPathologicalCase(name: "WordPress size suffixes") { n, k in
            "https://a\(k).example/wp-content/uploads/" + filled("-1x1/wp-content/uploads/", n) + "x.jpg"
        },
        CDNPathologicalCase(name: "thumbor segments") { n, k in
            "https://a.example/\(k)/unsafe/" + filled("a/unsafe/", n)
        },
        CDNPathologicalCase(name: "qiniu pipes") { n, k in
            "https://a.example/\(k)?imageMogr2/" + filled("a|imageMogr2/", n) + "x"
        },
        CDNPathologicalCase(name: "upyun bangs") { n, k in "https://a.example/\(k)" + filled("a!/fw/", n) },
        CDNPathologicalCase(name: "oss resize items") { n, k in
            "https://a.example/\(k)?x-oss-process=" + filled("resize,w_1,", n)
        },
        CDNPathologicalCase(name: "many query items") { n, k in
            "https://a.example/\(k).jpg?" + filled("w=1&imageView2&", n)
        },
        CDNPathologicalCase(name: "style at signs") { n, k in "https://a.example/\(k)" + filled("a.jpg@", n) },
        CDNPathologicalCase(name: "nested photon hosts") { n, k in
            "https://i0.wp.com/" + filled("i0.wp.com/", n) + "\(k).jpg"
        },
        CDNPathologicalCase(name: "cloudinary transformations") { n, k in
            "https://res.cloudinary.com/x/image/upload/" + filled("w_1,c_fill,", n) + "/v\(k)/a.jpg"
        },
        CDNPathologicalCase(name: "imgix parameters") { n, k in
            "https://assets.imgix.net/\(k).jpg?" + filled("fit=crop&w=1&", n)
        },
    ]
}

/// CPU time of the calling thread, so that other tests and processes do not count.
private func threadSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Resolving 16 times longer URLs may take at most 48 times as long (a quadratic resolver takes 256 times). Two
/// measurements of the same code in one run: not a timed test. Each round uses a fresh candidate cache, so the
/// first resolution of each long host is measured too.
@Test(arguments: CDNPathologicalCase.all)
func pathologicalURLsResolveInLinearTime(_ c: CDNPathologicalCase) {
    func fastest(_ n: Int) -> Double {
        var best = Double.infinity
        for round in 0..<3 {
            let rules = CDNRules.builtIn.adding(userRules: [])
            let urls = (0..<8).map { c.make(n, round * 8 + $0) }
            let start = threadSeconds()
            for url in urls { _ = rules.resolve(url) }
            best = min(best, threadSeconds() - start)
        }
        return best
    }
    #expect(c.make(16_000, 0).utf8.count <= 16_384)
    _ = fastest(1_000)  // warm up
    let small = fastest(1_000)
    let large = fastest(16_000)
    let ratio = large / max(small, 0.001)  // below 1 ms, timer resolution dominates
    #expect(ratio < 48, "16x longer URLs took \(ratio)x as long (\(small) s -> \(large) s)")
}
