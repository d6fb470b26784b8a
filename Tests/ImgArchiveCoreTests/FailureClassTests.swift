import Foundation
import ImgArchiveCore
import Testing

@Suite struct FailureClassTests {
    /// The classes are stored in manifests and printed: a renamed raw value would change the archive format.
    @Test func rawValuesAreTheArchiveFormatsStrings() {
        #expect(
            FailureClass.allCases.map(\.rawValue) == [
                "dns", "connect", "timeout", "stalled", "http-4xx", "http-5xx", "http-other", "not-an-image",
                "polyglot", "too-large", "truncated", "blocked-scheme", "too-many-redirects", "blocked-address",
                "headers-too-large", "tls", "io", "invalid-request", "cancelled", "disk-full", "unsafe-svg", "other",
            ])
        #expect(FailureClass.http4xx.description == "http-4xx")
    }

    @Test(arguments: [
        ("\"headers-too-large\"", FailureClass.headersTooLarge), ("\"dns\"", .dns),
        ("\"from-a-newer-version\"", .other),
    ])
    func aStoredClassDecodesAndAnUnknownOneReadsAsOther(json: String, expected: FailureClass) throws {
        #expect(try JSONDecoder().decode(FailureClass.self, from: Data(json.utf8)) == expected)
    }
}
