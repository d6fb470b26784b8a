import Testing

@testable import ImgArchiveCore

struct AdmissionCase: Sendable, CustomTestStringConvertible {
    var limit: Int
    var requests: [Int]
    var expected: [MemoryBudget.Admission]
    var inUse: Int
    var testDescription: String { "\(requests) in \(limit)" }
}

/// Requests in order, none released: what starts, what waits, what never fits.
@Test(arguments: [
    AdmissionCase(limit: 100, requests: [30, 50, 20], expected: [.now, .now, .now], inUse: 100),
    AdmissionCase(limit: 100, requests: [60, 50], expected: [.now, .queued], inUse: 60),
    AdmissionCase(limit: 100, requests: [101, 10], expected: [.never, .now], inUse: 10),
    // First come, first served: 10 would fit, but waits behind the 50 that does not.
    AdmissionCase(limit: 100, requests: [60, 50, 10], expected: [.now, .queued, .queued], inUse: 60),
    AdmissionCase(limit: 100, requests: [0, 100, 0], expected: [.now, .now, .now], inUse: 100),
    AdmissionCase(limit: 100, requests: [100, 1], expected: [.now, .queued], inUse: 100),
    // An over-budget request is refused, not queued, so it never blocks the ones behind it.
    AdmissionCase(limit: 100, requests: [90, 500, 10], expected: [.now, .never, .now], inUse: 100),
])
func memoryBudgetAdmissions(_ c: AdmissionCase) {
    var budget = MemoryBudget(limit: c.limit)
    let answers = c.requests.enumerated().map { budget.request(MemoryBudget.Ticket(id: $0.offset, bytes: $0.element)) }
    #expect(answers == c.expected)
    #expect(budget.inUse == c.inUse)
}

struct ReleaseCase: Sendable, CustomTestStringConvertible {
    var limit: Int
    var running: [Int]
    var waiting: [Int]
    var releases: [Int]  // indexes into running
    var admitted: [[Int]]  // ids (indexes into waiting) admitted by each release, in order
    var testDescription: String { "running \(running), waiting \(waiting)" }
}

/// Releases admit waiting jobs in order while they fit, and stop at the first that does not.
@Test(arguments: [
    ReleaseCase(limit: 100, running: [60], waiting: [50, 30], releases: [0], admitted: [[0, 1]]),
    ReleaseCase(limit: 100, running: [60, 30], waiting: [80, 5], releases: [1, 0], admitted: [[], [0, 1]]),
    ReleaseCase(limit: 100, running: [70, 30], waiting: [50, 40, 20], releases: [0, 1], admitted: [[0], [1]]),
    ReleaseCase(limit: 100, running: [100], waiting: [100, 100], releases: [0], admitted: [[0]]),
])
func memoryBudgetReleases(_ c: ReleaseCase) {
    var budget = MemoryBudget(limit: c.limit)
    for (i, bytes) in c.running.enumerated() {
        #expect(budget.request(MemoryBudget.Ticket(id: 1000 + i, bytes: bytes)) == .now)
    }
    for (i, bytes) in c.waiting.enumerated() {
        #expect(budget.request(MemoryBudget.Ticket(id: i, bytes: bytes)) == .queued)
    }
    var started = c.running.reduce(0, +)
    for (release, expected) in zip(c.releases, c.admitted) {
        let admitted = budget.release(c.running[release])
        #expect(admitted.map(\.id) == expected)
        started += admitted.reduce(0) { $0 + $1.bytes } - c.running[release]
        #expect(budget.inUse == started)
        #expect(budget.inUse <= c.limit)
    }
}
