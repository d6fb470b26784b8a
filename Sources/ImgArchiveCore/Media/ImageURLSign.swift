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
        // On UTF-8 bytes: `?`, `#`, `/`, `:` and `.` are ASCII, and an extension is ASCII letters.
        var url = url
        return url.withUTF8 { u in
            var start = 0
            var end = u.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? u.count
            var authority = false
            if let scheme = find(u, "://", start..<end) {
                start = scheme + 3
                authority = true
            } else if end >= 2, u[0] == UInt8(ascii: "/"), u[1] == UInt8(ascii: "/") {
                start = 2
                authority = true
            }
            if authority {
                guard let slash = (start..<end).first(where: { u[$0] == UInt8(ascii: "/") }) else { return false }
                start = slash + 1  // a bare host has no file name
            }
            if let slash = (start..<end).last(where: { u[$0] == UInt8(ascii: "/") }) { start = slash + 1 }
            if let colon = (start..<end).last(where: { u[$0] == UInt8(ascii: ":") }) { end = colon }  // `:large`
            guard let dot = (start..<end).last(where: { u[$0] == UInt8(ascii: ".") }), end - dot - 1 >= 1,
                end - dot - 1 <= 5
            else { return false }
            var key: UInt64 = 1
            for i in (dot + 1)..<end {
                let c = u[i]
                let lower = c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
                key = key << 8 | UInt64(lower)
            }
            return urlExtensionKeys.contains(key)
        }
    }

    /// `urlExtensions`, each packed into an integer (a 1, then its bytes), for `hasImageExtension`.
    private static let urlExtensionKeys = Set(
        urlExtensions.map { $0.utf8.reduce(UInt64(1)) { $0 << 8 | UInt64($1) } })

    /// The first position of `literal` in `u[range]`.
    private static func find(_ u: UnsafeBufferPointer<UInt8>, _ literal: StaticString, _ range: Range<Int>) -> Int? {
        let n = literal.utf8CodeUnitCount
        guard range.count >= n else { return nil }
        let p = literal.utf8Start
        outer: for i in range.lowerBound...(range.upperBound - n) {
            for k in 0..<n where u[i + k] != p[k] { continue outer }
            return i
        }
        return nil
    }
}

extension CDNRules {
    /// Whether a URL is a remote image by its looks: http, https or `//host`, with an image extension on its
    /// path or a CDN rule that knows it (`pbs.twimg.com/media/X?format=jpg`, an imgix or Cloudinary URL, ...).
    /// The one test of "is this URL an image" for syntax whose values may be anything (template parameters,
    /// front-matter values, link targets).
    public func isImageURL(_ url: String) -> Bool {
        let absolute: String
        let u = url.utf8
        if u.starts(with: "//".utf8), !u.dropFirst(2).starts(with: "/".utf8) {
            absolute = "https:" + url
        } else if let colon = u.firstIndex(of: UInt8(ascii: ":")),
            u[..<colon].elementsEqual("http".utf8, by: { $0 | 0x20 == $1 })
                || u[..<colon].elementsEqual("https".utf8, by: { $0 | 0x20 == $1 })
        {
            absolute = url
        } else {
            return false
        }
        return ImageFormat.hasImageExtension(url: absolute) || resolve(absolute).rule != nil
    }
}
