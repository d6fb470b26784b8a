public import Foundation
import Yams

/// A problem in the configuration file, with the file, the line and the fix.
public struct ConfigFileError: Error, Sendable, CustomStringConvertible {
    /// The configuration file.
    public var path: String
    /// The 1-based line of the offending key or value, when known.
    public var line: Int?
    /// What is wrong and how to fix it.
    public var message: String

    /// Creates an error.
    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Request headers for the hosts a pattern names: `host`, or `*.domain` for the domain and its subdomains.
public struct HostProfile: Sendable {
    /// The pattern as written.
    public var pattern: String
    /// Headers sent to matching hosts (Referer, User-Agent, Cookie, ...), in the order written.
    public var headers: [(name: String, value: String)]

    /// Creates a profile.
    public init(pattern: String, headers: [(name: String, value: String)]) {
        self.pattern = pattern
        self.headers = headers
    }

    /// Whether the profile applies to `host` (compared case-insensitively).
    public func matches(host: String) -> Bool {
        HostPattern.matches(pattern, host: host)
    }

    /// The profile for a host: the first whose pattern matches.
    public static func first(in profiles: [HostProfile], host: String) -> HostProfile? {
        profiles.first { $0.matches(host: host) }
    }
}

/// `imgarchive.yml`: every setting a command-line option can also give, plus CDN rules and host profiles.
/// Read with a real YAML parser; an unknown key or a bad value is an error naming the file, the line and the fix.
public struct ConfigFile: Sendable {
    /// Where it was read from (nil for the defaults).
    public var path: String?
    /// The archive folder.
    public var archive: String?
    /// The site's public URL, for the Referer ladder (`url` in Jekyll/Hexo, `baseURL` in Hugo, when unset).
    public var siteURL: String?
    /// Front-matter fields that hold images.
    public var frontMatterFields: [String]?
    /// Template tags and their image parameters, over the defaults (a name given here replaces its default list).
    public var templates: [String: Set<String>] = [:]
    /// Extra CDN rules, tried before the built-in ones.
    public var cdnRules: [CDNRule] = []
    /// Request headers per host.
    public var hostProfiles: [HostProfile] = []
    /// Download settings.
    public var jobs: Int?
    public var perHost: Int?
    public var retries: Int?
    /// Total time for one request, in seconds.
    public var timeout: Int?
    public var maxBytes: Int64?
    public var userAgent: String?
    /// `HOST:PORT:ADDR:PORT` entries, as `--connect-to`.
    public var connectTo: [String] = []
    /// Hosts and networks that may be fetched although their addresses are not public (docs/security.md).
    public var allowAddresses: [AddressAllowance] = []
    /// Re-check archived URLs whose last check is older than this many seconds.
    public var revalidateAfter: TimeInterval?
    /// Thumbnail JPEG quality (1-100).
    public var quality: Int?
    /// The largest image, in pixels, that is decoded.
    public var maxPixels: Int?
    /// The memory budget of a run's thumbnails, in bytes.
    public var thumbnailMemory: Int64?
    /// How rewritten posts link the archive: `absolute` or `relative`, as `--links`.
    public var links: String?
    /// The prefix of links to the archive, as `--archive-url`.
    public var archiveURL: String?
    /// Where the manifest lives, as `--manifest`: `sqlite` (the archive folder's file) or a PostgreSQL URL.
    public var manifest: String?
    /// Whether the targets of links to images are archived (`link-images`, default true).
    public var linkImages: Bool?
    /// Whether fetch writes WARC records into `archive/warc/` (`warc`, default false), as `--warc`.
    public var warc: Bool?
    /// The size at which a WARC file is finished (`warc-size`), in bytes.
    public var warcSize: Int64?
    /// Whether images dead on the web are asked of web archives (`rescue`, default true).
    public var rescue: Bool?
    /// The Memento TimeGates a rescue asks, in order (`timegates`), normalized to end with `/`.
    public var timegates: [String]?
    /// Seconds before a URL the archives had no image for is asked about again (`rescue-after`).
    public var rescueAfter: TimeInterval?
    /// Where archived files live when not in the archive folder: `s3://bucket/prefix` (docs/scale-out.md).
    public var objects: String?
    /// The S3 server's URL, for `objects: s3://...`.
    public var s3Endpoint: String?
    /// The region S3 requests are signed for.
    public var s3Region: String?

    /// The defaults.
    public init() {}

    /// The keys this file may hold, with what each takes (for error messages).
    public static let keys: [(String, String)] = [
        ("archive", "a folder"), ("site-url", "a URL"), ("front-matter-fields", "a list of field names"),
        ("templates", "a mapping of shortcode, tag or include names to their image parameters"),
        ("cdn-rules", "a list of rules (docs/cdn-rules.md)"), ("hosts", "a mapping of host patterns to headers"),
        ("jobs", "a whole number from 1 to 256"), ("per-host", "a whole number from 1 to 64"),
        ("retries", "a whole number from 0 to 20"), ("timeout", "seconds, from 1 to 3600"),
        ("max-bytes", "a size such as 50MB"), ("user-agent", "a string"),
        ("connect-to", "a list of HOST:PORT:ADDR:PORT"), ("revalidate-after", "a duration such as 30d or 12h"),
        ("quality", "a whole number from 1 to 100"), ("max-pixels", "a whole number such as 100000000"),
        ("thumbnail-memory", "a size such as 512MB, at least 16MB"),
        ("links", "absolute or relative"), ("archive-url", "a URL or path prefix such as /blog/archive"),
        ("link-images", "true or false"), ("warc", "true or false"), ("warc-size", "a size such as 1GB, at least 64KB"),
        ("manifest", "sqlite or a PostgreSQL URL such as postgres://user@db.example:5432/imgarchive"),
        ("allow-addresses", "a list of host names (*.example.com) and networks (10.0.0.0/8, fd00::/8)"),
        ("rescue", "true or false"), ("timegates", "a list of Memento TimeGate URLs"),
        ("rescue-after", "a duration such as 30d"),
        ("objects", "s3://BUCKET/PREFIX"), ("s3-endpoint", "the S3 server's URL, http:// or https://"),
        ("s3-region", "a region name such as us-east-1"),
    ]

    /// Keys that would put bucket credentials in the file: refused with where they go instead.
    static let credentialKeys: Set<String> = [
        "aws-access-key-id", "aws-secret-access-key", "aws-session-token", "s3-access-key", "s3-secret-key",
        "s3-access-key-id", "s3-secret-access-key", "access-key", "secret-key",
    ]

    /// Reads `path`.
    public static func load(path: String) throws(ConfigFileError) -> ConfigFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigFileError(
                path: path, line: nil, message: "cannot read the configuration file (\(error.localizedDescription))")
        }
        return try parse(text, path: path)
    }

    /// Parses configuration text.
    public static func parse(_ text: String, path: String) throws(ConfigFileError) -> ConfigFile {
        var config = ConfigFile()
        config.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            let message = String(describing: error).split(separator: "\n").first.map(String.init) ?? "parse error"
            throw ConfigFileError(path: path, line: nil, message: "not valid YAML: \(message)")
        }
        guard let root else { return config }
        guard case .mapping(let mapping) = root else {
            throw ConfigFileError(
                path: path, line: root.mark?.line, message: "expected key: value lines at the top level")
        }
        let known = Set(keys.map(\.0))
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let line = keyNode.mark?.line
            guard !credentialKeys.contains(key.lowercased().replacingOccurrences(of: "_", with: "-")) else {
                throw ConfigFileError(
                    path: path, line: line,
                    message: "'\(key)': credentials never go in imgarchive.yml; remove it and set "
                        + "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment of the run")
            }
            guard known.contains(key) else {
                let suggestion = keys.map(\.0).min { editDistance($0, key) < editDistance($1, key) } ?? ""
                throw ConfigFileError(
                    path: path, line: line,
                    message: "unknown key '\(key)'"
                        + (editDistance(suggestion, key) <= 3 ? " (did you mean '\(suggestion)'?)" : "")
                        + "; known keys: " + keys.map(\.0).joined(separator: ", "))
            }
            let reader = ValueReader(path: path, key: key, node: value)
            switch key {
            case "archive": config.archive = try reader.string()
            case "site-url": config.siteURL = try reader.string()
            case "front-matter-fields": config.frontMatterFields = try reader.strings()
            case "templates": config.templates = try reader.templates()
            case "cdn-rules":
                do {
                    config.cdnRules = try CDNRules.decodeRules(yaml: text)
                } catch {
                    throw ConfigFileError(path: path, line: line, message: "\(error)")
                }
            case "hosts": config.hostProfiles = try reader.hostProfiles()
            case "jobs": config.jobs = try reader.integer(in: 1...256)
            case "per-host": config.perHost = try reader.integer(in: 1...64)
            case "retries": config.retries = try reader.integer(in: 0...20)
            case "timeout": config.timeout = try reader.integer(in: 1...3600)
            case "max-bytes": config.maxBytes = try reader.byteSize()
            case "user-agent": config.userAgent = try reader.string()
            case "connect-to": config.connectTo = try reader.strings()
            case "revalidate-after": config.revalidateAfter = try reader.duration()
            case "quality": config.quality = try reader.integer(in: 1...100)
            case "max-pixels": config.maxPixels = try reader.integer(in: 1...1_000_000_000)
            case "thumbnail-memory":
                let n = try reader.byteSize()
                guard n >= 16_000_000 else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "thumbnail-memory: \(n) bytes is too small to make thumbnails; write a size "
                            + "such as 512MB (at least 16MB)")
                }
                config.thumbnailMemory = n
            case "links":
                let style = try reader.string()
                guard style == "absolute" || style == "relative" else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "links: '\(style)' is not a link style; write absolute or relative")
                }
                config.links = style
            case "archive-url": config.archiveURL = try reader.string()
            case "manifest":
                let location = try reader.string()
                if let problem = Self.manifestProblem(location) {
                    throw ConfigFileError(path: path, line: value.mark?.line, message: "manifest: \(problem)")
                }
                config.manifest = location
            case "link-images": config.linkImages = try reader.boolean()
            case "warc": config.warc = try reader.boolean()
            case "warc-size":
                let n = try reader.byteSize()
                guard n >= 64_000 else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "warc-size: \(n) bytes is too small for a WARC file; write a size such as 1GB "
                            + "(at least 64KB)")
                }
                config.warcSize = n
            case "allow-addresses": config.allowAddresses = try reader.allowances()
            case "rescue": config.rescue = try reader.boolean()
            case "timegates":
                var gates: [String] = []
                for text in try reader.strings() {
                    guard let gate = Memento.normalizedTimeGate(text) else {
                        throw ConfigFileError(
                            path: path, line: value.mark?.line,
                            message: "timegates: '\(text)' is not an http or https URL; write a Memento TimeGate "
                                + "such as https://web.archive.org/web/")
                    }
                    gates.append(gate)
                }
                config.timegates = gates
            case "rescue-after": config.rescueAfter = try reader.duration()
            case "objects":
                let objects = try reader.string()
                guard objects.hasPrefix("s3://"), objects.count > 5 else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "objects: '\(objects)' is not a bucket; write s3://BUCKET or s3://BUCKET/PREFIX, or "
                            + "leave 'objects' out to keep the files in the archive folder")
                }
                config.objects = objects
            case "s3-endpoint":
                let endpoint = try reader.string()
                guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://"),
                    URL(string: endpoint)?.host?.isEmpty == false, !endpoint.contains("@")
                else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "s3-endpoint: '\(endpoint)' is not an http:// or https:// URL of an S3 server, such "
                            + "as https://s3.eu-west-1.amazonaws.com (and holds no user or password)")
                }
                config.s3Endpoint = endpoint
            case "s3-region":
                let region = try reader.string()
                guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                    throw ConfigFileError(
                        path: path, line: value.mark?.line,
                        message: "s3-region: '\(region)' is not a region name; write one such as us-east-1")
                }
                config.s3Region = region
            default: break
            }
        }
        return config
    }

    /// Why a `manifest:` value (or `--manifest`) cannot be used, nil when it can: `sqlite`, or a `postgres://`
    /// URL with a host and no password (the password comes from PGPASSWORD or ~/.pgpass, never the file).
    public static func manifestProblem(_ text: String) -> String? {
        if text == "sqlite" { return nil }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let components = URLComponents(string: text), components.host?.isEmpty == false
        else {
            return "'\(text)' is neither sqlite nor a PostgreSQL URL such as postgres://user@db.example:5432/imgarchive"
        }
        guard components.password == nil else {
            return "the URL holds a password; remove it and give it in PGPASSWORD or ~/.pgpass"
        }
        return nil
    }

    /// The scanner options this configuration asks for.
    public var scanOptions: ScanOptions {
        ScanOptions(
            frontMatterFields: frontMatterFields ?? ScanOptions.defaultFrontMatterFields,
            cdnRules: cdnRules.isEmpty ? .builtIn : CDNRules.builtIn.adding(userRules: cdnRules),
            templates: ScanOptions.defaultTemplates.merging(templates) { _, configured in configured },
            linkImages: linkImages ?? true)
    }

    /// Levenshtein distance, for "did you mean".
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Parses a duration: `30d`, `12h`, `45m`, `90s`, `2w`, or plain seconds.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let last = t.last, let unit = units[last], let n = Double(t.dropLast()), n >= 0 { return n * unit }
        if let n = Double(t), n >= 0 { return n }
        return nil
    }

    /// Parses a byte size: `50MB`, `512k`, `1GiB`, or plain bytes.
    public static func parseByteSize(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: " ", with: "")
        let units: [(String, Int64)] = [
            ("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10), ("gb", 1_000_000_000), ("mb", 1_000_000),
            ("kb", 1000), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1),
        ]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n > 0 else { return nil }
            return Int64(n * Double(factor))
        }
        return Int64(t).flatMap { $0 > 0 ? $0 : nil }
    }
}

/// Reads one value of the configuration, with errors that say which key wants what.
private struct ValueReader {
    var path: String
    var key: String
    var node: Node

    private func fail(_ wants: String) -> ConfigFileError {
        ConfigFileError(
            path: path, line: node.mark?.line,
            message: "'\(key)' must be \(wants), not '\(node.string ?? "a \(kind)")'")
    }

    private var kind: String {
        switch node {
        case .mapping: "mapping"
        case .sequence: "list"
        default: "value"
        }
    }

    func string() throws(ConfigFileError) -> String {
        guard let s = node.scalar?.string, !s.isEmpty else { throw fail("a string") }
        return s
    }

    func strings() throws(ConfigFileError) -> [String] {
        if let s = node.scalar?.string { return [s] }
        guard case .sequence(let seq) = node else { throw fail("a list of strings") }
        var out: [String] = []
        for item in seq {
            guard let s = item.scalar?.string else { throw fail("a list of strings") }
            out.append(s)
        }
        return out
    }

    func boolean() throws(ConfigFileError) -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail("true or false")
        }
    }

    func integer(in range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        guard let s = node.scalar?.string, let n = Int(s), range.contains(n) else {
            throw fail("a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func byteSize() throws(ConfigFileError) -> Int64 {
        guard let s = node.scalar?.string, let n = ConfigFile.parseByteSize(s) else {
            throw fail("a size such as 50MB or 512KiB")
        }
        return n
    }

    func duration() throws(ConfigFileError) -> TimeInterval {
        guard let s = node.scalar?.string, let d = ConfigFile.parseDuration(s) else {
            throw fail("a duration such as 30d, 12h or 90m")
        }
        return d
    }

    /// `templates:` maps tag names to the parameters that hold images: `figure: [src]`, `gallery: images`,
    /// `img: [0]` (positional parameters are numbered from 0), `image.html: [url]` for a Jekyll include.
    func templates() throws(ConfigFileError) -> [String: Set<String>] {
        guard case .mapping(let mapping) = node else {
            throw fail("a mapping of shortcode, tag or include names to their image parameters, such as {img: [src]}")
        }
        var out: [String: Set<String>] = [:]
        for (nameNode, parameters) in mapping {
            guard let name = nameNode.scalar?.string, !name.isEmpty,
                !name.contains(where: { $0.isWhitespace || "{}%<>\"'".contains($0) })
            else {
                throw ConfigFileError(
                    path: path, line: nameNode.mark?.line,
                    message: "templates: '\(nameNode.string ?? "")' is not a tag name; write the name as in the post, "
                        + "such as figure, img or image.html")
            }
            let list: [Node]
            switch parameters {
            case .scalar: list = [parameters]
            case .sequence(let items): list = Array(items)
            default:
                throw ConfigFileError(
                    path: path, line: parameters.mark?.line,
                    message:
                        "templates: '\(name)' must list its image parameters, such as \(name): [src] or \(name): [0]")
            }
            var names: Set<String> = []
            for item in list {
                guard let parameter = item.scalar?.string, !parameter.isEmpty,
                    !parameter.contains(where: { $0.isWhitespace || $0 == "=" || $0 == "\"" || $0 == "'" })
                else {
                    throw ConfigFileError(
                        path: path, line: item.mark?.line,
                        message: "templates: '\(name)' has a bad parameter name '\(item.string ?? "a list")'; "
                            + "write a name such as src, or a position such as 0")
                }
                names.insert(parameter)
            }
            out[name] = names
        }
        return out
    }

    /// `allow-addresses:` holds host patterns and networks.
    func allowances() throws(ConfigFileError) -> [AddressAllowance] {
        var out: [AddressAllowance] = []
        for entry in try strings() {
            guard let allowance = AddressAllowance(entry) else {
                throw ConfigFileError(
                    path: path, line: node.mark?.line,
                    message: "allow-addresses: '\(entry)' is neither a host name such as img.example.com or "
                        + "*.example.com nor a network such as 10.0.0.0/8, 192.168.1.20 or fd00::/8")
            }
            out.append(allowance)
        }
        return out
    }

    /// `hosts:` maps host patterns to `referer`, `user-agent` and a `headers` mapping.
    func hostProfiles() throws(ConfigFileError) -> [HostProfile] {
        guard case .mapping(let mapping) = node else { throw fail("a mapping of host patterns to headers") }
        var out: [HostProfile] = []
        for (hostNode, settings) in mapping {
            let host = hostNode.string ?? ""
            guard case .mapping(let fields) = settings else {
                throw ConfigFileError(
                    path: path, line: hostNode.mark?.line,
                    message: "hosts: '\(host)' must map to referer, user-agent or headers")
            }
            var headers: [(name: String, value: String)] = []
            for (fieldNode, value) in fields {
                let field = fieldNode.string ?? ""
                switch field {
                case "referer", "user-agent":
                    guard let v = value.scalar?.string else {
                        throw ConfigFileError(
                            path: path, line: fieldNode.mark?.line,
                            message: "hosts: '\(host).\(field)' must be a string")
                    }
                    headers.append((field == "referer" ? "Referer" : "User-Agent", v))
                case "headers":
                    guard case .mapping(let hs) = value else {
                        throw ConfigFileError(
                            path: path, line: fieldNode.mark?.line,
                            message: "hosts: '\(host).headers' must be a mapping of header names to values")
                    }
                    for (n, v) in hs {
                        guard let name = n.string, let v = v.scalar?.string,
                            !name.isEmpty, !name.contains(where: { $0 == ":" || $0.isWhitespace }),
                            !v.contains(where: { $0 == "\r" || $0 == "\n" })
                        else {
                            throw ConfigFileError(
                                path: path, line: n.mark?.line,
                                message: "hosts: '\(host).headers' has a bad header; write Name: value on one line")
                        }
                        headers.append((name, v))
                    }
                default:
                    throw ConfigFileError(
                        path: path, line: fieldNode.mark?.line,
                        message: "hosts: unknown setting '\(field)' for '\(host)'; use referer, user-agent or headers")
                }
            }
            out.append(HostProfile(pattern: host, headers: headers))
        }
        return out
    }
}
