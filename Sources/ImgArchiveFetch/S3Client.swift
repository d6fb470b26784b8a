internal import CCurl
import Crypto
import Foundation
import ImgArchiveCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a bucket is and how to sign for it: an S3-compatible endpoint (`http://127.0.0.1:9000`,
/// `https://s3.eu-west-1.amazonaws.com`), reached path-style (`endpoint/bucket/key`).
public struct S3Location: Sendable, Hashable {
    /// The endpoint URL, without a trailing slash.
    public var endpoint: String
    /// The bucket's name.
    public var bucket: String
    /// The region requests are signed for (SigV4's scope).
    public var region: String

    /// Creates a location.
    public init(endpoint: String, bucket: String, region: String) {
        var endpoint = endpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
    }

    /// The URL of the bucket itself, path-style.
    public var bucketURL: String { endpoint + "/" + bucket }
}

/// The access key pair requests are signed with; only ever read from the environment.
public struct S3Credentials: Sendable, Hashable {
    /// `AWS_ACCESS_KEY_ID`.
    public var accessKey: String
    /// `AWS_SECRET_ACCESS_KEY`.
    public var secretKey: String

    /// Creates credentials.
    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// The pair from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or nil when either is unset or empty.
    public static func fromEnvironment(_ environment: [String: String]) -> S3Credentials? {
        guard let access = environment["AWS_ACCESS_KEY_ID"], !access.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        return S3Credentials(accessKey: access, secretKey: secret)
    }
}

/// A failed bucket request: the operation, the key, the HTTP status and the server's error code, or libcurl's.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// The request, e.g. `PUT objects/ab/ab12....jpg`.
    public var operation: String
    /// The HTTP status, when a response came.
    public var httpStatus: Int?
    /// The server's error code (`BadDigest`, `AccessDenied`, `NoSuchBucket`, ...), when it sent one.
    public var serverCode: String?
    /// What went wrong and what to do about it.
    public var message: String
    /// The libcurl result code, for a transfer that failed without a response.
    public var curlCode: Int?

    /// `operation: message (HTTP status, code)`.
    public var description: String {
        var facts: [String] = []
        if let httpStatus { facts.append("HTTP \(httpStatus)") }
        if let serverCode { facts.append(serverCode) }
        return "\(operation): \(message)" + (facts.isEmpty ? "" : " (\(facts.joined(separator: ", ")))")
    }
}

/// An object's facts from HEAD or a listing.
public struct S3ObjectInfo: Sendable, Hashable {
    /// The key.
    public var key: String
    /// Its size in bytes.
    public var size: Int64
    /// Its `Content-Type` (HEAD only).
    public var contentType: String? = nil
    /// Its `Cache-Control` (HEAD only).
    public var cacheControl: String? = nil
}

/// A small S3 client over libcurl's easy interface: SigV4 signing is libcurl's (`CURLOPT_AWS_SIGV4`), uploads are
/// streamed from a file (libcurl's default read function on `CURLOPT_READDATA`), downloads are streamed to a file or
/// a hasher. Each call blocks its thread until the request is done: callers are the object store's synchronous
/// methods. Easy handles are pooled so connections are reused.
public final class S3Client: Sendable {
    /// Where the bucket is.
    public let location: S3Location
    private let credentials: S3Credentials
    private let pool = Mutex<[EasyHandle]>([])

    /// The SHA-256 of no bytes (`x-amz-content-sha256` of requests without a body).
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Creates a client for a bucket.
    public init(location: S3Location, credentials: S3Credentials) {
        self.location = location
        self.credentials = credentials
    }

    deinit {
        for handle in pool.withLock({ $0 }) { curl_easy_cleanup(handle.pointer) }
    }

    /// What a conditional upload came to.
    public enum PutOutcome: Sendable, Hashable {
        /// Written.
        case created
        /// `If-None-Match: *` and an object was already there (412): nothing written.
        case alreadyExists
        /// The server does not do conditional PUTs (501 NotImplemented, as OpenStack Swift's s3api): nothing written.
        case conditionalUnsupported
    }

    /// Uploads the file at `path` to `key`, streamed, with its SHA-256 in `x-amz-content-sha256` (the server
    /// re-hashes and refuses other bytes), `Content-Type` and `Cache-Control`; only when no object is there when
    /// `ifAbsent`.
    public func put(
        key: String, file path: String, sha256: String, contentType: String, cacheControl: String, ifAbsent: Bool
    ) throws(S3Error) -> PutOutcome {
        let operation = "PUT \(key)"
        guard let file = fopen(path, "rb") else {
            throw S3Error(operation: operation, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var info = stat()
        guard fstat(fileno(file), &info) == 0 else {
            throw S3Error(operation: operation, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        var headers = [
            "x-amz-content-sha256: \(sha256)", "Content-Type: \(contentType)", "Cache-Control: \(cacheControl)",
        ]
        if ifAbsent { headers.append("If-None-Match: *") }
        let response = try perform(operation, url: url(key), headers: headers) { easy, set in
            set(CCurl_easy_setopt_long(easy, CURLOPT_UPLOAD, 1))
            set(CCurl_easy_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(info.st_size)))
            set(CCurl_easy_setopt_pointer(easy, CURLOPT_READDATA, UnsafeMutableRawPointer(file)))
        }
        switch response.status {
        case 200..<300: return .created
        case 412 where ifAbsent: return .alreadyExists
        case 501 where ifAbsent: return .conditionalUnsupported
        default: throw response.error(operation)
        }
    }

    /// The object at `key`, or nil when there is none.
    public func head(key: String) throws(S3Error) -> S3ObjectInfo? {
        let operation = "HEAD \(key)"
        let response = try perform(operation, url: url(key)) { easy, set in
            set(CCurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        }
        switch response.status {
        case 200..<300:
            return S3ObjectInfo(
                key: key, size: response.contentLength, contentType: response.headers["content-type"],
                cacheControl: response.headers["cache-control"])
        case 404: return nil
        default: throw response.error(operation)
        }
    }

    /// Streams the object at `key` to `consume` chunk by chunk; false when there is no object.
    public func get(key: String, into consume: @escaping (UnsafeRawBufferPointer) -> Bool) throws(S3Error) -> Bool {
        let operation = "GET \(key)"
        let response = try perform(operation, url: url(key), sink: consume) { _, _ in }
        switch response.status {
        case 200..<300: return true
        case 404: return false
        default: throw response.error(operation)
        }
    }

    /// The SHA-256 of the object at `key`, re-hashed while it streams in (nothing kept), or nil when there is none.
    public func sha256(key: String) throws(S3Error) -> String? {
        final class Hasher: @unchecked Sendable {
            var state = SHA256()
        }
        let hasher = Hasher()
        guard
            try get(
                key: key,
                into: { chunk in
                    hasher.state.update(bufferPointer: chunk)
                    return true
                })
        else { return nil }
        return Hex.lowercase(hasher.state.finalize())
    }

    /// Copies the object at `source` to `destination` in the same bucket (CopyObject: the server copies the bytes,
    /// its headers kept).
    public func copy(from source: String, to destination: String) throws(S3Error) {
        let operation = "COPY \(source) to \(destination)"
        // A PUT with an empty body (an upload of /dev/null: libcurl sends no Content-Type of its own, which SigV4
        // would have to sign).
        guard let empty = fopen("/dev/null", "rb") else {
            throw S3Error(operation: operation, message: "cannot open /dev/null: \(String(cString: strerror(errno)))")
        }
        defer { fclose(empty) }
        let response = try perform(
            operation, url: url(destination),
            headers: ["x-amz-copy-source: /\(location.bucket)/\(Self.encodedPath(source))"]
        ) { easy, set in
            set(CCurl_easy_setopt_long(easy, CURLOPT_UPLOAD, 1))
            set(CCurl_easy_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, 0))
            set(CCurl_easy_setopt_pointer(easy, CURLOPT_READDATA, UnsafeMutableRawPointer(empty)))
        }
        // CopyObject can fail after its 200 status line: the body then holds an <Error>.
        guard (200..<300).contains(response.status), !response.body.contains("<Error>") else {
            throw response.error(operation)
        }
    }

    /// Deletes the object at `key` (deleting what is not there is not an error, as in S3).
    public func delete(key: String) throws(S3Error) {
        let operation = "DELETE \(key)"
        let response = try perform(operation, url: url(key)) { easy, set in
            set(CCurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "DELETE"))
        }
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw response.error(operation)
        }
    }

    /// Every object under `prefix` (ListObjectsV2, `pageSize` keys a page, 1000 being S3's most).
    public func list(prefix: String, pageSize: Int = 1000) throws(S3Error) -> [S3ObjectInfo] {
        var objects: [S3ObjectInfo] = []
        try list(prefix: prefix, pageSize: pageSize) { page in
            objects += page
            return true
        }
        return objects
    }

    /// Lists the keys under `prefix` a page at a time (ListObjectsV2, in the bucket's key order), calling `page`
    /// with each until it returns false or the listing ends.
    public func list(prefix: String, pageSize: Int = 1000, page: ([S3ObjectInfo]) -> Bool) throws(S3Error) {
        var token: String?
        repeat {
            // SigV4 signs the query as sent; libcurl 7.88 signs it as given, so it is given canonical: sorted by
            // name, every value percent-encoded.
            var query = [("list-type", "2"), ("max-keys", "\(pageSize)"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let text = query.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(Self.encoded($0.1, keepSlash: false))" }
            let operation = "LIST \(prefix)"
            let response = try perform(operation, url: location.bucketURL + "?" + text.joined(separator: "&")) {
                _, _ in
            }
            guard (200..<300).contains(response.status) else { throw response.error(operation) }
            let listing = ListingParser.parse(response.body)
            guard page(listing.objects) else { return }
            token = listing.isTruncated ? listing.nextToken : nil
        } while token != nil
    }

    // MARK: Requests

    private func url(_ key: String) -> String {
        location.bucketURL + "/" + Self.encodedPath(key)
    }

    /// A key percent-encoded as SigV4 wants it in the path: everything but unreserved characters and `/`.
    static func encodedPath(_ key: String) -> String { encoded(key, keepSlash: true) }

    static func encoded(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// A response: its status, size, and the body when it was small (error documents, listings).
    struct Response {
        var status: Int
        var contentLength: Int64
        var body: String
        /// The last response's headers, names in lowercase.
        var headers: [String: String]

        func error(_ operation: String) -> S3Error {
            let code = ListingParser.element("Code", in: body)
            let text = ListingParser.element("Message", in: body)
            var message = text ?? "the server answered HTTP \(status)"
            switch (status, code) {
            case (403, _):
                message += "; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and s3-region"
            case (404, "NoSuchBucket"?):
                message += "; create the bucket, or fix 'objects: s3://BUCKET/...' in imgarchive.yml"
            default: break
            }
            return S3Error(operation: operation, httpStatus: status, serverCode: code, message: message)
        }
    }

    /// Receives a response body: up to 1 MiB kept in memory, or every chunk given to a consumer (only for a 2xx
    /// response: an error document is kept instead).
    final class Receiver {
        let easy: UnsafeMutableRawPointer
        let consume: ((UnsafeRawBufferPointer) -> Bool)?
        var kept: [UInt8] = []
        var stopped = false
        var headers: [String: String] = [:]

        func receiveHeader(_ line: UnsafeRawBufferPointer) -> Int {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("HTTP/") {
                headers.removeAll()
            } else if let colon = text.firstIndex(of: ":") {
                headers[text[..<colon].lowercased()] = text[text.index(after: colon)...]
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return line.count
        }

        init(easy: UnsafeMutableRawPointer, consume: ((UnsafeRawBufferPointer) -> Bool)?) {
            self.easy = easy
            self.consume = consume
        }

        func receive(_ chunk: UnsafeRawBufferPointer) -> Int {
            var status = 0
            _ = CCurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            if let consume, (200..<300).contains(status) {
                guard consume(chunk) else {
                    stopped = true
                    return 0
                }
                return chunk.count
            }
            guard kept.count + chunk.count <= 1 << 20 else { return 0 }
            kept += chunk
            return chunk.count
        }
    }

    private func perform(
        _ operation: String, url: String, headers: [String] = [],
        sink: ((UnsafeRawBufferPointer) -> Bool)? = nil,
        configure: (UnsafeMutableRawPointer, (CURLcode) -> Void) -> Void
    ) throws(S3Error) -> Response {
        _ = curlGlobalInit
        let handle: EasyHandle
        if let pooled = pool.withLock({ $0.popLast() }) {
            handle = pooled
            curl_easy_reset(handle.pointer)
        } else {
            guard let easy = curl_easy_init() else {
                throw S3Error(operation: operation, message: "libcurl could not make a handle (out of memory)")
            }
            handle = EasyHandle(pointer: easy)
        }
        let easy = handle.pointer
        var list: UnsafeMutablePointer<curl_slist>?
        // Every header line is ours (keys and digests), so none holds a line break; the secret never goes in one.
        for line in headers
            + (headers.contains { $0.hasPrefix("x-amz-content-sha256:") }
                ? [] : ["x-amz-content-sha256: \(Self.emptySHA256)"])
        {
            list = curl_slist_append(list, line)
        }
        defer { curl_slist_free_all(list) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        defer { errorBuffer.deallocate() }
        let receiver = Receiver(easy: easy, consume: sink)
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(CCurl_easy_setopt_string(easy, CURLOPT_URL, url))
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(CCurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(CCurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(CCurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 10_000))
        // A stalled transfer fails; a large object over a slow link does not (no total timeout).
        set(CCurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1))
        set(CCurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, 60))
        set(CCurl_easy_setopt_string(easy, CURLOPT_AWS_SIGV4, "aws:amz:\(location.region):s3"))
        set(CCurl_easy_setopt_string(easy, CURLOPT_USERNAME, credentials.accessKey))
        set(CCurl_easy_setopt_string(easy, CURLOPT_PASSWORD, credentials.secretKey))
        set(CCurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))
        let context = Unmanaged.passUnretained(receiver).toOpaque()
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
        set(
            CCurl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                guard let context else { return 0 }
                return Unmanaged<Receiver>.fromOpaque(context).takeUnretainedValue()
                    .receive(UnsafeRawBufferPointer(start: data, count: size * count))
            })
        set(CCurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context))
        set(
            CCurl_easy_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                guard let context else { return 0 }
                return Unmanaged<Receiver>.fromOpaque(context).takeUnretainedValue()
                    .receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            })
        configure(easy, set)
        if code == CURLE_OK { code = curl_easy_perform(easy) }
        withExtendedLifetime(receiver) {}
        var status = 0
        var length: curl_off_t = -1
        _ = CCurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        _ = CCurl_easy_getinfo_off_t(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
        pool.withLock { $0.append(handle) }
        guard code == CURLE_OK else {
            if receiver.stopped {
                throw S3Error(
                    operation: operation, httpStatus: status, message: "the download was stopped (local write failed)")
            }
            let text = String(cString: errorBuffer)
            let (_, advice) = CurlResultMapping.classify(code, errorText: text)
            throw S3Error(
                operation: operation, httpStatus: status == 0 ? nil : status,
                message: "\(advice) [\(text.isEmpty ? String(cString: curl_easy_strerror(code)) : text)]; "
                    + "is the S3 endpoint \(location.endpoint) up?",
                curlCode: Int(code.rawValue))
        }
        return Response(
            status: status, contentLength: Int64(length), body: String(decoding: receiver.kept, as: UTF8.self),
            headers: receiver.headers)
    }
}

/// An easy handle in the pool: used by one request at a time (taken out under the lock), hence `@unchecked`.
private struct EasyHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// Reads the few elements imgarchive needs from S3's XML (ListObjectsV2 pages, error documents). The documents come
/// from the configured endpoint; a page it cannot read yields no objects rather than a crash.
enum ListingParser {
    struct Page {
        var objects: [S3ObjectInfo] = []
        var isTruncated = false
        var nextToken: String?
    }

    static func parse(_ xml: String) -> Page {
        var page = Page()
        var rest = Substring(xml)
        while let open = rest.range(of: "<Contents>"),
            let close = rest.range(of: "</Contents>", range: open.upperBound..<rest.endIndex)
        {
            let entry = String(rest[open.upperBound..<close.lowerBound])
            if let key = element("Key", in: entry), let size = element("Size", in: entry).flatMap({ Int64($0) }) {
                page.objects.append(S3ObjectInfo(key: key, size: size))
            }
            rest = rest[close.upperBound...]
        }
        page.isTruncated = element("IsTruncated", in: xml) == "true"
        page.nextToken = element("NextContinuationToken", in: xml)
        return page
    }

    /// The text of the first `<name>` element, entities decoded.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
            let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return decodeEntities(String(xml[open.upperBound..<close.lowerBound]))
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += "&" + entity + ";"
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
