import Foundation
import ImgArchiveCore
import Testing

@testable import ImgArchiveStore

@Suite struct ArchiveStoreTests {
    private func write(_ data: Data, into store: ArchiveStore) throws -> URL {
        let url = store.makeTemporaryFileURL()
        try data.write(to: url)
        return url
    }

    @Test func openingCreatesTheFolders() throws {
        let folder = try TemporaryFolder()
        let root = folder.url.appendingPathComponent("nested/archive")
        let store = try ArchiveStore(root: root)
        for name in ["objects", "tmp", "reports"] {
            var isDirectory: ObjCBool = false
            #expect(
                FileManager.default.fileExists(
                    atPath: root.appendingPathComponent(name).path, isDirectory: &isDirectory))
            #expect(isDirectory.boolValue)
        }
        #expect(store.temporaryDirectory.path == root.appendingPathComponent("tmp").standardizedFileURL.path)
        // Opening again is fine.
        _ = try ArchiveStore(root: root)
    }

    @Test func digestsAreTheStandardSHA256InLowercaseHex() throws {
        // FIPS 180-2 test vectors.
        #expect(
            ArchiveStore.sha256(of: Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ArchiveStore.sha256(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let folder = try TemporaryFolder()
        let file = folder.url.appendingPathComponent("abc")
        try Data("abc".utf8).write(to: file)
        #expect(try ArchiveStore.sha256(ofFileAt: file) == ArchiveStore.sha256(of: Array("abc".utf8)))
    }

    @Test func postNamesAreRelativeToTheArchivesFolderWithFolderLinksResolved() throws {
        let folder = try TemporaryFolder()
        let fm = FileManager.default
        let site = folder.url.appendingPathComponent("site")
        for sub in ["_posts/2020", "static", "content"] {
            try fm.createDirectory(at: site.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        // A link to the site folder, and one to a folder of posts: names go by where the files really are.
        let linkedSite = folder.url.appendingPathComponent("linked-site")
        try fm.createSymbolicLink(at: linkedSite, withDestinationURL: site)
        try fm.createSymbolicLink(
            at: site.appendingPathComponent("drafts"), withDestinationURL: site.appendingPathComponent("_posts/2020"))

        let layout = ArchiveLayout(root: site.appendingPathComponent("archive"))
        let paths = [
            site.path + "/_posts/a.md",
            linkedSite.path + "/_posts/./2020/../a.md",
            site.path + "/_posts/2020/b.md",
            site.path + "/drafts/b.md",
            linkedSite.path + "/content/c.md",
        ]
        let expected = ["_posts/a.md", "_posts/a.md", "_posts/2020/b.md", "_posts/2020/b.md", "content/c.md"]
        #expect(layout.postKeys(paths) == expected)
        #expect(paths.map(layout.postKey) == expected)
        for key in Set(expected) { #expect(layout.postKey(layout.postPath(key)) == key) }

        // Hugo keeps the archive in static/: posts are named from there.
        let hugo = ArchiveLayout(root: linkedSite.appendingPathComponent("static/archive"))
        #expect(hugo.postKeys([site.path + "/content/c.md"]) == ["../content/c.md"])
        #expect(hugo.postKeys([]) == [])

        // A relative path is named from the current folder, however it is spelt (the plain spelling is split
        // in place, the others through URL).
        let relative = layout.postKeys(["rel/p.md", "./rel/p.md", "rel//p.md", "rel/x/../p.md", "p.md"])
        #expect(Set(relative.prefix(4)).count == 1)
        #expect(relative[0].hasSuffix("rel/p.md") && relative[4].hasSuffix("p.md") && relative[0] != relative[4])
        #expect(relative == ["rel/p.md", "./rel/p.md", "rel//p.md", "rel/x/../p.md", "p.md"].map(layout.postKey))

        // The root folder as a path (a filter such as `status /`) names no post, only the way up.
        let deep = ArchiveLayout(root: URL(fileURLWithPath: "/work/x/archive"))
        #expect(deep.postKey("/") == "../..")
        #expect(deep.postKeys(["/", "/.."]) == ["../..", "../.."])
        #expect(ArchiveLayout(root: URL(fileURLWithPath: "/archive")).postKey("/") == "")
    }

    @Test(arguments: [
        "/a/b.md", "/b.md", "rel/p.md", "p.md", ".hidden/p.md", "a/.p.md", "a/.../p.md", "/a/b/c/d.markdown",
        "./rel/p.md", "rel//p.md", "rel/x/../p.md", "rel/p.md/", "/", "//a.md", "a/..", "é/p.md", "a/é.md",
    ])
    func aPathsFolderAndNameAreTheStandardisedURLs(path: String) {
        // Split on bytes (a plain ASCII path), on characters (other plain paths) or through URL: one answer.
        let here = FileManager.default.currentDirectoryPath
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let split = ArchiveLayout.folderAndName(path, in: here)
        #expect(split.folder == url.deletingLastPathComponent().path && split.name == url.lastPathComponent)
    }

    @Test func scopedSynchronizationSyncsObjectsAndTheirFoldersAndRefusesMissingOnes() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url, durability: .deferred)
        var committed: [String] = []
        for seed: UInt64 in 1...3 {
            let temporary = try write(jpegLikeBytes(seed: seed), into: store)
            committed.append(
                try store.commitObject(temporaryFile: temporary, sha256: coreutilsSHA256(temporary), format: .jpeg))
        }
        for object in committed { try store.synchronizeFile(object: object) }
        try store.synchronizeFolders(of: committed, movedFrom: [store.temporaryDirectory.path])
        try store.synchronizeFolders(of: [], movedFrom: [])

        let missing = "objects/00/" + String(repeating: "0", count: 64) + ".jpg"
        let error = #expect(throws: StoreError.self) { try store.synchronizeFile(object: missing) }
        #expect(error?.code == .io)
        #expect(error?.path?.hasSuffix(missing) == true)
        let gone = #expect(throws: StoreError.self) {
            try store.synchronizeFolders(of: committed, movedFrom: [folder.url.appendingPathComponent("gone").path])
        }
        #expect(gone?.code == .io)
        #expect(throws: StoreError.self) { try store.synchronizeFile(object: "../outside.jpg") }
        #expect(throws: StoreError.self) { try store.synchronizeFolders(of: ["/etc/passwd"], movedFrom: []) }
    }

    @Test func commitMovesTheFileToItsContentAddressAndLeavesNothingInTmp() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let bytes = jpegLikeBytes(seed: 1)
        let temporary = try write(bytes, into: store)
        let digest = try coreutilsSHA256(temporary)

        let relative = try store.commitObject(temporaryFile: temporary, sha256: digest, format: .jpeg)

        #expect(relative == "objects/\(digest.prefix(2))/\(digest).jpg")
        #expect(try Data(contentsOf: store.layout.url(for: relative)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: temporary.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory.path).isEmpty)
        #expect(regularFiles(under: folder.url) == [relative])
    }

    @Test func sameBytesFromTwoURLsAreStoredOnce() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let bytes = jpegLikeBytes(seed: 2)
        let first = try write(bytes, into: store)
        let second = try write(bytes, into: store)
        let digest = try coreutilsSHA256(first)

        let path1 = try store.commitObject(temporaryFile: first, sha256: digest, format: .jpeg)
        let path2 = try store.commitObject(temporaryFile: second, sha256: digest, format: .jpeg)

        #expect(path1 == path2)
        #expect(!FileManager.default.fileExists(atPath: first.path))
        #expect(!FileManager.default.fileExists(atPath: second.path))
        #expect(regularFiles(under: folder.url) == [path1])
        #expect(try Data(contentsOf: store.layout.url(for: path1)) == bytes)
    }

    @Test func deferredDurabilityCommitsTheSameWayAndSynchronizesOnce() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url, durability: .deferred)
        var paths: [String] = []
        for seed in 10..<14 {
            let temporary = try write(jpegLikeBytes(seed: UInt64(seed)), into: store)
            paths.append(
                try store.commitObject(temporaryFile: temporary, sha256: try coreutilsSHA256(temporary), format: .jpeg))
        }
        try store.synchronize()
        #expect(regularFiles(under: folder.url) == paths.sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory.path).isEmpty)
    }

    @Test func aTruncatedObjectInPlaceIsReplacedByACompleteCommit() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let bytes = jpegLikeBytes(seed: 3)
        let temporary = try write(bytes, into: store)
        let digest = try coreutilsSHA256(temporary)
        let relative = try ArchiveLayout.objectPath(sha256: digest, format: .jpeg)
        let destination = store.layout.url(for: relative)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.prefix(100).write(to: destination)

        _ = try store.commitObject(temporaryFile: temporary, sha256: digest, format: .jpeg)

        #expect(try Data(contentsOf: destination) == bytes)
        #expect(try store.verify(relative, sha256: digest) == .intact)
    }

    @Test(arguments: [ArchiveStore.Durability.immediate, .deferred])
    func commitIntoAnExistingShardFolder(durability: ArchiveStore.Durability) throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url, durability: durability)
        let first = try write(jpegLikeBytes(seed: 20), into: store)
        let firstDigest = try coreutilsSHA256(first)
        // Two objects in one shard folder that exists before either commit (a new folder: the tests above), and
        // a missing temporary file whose address would be in that folder.
        var seed: UInt64 = 21
        var second = try write(jpegLikeBytes(seed: seed), into: store)
        while try coreutilsSHA256(second).prefix(2) != firstDigest.prefix(2) {
            try FileManager.default.removeItem(at: second)
            seed += 1
            second = try write(jpegLikeBytes(seed: seed), into: store)
        }
        let shard = store.layout.url(for: "objects/" + firstDigest.prefix(2))
        try FileManager.default.createDirectory(at: shard, withIntermediateDirectories: true)
        let paths = try [first, second].map {
            try store.commitObject(temporaryFile: $0, sha256: coreutilsSHA256($0), format: .jpeg)
        }
        #expect(paths[0].hasPrefix("objects/\(firstDigest.prefix(2))/") && paths[1].hasPrefix(paths[0].prefix(11)))
        let missing = store.makeTemporaryFileURL()
        let error = #expect(throws: StoreError.self) {
            try store.commitObject(
                temporaryFile: missing, sha256: firstDigest.prefix(2) + String(repeating: "0", count: 62),
                format: .png)
        }
        #expect(error?.code == .io && error?.cCode == ENOENT && error?.path == missing.path)
        #expect(regularFiles(under: folder.url) == paths.sorted())
        for path in paths { #expect(try store.verify(path, sha256: String(path.dropFirst(11).prefix(64))) == .intact) }
    }

    @Test func committingAMissingTemporaryFileThrowsIO() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let digest = String(repeating: "ab", count: 32)
        #expect(throws: StoreError.self) {
            try store.commitObject(temporaryFile: store.makeTemporaryFileURL(), sha256: digest, format: .png)
        }
        do {
            _ = try store.commitObject(temporaryFile: store.makeTemporaryFileURL(), sha256: digest, format: .png)
        } catch {
            #expect(error.code == .io)
        }
        #expect(regularFiles(under: folder.url).isEmpty)
    }

    @Test(arguments: [
        "https://example.com/a.jpg", "../../etc/passwd", "ABCDEF", String(repeating: "A", count: 64),
        String(repeating: "a", count: 63), String(repeating: "g", count: 64), "",
        String(repeating: "a", count: 62) + "/x",
    ])
    func namesAreOnlyEverMadeFromDigests(candidate: String) throws {
        #expect(throws: StoreError.self) { try ArchiveLayout.objectPath(sha256: candidate, format: .jpeg) }
        #expect(throws: StoreError.self) {
            try ArchiveLayout.thumbnailPath(sha256: candidate, width: 640, format: .jpeg)
        }
    }

    /// A path read from the manifest is used only when it is one the archive makes, inside its root.
    @Test func onlyArchivePathsAreTakenFromTheManifest() {
        let digest = String(repeating: "ab", count: 32)
        for path in ["objects/ab/\(digest).jpg", "w160/ab/\(digest).webp", "svg/ab/\(digest).svg", "w1/a/..."] {
            #expect(throws: Never.self) { try ArchiveLayout.checkRelativePath(path) }
        }
        let refused = [
            "", "/", "objects", "objects/ab", "/objects/ab/x.jpg", "objects/ab/x.jpg/", "objects/ab/x/y.jpg",
            "objects//x.jpg", "objects/./x.jpg", "objects/../x.jpg", "objects/ab/..", "objects/ab/.", "../ab/x.jpg",
            "w/ab/x.jpg", "w16a/ab/x.jpg", "W160/ab/x.jpg", "w١٦٠/ab/x.jpg", "Objects/ab/x.jpg", "objectsx/ab/x.jpg",
            "obj/ab/x.jpg", "tmp/ab/x.jpg", "svg\u{301}/ab/x.svg",
        ]
        for path in refused {
            let error = #expect(throws: StoreError.self, "\(path.debugDescription)") {
                try ArchiveLayout.checkRelativePath(path)
            }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test(arguments: ImageFormat.allCases)
    func pathsHoldOnlyTheDigestWidthAndExtension(format: ImageFormat) throws {
        let digest = String(repeating: "0123456789abcdef", count: 4)
        let object = try ArchiveLayout.objectPath(sha256: digest, format: format)
        let thumbnail = try ArchiveLayout.thumbnailPath(sha256: digest, width: 640, format: format)
        #expect(object == "objects/01/\(digest).\(format.fileExtension)")
        #expect(thumbnail == "w640/01/\(digest).\(format.fileExtension)")
        let allowed = Set("0123456789abcdefjpgnwbmpvisoctw/.")
        #expect(object.allSatisfy { allowed.contains($0) })
        #expect(thumbnail.allSatisfy { allowed.contains($0) || $0.isNumber })
    }

    @Test(arguments: [0, -1, 1_000_001])
    func badWidthsAreRefused(width: Int) {
        let digest = String(repeating: "ab", count: 32)
        #expect(throws: StoreError.self) { try ArchiveLayout.thumbnailPath(sha256: digest, width: width, format: .png) }
    }

    @Test(arguments: [
        "../outside.jpg", "/etc/passwd", "objects/../../x", "w640/ab/../../../x", "objects/ab/c/d.jpg", "tmp/ab/x.jpg",
        "manifest.sqlite", "objects/ab/" + String(repeating: "ab", count: 32) + ".jpg",
    ])
    func derivativesGoOnlyToDerivativePaths(target: String) throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let temporary = try write(jpegLikeBytes(seed: 4), into: store)
        #expect(throws: StoreError.self) { try store.commitDerivative(temporaryFile: temporary, to: target) }
        #expect(FileManager.default.fileExists(atPath: temporary.path))
    }

    @Test func derivativeCommitReplacesARebuiltThumbnail() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let digest = String(repeating: "cd", count: 32)
        let relative = try store.thumbnailPath(sha256: digest, width: 320, format: .png)
        try store.commitDerivative(temporaryFile: try write(Data("first".utf8), into: store), to: relative)
        try store.commitDerivative(temporaryFile: try write(Data("second".utf8), into: store), to: relative)
        #expect(try Data(contentsOf: store.layout.url(for: relative)) == Data("second".utf8))
        #expect(regularFiles(under: folder.url) == [relative])
        #expect(try store.fileExists(relative))
    }

    @Test func verifyReportsIntactMismatchAndMissing() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        let temporary = try write(jpegLikeBytes(seed: 5), into: store)
        let digest = try coreutilsSHA256(temporary)
        let relative = try store.commitObject(temporaryFile: temporary, sha256: digest, format: .jpeg)
        #expect(try store.verify(relative, sha256: digest) == .intact)

        let file = store.layout.url(for: relative)
        var damaged = try Data(contentsOf: file)
        damaged[100] ^= 0xFF
        try damaged.write(to: file)
        #expect(try store.verify(relative, sha256: digest) == .mismatch(actualSHA256: try coreutilsSHA256(file)))

        try FileManager.default.removeItem(at: file)
        #expect(try store.verify(relative, sha256: digest) == .missing)
    }

    @Test func archivedFilesAreWalkedInOrderAndTheWalkStopsAtAnError() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        var committed: [String] = []
        for seed in UInt64(1)...6 {
            let temporary = try write(jpegLikeBytes(seed: seed), into: store)
            committed.append(
                try store.commitObject(temporaryFile: temporary, sha256: try coreutilsSHA256(temporary), format: .jpeg))
        }
        let thumbnail = "w160/" + committed[0].dropFirst("objects/".count)
        try store.commitDerivative(temporaryFile: try write(Data("small".utf8), into: store), to: thumbnail)
        // Not archive paths: a report, a temporary file, a file beside the shards.
        for other in ["reports/run.json", "tmp/part", "objects/loose"] {
            try Data("x".utf8).write(to: store.layout.url(for: other))
        }
        var walked: [String] = []
        try store.forEachArchivedFile { walked.append($0) }
        #expect(walked == (committed + [thumbnail]).sorted())
        #expect(try store.archivedFiles() == walked)

        var seen = 0
        #expect(throws: StoreError.self) {
            try store.forEachArchivedFile { _ throws(StoreError) in
                seen += 1
                if seen == 3 { throw StoreError(code: .io, path: "x", message: "stop") }
            }
        }
        #expect(seen == 3)
    }

    @Test func streamingHashMatchesCoreutilsAcrossChunks() throws {
        let folder = try TemporaryFolder()
        let file = folder.url.appendingPathComponent("big")
        try pseudoRandomBytes(count: 3 * (1 << 20) + 12345, seed: 6).write(to: file)
        #expect(try ArchiveStore.sha256(ofFileAt: file) == (try coreutilsSHA256(file)))

        let empty = folder.url.appendingPathComponent("empty")
        try Data().write(to: empty)
        #expect(try ArchiveStore.sha256(ofFileAt: empty) == (try coreutilsSHA256(empty)))
    }

    @Test func staleTemporaryFilesAreRemovedOnlyUnderTheLock() throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url)
        _ = try write(Data("partial".utf8), into: store)
        _ = try write(Data("partial".utf8), into: store)
        try FileManager.default.createDirectory(
            at: store.temporaryDirectory.appendingPathComponent("leftover/inner"), withIntermediateDirectories: true)

        let lock = try ArchiveLock.acquire(folder.url)
        #expect(try store.removeStaleTemporaryFiles(holding: lock) == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory.path).isEmpty)

        lock.release()
        _ = try write(Data("partial".utf8), into: store)
        #expect(throws: StoreError.self) { try store.removeStaleTemporaryFiles(holding: lock) }

        let other = try TemporaryFolder()
        let otherLock = try ArchiveLock.acquire(other.url)
        #expect(throws: StoreError.self) { try store.removeStaleTemporaryFiles(holding: otherLock) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory.path).count == 1)
    }
}
