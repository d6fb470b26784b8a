/// A block of addresses that is not the public internet (loopback, private, link-local, ...).
public struct SpecialAddressRange: Sendable, Hashable {
    /// A short name for messages and tests: `loopback`, `private`, `link-local`, ...
    public let kind: String
    /// The block, e.g. `127.0.0.0/8`.
    public let network: IPNetwork
    /// Where the block is defined, e.g. `RFC 1122`.
    public let source: String
}

/// What `SpecialAddresses.classify` found: the block, and the IPv6 form an IPv4 address was wrapped in.
public struct AddressClassification: Sendable, Hashable, CustomStringConvertible {
    /// The non-public block the address (or the IPv4 address inside it) is in.
    public let range: SpecialAddressRange
    /// `ipv4-mapped`, `ipv4-compatible`, `nat64` or `6to4` when an IPv6 address carries the IPv4 one that was
    /// judged; nil otherwise.
    public let form: String?

    /// `loopback (127.0.0.0/8, RFC 1122)`, with `, in IPv4-mapped form` when wrapped.
    public var description: String {
        "\(range.kind) (\(range.network), \(range.source))" + (form.map { ", in \($0) IPv6 form" } ?? "")
    }
}

/// The address blocks imgarchive never connects to unless allowed: those IANA's IPv4 and IPv6
/// special-purpose registries mark as not globally reachable, plus multicast and the IPv4 reserved block.
/// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
public enum SpecialAddresses {
    /// The block `address` is in, or nil for a public (globally reachable unicast) address.
    public static func classify(_ address: IPAddress) -> AddressClassification? {
        if address.isV4 {
            return first(in: v4, containing: address).map { AddressClassification(range: $0, form: nil) }
        }
        // The two exact IPv6 addresses inside ::/96 come before the IPv4-compatible reading of that block.
        for range in v6Exact where range.network.contains(address) {
            return AddressClassification(range: range, form: nil)
        }
        for (network, form) in v4Carriers where network.contains(address) {
            let offset = form == "6to4" ? 2 : 12
            guard let inner = IPAddress(bytes: Array(address.bytes[offset..<(offset + 4)])) else { continue }
            guard let range = first(in: v4, containing: inner) else { return nil }
            return AddressClassification(range: range, form: form)
        }
        if v6Global.contains(where: { $0.contains(address) }) { return nil }
        return first(in: v6, containing: address).map { AddressClassification(range: $0, form: nil) }
    }

    private static func first(in ranges: [SpecialAddressRange], containing address: IPAddress)
        -> SpecialAddressRange?
    {
        if address.isV4, v4Global.contains(where: { $0.contains(address) }) { return nil }
        return ranges.first { $0.network.contains(address) }
    }

    private static func range(_ kind: String, _ cidr: String, _ source: String) -> SpecialAddressRange {
        // The table below is constant and each entry is checked by the classifier tests.
        SpecialAddressRange(kind: kind, network: IPNetwork(cidr)!, source: source)
    }

    /// IPv4, most specific first where blocks nest (255.255.255.255 inside 240.0.0.0/4).
    static let v4: [SpecialAddressRange] = [
        range("this-network", "0.0.0.0/8", "RFC 791"),
        range("private", "10.0.0.0/8", "RFC 1918"),
        range("shared", "100.64.0.0/10", "RFC 6598, carrier-grade NAT"),
        range("loopback", "127.0.0.0/8", "RFC 1122"),
        range("link-local", "169.254.0.0/16", "RFC 3927, incl. cloud metadata 169.254.169.254"),
        range("private", "172.16.0.0/12", "RFC 1918"),
        range("ietf-protocol", "192.0.0.0/24", "RFC 6890"),
        range("documentation", "192.0.2.0/24", "RFC 5737"),
        range("private", "192.168.0.0/16", "RFC 1918"),
        range("benchmarking", "198.18.0.0/15", "RFC 2544"),
        range("documentation", "198.51.100.0/24", "RFC 5737"),
        range("documentation", "203.0.113.0/24", "RFC 5737"),
        range("multicast", "224.0.0.0/4", "RFC 5771"),
        range("broadcast", "255.255.255.255/32", "RFC 919"),
        range("reserved", "240.0.0.0/4", "RFC 1112"),
    ]

    /// Inside 192.0.0.0/24, the two anycast services IANA marks globally reachable (PCP, TURN).
    static let v4Global: [IPNetwork] = ["192.0.0.9/32", "192.0.0.10/32"].compactMap { IPNetwork($0) }

    static let v6Exact: [SpecialAddressRange] = [
        range("unspecified", "::/128", "RFC 4291"),
        range("loopback", "::1/128", "RFC 4291"),
    ]

    /// IPv6 blocks whose addresses carry an IPv4 address: judged by it (bytes 12-15, or 2-5 for 6to4).
    static let v4Carriers: [(IPNetwork, String)] = [
        (IPNetwork("::ffff:0:0/96")!, "ipv4-mapped"),
        (IPNetwork("::/96")!, "ipv4-compatible"),
        (IPNetwork("64:ff9b::/96")!, "nat64"),
        (IPNetwork("2002::/16")!, "6to4"),
    ]

    static let v6: [SpecialAddressRange] = [
        range("nat64-local", "64:ff9b:1::/48", "RFC 8215"),
        range("discard", "100::/64", "RFC 6666"),
        range("ietf-protocol", "2001::/23", "RFC 2928, incl. Teredo 2001::/32"),
        range("documentation", "2001:db8::/32", "RFC 3849"),
        range("documentation", "3fff::/20", "RFC 9637"),
        range("srv6", "5f00::/16", "RFC 9602"),
        range("unique-local", "fc00::/7", "RFC 4193"),
        range("link-local", "fe80::/10", "RFC 4291"),
        range("site-local", "fec0::/10", "RFC 3879"),
        range("multicast", "ff00::/8", "RFC 4291"),
    ]

    /// Inside 2001::/23, the blocks IANA marks globally reachable (anycast services, AMT, AS112, ORCHIDv2).
    static let v6Global: [IPNetwork] = [
        "2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:3::/32", "2001:4:112::/48", "2001:20::/28",
        "2001:30::/28",
    ].compactMap { IPNetwork($0) }
}
