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

    /// The items of the posts' references (`post` nil for none), then of the URL lists' entries, merged by URL in
    /// the order first seen, with every width each URL is shown at. A listed URL is wanted as an image (never
    /// link-only), at the width its CDN URL asks for.
    public static func items(
        from references: some Sequence<(post: String?, reference: ImageReference)>, listed: [URLList.Entry] = []
    ) -> [FetchItem] {
        var order: [String] = []
        var byURL: [String: FetchItem] = [:]
        func add(url: String, origin: String, post: String?, width: Int?, linkOnly: Bool) {
            if byURL[url] == nil {
                order.append(url)
                byURL[url] = FetchItem(url: url, origin: origin, post: post, linkOnly: true)
            }
            if !linkOnly { byURL[url]?.linkOnly = false }
            if let width { byURL[url]?.widths.insert(width) }
        }
        for (post, r) in references where r.remote {
            add(url: r.url, origin: r.origin, post: post, width: r.width, linkOnly: r.kind == .linkImage)
        }
        for entry in listed {
            add(url: entry.url, origin: entry.origin, post: nil, width: entry.width, linkOnly: false)
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

    /// `scheme://host[:port]/` of an http(s) URL (`URLAuthority.origin`).
    public static func origin(of url: String) -> String? {
        URLAuthority(url)?.origin
    }

    /// The host of an http(s) URL, lower-cased, without port or credentials (`URLAuthority.host`).
    public static func host(of url: String) -> String? {
        URLAuthority(url)?.host
    }

    /// Which widths need a derivative: those below the image's width (never upscale). At or above it the
    /// reference uses the original.
    public static func thumbnailWidths(requested: Set<Int>, imageWidth: Int?) -> [Int] {
        guard let imageWidth else { return [] }
        return requested.filter { $0 > 0 && $0 < imageWidth }.sorted()
    }
}
