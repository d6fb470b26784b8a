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

    @Test func manyPostsResolveToTheFilesEachResolvesTo() throws {
        let folder = try TemporaryFolder()
        let root = folder.url.path
        let site = root + "/site"
        try FileManager.default.createDirectory(atPath: site + "/deep", withIntermediateDirectories: true)
        for name in ["a.md", "b.md", "deep/c.md"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: site + "/" + name))
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/linked", withDestinationPath: "site/deep")
        try FileManager.default.createSymbolicLink(atPath: site + "/l.md", withDestinationPath: "deep/c.md")
        let paths = [
            site + "/a.md", site + "/b.md", root + "/linked/c.md", site + "/l.md", site + "/gone.md",
            root + "/linked/../site/a.md", site + "/./b.md",
        ]
        let real = PostFile.target(of: site)
        let targets = PostFile.targets(of: paths)
        #expect(targets == paths.map(PostFile.target(of:)))
        #expect(Array(targets.prefix(4)) == [real + "/a.md", real + "/b.md", real + "/deep/c.md", real + "/deep/c.md"])
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

    /// A batch: staged posts are untouched until each is moved into place; one edited meanwhile keeps its edit,
    /// the others get their new bytes with their permissions, and no temporary file is left.
    @Test func aBatchIsStagedSyncedThenMovedIntoPlace() async throws {
        let folder = try TemporaryFolder()
        let names = (0..<20).map { "p\($0).md" }
        for name in names { try Data("old \(name)".utf8).write(to: folder.url.appendingPathComponent(name)) }
        let paths = names.map { folder.url.appendingPathComponent($0).path }
        chmod(paths[3], 0o640)
        let staged = try paths.map { path in
            try PostFile.stage(path, expected: PostFile.read(path), with: Array("new \(path)".utf8))
        }
        #expect(
            try paths.allSatisfy { try PostFile.read($0) == Array("old \(($0 as NSString).lastPathComponent)".utf8) })
        #expect(await PostFile.sync(staged, threads: 4).allSatisfy { $0 == nil })
        try Data("edited by hand".utf8).write(to: URL(fileURLWithPath: paths[7]))
        let outcomes = try staged.map { try PostFile.moveIntoPlace($0) }
        try PostFile.syncFolders(of: staged)
        #expect(outcomes.indices.filter { outcomes[$0] == .changedMeanwhile } == [7])
        for (i, path) in paths.enumerated() where i != 7 {
            #expect(try PostFile.read(path) == Array("new \(path)".utf8))
        }
        #expect(try PostFile.read(paths[7]) == Array("edited by hand".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: paths[3])[.posixPermissions] as? Int
        #expect(mode == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted() == names.sorted())
    }
}
