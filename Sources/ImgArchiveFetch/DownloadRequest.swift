public import ImgArchiveCore

/// One request header, such as a hotlink profile's `Referer` or `User-Agent`.
public struct HTTPHeaderField: Sendable, Hashable {
    /// The header name, e.g. `Referer`.
    public var name: String
    /// The header value.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// What to fetch, with which headers, and where the body may be written.
public struct DownloadRequest: Sendable {
    /// The URL to fetch (`http` or `https`; anything else fails as blocked-scheme).
    public var url: String
    /// Extra request headers (a profile's Referer, User-Agent, ...); they replace libcurl's defaults.
    public var headers: [HTTPHeaderField]
    /// Referers tried in order after a 403, each once; `nil` means "send no Referer".
    public var refererLadder: [String?]
    /// An ETag from an earlier fetch: sent as `If-None-Match`.
    public var ifNoneMatch: String?
    /// A Last-Modified value from an earlier fetch: sent as `If-Modified-Since`.
    public var ifModifiedSince: String?
    /// The directory that receives the temporary body file (e.g. `archive/tmp`); it must exist.
    public var temporaryDirectory: String

    /// Creates a request.
    public init(
        url: String,
        temporaryDirectory: String,
        headers: [HTTPHeaderField] = [],
        refererLadder: [String?] = [],
        ifNoneMatch: String? = nil,
        ifModifiedSince: String? = nil
    ) {
        self.url = url
        self.temporaryDirectory = temporaryDirectory
        self.headers = headers
        self.refererLadder = refererLadder
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
    }
}

/// A finished fetch: an image in a temporary file, or a `304 Not Modified`.
public struct Download: Sendable {
    /// The URL that was asked for.
    public var requestedURL: String
    /// The URL that answered, after redirects.
    public var finalURL: String
    /// The final HTTP status (2xx, or 304).
    public var httpStatus: Int
    /// True when the server answered 304 to a conditional request: no file, nothing changed.
    public var notModified: Bool
    /// The body's temporary file; the caller renames it into the archive or deletes it. Nil on 304.
    public var temporaryFile: String?
    /// SHA-256 of the body, lowercase hex (of the decoded bytes when the server compressed them); empty on 304.
    public var sha256: String
    /// Bytes in the body.
    public var byteCount: Int
    /// The format found by sniffing the body's first bytes (nil only on 304).
    public var format: ImageFormat?
    /// The server's Content-Type, for the record only (never trusted).
    public var contentType: String?
    /// The server's ETag, for a later conditional request.
    public var etag: String?
    /// The server's Last-Modified, for a later conditional request.
    public var lastModified: String?
    /// HTTP attempts made, retries and Referer fallbacks included.
    public var attempts: Int
    /// The Referer sent on the attempt that succeeded (nil when none was sent).
    public var refererUsed: String?
    /// The request header lines set on the attempt that succeeded (the caller's headers, the Referer, the
    /// validators, the User-Agent); libcurl adds Host, Accept and Accept-Encoding itself.
    public var requestHeaderLines: [String] = []
    /// The response header lines of the attempt that succeeded as libcurl delivered them, line ends removed:
    /// each response's status line, its fields and a blank line, redirect hops first.
    public var responseHeaderLines: [String] = []
    /// The attempt's messages as they went over the wire, hop by hop (only with
    /// `DownloadOptions.captureExchanges`).
    public var exchanges: [HTTPExchange] = []
    /// With `DownloadOptions.digestHead`: the SHA-256 of the head it made followed by the body, computed as the body
    /// arrived (nil without it, or on 304).
    public var headedDigest: HeadedDigest?
    /// With `DownloadOptions.digestHead`: the body's bytes, kept in memory for its WARC record while the run has
    /// room for them (nil otherwise: read `temporaryFile`). Dropping the last reference gives the memory back.
    public var heldBody: HeldBytes?
    /// With `DownloadOptions.imageSize`: the image's pixel size, read from the body's first block as it was written
    /// (nil when that block did not tell: read the file).
    public var imageSize: PixelSize?
}

/// An image's upright pixel size, as its header gives it (`DownloadOptions.imageSize`).
public struct PixelSize: Sendable, Hashable {
    /// Pixels across.
    public var width: Int
    /// Pixels down.
    public var height: Int

    /// Creates a size.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// The SHA-256 of a head followed by a body (`DownloadOptions.digestHead`): what a WARC `response` record's block
/// digest covers, computed on the body-writer lanes as the body arrives.
public struct HeadedDigest: Sendable, Equatable {
    /// The head hashed in front of the body.
    public var head: [UInt8]
    /// The SHA-256 of `head` then the body (32 bytes).
    public var sha256: [UInt8]

    /// Creates a digest record.
    public init(head: [UInt8], sha256: [UInt8]) {
        self.head = head
        self.sha256 = sha256
    }
}
