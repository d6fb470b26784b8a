/// An IPv4 or IPv6 address as its bytes in network order (4 or 16 of them).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, most significant first.
    public let bytes: [UInt8]

    /// An address from its bytes; nil unless there are 4 or 16.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses the standard text forms only: dotted decimal IPv4 (four parts, no leading zeros, so no octal
    /// ambiguity) and IPv6 (RFC 4291, `::` and a trailing dotted quad allowed, optionally in brackets, no zone).
    /// Shorthand such as `127.1` or `2130706433` is not an address here: libcurl resolves those, and the guard
    /// judges the address it resolved them to.
    public init?(_ text: some StringProtocol) {
        var t = Substring(text)
        if t.hasPrefix("[") && t.hasSuffix("]") { t = t.dropFirst().dropLast() }
        if t.contains(":") {
            guard let bytes = Self.parseV6(t) else { return nil }
            self.bytes = bytes
        } else {
            guard let bytes = Self.parseV4(t) else { return nil }
            self.bytes = bytes
        }
    }

    /// True for IPv4.
    public var isV4: Bool { bytes.count == 4 }

    /// Dotted decimal for IPv4; RFC 5952 for IPv6 (lower case, longest zero run as `::`, IPv4-mapped as
    /// `::ffff:a.b.c.d`).
    public var description: String {
        if isV4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return "::ffff:" + bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, g) in groups.enumerated() {
            if g == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    private static func parseV4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit),
                part == "0" || part.first != "0", let n = UInt8(part)
            else { return nil }
            out.append(n)
        }
        return out
    }

    private static func parseV6(_ text: Substring) -> [UInt8]? {
        guard !text.contains("%") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        sawGap = halves.count == 2
        func groups(_ part: Substring, allowV4: Bool) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, field) in fields.enumerated() {
                if allowV4 && i == fields.count - 1 && field.contains(".") {
                    guard let v4 = parseV4(field) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(field.count), field.allSatisfy(\.isHexDigit), let n = UInt16(field, radix: 16)
                else { return nil }
                out.append(n)
            }
            return out
        }
        guard let h = groups(halves[0], allowV4: !sawGap) else { return nil }
        head = h
        if sawGap {
            guard let t = groups(halves[1], allowV4: true) else { return nil }
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard head.count == 8 else { return nil }
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}

/// A block of addresses in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address (host bits cleared).
    public let address: IPAddress
    /// Leading bits that are fixed: 0-32 for IPv4, 0-128 for IPv6.
    public let prefixLength: Int

    /// The network of `address`'s first `prefixLength` bits; nil when the length does not fit the family.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0 && prefixLength <= address.bytes.count * 8 else { return nil }
        self.address = IPAddress(bytes: Self.mask(address.bytes, prefixLength)) ?? address
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/LENGTH`, or a bare address (a network of one).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        var length = address.bytes.count * 8
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy(\.isASCIIDigit), let n = Int(parts[1])
            else { return nil }
            length = n
        }
        self.init(address: address, prefixLength: length)
    }

    /// Whether `other` is in this network (never across families).
    public func contains(_ other: IPAddress) -> Bool {
        other.bytes.count == address.bytes.count && Self.mask(other.bytes, prefixLength) == address.bytes
    }

    /// `address/length`.
    public var description: String { "\(address)/\(prefixLength)" }

    private static func mask(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(8, max(0, length - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xff) >> bits)
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
