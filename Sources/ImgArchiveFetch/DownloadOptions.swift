import Foundation
public import ImgArchiveCore

/// Limits and politeness settings for a `Downloader`; every limit is enforced by a libcurl option.
public struct DownloadOptions: Sendable {
    /// Transfers in flight at once (also libcurl's total connection limit).
    public var jobs: Int
    /// Connections (and transfers in flight) per host.
    public var perHost: Int
    /// Retries after a timeout, connection error, 408, 429 or 5xx (so at most `retries + 1` attempts).
    public var retries: Int
    /// Time allowed to set up a connection (TCP and TLS).
    public var connectTimeout: Duration
    /// Time allowed for a whole attempt, redirects included.
    public var totalTimeout: Duration
    /// An attempt is stalled when it moves fewer than `stallBytesPerSecond` for this many seconds.
    public var stallSeconds: Int
    /// The speed under which a transfer counts as stalled.
    public var stallBytesPerSecond: Int
    /// The largest body accepted, in bytes (decoded bytes when the server compresses).
    public var maxBytes: Int64
    /// Redirects followed per attempt.
    public var maxRedirects: Int
    /// The User-Agent sent unless a request's headers set another.
    public var userAgent: String
    /// libcurl `CONNECT_TO` entries, `HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT`. Their targets may be
    /// internal addresses: routing a host there is a deliberate choice.
    public var connectTo: [String]
    /// Hosts and networks that may be connected to although their addresses are not public. Every other
    /// connection to a loopback, private, link-local, ... address is refused (`blocked-address`); there is no
    /// switch that turns the guard off (docs/security.md).
    public var allowAddresses: [AddressAllowance]
    /// The proxy variables honoured as libcurl honours them (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`;
    /// `ProxyEnvironment`); the process's environment unless the initializer is given others. A transfer through a proxy has its target's
    /// resolved addresses checked instead of the proxy's (docs/security.md).
    public var proxyEnvironment: ProxyEnvironment
    /// The first retry waits about this long; each later retry doubles it (with jitter).
    public var backoffBase: Duration
    /// The longest backoff between two attempts.
    public var maxBackoff: Duration
    /// The longest wait a server's `Retry-After` may ask for; longer requests are cut to this.
    public var maxRetryAfter: Duration
    /// Capture each attempt's messages as they went over the wire (`HTTPExchange`: libcurl's raw request head, the
    /// raw response heads, the server's address) into `Download.exchanges` and `FetchError.exchanges`. Off by
    /// default: it turns on libcurl's debug callback (`CURLOPT_VERBOSE`), a small cost per request that only a
    /// run writing WARC records needs.
    public var captureExchanges = false
    /// With `captureExchanges`: makes, from the final response's raw head, a head that the body-writer lanes hash in
    /// front of the body as it arrives (`Download.headedDigest`), so a WARC writer has its record's block digest
    /// without reading the body again. Nil by default: nothing more is hashed.
    public var digestHead: (@Sendable (_ responseHead: [UInt8]) -> [UInt8])?
    /// With `digestHead`: how much memory bodies may keep, in all, for their WARC records (`Download.heldBody`), so
    /// the WARC writer copies them from memory and their files skip the page cache. The WARC writer copies a body
    /// soon after it is archived; this covers its lag behind a fast network. A body that finds no room is read back
    /// from its file.
    public var heldBodyBytes = 64 << 20
    /// Reads an image's pixel size from a body's first block (`whole`: the block is the whole body), on the
    /// body-writer lane before the block is written (`Download.imageSize`), so the archive does not read the file's
    /// header back: a body longer than one block is written `O_DIRECT`, and that read would go to the disk. It
    /// returns nil when the block does not tell (the file is read then). Nil by default: nothing is read.
    public var imageSize: (@Sendable (_ firstBlock: UnsafeRawBufferPointer, _ whole: Bool) -> PixelSize?)?

    /// The library version named in the default User-Agent.
    public static let libraryVersion = "0.1.0"

    /// The User-Agent imgarchive sends: `imgarchive/<version> (+https://github.com/imgarchive)`.
    public static func userAgent(version: String) -> String {
        "imgarchive/\(version) (+https://github.com/imgarchive)"
    }

    /// Creates options; the defaults are the command line's defaults.
    public init(
        jobs: Int = 16,
        perHost: Int = 4,
        retries: Int = 3,
        connectTimeout: Duration = .seconds(15),
        totalTimeout: Duration = .seconds(120),
        stallSeconds: Int = 30,
        stallBytesPerSecond: Int = 1,
        maxBytes: Int64 = 50_000_000,
        maxRedirects: Int = 5,
        userAgent: String = DownloadOptions.userAgent(version: DownloadOptions.libraryVersion),
        connectTo: [String] = [],
        allowAddresses: [AddressAllowance] = [],
        proxyEnvironment: ProxyEnvironment? = nil,
        backoffBase: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(30),
        maxRetryAfter: Duration = .seconds(120)
    ) {
        self.jobs = max(1, jobs)
        self.perHost = max(1, perHost)
        self.retries = max(0, retries)
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.stallSeconds = max(1, stallSeconds)
        self.stallBytesPerSecond = max(1, stallBytesPerSecond)
        self.maxBytes = max(1, maxBytes)
        self.maxRedirects = max(0, maxRedirects)
        self.userAgent = userAgent
        self.connectTo = connectTo
        self.allowAddresses = allowAddresses
        self.proxyEnvironment = proxyEnvironment ?? ProxyEnvironment(ProcessInfo.processInfo.environment)
        self.backoffBase = backoffBase
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 for any positive duration (libcurl treats 0 as "no limit").
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms <= 0 { return self > .zero ? 1 : 0 }
        return Int(clamping: ms)
    }
}
