internal import CCurl
import Foundation
import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libcurl easy handle and its body file, reused from download to download. Used only on the curl
/// thread: libcurl calls `receive` from `curl_multi_perform` on that thread.
final class Transfer {
    /// What an attempt came to.
    enum Outcome {
        /// A 2xx or 304. With a body, `Download.temporaryFile` and `sha256` are filled in when the writer has
        /// closed the file (`BodyFile.complete`).
        case success(Download, hasBody: Bool)
        case failure(FetchError, retriable: Bool, retryAfter: Duration?)
    }

    let easy: UnsafeMutableRawPointer
    let body: BodyFile
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// The job being served, nil while idle.
    var job: Job?
    /// Whether the write callback paused the transfer for lack of room in the body writer (the engine resumes it).
    var isPaused = false
    private var directory = ""
    private var maxBytes: Int64 = 0
    private var exceededCap = false
    private var errorBodyBytes = 0
    private var refererSent: String?
    /// Where this attempt may connect; set by `configure`.
    private var addressPolicy = AddressPolicy()
    /// The connection the policy refused during this attempt, if any.
    private var refusal: AddressRefusal?
    /// The URLs (redirect hops) of this attempt for which a socket was opened.
    private var openedFor: Set<String> = []
    /// The request header lines this attempt set, and the response header lines libcurl delivered (for
    /// `Download`, and the pipeline's fetch events).
    private var requestLines: [String] = []
    private var responseLines: [String] = []
    /// With `DownloadOptions.captureExchanges`: this attempt's hops as they went over the wire.
    private var capture = false
    private var exchanges: [HTTPExchange] = []
    /// With `capture`: `DownloadOptions.digestHead`, applied to the final response's head on the body's lane.
    private var digestHead: (@Sendable ([UInt8]) -> [UInt8])?
    /// The proxy this attempt goes through (every hop: libcurl is given it, and no `no_proxy`), nil for none.
    private var proxy: String?
    /// Through a proxy: each hop's target, judged on its own resolved addresses (`targetAllowed`).
    private var judgedTargets: [String: Bool] = [:]
    /// Through a proxy: why a target was refused, if one was.
    private var targetProblem: TargetProblem?

    /// Why a target reached through a proxy was refused.
    enum TargetProblem {
        /// An address it resolves to is not public, and not allowed.
        case refused(AddressRefusal)
        /// Its host does not resolve here, so its addresses cannot be judged.
        case unresolved(url: String, host: String)
    }

    /// Error bodies (404 pages and the like) are read and dropped up to this size, so the connection can be
    /// reused; past it the transfer is cut.
    private static let maxErrorBody = 64 * 1024

    init?(writer: BodyWriter) {
        guard let easy = curl_easy_init() else { return nil }
        self.easy = easy
        body = BodyFile(writer: writer)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(easy)
        freeHeaders()
        errorBuffer.deallocate()
    }

    /// Prepares the handle for `job`'s next attempt; returns an error when the request is unusable.
    func configure(
        for job: Job, options: DownloadOptions, connectTo: UnsafeMutablePointer<curl_slist>?, policy: AddressPolicy
    ) -> FetchError? {
        proxy = options.proxyEnvironment.proxy(for: job.request.url)
        judgedTargets.removeAll(keepingCapacity: true)
        targetProblem = nil
        curl_easy_reset(easy)
        freeHeaders()
        body.reset()
        self.job = job
        isPaused = false
        directory = job.request.temporaryDirectory
        maxBytes = options.maxBytes
        exceededCap = false
        errorBodyBytes = 0
        errorBuffer[0] = 0
        addressPolicy = policy
        refusal = nil
        openedFor.removeAll(keepingCapacity: true)
        responseLines.removeAll(keepingCapacity: true)
        capture = options.captureExchanges
        digestHead = options.captureExchanges ? options.digestHead : nil
        exchanges.removeAll()

        let request = job.request
        var lines: [String] = []
        var referer: String?
        for header in request.headers {
            guard Self.isValidHeader(header) else {
                return FetchError(
                    code: .invalidRequest, url: request.url, attempts: job.attempts,
                    message: "the header \"\(header.name)\" has a line break or bad name; fix the profile")
            }
            if header.name.lowercased() == "referer" {
                referer = header.value
                continue
            }
            lines.append("\(header.name): \(header.value)")
        }
        if job.ladderIndex >= 0 && job.ladderIndex < request.refererLadder.count {
            referer = request.refererLadder[job.ladderIndex]
        }
        if let referer {
            guard Self.isValidHeader(HTTPHeaderField(name: "Referer", value: referer)) else {
                return FetchError(
                    code: .invalidRequest, url: request.url, attempts: job.attempts,
                    message: "the Referer has a line break; fix the profile")
            }
            lines.append("Referer: \(referer)")
        }
        refererSent = referer
        if let etag = request.ifNoneMatch, !etag.contains(where: \.isNewline) {
            lines.append("If-None-Match: \(etag)")
        }
        if let date = request.ifModifiedSince, !date.contains(where: \.isNewline) {
            lines.append("If-Modified-Since: \(date)")
        }
        requestLines = lines
        if !lines.contains(where: { $0.lowercased().hasPrefix("user-agent:") }) {
            requestLines.append("User-Agent: \(options.userAgent)")  // CURLOPT_USERAGENT, unless a header replaces it
        }
        for line in lines {
            guard let list = curl_slist_append(headerList, line) else {
                return FetchError(code: .other, url: request.url, attempts: job.attempts, message: "out of memory")
            }
            headerList = list
        }

        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(CCurl_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(CCurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(CCurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(CCurl_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        set(CCurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
        set(CCurl_easy_setopt_long(easy, CURLOPT_MAXREDIRS, options.maxRedirects))
        set(CCurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, options.connectTimeout.milliseconds))
        set(CCurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, options.totalTimeout.milliseconds))
        set(CCurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, options.stallBytesPerSecond))
        set(CCurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, options.stallSeconds))
        set(CCurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maxBytes)))
        set(CCurl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        set(CCurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
        set(CCurl_easy_setopt_string(easy, CURLOPT_USERAGENT, options.userAgent))
        // A larger receive buffer is only a speed hint: libcurl 7.88 refuses to resize the buffer of a handle
        // reused after a failed transfer (CURLE_BAD_FUNCTION_ARGUMENT), which must not fail the download.
        _ = CCurl_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, 128 * 1024)
        if let connectTo { set(CCurl_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, connectTo)) }
        // The proxy decided from the environment as libcurl would (`ProxyEnvironment`), given explicitly ("" is
        // none) with no `no_proxy`, so libcurl reads neither variable and every hop goes the way decided here.
        set(CCurl_easy_setopt_string(easy, CURLOPT_PROXY, proxy ?? ""))
        set(CCurl_easy_setopt_string(easy, CURLOPT_NOPROXY, ""))
        if proxy != nil {
            // Called before each request is sent, on a new or a reused connection to the proxy.
            set(CCurl_easy_setopt_pointer(easy, CURLOPT_PREREQDATA, Unmanaged.passUnretained(self).toOpaque()))
            set(
                CCurl_easy_setopt_prereq_callback(easy, CURLOPT_PREREQFUNCTION) { context, _, _, _, _ in
                    guard let context else { return CURL_PREREQFUNC_ABORT }
                    return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().beforeRequest()
                })
        }
        if let headerList { set(CCurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)) }
        if capture {
            // The raw request head reaches a program only through the debug callback, which libcurl calls only in
            // verbose mode; with a callback set, nothing is printed.
            set(CCurl_easy_setopt_long(easy, CURLOPT_VERBOSE, 1))
            set(CCurl_easy_setopt_pointer(easy, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(self).toOpaque()))
            set(
                CCurl_easy_setopt_debug_callback(easy, CURLOPT_DEBUGFUNCTION) { _, type, data, size, context in
                    guard type == CURLINFO_HEADER_OUT, let context, let data else { return 0 }
                    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                    transfer.sentHead(UnsafeRawBufferPointer(start: data, count: size))
                    return 0
                })
        }
        // Every connection of the attempt (redirects included) is opened here, on the address libcurl resolved.
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(self).toOpaque()))
        set(
            CCurl_easy_setopt_opensocket_callback(easy, CURLOPT_OPENSOCKETFUNCTION) { context, _, address in
                guard let context, let address else { return CURL_SOCKET_BAD }
                return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().openSocket(address)
            })
        // Header lines arrive one per call (the write callback's signature), status lines and redirect hops
        // included: kept as they come.
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, Unmanaged.passUnretained(self).toOpaque()))
        set(
            CCurl_easy_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                guard let context else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            })
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()))
        set(
            CCurl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                guard let context else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count))
            })
        guard code == CURLE_OK else {
            let (failure, message) = CurlResultMapping.classify(code, errorText: "")
            return FetchError(
                code: failure == .other ? .invalidRequest : failure, url: request.url, attempts: job.attempts,
                message: message, curlCode: Int(code.rawValue), detail: String(cString: curl_easy_strerror(code)))
        }
        return nil
    }

    /// The open-socket callback: opens the socket libcurl asks for unless the address policy refuses the
    /// address, in which case the refusal is kept for `outcome` and libcurl fails the connection
    /// (`CURLE_COULDNT_CONNECT`) without a packet sent.
    private func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        let family = address.pointee.family
        guard let ip = Self.ipAddress(address) else { return CURL_SOCKET_BAD }
        let url = currentURL
        if proxy != nil {
            // The socket is to the proxy, which may well be internal (proxies usually are); the target is what the
            // proxy will connect to, so the target's addresses are judged, before anything is sent.
            guard targetAllowed(url) else { return CURL_SOCKET_BAD }
            return socket(family, address.pointee.socktype, address.pointee.protocol)
        }
        if let refused = addressPolicy.check(ip, url: url) {
            refusal = refused
            return CURL_SOCKET_BAD
        }
        openedFor.insert(url)
        return socket(family, address.pointee.socktype, address.pointee.protocol)
    }

    /// The pre-request callback, through a proxy only: a reused connection to the proxy opens no socket, so each
    /// request's target is judged here too, before the request is sent.
    private func beforeRequest() -> Int32 {
        targetAllowed(currentURL) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT
    }

    /// The URL being fetched now (a redirect's target once libcurl follows it).
    private var currentURL: String {
        var current: UnsafeMutablePointer<CChar>?
        _ = CCurl_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &current)
        return current.map { String(cString: $0) } ?? job?.request.url ?? ""
    }

    /// Whether a proxy may be asked for `url`: its host is allowed whatever it resolves to, or every address it
    /// resolves to here is public or allowed (an address written in any form, `127.1` and `2130706433` included,
    /// is read without DNS). The proxy resolves the name again, and could get another answer; what it gets is out
    /// of reach, so a name must resolve here. Judged once per URL and attempt.
    private func targetAllowed(_ url: String) -> Bool {
        if let known = judgedTargets[url] { return known }
        var allowed = true
        if !addressPolicy.allowsEveryAddress(url: url), let host = FetchPlanning.host(of: url) {
            if let addresses = TargetAddresses.resolve(host) {
                for address in addresses {
                    if let refused = addressPolicy.check(address, url: url) {
                        targetProblem = .refused(refused)
                        allowed = false
                        break
                    }
                }
            } else {
                targetProblem = .unresolved(url: url, host: host)
                allowed = false
            }
        }
        judgedTargets[url] = allowed
        return allowed
    }

    /// The IPv4 or IPv6 address of a `curl_sockaddr` (whose `addr` is followed by the rest of the family's
    /// sockaddr in libcurl's memory, `addrlen` bytes in all); nil for any other family.
    private static func ipAddress(_ address: UnsafeMutablePointer<curl_sockaddr>) -> IPAddress? {
        guard let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr) else { return nil }
        let base = UnsafeRawPointer(address) + offset
        let length = Int(address.pointee.addrlen)
        switch address.pointee.family {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let v4 = base.loadUnaligned(as: sockaddr_in.self)
            return withUnsafeBytes(of: v4.sin_addr) { IPAddress(bytes: Array($0)) }
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let v6 = base.loadUnaligned(as: sockaddr_in6.self)
            return withUnsafeBytes(of: v6.sin6_addr) { IPAddress(bytes: Array($0)) }
        default:
            return nil
        }
    }

    /// The write callback: streams a 2xx body to the file, drops error bodies. Returning anything but the
    /// chunk's size or `CURL_WRITEFUNC_PAUSE` makes libcurl stop the transfer with `CURLE_WRITE_ERROR`. Pausing
    /// takes none of the chunk (libcurl keeps it and delivers it again once the engine resumes the transfer), so
    /// everything before `body.append` must be free of side effects on a 2xx.
    private func receive(_ chunk: UnsafeRawBufferPointer) -> Int {
        var status = 0
        _ = CCurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        guard (200..<300).contains(status) else {
            errorBodyBytes += chunk.count
            if errorBodyBytes > Self.maxErrorBody {
                return 0
            }
            return chunk.count
        }
        if body.byteCount + Int64(chunk.count) > maxBytes {
            exceededCap = true
            return 0
        }
        if body.byteCount == 0, let digestHead {
            // The final response's head is whole before its first body byte (setting it again on a paused
            // chunk sets the same value).
            body.digestHead = BodyWriter.DigestHead(responseHead: exchanges.last?.responseHead ?? [], make: digestHead)
        }
        switch body.append(chunk, directory: directory, sniffLength: ImageFormat.sniffLength) {
        case .taken:
            return chunk.count
        case .paused:
            isPaused = true
            return Int(CURL_WRITEFUNC_PAUSE)
        case .failed:
            return 0
        }
    }

    /// Reads the attempt's result off the handle once libcurl reports it done. The body file is either
    /// handed over in the `Download` or deleted.
    func outcome(of result: CURLcode, job: Job) -> Outcome {
        let url = job.request.url
        var status = 0
        _ = CCurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let httpStatus = status > 0 ? status : nil
        var retryAfterSeconds: curl_off_t = 0
        _ = CCurl_easy_getinfo_off_t(easy, CURLINFO_RETRY_AFTER, &retryAfterSeconds)
        let retryAfter: Duration? = retryAfterSeconds > 0 ? .seconds(Int64(retryAfterSeconds)) : nil

        func fail(
            _ code: FetchError.Code, _ message: String, retriable: Bool = false, curl: CURLcode? = nil,
            detail: String? = nil
        ) -> Outcome {
            body.discard()
            var error = FetchError(
                code: code, url: url, httpStatus: httpStatus, attempts: job.attempts, message: message,
                curlCode: curl.map { Int($0.rawValue) }, detail: detail)
            error.exchanges = exchanges
            return .failure(error, retriable: retriable, retryAfter: retryAfter)
        }

        if exceededCap {
            return fail(.tooLarge, "the image is larger than the byte cap (\(maxBytes) bytes); raise --max-bytes")
        }
        if let errno = body.systemError {
            return fail(
                .io, "the temporary file could not be written; check the archive's disk",
                detail: String(cString: strerror(errno)))
        }
        switch targetProblem {
        case .refused(let refusal)?:
            return fail(.blockedAddress, refusal.message + " (through a proxy, which would connect to it)")
        case .unresolved(let url, let host)?:
            return fail(
                .dns,
                "\(url) is fetched through a proxy, so imgarchive resolves \(host) itself to check "
                    + "that it is not an internal address, and it does not resolve here; if only the proxy can "
                    + "resolve it, add \"\(host)\" to allow-addresses: in imgarchive.yml (docs/security.md)")
        case nil:
            break
        }
        let isErrorStatus = status >= 300 && status != 304
        if result != CURLE_OK && !(isErrorStatus && (result == CURLE_WRITE_ERROR || result == CURLE_FILESIZE_EXCEEDED))
        {
            let buffer = String(cString: errorBuffer)
            let text = buffer.isEmpty ? String(cString: curl_easy_strerror(result)) : buffer
            // A name can resolve to a refused and an allowed address (localhost is ::1 and 127.0.0.1): when a
            // socket was opened for the same URL, the failure is that connection's, not the refusal.
            let refused = refusal.flatMap { openedFor.contains($0.url) ? nil : $0 }
            let (code, message) = CurlResultMapping.classify(result, errorText: text, refusal: refused)
            return fail(code, message, retriable: CurlResultMapping.isRetriable(code), curl: result, detail: text)
        }
        if status == 304 {
            body.discard()
            return .success(makeDownload(status: status, notModified: true, format: nil), hasBody: false)
        }
        guard (200..<300).contains(status) else {
            let (code, message, retriable) = CurlResultMapping.classify(httpStatus: status)
            return fail(code, message, retriable: retriable)
        }
        var expected: curl_off_t = -1
        var received: curl_off_t = 0
        _ = CCurl_easy_getinfo_off_t(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected)
        _ = CCurl_easy_getinfo_off_t(easy, CURLINFO_SIZE_DOWNLOAD_T, &received)
        if expected >= 0 && received != expected {
            return fail(.truncated, "got \(received) of \(expected) bytes; try again later", retriable: true)
        }
        guard body.byteCount > 0 else {
            return fail(.notAnImage, "the server sent an empty body with status \(status)")
        }
        guard let format = ImageFormat.sniff(body.prefix) else {
            let type = contentType ?? "no Content-Type"
            var outcome = fail(
                .notAnImage, "the body is not an image (\(type)); the host may block hotlinks or the image moved")
            if case .failure(var error, let retriable, let retryAfter) = outcome {
                error.contentType = contentType
                outcome = .failure(error, retriable: retriable, retryAfter: retryAfter)
            }
            return outcome
        }
        // Bytes that are an image and a page or script at once are not archived (docs/images.md, "Polyglots").
        if let reason = format.polyglotReason(body.prefix) {
            return fail(.polyglot, "refused: \(reason); it is not archived, the post keeps linking the original")
        }
        // Only the image's own end tells a cut-short body from a whole one: with no Content-Length and no
        // chunked encoding the body ends where the server closed the connection, and a Content-Length may be
        // a lie (a server that says 100 for a 15 KB image sends a complete 100-byte body). A JPEG's end is its
        // EOI, found by following its segments, whatever follows it (camera trailers, a motion photo's video).
        if !format.looksComplete(prefix: body.prefix, end: body.end, count: Int(body.byteCount)) {
            let how =
                expected < 0 && endsAtClose
                ? "the connection closed before the \(format.fileExtension) image ended (the server sent no length)"
                : "the \(format.fileExtension) image is cut short (\(body.byteCount) bytes without the format's end, "
                    + "whatever the transfer said)"
            return fail(.truncated, how + "; try again later", retriable: true)
        }
        return .success(makeDownload(status: status, notModified: false, format: format), hasBody: true)
    }

    /// Forgets the job and deletes any body file (after a failure, cancellation or shutdown).
    func recycle() {
        body.discard()
        freeHeaders()
        job = nil
    }

    /// Whether the last response's body was delimited only by the connection closing (HTTP/1.x, neither
    /// Content-Length nor chunked).
    private var endsAtClose: Bool {
        var version = 0
        _ = CCurl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        guard version == Int(CURL_HTTP_VERSION_1_0) || version == Int(CURL_HTTP_VERSION_1_1)
        else { return false }
        return header("Transfer-Encoding")?.lowercased().contains("chunked") != true
    }

    private var contentType: String? {
        var value: UnsafeMutablePointer<CChar>?
        guard CCurl_easy_getinfo_string(easy, CURLINFO_CONTENT_TYPE, &value) == CURLE_OK, let value else { return nil }
        return String(cString: value)
    }

    /// The download as libcurl reports it; the body's file and digest are added by the writer.
    private func makeDownload(status: Int, notModified: Bool, format: ImageFormat?) -> Download {
        var effective: UnsafeMutablePointer<CChar>?
        _ = CCurl_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
        let requested = job?.request.url ?? ""
        return Download(
            requestedURL: requested,
            finalURL: effective.map { String(cString: $0) } ?? requested,
            httpStatus: status,
            notModified: notModified,
            temporaryFile: nil,
            sha256: "",
            byteCount: notModified ? 0 : Int(body.byteCount),
            format: format,
            contentType: contentType,
            etag: header("ETag"),
            lastModified: header("Last-Modified"),
            attempts: job?.attempts ?? 0,
            refererUsed: refererSent, requestHeaderLines: requestLines, responseHeaderLines: responseLines,
            exchanges: exchanges)
    }

    /// The debug callback's `CURLINFO_HEADER_OUT`: a request head as sent (a new hop), or the rest of one libcurl
    /// handed over in pieces.
    private func sentHead(_ bytes: UnsafeRawBufferPointer) {
        if let last = exchanges.indices.last, exchanges[last].responseHead.isEmpty,
            !exchanges[last].requestHead.suffix(4).elementsEqual([0x0D, 0x0A, 0x0D, 0x0A])
        {
            exchanges[last].requestHead.append(contentsOf: bytes)
            return
        }
        var address: UnsafeMutablePointer<CChar>?
        _ = CCurl_easy_getinfo_string(easy, CURLINFO_PRIMARY_IP, &address)
        exchanges.append(
            HTTPExchange(
                url: currentURL, remoteAddress: address.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 },
                date: Date(), requestHead: Array(bytes)))
    }

    /// The header callback: keeps one response header line, without its line end.
    private func receiveHeader(_ line: UnsafeRawBufferPointer) -> Int {
        if capture, let last = exchanges.indices.last {
            // A status line starts a head: an interim 1xx head before it is dropped.
            if line.starts(with: Array("HTTP/".utf8)) { exchanges[last].responseHead.removeAll(keepingCapacity: true) }
            exchanges[last].responseHead.append(contentsOf: line)
        }
        var end = line.count
        while end > 0 && (line[end - 1] == 0x0A || line[end - 1] == 0x0D) { end -= 1 }
        responseLines.append(String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<end]), as: UTF8.self))
        return line.count
    }

    /// A header of the last response (after redirects).
    private func header(_ name: String) -> String? {
        var found: UnsafeMutablePointer<curl_header>?
        guard curl_easy_header(easy, name, 0, UInt32(CURLH_HEADER), -1, &found) == CURLHE_OK,
            let found, let value = found.pointee.value
        else { return nil }
        return String(cString: value)
    }

    private func freeHeaders() {
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    private static func isValidHeader(_ header: HTTPHeaderField) -> Bool {
        !header.name.isEmpty
            && !header.name.contains(where: { $0 == ":" || $0.isWhitespace || $0.isNewline })
            && !header.value.contains(where: { $0.isNewline || $0 == "\0" })
    }
}
