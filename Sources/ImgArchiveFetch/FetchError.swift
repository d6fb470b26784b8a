/// Why a download failed: a class (`code`), the URL, the last HTTP status and libcurl code, and what to do.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    /// A failure class; `name` is the string used in reports and the manifest ("dns", "http-4xx", ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The class name used in reports.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// The host name could not be resolved.
        public static let dns = Code("dns")
        /// The connection could not be made, or broke.
        public static let connect = Code("connect")
        /// The connect or total timeout ran out.
        public static let timeout = Code("timeout")
        /// The transfer moved too slowly for too long.
        public static let stalled = Code("stalled")
        /// The server answered 4xx.
        public static let http4xx = Code("http-4xx")
        /// The server answered 5xx.
        public static let http5xx = Code("http-5xx")
        /// Any other final status (1xx, 3xx without a usable Location, ...).
        public static let httpOther = Code("http-other")
        /// A 2xx whose body is not a known image (HTML, JSON, empty, ...).
        public static let notAnImage = Code("not-an-image")
        /// The body sniffs as an image and as HTML or script at once (a polyglot); not archived.
        public static let polyglot = Code("polyglot")
        /// The body is larger than the byte cap.
        public static let tooLarge = Code("too-large")
        /// The body ended early: before its Content-Length or last chunk, or, with neither, before the image ended.
        public static let truncated = Code("truncated")
        /// The URL or a redirect used a scheme other than http or https.
        public static let blockedScheme = Code("blocked-scheme")
        /// More redirects than allowed, or a redirect loop.
        public static let tooManyRedirects = Code("too-many-redirects")
        /// A connection to an address that is not public (loopback, private, link-local, ...) was refused;
        /// `allow-addresses:` opens it (docs/security.md).
        public static let blockedAddress = Code("blocked-address")
        /// The response's headers were larger than libcurl accepts (a line over 100 KB, or 300 KB in all).
        public static let headersTooLarge = Code("headers-too-large")
        /// The TLS handshake or certificate check failed.
        public static let tls = Code("tls")
        /// Writing the temporary file failed.
        public static let io = Code("io")
        /// The request itself is unusable (malformed URL, a header with a line break, ...).
        public static let invalidRequest = Code("invalid-request")
        /// The caller's task was cancelled or the downloader shut down.
        public static let cancelled = Code("cancelled")
        /// Anything else libcurl reported.
        public static let other = Code("other")

        /// The class name.
        public var description: String { name }
    }

    /// The failure class.
    public var code: Code
    /// The URL that was requested.
    public var url: String
    /// The last HTTP status seen, if a response arrived.
    public var httpStatus: Int?
    /// HTTP attempts made.
    public var attempts: Int
    /// What went wrong and what to do about it.
    public var message: String
    /// The libcurl result code (`CURLcode`) behind the failure, if any.
    public var curlCode: Int?
    /// libcurl's own error text, or the system error, if any.
    public var detail: String?
    /// The server's Content-Type, for a body that is not an image (a link to a page is told from a broken image
    /// by it).
    public var contentType: String?

    /// Creates an error.
    public init(
        code: Code, url: String, httpStatus: Int? = nil, attempts: Int, message: String, curlCode: Int? = nil,
        detail: String? = nil
    ) {
        self.code = code
        self.url = url
        self.httpStatus = httpStatus
        self.attempts = attempts
        self.message = message
        self.curlCode = curlCode
        self.detail = detail
    }

    /// The message, with the detail added when the class alone does not say what happened (`other`): the text
    /// reports, `status` and the manifest show.
    public var explanation: String {
        guard code == .other, let detail, !detail.isEmpty, !message.contains(detail) else { return message }
        return "\(message): \(detail)"
    }

    /// `code: url (HTTP status, attempts): message [detail]`.
    public var description: String {
        var text = "\(code.name): \(url)"
        var facts: [String] = []
        if let httpStatus { facts.append("HTTP \(httpStatus)") }
        facts.append(attempts == 1 ? "1 attempt" : "\(attempts) attempts")
        text += " (\(facts.joined(separator: ", "))): \(message)"
        if let detail, !detail.isEmpty { text += " [\(detail)]" }
        return text
    }
}
