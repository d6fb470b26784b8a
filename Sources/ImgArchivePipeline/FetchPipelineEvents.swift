public import Foundation
public import ImgArchiveCore
public import ImgArchiveFetch
public import ImgArchiveStore

/// What happened to one request of a fetch run, as the runner publishes it to its observers (`FetchObserver`):
/// the recorder (manifest rows) is one, the WARC writer (`WARCObserver`) another. Per URL candidate tried: either
/// `requestSent`, the `redirect` hops, `responseHead` and `body` (a 2xx or 304 from the server), then `captured`
/// once the body is committed (with `DownloadOptions.captureExchanges` only), or `failed`; then, per URL, one
/// `outcome`, in the order the URLs finish.
public enum FetchEvent: Sendable {
    /// The request of the attempt that answered: the URL asked for and the request header lines this program
    /// set (the host profile's, the Referer, the validators, the User-Agent); libcurl adds Host, Accept and
    /// Accept-Encoding itself.
    case requestSent(url: String, headers: [String])
    /// A redirect followed: the hop's status and its `Location` value as sent.
    case redirect(status: Int, location: String)
    /// The final response's head: the URL that answered, the status, and the header lines of every response
    /// of the attempt as libcurl delivered them (status line first, redirect hops included, line ends removed).
    case responseHead(url: String, status: Int, headerLines: [String])
    /// The body as stored: its length and SHA-256 (none on a 304).
    case body(url: String, bytes: Int, sha256: String)
    /// A candidate URL that failed (after libcurl's retries and the Referer ladder). With
    /// `DownloadOptions.captureExchanges`, `error.exchanges` holds the last attempt's raw requests and the heads of
    /// the responses that arrived (the failed one's included).
    case failed(url: String, error: FetchError)
    /// With `DownloadOptions.captureExchanges` only: a candidate's exchanges as they went over the wire (raw request
    /// heads, raw response heads, redirect hops first, the server's address) and the body as archived, published
    /// once the body is committed to the archive (at once for a 304). What a WARC writer records.
    case captured(FetchCapture)
    /// What the URL (item `index` of the run) came to: the outcome reported and the manifest row to record.
    case outcome(index: Int, outcome: URLOutcome, row: FetchOutcome?)
}

/// A candidate's HTTP exchanges and what they archived (`FetchEvent.captured`).
public struct FetchCapture: Sendable {
    /// The URL asked for.
    public var url: String
    /// Each hop's request and response as they went over the wire, the final one last.
    public var exchanges: [HTTPExchange]
    /// The archived original the final response's body became, and its file; nil on a 304.
    public var object: ObjectRecord?
    /// The object's file, to read the body from; nil on a 304.
    public var bodyFile: URL?
    /// The SHA-256 of the final response's head as a WARC record stores it followed by the body, computed as the body
    /// arrived (`DownloadOptions.digestHead`); nil when not asked for, or on a 304.
    public var headedDigest: HeadedDigest?
    /// The body's bytes in memory (`Download.heldBody`), when the run kept them: the same bytes as `bodyFile`'s.
    public var heldBody: HeldBytes?
}

/// Told every `FetchEvent` of a run, on the task that produced it: `observe` must return at once (hand the
/// event to the observer's own task; the recorder yields it to its stream).
public protocol FetchObserver: Sendable {
    /// Takes one event.
    func observe(_ event: FetchEvent)
}

extension FetchEvent {
    /// The events of one successful download: its request, redirect hops, final head and body.
    static func exchange(_ download: Download) -> [FetchEvent] {
        var events: [FetchEvent] = [.requestSent(url: download.requestedURL, headers: download.requestHeaderLines)]
        var status = 0
        var location: String?
        for line in download.responseHeaderLines {
            if line.hasPrefix("HTTP/") {
                status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
                location = nil
            } else if line.isEmpty {
                if (300..<400).contains(status), status != 304, let location {
                    events.append(.redirect(status: status, location: location))
                }
            } else if let colon = line.firstIndex(of: ":"),
                line[..<colon].lowercased() == "location"
            {
                location = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        events.append(
            .responseHead(
                url: download.finalURL, status: download.httpStatus, headerLines: download.responseHeaderLines))
        if !download.notModified {
            events.append(.body(url: download.finalURL, bytes: download.byteCount, sha256: download.sha256))
        }
        return events
    }
}
