/// One image to archive: the URL a post asks for, the original behind it, and the widths posts show it at.
public struct FetchItem: Sendable, Hashable {
    /// The URL as written (resolved); the manifest's key.
    public var url: String
    /// The original asset the CDN rules give (the URL itself when no rule knows it).
    public var origin: String
    /// The widths posts display it at, for thumbnails.
    public var widths: Set<Int>
    /// A post that references it, for messages and the Referer ladder (nil for `--urls`).
    public var post: String?
    /// Every reference to it is a link target (`link-image`): a page in its place is left alone, not a failure.
    public var linkOnly: Bool

    /// Creates an item.
    public init(url: String, origin: String, widths: Set<Int> = [], post: String? = nil, linkOnly: Bool = false) {
        self.url = url
        self.origin = origin
        self.widths = widths
        self.post = post
        self.linkOnly = linkOnly
    }

    /// Groups references by URL: one item per distinct remote URL, with every width it is shown at.
    public static func items(from references: [(post: String?, reference: ImageReference)]) -> [FetchItem] {
        var order: [String] = []
        var byURL: [String: FetchItem] = [:]
        for (post, r) in references where r.remote {
            if byURL[r.url] == nil {
                order.append(r.url)
                byURL[r.url] = FetchItem(url: r.url, origin: r.origin, post: post, linkOnly: true)
            }
            if r.kind != .linkImage { byURL[r.url]?.linkOnly = false }
            if let w = r.width { byURL[r.url]?.widths.insert(w) }
        }
        return order.compactMap { byURL[$0] }
    }
}

/// The fetch pipeline's decisions, apart from any I/O.
public enum FetchPlanning {
    /// Whether a link target has no image sign (no image extension, no CDN origin): only the server's answer
    /// says whether it is an image, so a page or a 4xx is no failure, and neither is an answer that never came.
    public static func isUnsignedLink(url: String, origin: String?) -> Bool {
        (origin == nil || origin == url) && !ImageFormat.hasImageExtension(url: url)
    }

    /// The URLs to try for an item, in order: the original first, then the URL as written.
    public static func candidates(for item: FetchItem) -> [String] {
        item.origin == item.url ? [item.url] : [item.origin, item.url]
    }

    /// The Referer ladder tried after a 403: no Referer, the image host's own origin, then the site's URL.
    /// Entries equal to the Referer already sent (from a host profile) are left out.
    public static func refererLadder(imageURL: String, siteURL: String?, sentReferer: String?) -> [String?] {
        var ladder: [String?] = [nil]
        if let origin = origin(of: imageURL) { ladder.append(origin) }
        if let site = siteURL, !site.isEmpty { ladder.append(site) }
        var seen = Set<String?>()
        if let sent = sentReferer { seen.insert(sent) } else { seen.insert(nil) }
        return ladder.filter { seen.insert($0).inserted }
    }

    /// `scheme://host[:port]/` of an http(s) URL.
    public static func origin(of url: String) -> String? {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard hostEnd > rest.startIndex else { return nil }
        var authority = rest[..<hostEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return url[..<schemeEnd.upperBound].lowercased() + authority.lowercased() + "/"
    }

    /// The host of an http(s) URL, lower-cased, without port or credentials.
    public static func host(of url: String) -> String? {
        guard let o = origin(of: url) else { return nil }
        var h = o.drop(while: { $0 != "/" }).dropFirst(2).dropLast()
        if h.hasPrefix("[") {
            if let close = h.firstIndex(of: "]") { h = h[...close] }
        } else if let colon = h.lastIndex(of: ":") {
            h = h[..<colon]
        }
        return String(h)
    }

    /// Which widths need a derivative: those below the image's width (never upscale). At or above it the
    /// reference uses the original.
    public static func thumbnailWidths(requested: Set<Int>, imageWidth: Int?) -> [Int] {
        guard let imageWidth else { return [] }
        return requested.filter { $0 > 0 && $0 < imageWidth }.sorted()
    }
}
