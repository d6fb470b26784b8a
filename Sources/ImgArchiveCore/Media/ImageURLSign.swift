extension ImageFormat {
    /// The file extensions (lower case, no dot) that mark a URL's path as an image: every format imgarchive
    /// recognises, their other spellings, and the camera and legacy formats posts link to.
    public static let urlExtensions: Set<String> = [
        "jpg", "jpeg", "jpe", "jfif", "pjpeg", "pjp", "png", "apng", "gif", "webp", "avif", "svg", "svgz", "bmp",
        "ico", "cur", "tif", "tiff", "heic", "heif", "jxl",
    ]

    /// Whether the last segment of a URL's path ends in an image extension (`https://h/a/b.JPG?x=1#y` does;
    /// `https://h/a.jpg/page` and `https://h/img?f=a.jpg` do not).
    public static func hasImageExtension(url: String) -> Bool {
        var path = Substring(url)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        if let scheme = path.range(of: "://") {
            path = path[scheme.upperBound...]
        } else if path.hasPrefix("//") {
            path = path.dropFirst(2)
        }
        guard let slash = path.firstIndex(of: "/") else { return false }  // a bare host has no file name
        let name = path[path.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false).last
        guard let name, let dot = name.lastIndex(of: "."), name.index(after: dot) < name.endIndex else { return false }
        let ext = name[name.index(after: dot)...]
        return ext.utf8.count <= 5 && urlExtensions.contains(ext.lowercased())
    }
}

extension CDNRules {
    /// Whether a URL bears a sign of being an image: an image extension on its path, or a CDN rule that knows it
    /// (`pbs.twimg.com/media/X?format=jpg`, an imgix or Cloudinary URL, ...). The one test of "is this URL an
    /// image" for syntax whose URLs may be anything (template parameters, front-matter values, link targets).
    public func isImageURL(_ url: String) -> Bool {
        ImageFormat.hasImageExtension(url: url) || resolve(url).rule != nil
    }
}
