extension ImageFormat {
    /// The file extensions (lower case, no dot) that mark a URL's path as an image: every format imgarchive
    /// recognises, their other spellings, and the camera and legacy formats posts link to.
    public static let urlExtensions: Set<String> = [
        "jpg", "jpeg", "jpe", "jfif", "pjpeg", "pjp", "png", "apng", "gif", "webp", "avif", "svg", "svgz", "bmp",
        "ico", "cur", "tif", "tiff", "heic", "heif", "jxl",
    ]

    /// Whether the last segment of a URL's path (or of a local path) ends in an image extension:
    /// `https://h/a/b.JPG?x=1#y`, `images/a.png` and Twitter's `…/a.jpg:large` do; `https://h/a.jpg/page`,
    /// `https://h/img?f=a.jpg` and a bare host such as `https://x.jpg` do not.
    public static func hasImageExtension(url: String) -> Bool {
        var path = Substring(url)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        var authority = false
        if let scheme = path.range(of: "://") {
            path = path[scheme.upperBound...]
            authority = true
        } else if path.hasPrefix("//") {
            path = path.dropFirst(2)
            authority = true
        }
        if authority {
            guard let slash = path.firstIndex(of: "/") else { return false }  // a bare host has no file name
            path = path[path.index(after: slash)...]
        }
        if let slash = path.lastIndex(of: "/") { path = path[path.index(after: slash)...] }
        if let colon = path.lastIndex(of: ":") { path = path[..<colon] }  // pbs.twimg.com's :large
        guard let dot = path.lastIndex(of: "."), path.index(after: dot) < path.endIndex else { return false }
        let ext = path[path.index(after: dot)...]
        return ext.utf8.count <= 5 && urlExtensions.contains(ext.lowercased())
    }
}

extension CDNRules {
    /// Whether a URL is a remote image by its looks: http, https or `//host`, with an image extension on its
    /// path or a CDN rule that knows it (`pbs.twimg.com/media/X?format=jpg`, an imgix or Cloudinary URL, ...).
    /// The one test of "is this URL an image" for syntax whose values may be anything (template parameters,
    /// front-matter values, link targets).
    public func isImageURL(_ url: String) -> Bool {
        let absolute: String
        if url.utf8.starts(with: "//".utf8), !url.utf8.dropFirst(2).starts(with: "/".utf8) {
            absolute = "https:" + url
        } else if let colon = url.firstIndex(of: ":"), ["http", "https"].contains(url[..<colon].lowercased()) {
            absolute = url
        } else {
            return false
        }
        return ImageFormat.hasImageExtension(url: absolute) || resolve(absolute).rule != nil
    }
}
