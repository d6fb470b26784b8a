/// Why a URL is not archived (or why its latest check failed): the class reports, `status` and the manifest's
/// `url.error_class` column show. The raw values are the archive format's strings; never rename one.
public enum FailureClass: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The host name could not be resolved.
    case dns
    /// The connection could not be made, or broke.
    case connect
    /// The connect or total timeout ran out.
    case timeout
    /// The transfer moved too slowly for too long.
    case stalled
    /// The server answered 4xx.
    case http4xx = "http-4xx"
    /// The server answered 5xx.
    case http5xx = "http-5xx"
    /// Any other final status (1xx, 3xx without a usable Location, ...).
    case httpOther = "http-other"
    /// A 2xx whose body is not a known image (HTML, JSON, empty, ...).
    case notAnImage = "not-an-image"
    /// The body sniffs as an image and as HTML or script at once (a polyglot); not archived.
    case polyglot
    /// The body is larger than the byte cap.
    case tooLarge = "too-large"
    /// The body ended early: before its Content-Length or last chunk, or, with neither, before the image ended.
    case truncated
    /// The URL or a redirect used a scheme other than http or https.
    case blockedScheme = "blocked-scheme"
    /// More redirects than allowed, or a redirect loop.
    case tooManyRedirects = "too-many-redirects"
    /// A connection to an address that is not public (loopback, private, link-local, ...) was refused;
    /// `allow-addresses:` opens it (docs/security.md).
    case blockedAddress = "blocked-address"
    /// The response's headers were larger than libcurl accepts (a line over 100 KB, or 300 KB in all).
    case headersTooLarge = "headers-too-large"
    /// The TLS handshake or certificate check failed.
    case tls
    /// Writing the temporary file, or storing or recording the download, failed.
    case io
    /// The request itself is unusable (malformed URL, a header with a line break, ...).
    case invalidRequest = "invalid-request"
    /// The caller's task was cancelled or the downloader shut down.
    case cancelled
    /// The archive's disk (or quota) is full: the run stopped; no manifest row is written for it.
    case diskFull = "disk-full"
    /// An archived SVG that cannot be published (its sanitized copy was refused): `status` only.
    case unsafeSVG = "unsafe-svg"
    /// Anything else libcurl reported.
    case other

    /// The class as reports and the manifest write it.
    public var description: String { rawValue }
}

extension FailureClass: Decodable {
    /// Decodes a stored class; one this version does not know (written by a newer imgarchive) reads as `other`,
    /// so an older binary can still report on the archive.
    public init(from decoder: any Decoder) throws {
        self = FailureClass(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .other
    }
}
