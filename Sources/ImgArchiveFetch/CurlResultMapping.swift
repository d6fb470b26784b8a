internal import CCurl
import ImgArchiveCore

/// The one place where libcurl result codes become failure classes, with the advice shown to users.
enum CurlResultMapping {
    /// The class and message for a libcurl failure. `errorText` is libcurl's error buffer (or, when empty,
    /// `curl_easy_strerror`), used to tell a stall ("Operation too slow") from a timeout, both
    /// `CURLE_OPERATION_TIMEDOUT`, and oversized headers from a broken connection, both `CURLE_RECV_ERROR`.
    /// `refusal` is the connection the address policy refused during the attempt, if any.
    static func classify(_ code: CURLcode, errorText: String, refusal: AddressRefusal? = nil)
        -> (code: FetchError.Code, message: String)
    {
        if let refusal, code == CURLE_COULDNT_CONNECT {
            return (.blockedAddress, refusal.message)
        }
        switch code {
        case CURLE_RECV_ERROR where errorText.isCurlHeaderLimitMessage, CURLE_OUT_OF_MEMORY, CurlResultMapping.tooLarge:
            // 7.88 fails a header line over 100 KB with CURLE_OUT_OF_MEMORY and no text, and headers over
            // 300 KB in all with CURLE_RECV_ERROR "Too large response headers"; 8.6+ says CURLE_TOO_LARGE.
            return (
                .headersTooLarge,
                "the response headers are too large (a line over 100 KB or 300 KB in all; libcurl reports that "
                    + "as out of memory); the server is misbehaving, and trying again would not help"
            )
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return (.dns, "the host name does not resolve; check the URL, or map the host with --connect-to")
        case CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
            CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR:
            return (.connect, "the connection failed or broke; the server may be down, try again later")
        case CURLE_OPERATION_TIMEDOUT:
            if errorText.isCurlStallMessage {
                return (.stalled, "the transfer stalled; the server is too slow, try again later")
            }
            return (.timeout, "the server did not answer in time; try again later or raise --timeout")
        case CURLE_FILESIZE_EXCEEDED:
            return (.tooLarge, "the image is larger than the byte cap; raise --max-bytes to keep it")
        case CURLE_PARTIAL_FILE:
            return (.truncated, "the body ended early (before its Content-Length or last chunk); try again later")
        case CURLE_UNSUPPORTED_PROTOCOL:
            return (.blockedScheme, "only http and https are fetched (also for redirects)")
        case CURLE_TOO_MANY_REDIRECTS:
            return (.tooManyRedirects, "too many redirects (or a loop); check the URL in a browser")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return (.tls, "the TLS handshake or certificate check failed; the host's certificate may be invalid")
        case CURLE_URL_MALFORMAT, CURLE_BAD_FUNCTION_ARGUMENT:
            return (.invalidRequest, "the URL is malformed; fix it in the post")
        case CURLE_WRITE_ERROR:
            return (.io, "the body could not be written to the temporary directory; check disk space")
        case CURLE_ABORTED_BY_CALLBACK:
            return (.cancelled, "the download was cancelled")
        default:
            return (.other, "libcurl failed (error \(code.rawValue))")
        }
    }

    /// Whether a failure class is worth another attempt (timeouts and broken connections).
    static func isRetriable(_ code: FetchError.Code) -> Bool {
        code == .timeout || code == .stalled || code == .connect || code == .truncated
    }

    /// The class, message and retriability of a final HTTP status that is not a success.
    static func classify(httpStatus status: Int) -> (code: FetchError.Code, message: String, retriable: Bool) {
        switch status {
        case 408:
            return (.http4xx, "the server timed out the request (408); try again later", true)
        case 429:
            return (.http4xx, "the server is rate limiting (429); try again later or lower --jobs/--per-host", true)
        case 403:
            return (.http4xx, "forbidden (403): the host refuses hotlinks; set a Referer profile for it", false)
        case 404, 410:
            return (.http4xx, "the image is gone (\(status)); look for another copy", false)
        case 400..<500:
            return (.http4xx, "the server refused the request (\(status))", false)
        case 500..<600:
            return (.http5xx, "the server failed (\(status)); try again later", true)
        default:
            return (.httpOther, "unexpected HTTP status \(status)", false)
        }
    }
}

extension CurlResultMapping {
    /// `CURLE_TOO_LARGE` (libcurl 8.6 and later; not in 7.88's headers).
    fileprivate static let tooLarge = CURLcode(rawValue: 100)
}

extension String {
    /// libcurl's stall message is "Operation too slow. Less than N bytes/sec transferred ...".
    fileprivate var isCurlStallMessage: Bool {
        self.contains("too slow")
    }

    /// libcurl's header limits: "Too large response headers: N > M" (7.88 with the CVE-2023-38039 fix, 8.x)
    /// and "Rejected N bytes header (max is M)!".
    fileprivate var isCurlHeaderLimitMessage: Bool {
        let lower = self.lowercased()
        return lower.contains("header") && (lower.contains("too large") || lower.contains("rejected"))
    }
}
