import Foundation
import Testing

@testable import ImgArchiveStore

@Suite struct PostFileTests {
    @Test func replacesAtomicallyKeepingPermissionsAndFollowingLinks() async throws {
        let folder = try TemporaryFolder()
        let real = folder.url.appendingPathComponent("real.md").path
        let link = folder.url.appendingPathComponent("link.md").path
        try Data("old\r\n".utf8).write(to: URL(fileURLWithPath: real))
        chmod(real, 0o604)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.md")
        var seenByHook: [UInt8] = []
        let outcome = try await PostFile.replace(link, expected: Array("old\r\n".utf8), with: Array("new\r\n".utf8)) {
            seenByHook = try PostFile.read(real)
        }
        #expect(outcome == .replaced)
        #expect(seenByHook == Array("old\r\n".utf8), "the hook runs before the post changes")
        #expect(try PostFile.read(real) == Array("new\r\n".utf8))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real.md", "the link stays a link")
        var info = stat()
        stat(real, &info)
        #expect(info.st_mode & 0o777 == 0o604)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted() == ["link.md", "real.md"])
    }

    @Test func aPostChangedMeanwhileIsNotTouched() async throws {
        let folder = try TemporaryFolder()
        let post = folder.url.appendingPathComponent("p.md").path
        try Data("edited by hand".utf8).write(to: URL(fileURLWithPath: post))
        var called = false
        let outcome = try await PostFile.replace(
            post, expected: Array("as scanned".utf8), with: Array("rewritten".utf8)
        ) {
            called = true
        }
        #expect(outcome == .changedMeanwhile && !called)
        #expect(try PostFile.read(post) == Array("edited by hand".utf8))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["p.md"], "no temporary file left")
    }

    @Test func aFailingHookLeavesThePostAndNoTemporaryFile() async throws {
        let folder = try TemporaryFolder()
        let post = folder.url.appendingPathComponent("p.md").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: post))
        await #expect(throws: StoreError.self) {
            _ = try await PostFile.replace(post, expected: Array("old".utf8), with: Array("new".utf8)) {
                throw StoreError(code: .busy, message: "manifest busy")
            }
        }
        #expect(try PostFile.read(post) == Array("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["p.md"])
    }

    @Test func staleTemporaryPostsAreRemoved() throws {
        let folder = try TemporaryFolder()
        for name in ["p.md", ".p.md.imgarchive-12-34.tmp", ".other.tmp", "q.md.imgarchive-1.tmp"] {
            try Data("x".utf8).write(to: folder.url.appendingPathComponent(name))
        }
        #expect(try PostFile.removeStaleTemporaryFiles(inFolder: folder.url.path) == 1)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
                == [".other.tmp", "p.md", "q.md.imgarchive-1.tmp"])
    }
}
