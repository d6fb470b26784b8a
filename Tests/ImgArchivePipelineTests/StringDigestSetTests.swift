import Testing

@testable import ImgArchivePipeline

// `StringDigestSet` through enough strings for its recent digests to be merged into its sorted block many times.

@Test func aDigestSetTakesEachStringOnceAndKnowsItAfterMerges() {
    var set = StringDigestSet()
    let strings = (0..<30_000).map { "https://img\($0 % 7).test/\($0).jpg" }
    for (n, string) in strings.enumerated() {
        let new = set.insert(string)
        #expect(new, "\(n)")
        if n % 3 == 0 {  // one taken before, perhaps long merged
            let again = set.insert(strings[n / 2])
            #expect(!again, "\(n)")
        }
    }
    #expect(set.count == strings.count)
    #expect(strings.allSatisfy { set.contains($0) })
    #expect(!set.contains("https://img0.test/30000.jpg") && !set.contains(""))

    // A copy is a value: what either takes after, the other does not have.
    var copy = set
    let more = (0..<5_000).map { "https://more.test/\($0)" }
    #expect(more.allSatisfy { copy.insert($0) })
    #expect(more.allSatisfy { copy.contains($0) && !set.contains($0) })
    #expect(set.count == strings.count && copy.count == strings.count + more.count)
    let (inSet, inCopy) = (set.insert(more[0]), copy.insert(more[0]))
    #expect(inSet && !inCopy)

    // A copy taken before any merge: the first merge of either copies nothing.
    var small = StringDigestSet()
    small.insert("a")
    var smallCopy = small
    #expect((0..<2_000).allSatisfy { smallCopy.insert("\($0)") })
    #expect(small.count == 1 && smallCopy.count == 2_001 && smallCopy.contains("a") && !small.contains("0"))
}
