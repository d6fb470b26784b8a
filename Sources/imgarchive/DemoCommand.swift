import ArgumentParser
import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveImage
import ImgArchivePipeline

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See imgarchive work, without a network: archive a bundled sample blog.",
        discussion: """
            Copies a small Jekyll blog into FOLDER. Its posts hotlink images from real-looking CDN hosts \
            (126.net, sinaimg, imgur, ...), one URL wrapped across two lines, one image inside a code block. \
            imgarchive draws those images, serves them from a web server on 127.0.0.1 started for this run, \
            routes the CDN hosts to it (--connect-to), and runs the archive job: fetch the originals, make \
            thumbnails at the widths the posts show, rewrite the posts. Running it again replaces the demo folder.
            """)

    @Argument(help: "Where to put the sample blog.")
    var folder = "imgarchive-demo"

    static let marker = ".imgarchive-demo"

    func run() async throws {
        guard let source = Bundle.module.url(forResource: "demo-site", withExtension: nil) else {
            throw ValidationError("the bundled sample site is missing from this build of imgarchive; rebuild it")
        }
        try prepare(folder)
        try FileManager.default.copyItem(at: source, to: URL(fileURLWithPath: folder))
        try Data("This folder was made by `imgarchive demo`; running it again replaces it.\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/" + Self.marker))

        // Draw one picture per image the posts use (the originals behind the CDN URLs, and the URLs as written).
        let items = try SiteScan.collect(roots: [folder], scanOptions: ScanOptions(), warn: Diagnostics.warn).items
        var pictures: [String: (bytes: Data, type: String)] = [:]
        for (seed, url) in Set(items.flatMap { FetchPlanning.candidates(for: $0) }).sorted().enumerated() {
            guard let key = Self.key(url) else { continue }
            let png = url.lowercased().contains(".png")
            let path = NSTemporaryDirectory() + "imgarchive-demo-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try SamplePicture.write(to: path, width: png ? 960 : 1200, height: png ? 600 : 800, seed: seed, png: png)
            pictures[key] = (try Data(contentsOf: URL(fileURLWithPath: path)), png ? "image/png" : "image/jpeg")
        }
        let served = pictures
        let server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        await server.appendRoute("GET /*") { request in
            let host = request.headers[HTTPHeader("Host")].map { String($0.split(separator: ":")[0]) } ?? ""
            guard let picture = served[host.lowercased() + request.path] else {
                return HTTPResponse(statusCode: .notFound)
            }
            return HTTPResponse(
                statusCode: .ok, headers: [.contentType: picture.type, HTTPHeader("Cache-Control"): "max-age=86400"],
                body: picture.bytes)
        }
        let task = Task { try await server.run() }
        defer { task.cancel() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else {
            throw ValidationError("the demo's web server could not start on 127.0.0.1")
        }
        let hosts = Set(pictures.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        // The demo never leaves this machine: no web archive is asked about its dead images.
        var arguments = ["--archive", folder + "/archive", "--warc", "--no-rescue"]
        for host in hosts.sorted() { arguments += ["--connect-to", "\(host):80:127.0.0.1:\(port)"] }
        let fetch = try FetchOptionGroup.parse(arguments).settings(ConfigFile(), site: SiteInfo.discover(from: folder))
        let linker = try LinkOptionGroup.parse([]).linker(
            ConfigFile(), site: SiteInfo.discover(from: folder), archiveRoot: fetch.archiveRoot, objects: .local)

        var out = StandardOutput()
        out.write(
            "Sample blog copied to \(folder)/; its \(hosts.count) CDN hosts are served from 127.0.0.1:\(port).\n\n")
        out.flush()
        let report = try await ArchiveCommand.runJob(
            roots: [folder], file: ConfigFile(), fetch: fetch, linker: linker, verbose: true)
        await server.stop()

        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        out.write(
            """

            What to look at:
              \(folder)/_posts/2019-03-12-spring-trip.md
                  the URL that was wrapped across two lines is one line again and points at a 550 px thumbnail;
                  the image inside the code block is unchanged.
              \(folder)/_posts/2020-07-01-gallery.html
                  each srcset candidate points at the archive and keeps its 320w/640w/1024w.
              \(folder)/archive/
                  objects/ (originals, named by SHA-256), w<width>/ (thumbnails), manifest.sqlite, reports/.
              \(folder)/archive/warc/
                  the WARC records of every image exchange (*.warc.gz) and index.cdxj: a replay tool such as
                  pywb serves them as they are (docs/web-archives.md).
            Then, inside \(folder):
              \(binary) status --all            the link-rot report per post
              \(binary) rewrite --revert        put the original URLs back, byte for byte
              \(binary) archive --verbose       run the job again: nothing to fetch, nothing to change

            """)
        out.flush()
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// `host/path` of an http(s) URL, the key pictures are served under.
    static func key(_ url: String) -> String? {
        guard let c = URLComponents(string: url), let host = c.host else { return nil }
        return host.lowercased() + (c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath)
    }

    /// Empties `folder` when it is an earlier demo; refuses any other non-empty folder.
    private func prepare(_ folder: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder) else { return }
        let contents = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        guard contents.isEmpty || contents.contains(Self.marker) else {
            throw ValidationError(
                "\(folder) exists and is not an earlier demo; give another folder: imgarchive demo FOLDER")
        }
        try fm.removeItem(atPath: folder)
    }
}
