/// Whether a URL looks like an image without fetching it: the one answer the scanner's "any value that is an
/// image URL" rules (front matter at any depth, links to images, template parameters) share.
public enum ImageSign {
    /// File name extensions of images (compared case-insensitively, without the dot).
    public static let extensions: Set<String> = [
        "jpg", "jpeg", "jpe", "jfif", "pjpeg", "png", "apng", "gif", "webp", "avif", "svg", "bmp", "ico", "tif",
        "tiff", "heic", "heif", "jxl",
    ]

    /// Whether `url` is a remote (http, https or `//host`) URL with an image sign: its path ends in an image
    /// extension, or a CDN rule knows it.
    public static func isImageURL(_ url: String, rules: CDNRules) -> Bool {
        let bytes = Array(url.utf8)
        let absolute: String
        if hasPrefix(bytes, "http://") || hasPrefix(bytes, "https://") {
            absolute = url
        } else if bytes.count > 2, bytes[0] == ASCII.slash, bytes[1] == ASCII.slash, bytes[2] != ASCII.slash {
            absolute = "https:" + url
        } else {
            return false
        }
        return hasImageExtension(url) || rules.resolve(absolute).rule != nil
    }

    /// Whether the path of `url` (before any `?` or `#`) ends in an image extension. A Twitter-style `:large`
    /// suffix after the extension counts.
    public static func hasImageExtension(_ url: String) -> Bool {
        var path = Substring(url)
        if let cut = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<cut] }
        if let slash = path.lastIndex(of: "/") { path = path[path.index(after: slash)...] }
        if let colon = path.lastIndex(of: ":") { path = path[..<colon] }
        guard let dot = path.lastIndex(of: ".") else { return false }
        let ext = path[path.index(after: dot)...]
        guard !ext.isEmpty, ext.utf8.count <= 5 else { return false }
        return extensions.contains(ext.lowercased())
    }

    private static func hasPrefix(_ s: [UInt8], _ p: StaticString) -> Bool {
        let n = p.utf8CodeUnitCount
        guard s.count >= n else { return false }
        for k in 0..<n where ASCII.lower(s[k]) != p.utf8Start[k] { return false }
        return true
    }
}
