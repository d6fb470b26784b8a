import Foundation
import Yams

/// What a static site's own configuration says about where it is published.
public struct SiteInfo: Sendable, Hashable {
    /// The folder holding the site's configuration.
    public var root: String
    /// The generator whose configuration was found.
    public var generator: String
    /// The public URL (`url` in Jekyll and Hexo, `baseURL` in Hugo), when set.
    public var url: String?
    /// The base path the site is served under (`baseurl` in Jekyll, `root` in Hexo, the path of Hugo's
    /// `baseURL`), without a trailing slash; empty at the domain's root.
    public var basePath: String

    /// Looks for `_config.yml` (Jekyll, Hexo), `hugo.toml`, `hugo.yaml`, `config.toml` or `config.yaml` (Hugo)
    /// in `start` and its parents.
    public static func discover(from start: String) -> SiteInfo? {
        var folder = URL(fileURLWithPath: start).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            folder.deleteLastPathComponent()
        }
        for _ in 0..<32 {
            if let info = read(folder.path) { return info }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        return nil
    }

    private static func read(_ folder: String) -> SiteInfo? {
        let fm = FileManager.default
        let jekyll = folder + "/_config.yml"
        if fm.fileExists(atPath: jekyll), let text = try? String(contentsOfFile: jekyll, encoding: .utf8) {
            let map = (try? Yams.load(yaml: text)) as? [String: Any] ?? [:]
            let hexo = map["root"] != nil || fm.fileExists(atPath: folder + "/scaffolds")
            let base = (hexo ? map["root"] : map["baseurl"]) as? String ?? ""
            return SiteInfo(
                root: folder, generator: hexo ? "hexo" : "jekyll", url: map["url"] as? String,
                basePath: normalizedBase(base))
        }
        for name in ["hugo.yaml", "hugo.yml", "config.yaml", "config.yml"] {
            let path = folder + "/" + name
            if fm.fileExists(atPath: path), let text = try? String(contentsOfFile: path, encoding: .utf8),
                let map = (try? Yams.load(yaml: text)) as? [String: Any], let base = map["baseURL"] as? String
            {
                return hugo(folder, base)
            }
        }
        for name in ["hugo.toml", "config.toml"] {
            let path = folder + "/" + name
            guard fm.fileExists(atPath: path), let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                continue
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "baseURL" else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(
                    in: CharacterSet(charactersIn: "\"'"))
                return hugo(folder, value)
            }
            return SiteInfo(root: folder, generator: "hugo", url: nil, basePath: "")
        }
        return nil
    }

    private static func hugo(_ folder: String, _ baseURL: String) -> SiteInfo {
        let path = URLComponents(string: baseURL)?.path ?? ""
        return SiteInfo(root: folder, generator: "hugo", url: baseURL, basePath: normalizedBase(path))
    }

    private static func normalizedBase(_ base: String) -> String {
        var b = base.trimmingCharacters(in: .whitespaces)
        while b.hasSuffix("/") { b.removeLast() }
        if !b.isEmpty && !b.hasPrefix("/") { b = "/" + b }
        return b
    }
}
