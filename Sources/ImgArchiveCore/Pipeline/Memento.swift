public import Foundation

/// The Memento protocol's decisions (RFC 7089), apart from any I/O: which failures a web archive may rescue, what
/// to ask a TimeGate, and how to reach a memento's original bytes.
public enum Memento {
    /// The TimeGate the rescue asks unless told otherwise: the Internet Archive's Wayback Machine.
    public static let defaultTimeGate = "https://web.archive.org/web/"

    /// Whether a URL's failure is for good, so that only an archive can still have the image: gone (404, 410), a
    /// host that no longer resolves, a connection refused, or an answer that is not an image. Anything else (403,
    /// 5xx, a timeout, a blocked address, ...) may pass or is a choice of the server: no archive is asked.
    public static func isDeadForGood(_ failure: FailureClass, httpStatus: Int?) -> Bool {
        switch failure {
        case .http4xx: httpStatus == 404 || httpStatus == 410
        case .dns, .connect, .notAnImage: true
        default: false
        }
    }

    /// Whether a failure at a TimeGate says the archive itself cannot be reached (or is overloaded): the rest of
    /// the run does not ask it again, and the lookup does not count for `rescue-after`.
    public static func isArchiveUnreachable(_ failure: FailureClass) -> Bool {
        switch failure {
        case .dns, .connect, .timeout, .stalled, .tls, .http5xx, .blockedAddress, .blockedScheme, .cancelled: true
        default: false
        }
    }

    /// A TimeGate given by the user, checked: an http(s) URL, ending with `/` so the URL asked about follows it.
    /// Nil when it is not one.
    public static func normalizedTimeGate(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard isHTTP(t), URLAuthority(t) != nil else { return nil }
        return t.hasSuffix("/") ? t : t + "/"
    }

    /// The TimeGate URI of `url` at a Wayback-style TimeGate: the URL appended to the TimeGate's.
    public static func timeGateURL(_ timeGate: String, for url: String) -> String {
        (timeGate.hasSuffix("/") ? timeGate : timeGate + "/") + url
    }

    /// The `id_` form of a Wayback-style memento URL (`.../<14 digits>[xx_]/<url>`): the archived response's
    /// original bytes, never the archive's replay page. Nil when the URL has no such timestamp segment (an
    /// archive that does not offer the form). A URL already in `id_` form is returned as is.
    public static func rawForm(of memento: String) -> String? {
        guard let (segment, _) = timestampSegment(memento) else { return nil }
        var out = memento
        out.replaceSubrange(segment, with: memento[segment].prefix(14) + "id_")
        return out
    }

    /// The 14-digit timestamp of a Wayback-style memento URL, as a date (UTC). Nil when there is none.
    public static func timestamp(of memento: String) -> Date? {
        guard let (segment, _) = timestampSegment(memento) else { return nil }
        var components = DateComponents()
        let digits = Array(memento[segment].prefix(14)).compactMap { $0.wholeNumberValue }
        func number(_ range: Range<Int>) -> Int { digits[range].reduce(0) { $0 * 10 + $1 } }
        components.year = number(0..<4)
        components.month = number(4..<6)
        components.day = number(6..<8)
        components.hour = number(8..<10)
        components.minute = number(10..<12)
        components.second = number(12..<14)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.date(from: components)
    }

    /// Whether `archivedFrom` is a Wayback-style memento in `id_` form: a copy that came from a web archive.
    public static func isRawMemento(_ archivedFrom: String) -> Bool {
        guard let (segment, _) = timestampSegment(archivedFrom) else { return false }
        return archivedFrom[segment].hasSuffix("id_")
    }

    /// The range of the `<14 digits>[modifier_]` path segment of a memento URL, and the range of the URL after
    /// it: the first such segment after the archive's host.
    private static func timestampSegment(_ memento: String) -> (Range<String.Index>, Range<String.Index>)? {
        guard let scheme = memento.range(of: "://"),
            let pathStart = memento[scheme.upperBound...].firstIndex(of: "/")
        else { return nil }
        var start = memento.index(after: pathStart)
        while start < memento.endIndex {
            guard let end = memento[start...].firstIndex(of: "/") else { return nil }
            let segment = memento[start..<end]
            let digits = segment.prefix { $0.isASCII && $0.isNumber }
            let modifier = segment.dropFirst(digits.count)
            if digits.count == 14,
                modifier.isEmpty
                    || (modifier.hasSuffix("_") && modifier.count <= 4
                        && modifier.dropLast().allSatisfy { $0.isASCII && $0.isLowercase })
            {
                let rest = memento.index(after: end)..<memento.endIndex
                // The URL after it must be absolute (`http://`, or `http:/` as some archives shorten it).
                if memento[rest].hasPrefix("http:/") || memento[rest].hasPrefix("https:/") {
                    return (start..<end, rest)
                }
            }
            start = memento.index(after: end)
        }
        return nil
    }

    /// An HTTP date (RFC 9110 IMF-fixdate, as `Accept-Datetime` and `Memento-Datetime` use): `Sun, 06 Nov 1994
    /// 08:49:37 GMT`.
    public static func httpDate(_ date: Date) -> String {
        httpDateFormatter().string(from: date)
    }

    /// Parses an HTTP date (IMF-fixdate); nil when it is not one.
    public static func parseHTTPDate(_ text: String) -> Date? {
        httpDateFormatter().date(from: text.trimmingCharacters(in: .whitespaces))
    }

    private static func httpDateFormatter() -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f
    }

    /// The value of header `name` in the last response of a header block (status lines start each response).
    public static func header(_ name: String, in lines: [String]) -> String? {
        var found: String?
        for line in lines {
            if line.hasPrefix("HTTP/") {
                found = nil
            } else if let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() {
                found = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return found
    }

    /// The memento a TimeGate led to: the last response's `Content-Location` (an archive that answers with the
    /// memento itself, as pywb does), else the URL that answered after the redirects (a `302` to the memento, as
    /// the Internet Archive does). Relative locations are resolved against `finalURL`.
    public static func mementoURL(finalURL: String, headerLines: [String]) -> String {
        guard let location = header("Content-Location", in: headerLines), !location.isEmpty else { return finalURL }
        if isHTTP(location) { return location }
        guard location.hasPrefix("/"), !location.hasPrefix("//"), let origin = URLAuthority(finalURL)?.origin else {
            return finalURL
        }
        return origin.dropLast() + location
    }

    /// Whether a URL is http or https.
    private static func isHTTP(_ url: String) -> Bool {
        let lower = url.prefix(8).lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }
}

/// When a post was published: its front matter's `date` (YAML `date: 2021-03-04`, TOML `date = 2021-03-04T10:00:00Z`,
/// quoted or not, with or without a time and zone), for a rescue's `Accept-Datetime`.
public enum PostDate {
    /// The front matter's `date` of a post's bytes, nil when it has none (or it is not a date).
    public static func frontMatterDate(_ bytes: [UInt8]) -> Date? {
        var text = Substring(decoding: bytes.prefix(64 * 1024), as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text = text.dropFirst() }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        guard let first = lines.first?.trimmingCharacters(in: .whitespaces), first == "---" || first == "+++" else {
            return nil
        }
        for line in lines.dropFirst() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t == first || t == "..." { return nil }
            // Only top-level keys: a nested `date` belongs to something else.
            guard line.first.map({ !$0.isWhitespace }) ?? false else { continue }
            for separator in [":", "="] {
                guard let range = t.range(of: separator) else { continue }
                let key = t[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                guard key == "date" || key == "\"date\"" else { continue }
                var value = t[range.upperBound...].trimmingCharacters(in: .whitespaces)
                if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
                value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
                return parse(value)
            }
        }
        return nil
    }

    /// Parses `2021-03-04`, `2021-03-04T10:00:00Z`, `2021-03-04 10:00:00 +0100`, `2021-03-04T10:00:00.5+01:00`.
    public static func parse(_ value: String) -> Date? {
        let formats = [
            "yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd HH:mm:ssXXXXX",
            "yyyy-MM-dd HH:mm:ss XXXXX", "yyyy-MM-dd HH:mm:ss Z", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss",
            "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd",
        ]
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        for format in formats {
            f.dateFormat = format
            if let date = f.date(from: value) { return date }
        }
        return nil
    }
}
