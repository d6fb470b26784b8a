import Testing

@testable import ImgArchiveCore

/// Every non-public form the guard must refuse: (address, kind, IPv6 form carrying an IPv4 address).
@Test(
    arguments: [
        ("127.0.0.1", "loopback", nil), ("127.255.255.254", "loopback", nil),
        ("10.0.0.1", "private", nil), ("172.16.0.1", "private", nil), ("172.31.255.255", "private", nil),
        ("192.168.1.1", "private", nil),
        ("169.254.169.254", "link-local", nil), ("169.254.0.1", "link-local", nil),
        ("100.64.0.1", "shared", nil), ("100.127.255.255", "shared", nil),
        ("0.0.0.0", "this-network", nil), ("0.1.2.3", "this-network", nil),
        ("255.255.255.255", "broadcast", nil), ("240.0.0.1", "reserved", nil),
        ("224.0.0.1", "multicast", nil), ("239.255.255.250", "multicast", nil),
        ("192.0.0.8", "ietf-protocol", nil), ("192.0.2.1", "documentation", nil), ("198.18.0.1", "benchmarking", nil),
        ("198.51.100.7", "documentation", nil), ("203.0.113.9", "documentation", nil),
        ("::", "unspecified", nil), ("::1", "loopback", nil), ("[::1]", "loopback", nil),
        ("0:0:0:0:0:0:0:1", "loopback", nil),
        ("fc00::1", "unique-local", nil), ("fd12:3456:789a::1", "unique-local", nil),
        ("fe80::1", "link-local", nil), ("febf::1", "link-local", nil), ("fec0::1", "site-local", nil),
        ("ff02::1", "multicast", nil), ("ff05::2", "multicast", nil),
        ("::ffff:127.0.0.1", "loopback", "ipv4-mapped"), ("::ffff:7f00:1", "loopback", "ipv4-mapped"),
        ("::ffff:169.254.169.254", "link-local", "ipv4-mapped"), ("::ffff:10.1.2.3", "private", "ipv4-mapped"),
        ("::127.0.0.1", "loopback", "ipv4-compatible"), ("::a9fe:a9fe", "link-local", "ipv4-compatible"),
        ("::192.168.0.1", "private", "ipv4-compatible"), ("::0.0.0.2", "this-network", "ipv4-compatible"),
        ("64:ff9b::127.0.0.1", "loopback", "nat64"), ("64:ff9b::a9fe:a9fe", "link-local", "nat64"),
        ("2002:7f00:1::", "loopback", "6to4"), ("2002:a9fe:a9fe::1", "link-local", "6to4"),
        ("64:ff9b:1::1", "nat64-local", nil), ("100::1", "discard", nil), ("2001::1", "ietf-protocol", nil),
        ("2001:db8::1", "documentation", nil), ("3fff::1", "documentation", nil), ("5f00::1", "srv6", nil),
    ] as [(String, String, String?)])
func refusesEveryNonPublicForm(address: String, kind: String, form: String?) throws {
    let parsed = try #require(IPAddress(address))
    let found = try #require(SpecialAddresses.classify(parsed))
    #expect(found.range.kind == kind)
    #expect(found.form == form)
    #expect(AddressPolicy().check(parsed, url: "http://x.test/a.jpg") != nil)
}

@Test(arguments: [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
    "169.253.255.255", "192.0.0.9", "192.0.0.10", "223.255.255.255", "2606:4700::1111", "2a00:1450::1",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::", "2001:4:112::1", "2001:db9::1", "fbff::1",
])
func allowsPublicAddresses(address: String) throws {
    let parsed = try #require(IPAddress(address))
    #expect(SpecialAddresses.classify(parsed) == nil)
    #expect(AddressPolicy().check(parsed, url: "http://x.test/a.jpg") == nil)
}

@Test(arguments: [
    ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("fe80:0:0:0:0:0:0:1", "fe80::1"), ("1::", "1::"),
    ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("::", "::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
])
func formatsAddresses(text: String, expected: String) throws {
    #expect(try #require(IPAddress(text)).description == expected)
}

/// Shorthand and malformed text is not an address (libcurl resolves shorthand; the guard judges the result).
@Test(arguments: [
    "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.01", "256.0.0.1", "1.2.3", "1.2.3.4.5", "",
    ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "fe80::1%eth0", "::1.2.3", "g::1", "1.2.3.4::",
])
func rejectsNonStandardText(text: String) {
    #expect(IPAddress(text) == nil)
}

@Test(arguments: [
    ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.0", false), ("10.1.2.3/8", "10.9.9.9", true),
    ("192.168.1.20", "192.168.1.20", true), ("192.168.1.20", "192.168.1.21", false),
    ("fd00::/8", "fd12::1", true), ("fd00::/8", "fe00::1", false), ("0.0.0.0/0", "8.8.8.8", true),
    ("::/0", "127.0.0.1", false), ("127.0.0.0/8", "::ffff:127.0.0.1", false),
])
func networksContain(network: String, address: String, expected: Bool) throws {
    let net = try #require(IPNetwork(network))
    #expect(net.contains(try #require(IPAddress(address))) == expected)
}

@Test(arguments: [
    ("*.example.com", AddressAllowance.host("*.example.com")), ("Img.Example.com", .host("img.example.com")),
    ("localhost", .host("localhost")), ("10.0.0.0/8", .network(IPNetwork("10.0.0.0/8")!)),
    ("fd00::/8", .network(IPNetwork("fd00::/8")!)), ("127.0.0.1", .network(IPNetwork("127.0.0.1/32")!)),
])
func parsesAllowances(text: String, expected: AddressAllowance) {
    #expect(AddressAllowance(text) == expected)
}

@Test(arguments: ["127.1", "10.0.0.0/33", "fd00::/129", "host name", "*.", "a..b", "http://x", "0x7f.1", "1.2.3", ""])
func rejectsBadAllowances(text: String) {
    #expect(AddressAllowance(text) == nil)
}

@Test func allowancesOpenOnlyWhatTheyName() throws {
    let loopback = try #require(IPAddress("127.0.0.1"))
    let metadata = try #require(IPAddress("169.254.169.254"))
    let policy = AddressPolicy(allow: [.network(IPNetwork("127.0.0.0/8")!), .host("*.intranet.test")])
    #expect(policy.check(loopback, url: "http://anything.test/a.jpg") == nil)
    #expect(policy.check(metadata, url: "http://img.intranet.test/a.jpg") == nil)
    #expect(policy.check(metadata, url: "http://intranet.test.evil/a.jpg") != nil)
    #expect(policy.check(metadata, url: "http://169.254.169.254/latest/meta-data/") != nil)
    #expect(policy.check(try #require(IPAddress("::1")), url: "http://anything.test/") != nil)
}

@Test(arguments: [
    ("cdn.test:80:127.0.0.1:8080", "http://cdn.test/a.jpg", true),
    ("cdn.test:80:127.0.0.1:8080", "http://CDN.test:80/a.jpg", true),
    ("cdn.test:80:127.0.0.1:8080", "https://cdn.test/a.jpg", false),
    ("cdn.test:80:127.0.0.1:8080", "http://other.test/a.jpg", false),
    ("cdn.test:80:127.0.0.1:8080", "http://127.0.0.1:8080/a.jpg", false),
    (":443:localhost:8443", "https://any.test/a.jpg", true), ("cdn.test::127.0.0.1:1", "http://cdn.test:81/", true),
    ("[::1]:80:127.0.0.1:1", "http://[::1]/", true),
])
func connectToRoutesAllowTheirTargets(entry: String, url: String, allowed: Bool) throws {
    let policy = AddressPolicy(connectTo: [entry])
    #expect((policy.check(try #require(IPAddress("127.0.0.1")), url: url) == nil) == allowed)
}

@Test func refusalNamesTheURLAddressAndTheWayOut() throws {
    let mapped = try #require(IPAddress("::ffff:169.254.169.254"))
    let refusal = try #require(AddressPolicy().check(mapped, url: "http://meta.test/x"))
    let message = refusal.message
    #expect(message.contains("http://meta.test/x"))
    #expect(message.contains("::ffff:169.254.169.254"))
    #expect(message.contains("link-local (169.254.0.0/16"))
    #expect(message.contains("IPv4-mapped") || message.contains("ipv4-mapped"))
    #expect(message.contains("\"meta.test\" (this host)"))
    #expect(message.contains("allow-addresses"))
    let loopback = try #require(IPAddress("127.0.0.1"))
    let literal = try #require(AddressPolicy().check(loopback, url: "http://127.0.0.1:8/x"))
    #expect(!literal.message.contains("(this host)"))
}
