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

    /// With spares, a replaced post's file is kept under the temporary name and written again for the next post of
    /// its folder once the folder is fsynced: the next post gets its own bytes (shorter: cut to length) and
    /// permissions in that file, and `removeAll` leaves only the posts.
    @Test func aReplacedPostsFileIsWrittenAgainForTheNextPost() async throws {
        let folder = try TemporaryFolder()
        let a = folder.url.appendingPathComponent("a.md").path
        let b = folder.url.appendingPathComponent("b.md").path
        try Data("old a, a long post".utf8).write(to: URL(fileURLWithPath: a))
        try Data("old b".utf8).write(to: URL(fileURLWithPath: b))
        chmod(a, 0o604)
        chmod(b, 0o640)
        let oldA = inode(a)
        let spares = PostFile.Spares()
        let first = try PostFile.stage(a, expected: PostFile.read(a), with: Array("new a".utf8), spares: spares)
        #expect(await PostFile.sync([first]).allSatisfy { $0 == nil })
        #expect(try PostFile.moveIntoPlace(first, spares: spares) == .replaced)
        #expect(try PostFile.read(a) == Array("new a".utf8))
        #expect(inode(first.temporary) == oldA, "a's old file is kept under the temporary name")
        // Not written again before the folder's fsync makes the swap durable: a power loss could undo it.
        let early = try PostFile.stage(b, expected: PostFile.read(b), with: Array("new b".utf8), spares: spares)
        #expect(early.temporary != first.temporary)
        PostFile.discard(early)
        #expect(try PostFile.read(first.temporary) == Array("old a, a long post".utf8))
        try PostFile.syncFolders(of: [first], releasing: spares)
        let second = try PostFile.stage(b, expected: PostFile.read(b), with: Array("new b".utf8), spares: spares)
        #expect(second.temporary == first.temporary)
        #expect(await PostFile.sync([second]).allSatisfy { $0 == nil })
        #expect(try PostFile.moveIntoPlace(second, spares: spares) == .replaced)
        #expect(try PostFile.read(b) == Array("new b".utf8))
        #expect(inode(b) == oldA, "b's new bytes are in a's old file")
        #expect(mode(a) == 0o604 && mode(b) == 0o640)
        spares.removeAll()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted() == ["a.md", "b.md"])
    }

    /// A replaced post's file that someone else can still see is deleted, not written again: held open by a reader
    /// (who keeps reading the old bytes), linked under another name (which keeps showing them), or carrying
    /// extended attributes (which were the old post's).
    @Test(arguments: ["held open", "hard link", "extended attribute"])
    func aSpareOthersCanSeeIsNotWrittenAgain(_ how: String) async throws {
        let folder = try TemporaryFolder()
        let a = folder.url.appendingPathComponent("a.md").path
        let b = folder.url.appendingPathComponent("b.md").path
        let other = folder.url.appendingPathComponent("other.md").path
        try Data("old a".utf8).write(to: URL(fileURLWithPath: a))
        try Data("old b".utf8).write(to: URL(fileURLWithPath: b))
        var reader: Int32 = -1
        switch how {
        case "held open": reader = open(a, O_RDONLY)
        case "hard link": #expect(link(a, other) == 0)
        default: try #require(setExtendedAttribute(a, "user.tag", "x") == 0)
        }
        defer { if reader >= 0 { close(reader) } }
        let spares = PostFile.Spares()
        let first = try PostFile.stage(a, expected: PostFile.read(a), with: Array("new a".utf8), spares: spares)
        #expect(try PostFile.moveIntoPlace(first, spares: spares) == .replaced)
        try PostFile.syncFolders(of: [first], releasing: spares)
        let second = try PostFile.stage(b, expected: PostFile.read(b), with: Array("new b".utf8), spares: spares)
        #expect(second.temporary != first.temporary)
        #expect(!FileManager.default.fileExists(atPath: first.temporary), "the old file's temporary name is gone")
        #expect(try PostFile.moveIntoPlace(second, spares: spares) == .replaced)
        #expect(try PostFile.read(b) == Array("new b".utf8))
        if reader >= 0 {
            var buffer = [UInt8](repeating: 0, count: 16)
            #expect(pread(reader, &buffer, 16, 0) == 5 && Array(buffer.prefix(5)) == Array("old a".utf8))
        }
        if how == "hard link" { #expect(try PostFile.read(other) == Array("old a".utf8)) }
        if how == "extended attribute" { #expect(getxattr(b, "user.tag", nil, 0) < 0, "b has none of a's attributes") }
        spares.removeAll()
    }

    private func inode(_ path: String) -> UInt {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_ino) : 0
    }

    private func mode(_ path: String) -> UInt32 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt32(info.st_mode & 0o7777) : 0
    }
}

/// setxattr(2) and getxattr(2), which Swift's Glibc module does not import.
@_silgen_name("setxattr")
private func setxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int,
    _ flags: Int32
) -> Int32

@_silgen_name("getxattr")
private func getxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int
) -> Int

private func setExtendedAttribute(_ path: String, _ name: String, _ value: String) -> Int32 {
    setxattr(path, name, value, value.utf8.count, 0)
}
