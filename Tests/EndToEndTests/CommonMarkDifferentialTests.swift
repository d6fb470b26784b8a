import Foundation
import Testing

/// The repository's root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// True when python3 can import the two reference parsers the differential test compares with.
private let referenceParsersInstalled: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import markdown_it, commonmark"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

/// The block structure, differentially: Tests/Differential/commonmark_diff.py generates random documents from
/// CommonMark's constructs and compares the image URLs `imgarchive scan --all` reports with those markdown-it-py
/// and commonmark.py render. A fixed seed, so a failure reproduces; the script prints a minimal reproducer for
/// each disagreement, which then belongs in BlockStructureTests.swift.
@Test(
    .timeLimit(.minutes(5)),
    .enabled(
        if: referenceParsersInstalled,
        "python3 with markdown-it-py and commonmark is needed: pip install markdown-it-py commonmark (.ci/run does)"))
func scanAgreesWithCommonMarkReferenceParsers() async throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", repositoryRoot + "/Tests/Differential/commonmark_diff.py", "--binary", imgarchiveBinary,
        "--count", "3000", "--seed", "1", "--allow", "24",
    ]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(report)")
}
