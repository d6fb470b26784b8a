public import Foundation

/// One HTTP request and its response head as they went over the wire, captured when
/// `DownloadOptions.captureExchanges` is on: what a WARC `request` and `response` record hold. One per hop of an
/// attempt (redirects first, the final response last).
public struct HTTPExchange: Sendable {
    /// The URL of this hop.
    public var url: String
    /// The address of the server (or proxy) the request went to (`CURLINFO_PRIMARY_IP`), if known.
    public var remoteAddress: String?
    /// When the request was sent.
    public var date: Date
    /// The request head exactly as libcurl sent it: request line, every header field (libcurl's own Host, Accept,
    /// Accept-Encoding included) and the blank line, with their CRLFs.
    public var requestHead: [UInt8]
    /// The response head as received: status line, fields and the blank line, with their line ends; empty when no
    /// response arrived (a connection that failed, a timeout before the head). Interim 1xx heads are dropped.
    public var responseHead: [UInt8] = []

    /// Creates an exchange.
    public init(url: String, remoteAddress: String?, date: Date, requestHead: [UInt8], responseHead: [UInt8] = []) {
        self.url = url
        self.remoteAddress = remoteAddress
        self.date = date
        self.requestHead = requestHead
        self.responseHead = responseHead
    }

    /// The response's status code, read from its status line (nil when no response arrived).
    public var status: Int? {
        guard let end = responseHead.firstIndex(of: 0x0A) else { return nil }
        let line = String(decoding: responseHead[..<end], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }

    /// The value of the response header `name` (case-insensitive), the first one if repeated.
    public func responseHeader(_ name: String) -> String? {
        let lowered = name.lowercased()
        for line in String(decoding: responseHead, as: UTF8.self).split(whereSeparator: \.isNewline).dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == lowered {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
