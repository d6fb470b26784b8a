import Foundation

/// A regular expression compiled once, with the names of its named captures.
struct CompiledRegex: @unchecked Sendable {  // NSRegularExpression is immutable and documented thread-safe.
    let regex: NSRegularExpression
    let names: [String]
    /// Literals every match contains (`RequiredLiterals`): when one is missing the regex is not run (fast path).
    let literals: [[UInt8]]
    /// The group number of each of `names`, in the same order, when the pattern's groups could be counted (the
    /// count agrees with the compiled regex); nil: captures are looked up by name.
    let groupNumbers: [Int]?

    /// Finds `(?<name>` groups in a pattern (look-behinds `(?<=`/`(?<!` are not names).
    private static let groupName: NSRegularExpression? = try? NSRegularExpression(
        pattern: #"\(\?<([A-Za-z][A-Za-z0-9]*)>"#)

    init(_ pattern: String, caseInsensitive: Bool = false) throws {
        regex = try NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
        literals = caseInsensitive ? [] : RequiredLiterals.of(pattern)
        var names: [String] = []
        if let groupName = Self.groupName {
            let range = NSRange(pattern.startIndex..., in: pattern)
            names = groupName.matches(in: pattern, range: range).compactMap { match in
                Range(match.range(at: 1), in: pattern).map { String(pattern[$0]) }
            }
        }
        self.names = names
        if let groups = RequiredLiterals.captureGroups(pattern), groups.count == regex.numberOfCaptureGroups {
            let numbers = names.map { name in groups.firstIndex(of: name).map { $0 + 1 } }
            groupNumbers = numbers.contains(nil) ? nil : numbers.compactMap { $0 }
        } else {
            groupNumbers = nil
        }
    }

    /// The named captures of the first match in `text`, nil when there is none. Groups that did not take part
    /// are absent. `fast` skips the regex when a required literal is missing and reads captures by group number.
    func captures(in text: String, fast: Bool = false) -> [String: String]? {
        guard fast else {
            guard let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else {
                return nil
            }
            var result: [String: String] = [:]
            for name in names {
                let range = match.range(withName: name)
                if range.location != NSNotFound, let swiftRange = Range(range, in: text) {
                    result[name] = String(text[swiftRange])
                }
            }
            return result
        }
        var copy = text
        let (ascii, possible) = copy.withUTF8 { bytes in
            (!bytes.contains(where: { $0 >= 0x80 }), literals.allSatisfy { CDNURL.contains(bytes, $0) })
        }
        guard possible else { return nil }
        // ASCII text: UTF-16 offsets are UTF-8 offsets, so ranges convert without walking the string.
        let length = ascii ? text.utf8.count : text.utf16.count
        guard let match = regex.firstMatch(in: text, range: NSRange(location: 0, length: length)) else { return nil }
        var result: [String: String] = [:]
        result.reserveCapacity(names.count)
        for (position, name) in names.enumerated() {
            let range = groupNumbers.map { match.range(at: $0[position]) } ?? match.range(withName: name)
            guard range.location != NSNotFound else { continue }
            if ascii {
                let utf8 = text.utf8
                let lower = utf8.index(utf8.startIndex, offsetBy: range.location)
                let upper = utf8.index(lower, offsetBy: range.length)
                result[name] = String(text[lower..<upper])
            } else if let swiftRange = Range(range, in: text) {
                result[name] = String(text[swiftRange])
            }
        }
        return result
    }

    /// Whether the regex matches anywhere in `text`; `fast` skips it when a required literal is missing.
    func matches(_ text: String, fast: Bool = false) -> Bool {
        if fast && !literals.allSatisfy({ CDNURL.contains(text, $0) }) { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

/// An origin template (`https://${host}/${path|url}`) parsed once.
struct OriginTemplate: Sendable, Hashable {
    enum Filter: String, Sendable, Hashable {
        /// Percent-decode, but only when the value looks encoded (has no `://`).
        case url
        /// Hex-decode to UTF-8 (GitHub camo).
        case hex
    }
    enum Part: Sendable, Hashable {
        case literal(String)
        case capture(String, Filter?)
    }
    let parts: [Part]

    /// Parses `text`; throws a description of the problem.
    init(_ text: String, knownNames: Set<String>) throws(TemplateProblem) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let dollar = rest.range(of: "${") {
            if dollar.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<dollar.lowerBound]))) }
            guard let close = rest[dollar.upperBound...].firstIndex(of: "}") else {
                throw TemplateProblem(text: "unclosed ${ in \(text)")
            }
            let body = rest[dollar.upperBound..<close].split(separator: "|", omittingEmptySubsequences: false)
            let name = String(body[0])
            guard knownNames.contains(name) else {
                throw TemplateProblem(text: "${\(name)} names no capture of the pattern or find")
            }
            var filter: Filter?
            if body.count == 2 {
                guard let known = Filter(rawValue: String(body[1])) else {
                    throw TemplateProblem(text: "unknown filter |\(body[1]) (use |url or |hex)")
                }
                filter = known
            } else if body.count > 2 {
                throw TemplateProblem(text: "one filter at most in ${\(rest[dollar.upperBound..<close])}")
            }
            parts.append(.capture(name, filter))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    /// Fills in the captures; nil when a filter cannot decode its value.
    func render(_ captures: [String: String]) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text):
                out += text
            case .capture(let name, let filter):
                let value = captures[name] ?? ""
                switch filter {
                case nil:
                    out += value
                case .url:
                    if value.contains("://") {
                        out += value
                    } else {
                        guard let decoded = value.removingPercentEncoding else { return nil }
                        out += decoded
                    }
                case .hex:
                    guard let decoded = Self.hexDecode(value) else { return nil }
                    out += decoded
                }
            }
        }
        return out
    }

    private static func hexDecode(_ hex: String) -> String? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a template did not parse.
struct TemplateProblem: Error {
    let text: String
}

/// What one rule says about one URL.
struct RuleOutcome: Sendable {
    var origin: String
    var width: Int?
    var height: Int?
    var mode: ResizeMode?
}

/// A `CDNRule` with its regexes compiled and its template parsed. A class, so that trying a rule does not copy
/// (and retain) each of its fields.
final class CompiledRule: Sendable {
    let rule: CDNRule
    /// Exact host names the rule admits.
    let exactHosts: Set<String>
    /// Domains whose subdomains (and the domain itself) the rule admits (`*.example.com` → `example.com`).
    let wildcardDomains: Set<String>
    private let hostRegex: CompiledRegex?
    /// The `requires` literals (UTF-8); `CDNRules` checks them before `apply`.
    let requires: [[UInt8]]
    private let pattern: CompiledRegex
    private let finds: [CompiledRegex]
    private let template: OriginTemplate?

    /// Compiles `rule`; errors name the field (the caller adds the rule index).
    init(_ rule: CDNRule) throws(CDNRuleError) {
        self.rule = rule
        func fail(_ code: CDNRuleError.Code, _ field: String, _ cause: String) -> CDNRuleError {
            CDNRuleError(code: code, ruleName: rule.name, field: field, underlying: cause)
        }
        guard !rule.name.isEmpty else { throw fail(.invalidField, "name", "empty name") }
        var exact: Set<String> = []
        var wildcards: Set<String> = []
        for host in rule.hosts {
            let lower = host.lowercased()
            if lower.hasPrefix("*.") {
                let apex = String(lower.dropFirst(2))
                guard !apex.isEmpty, !apex.contains("*") else {
                    throw fail(.invalidField, "host", "'\(host)': '*.' needs a domain")
                }
                wildcards.insert(apex)
            } else {
                guard !lower.isEmpty, !lower.contains("*") else {
                    throw fail(.invalidField, "host", "'\(host)': use an exact name or *.domain")
                }
                exact.insert(lower)
            }
        }
        exactHosts = exact
        guard !rule.requires.contains(where: \.isEmpty) else { throw fail(.invalidField, "requires", "empty string") }
        requires = rule.requires.map { Array($0.utf8) }
        wildcardDomains = wildcards
        do {
            hostRegex = try rule.hostRegex.map { try CompiledRegex($0, caseInsensitive: true) }
        } catch {
            throw fail(.invalidRegex, "host-regex", "\(error)")
        }
        do {
            pattern = try CompiledRegex(rule.pattern)
        } catch {
            throw fail(.invalidRegex, "pattern", "\(error)")
        }
        var finds: [CompiledRegex] = []
        for (index, text) in rule.find.enumerated() {
            do {
                finds.append(try CompiledRegex(text))
            } catch {
                throw fail(.invalidRegex, "find[\(index)]", "\(error)")
            }
        }
        self.finds = finds
        let names = Set(pattern.names + finds.flatMap(\.names))
        if let text = rule.origin {
            do throws(TemplateProblem) {
                template = try OriginTemplate(text, knownNames: names)
            } catch {
                throw fail(.invalidTemplate, "origin", error.text)
            }
        } else {
            template = nil
            if rule.unwrap && !names.contains("origin") {
                throw fail(.invalidRule, "unwrap", "an unwrap rule needs an origin template or an 'origin' capture")
            }
        }
        for (key, width) in rule.sizes where width < 0 {
            throw fail(.invalidField, "sizes", "negative width for '\(key)'")
        }
    }

    /// Whether the rule has no host list (it is tried on every host that passes its host regex).
    var isAnyHost: Bool { exactHosts.isEmpty && wildcardDomains.isEmpty }

    /// Whether the host regex (if any) admits `host`; the host list is checked by `CDNRules`' index.
    func admitsByRegex(host: String, fast: Bool = false) -> Bool {
        hostRegex.map { $0.matches(host, fast: fast) } ?? true
    }

    /// Applies the rule to `url`, whose `requires` prefilter the caller has checked; nil when it does not match.
    /// `fast` turns on the shortcuts that give the same answer with less work (`CDNRules.fastPaths`).
    func apply(_ url: String, _ parts: CDNURL, fast: Bool = false) -> RuleOutcome? {
        var captures: [String: String]
        var origin: String?
        switch rule.subject {
        case .url:
            guard let found = pattern.captures(in: url, fast: fast) else { return nil }
            captures = found
            addFinds(to: &captures, subject: url, fast: fast)
            origin = template.map { $0.render(captures) } ?? captures["origin"] ?? parts.withoutFragment
        case .queryItem:
            var match: (index: Int, captures: [String: String])?
            let items = parts.queryItems
            guard !items.isEmpty else { return nil }
            for (index, item) in items.enumerated() {
                // Without a `%` there is nothing to decode (fast path).
                let decoded =
                    fast && !item.utf8.contains(UInt8(ascii: "%"))
                    ? String(item) : item.removingPercentEncoding ?? String(item)
                if var found = pattern.captures(in: decoded, fast: fast) {
                    addFinds(to: &found, subject: decoded, fast: fast)
                    match = (index, found)
                    break
                }
            }
            guard let match else { return nil }
            captures = match.captures
            var kept = items
            kept.remove(at: match.index)
            origin = template.map { $0.render(captures) } ?? captures["origin"] ?? CDNURL.join(parts.base, kept)
        }
        guard var origin else { return nil }
        origin = CDNURL.editQuery(origin, remove: rule.removeParams, set: rule.setParams)
        if !rule.signed.isEmpty, parts.queryItems.contains(where: { rule.signed.contains(String(CDNURL.key(of: $0))) })
        {
            origin = url
        }
        var width = Self.size(captures["width"])
        let size = captures["size"].flatMap { $0.isEmpty ? nil : $0 }
        if width == nil, captures["width"]?.isEmpty != false, let size, let named = rule.sizes[size] {
            width = Self.size(String(named))
        }
        let height = Self.size(captures["height"])
        var mode: ResizeMode?
        if width != nil || height != nil {
            let key = captures["mode"].flatMap { $0.isEmpty ? nil : $0 } ?? size
            mode = key.flatMap { rule.modes[$0] } ?? rule.mode
        }
        return RuleOutcome(origin: origin, width: width, height: height, mode: mode)
    }

    /// Fills captures the pattern left empty from the `find` searches (in `scope` when the pattern has it).
    private func addFinds(to captures: inout [String: String], subject: String, fast: Bool) {
        guard !finds.isEmpty else { return }
        let scope = captures["scope"] ?? subject
        for find in finds {
            // A search can only fill empty captures: when all of its are filled it changes nothing (fast path).
            if fast && find.names.allSatisfy({ !(captures[$0]?.isEmpty ?? true) }) { continue }
            guard let found = find.captures(in: scope, fast: fast) else { continue }
            for (name, value) in found where !value.isEmpty && (captures[name]?.isEmpty ?? true) {
                captures[name] = value
            }
        }
    }

    /// A size from the URL: digits only; 0 (free side) and 9999 or more (unbounded sentinels) give nil.
    static func size(_ text: String?) -> Int? {
        guard let text, !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let value = Int(text), value > 0, value < 9999
        else { return nil }
        return value
    }
}
