public import ImgArchiveCore

/// Why a download failed: a class (`code`), the URL, the last HTTP status and libcurl code, and what to do.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    /// A failure class (`FailureClass`); its raw value is the string used in reports and the manifest.
    public typealias Code = FailureClass

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
    /// The last attempt's messages as they went over the wire, hop by hop, the failed response's head included
    /// when one arrived (only with `DownloadOptions.captureExchanges`).
    public var exchanges: [HTTPExchange] = []

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
        var text = "\(code.rawValue): \(url)"
        var facts: [String] = []
        if let httpStatus { facts.append("HTTP \(httpStatus)") }
        facts.append(attempts == 1 ? "1 attempt" : "\(attempts) attempts")
        text += " (\(facts.joined(separator: ", "))): \(message)"
        if let detail, !detail.isEmpty { text += " [\(detail)]" }
        return text
    }
}
