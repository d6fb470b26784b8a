import Foundation
import ImgArchiveCore
import Testing

/// One row of Fixtures/cdn-cases.tsv.
struct CDNCase: Sendable, CustomTestStringConvertible {
    let line: Int
    let input: String
    let origin: String
    let width: Int?
    let note: String

    var testDescription: String { "line \(line): \(note)" }

    static let fixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/cdn-cases.tsv")

    /// The rows of the fixture (empty when it cannot be read; `fixtureHasEveryRow` then fails).
    static let all: [CDNCase] = {
        guard let text = try? String(contentsOf: fixtureURL, encoding: .utf8) else { return [] }
        var cases: [CDNCase] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard index > 0, fields.count >= 3 else { continue }
            cases.append(
                CDNCase(
                    line: index + 1, input: fields[0], origin: fields[1], width: Int(fields[2]),
                    note: fields.count > 3 ? fields[3] : ""))
        }
        return cases
    }()
}

@Suite("CDN rules")
struct CDNRulesTests {
    let rules = CDNRules.builtIn

    @Test("the fixture has its 95 rows, each with a valid width column")
    func fixtureHasEveryRow() throws {
        let text = try String(contentsOf: CDNCase.fixtureURL, encoding: .utf8)
        let dataLines = text.split(separator: "\n").dropFirst()
        #expect(CDNCase.all.count == 95)
        #expect(CDNCase.all.count == dataLines.count)
        for row in dataLines {
            let width = row.split(separator: "\t", omittingEmptySubsequences: false)[2]
            #expect(width.isEmpty || Int(width) != nil, "bad width column in \(row)")
        }
    }

    @Test("every built-in rule compiles")
    func builtInRulesCompile() throws {
        try CDNRules.validate(CDNRule.builtIn)
        #expect(CDNRules.builtIn.rules.count == CDNRule.builtIn.count)
    }

    @Test("fixture row resolves to the expected origin and width", arguments: CDNCase.all)
    func fixtureRow(_ row: CDNCase) {
        let resolved = rules.resolve(row.input)
        #expect(resolved.origin == row.origin)
        #expect(resolved.width == row.width)
        if resolved.origin != row.input || resolved.width != nil {
            #expect(resolved.rule != nil, "a rewrite or a width must name its rule")
        }
    }
}
