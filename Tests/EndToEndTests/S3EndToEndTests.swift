import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveImage
import ImgArchivePipeline
import TestServices
import Testing

@testable import ImgArchiveStore

/// The S3 server the scale-out tests run against: the one `.ci/services up` starts (OpenStack Swift's S3 API on
/// loopback, `.ci/services.d/s3.sh`), found through the settings it prints (`TestServices` starts it when
/// `swift test` runs without them).
struct S3TestSettings {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    var endpoint: String
    var bucket: String
    var region: String
    var credentials: S3Credentials

    /// The settings of the tests' S3 server, started if need be.
    static func load() throws -> S3TestSettings {
        try TestServices.ensureRunning()
        return try load(ProcessInfo.processInfo.environment)
    }

    /// The settings from `environment`; throws, naming what is missing, when they are not all there.
    static func load(_ environment: [String: String]) throws -> S3TestSettings {
        guard let endpoint = environment["S3_ENDPOINT"], let bucket = environment["S3_BUCKET"],
            let credentials = S3Credentials.fromEnvironment(environment)
        else {
            throw Missing(
                description: "S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not all set "
                    + "(`bash .ci/services up` prints them)")
        }
        return S3TestSettings(
            endpoint: endpoint, bucket: bucket, region: environment["S3_REGION"] ?? "us-east-1",
            credentials: credentials)
    }

    var client: S3Client {
        S3Client(location: S3Location(endpoint: endpoint, bucket: bucket, region: region), credentials: credentials)
    }

    /// imgarchive.yml putting the archive's files under `prefix` in the bucket.
    func config(prefix: String) -> String {
        "objects: s3://\(bucket)/\(prefix)\ns3-endpoint: \(endpoint)\ns3-region: \(region)\n"
    }

    /// The bucket's URL for `prefix`: where posts link when no `--archive-url` is given.
    func publicURL(prefix: String) -> String { "\(endpoint)/\(bucket)/\(prefix)" }

    /// Every key under `prefix`, relative to it, with the SHA-256 of its bytes (re-hashed from the bucket).
    func objects(prefix: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for object in try client.list(prefix: prefix + "/") {
            out[String(object.key.dropFirst(prefix.count + 1))] = try client.sha256(key: object.key)
        }
        return out
    }

    func removeAll(prefix: String) {
        for object in (try? client.list(prefix: prefix + "/")) ?? [] { try? client.delete(key: object.key) }
    }
}

/// The whole job with the archive's files in a real S3 bucket (`objects: s3://...`), against the same job on the
/// local disk: the same posts (but for where links point) and the same files under the same paths.
@Suite(.serialized, .timeLimit(.minutes(5))) struct S3EndToEndTests {
    static let host = "img.example-cdn.com"
    static func cdn(_ path: String) -> String { "http://\(host)\(path)" }

    struct Site {
        let server: ImageServer
        let photo: [UInt8]
        let png: [UInt8]
        let posts: [String: String]
        var connect: [String] { ["--connect-to", server.connectTo(S3EndToEndTests.host)] }

        /// A folder holding the posts (and `config` as imgarchive.yml).
        func folder(config: String? = nil) throws -> TemporaryFolder {
            let folder = try TemporaryFolder()
            for (path, text) in posts { try folder.write(path, text) }
            if let config { try folder.write("imgarchive.yml", config) }
            return folder
        }

        func post(_ folder: TemporaryFolder, _ path: String) throws -> String {
            try String(contentsOfFile: folder.path + "/" + path, encoding: .utf8)
        }

        /// The archive's files on disk (originals and thumbnails), relative, with the SHA-256 of their bytes.
        func files(_ folder: TemporaryFolder) throws -> [String: String] {
            var out: [String: String] = [:]
            for top in ["objects", "w200"] {
                for file in folder.files(under: "archive/" + top) {
                    let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/archive/\(top)/\(file)"))
                    out[top + "/" + file] = ArchiveStore.sha256(of: [UInt8](bytes))
                }
            }
            return out
        }
    }

    /// `a.md` shows a JPEG at 200 px (a thumbnail is made), `b.md` a PNG as it is.
    static func makeSite() async throws -> Site {
        let photo = try FixtureImages.jpeg(width: 480, height: 360, seed: 11)
        let png = try FixtureImages.png(width: 160, height: 120, seed: 12)
        let server = try await ImageServer.start([
            "/a.jpg": { _ in reply(200, ["Content-Type": "image/jpeg"], photo) },
            "/b.png": { _ in reply(200, ["Content-Type": "image/png"], png) },
        ])
        let posts = [
            "_posts/a.md": "# A\n\n<img width=\"200\" src=\"\(cdn("/a.jpg"))\">\n",
            "_posts/b.md": "![b](\(cdn("/b.png")))\n\nand again ![a](\(cdn("/a.jpg")))\n",
        ]
        return Site(server: server, photo: photo, png: png, posts: posts)
    }

    @Test func theJobOnABucketGivesThePostsAndFilesOfTheJobOnDisk() async throws {
        let s3 = try S3TestSettings.load()
        let site = try await Self.makeSite()
        defer { Task { await site.server.stop() } }
        let prefix = "e2e-\(UUID().uuidString.lowercased())"
        defer { s3.removeAll(prefix: prefix) }
        let disk = try site.folder()
        defer { disk.remove() }
        let bucket = try site.folder(config: s3.config(prefix: prefix))
        defer { bucket.remove() }

        // The same job: on disk with links under a CDN's URL, on the bucket with links under the bucket's own URL.
        let cdn = "https://cdn.example.net/archive"
        let onDisk = try await runImgarchive(["archive", "--archive-url", cdn] + site.connect + ["."], in: disk.path)
        #expect(onDisk.status == 0, "\(onDisk.stdout)\(onDisk.stderr)")
        let onBucket = try await runImgarchive(["archive"] + site.connect + ["."], in: bucket.path)
        #expect(onBucket.status == 0, "\(onBucket.stdout)\(onBucket.stderr)")

        let publicURL = s3.publicURL(prefix: prefix)
        for path in site.posts.keys.sorted() {
            let local = try site.post(disk, path)
            let remote = try site.post(bucket, path)
            #expect(local.contains(cdn + "/"), "rewritten on disk: \(local)")
            #expect(remote.contains(publicURL + "/"), "rewritten on the bucket: \(remote)")
            #expect(remote.replacingOccurrences(of: publicURL, with: cdn) == local)
        }

        // The same files, same paths and bytes; nothing of them in the local archive folder.
        let files = try site.files(disk)
        #expect(files.count == 3, "two originals and a thumbnail: \(files.keys.sorted())")
        #expect(try s3.objects(prefix: prefix) == files)
        // Listed a key a page, the continuation tokens carry the listing through: the same keys.
        let paged = try s3.client.list(prefix: prefix + "/", pageSize: 1).map(\.key)
        #expect(paged.sorted() == files.keys.map { prefix + "/" + $0 }.sorted())
        #expect(!FileManager.default.fileExists(atPath: bucket.path + "/archive/objects"))
        #expect(!FileManager.default.fileExists(atPath: bucket.path + "/archive/w200"))
        let photoPath = try ArchiveLayout.objectPath(sha256: ArchiveStore.sha256(of: site.photo), format: .jpeg)
        let head = try #require(try s3.client.head(key: "\(prefix)/\(photoPath)"))
        #expect(head.size == Int64(site.photo.count))
        #expect(head.contentType == "image/jpeg")
        #expect(head.cacheControl == "public, max-age=31536000, immutable")

        // The server checks x-amz-content-sha256: bytes that do not hash to it are refused, nothing stored.
        let scratch = bucket.path + "/scratch.jpg"
        try Data(site.png).write(to: URL(fileURLWithPath: scratch))
        #expect(throws: S3Error.self) {
            try s3.client.put(
                key: "\(prefix)/refused.jpg", file: scratch, sha256: ArchiveStore.sha256(of: site.photo),
                contentType: "image/jpeg", cacheControl: "no-cache", ifAbsent: false)
        }
        #expect(try s3.client.head(key: "\(prefix)/refused.jpg") == nil)

        // verify re-hashes the bucket's objects; a corrupt one is found, and --repair quarantines and re-fetches it.
        let clean = try await runImgarchive(["verify"], in: bucket.path)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.contains("checked 2 originals and 1 thumbnails: 0 missing, 0 corrupt"))
        // The PNG's bytes put at an archive path of the bucket.
        func putScratch(at path: String) throws {
            _ = try s3.client.put(
                key: "\(prefix)/\(path)", file: scratch, sha256: ArchiveStore.sha256(of: site.png),
                contentType: "image/jpeg", cacheControl: "no-cache", ifAbsent: false)
        }
        // A key at an archive path that no row names is found in the bucket's listing, read a page at a time.
        let stray = try ArchiveLayout.objectPath(sha256: String(repeating: "ab", count: 32), format: .jpeg)
        try putScratch(at: stray)
        let strayed = try await runImgarchive(["verify"], in: bucket.path)
        #expect(strayed.status == 1)
        #expect(strayed.stdout.contains("unrecorded original \(stray)"), "\(strayed.stdout)")
        try s3.client.delete(key: "\(prefix)/\(stray)")
        try putScratch(at: photoPath)
        let broken = try await runImgarchive(["verify"], in: bucket.path)
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("corrupt original \(photoPath)\n"), "\(broken.stdout)")
        let repaired = try await runImgarchive(["verify", "--repair"] + site.connect, in: bucket.path)
        #expect(repaired.status == 0, "\(repaired.stdout)\(repaired.stderr)")
        let after = try s3.objects(prefix: prefix)
        #expect(after[photoPath] == ArchiveStore.sha256(of: site.photo))
        let quarantined = after.filter { $0.key.hasPrefix("quarantine/") && $0.key.hasSuffix("/" + photoPath) }
        #expect(quarantined.values.sorted() == [ArchiveStore.sha256(of: site.png)], "\(after.keys.sorted())")
        #expect(try await runImgarchive(["verify"], in: bucket.path).status == 0)

        // Links to local files make no sense for files in a bucket: refused, naming the bucket's URL.
        let relative = try await runImgarchive(["rewrite", "--links", "relative", "."], in: bucket.path)
        #expect(relative.status == 2)
        #expect(
            relative.stderr.contains("are in a bucket") && relative.stderr.contains(publicURL), "\(relative.stderr)")

        // Revert puts back the posts as they were, on disk and on the bucket alike.
        for folder in [disk, bucket] {
            let reverted = try await runImgarchive(["rewrite", "--revert"], in: folder.path)
            #expect(reverted.status == 0, "\(reverted.stdout)\(reverted.stderr)")
            for (path, text) in site.posts { #expect(try site.post(folder, path) == text) }
        }
    }

    @Test func twoProcessesStoringTheSameBytesBothSucceed() async throws {
        let s3 = try S3TestSettings.load()
        let site = try await Self.makeSite()
        defer { Task { await site.server.stop() } }
        let prefix = "race-\(UUID().uuidString.lowercased())"
        defer { s3.removeAll(prefix: prefix) }
        let first = try site.folder(config: s3.config(prefix: prefix))
        defer { first.remove() }
        let second = try site.folder(config: s3.config(prefix: prefix))
        defer { second.remove() }

        // Two archives (each its own manifest and lock) fetching the same images into one bucket at once.
        async let a = runImgarchive(["fetch"] + site.connect + ["."], in: first.path)
        async let b = runImgarchive(["fetch"] + site.connect + ["."], in: second.path)
        let (ra, rb) = try await (a, b)
        #expect(ra.status == 0, "\(ra.stdout)\(ra.stderr)")
        #expect(rb.status == 0, "\(rb.stdout)\(rb.stderr)")

        let photo = ArchiveStore.sha256(of: site.photo)
        let png = ArchiveStore.sha256(of: site.png)
        let objects = try s3.objects(prefix: prefix)
        #expect(objects["objects/\(photo.prefix(2))/\(photo).jpg"] == photo)
        #expect(objects["objects/\(png.prefix(2))/\(png).png"] == png)
        #expect(objects.keys.filter { $0.hasPrefix("w200/") }.count == 1)
        #expect(objects.count == 3, "\(objects.keys.sorted())")
        for folder in [first, second] {
            let verified = try await runImgarchive(["verify"], in: folder.path)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        }
    }

    @Test func missingSettingsSayWhatToDo() throws {
        #expect(throws: S3TestSettings.Missing.self) { try S3TestSettings.load([:]) }
        do {
            _ = try S3TestSettings.load(["S3_ENDPOINT": "http://127.0.0.1:9"])
            Issue.record("settings without a bucket and credentials were accepted")
        } catch {
            #expect("\(error)".contains("S3_BUCKET") && "\(error)".contains("bash .ci/services up"))
        }
        do {
            _ = try ObjectStoreFactory.configured(
                objects: "s3://bucket/blog", endpoint: "http://127.0.0.1:9", region: nil, environment: [:])
            Issue.record("a bucket without credentials was accepted")
        } catch {
            #expect(error.code == .usage)
            #expect(error.message.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
        }
        do {
            _ = try ObjectStoreFactory.configured(
                objects: "s3://bucket/blog", endpoint: nil, region: nil, environment: ["AWS_ACCESS_KEY_ID": "a"])
            Issue.record("a bucket without an endpoint was accepted")
        } catch {
            #expect(error.message.contains("s3-endpoint"))
        }
    }
}
