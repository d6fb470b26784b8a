import ImgArchiveCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The addresses of a host that a proxy will connect to, for the address guard (`Transfer.targetAllowed`).
enum TargetAddresses {
    /// An address written in any form libc reads (`127.0.0.1`, `127.1`, `2130706433`, `0x7f000001`, `[::1]`) is
    /// that address, without DNS; a name is resolved with `getaddrinfo` (which blocks). Nil when it does not resolve.
    static func resolve(_ host: String) -> [IPAddress]? {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return lookup(name, flags: AI_NUMERICHOST) ?? lookup(name, flags: 0)
    }

    private static func lookup(_ name: String, flags: Int32) -> [IPAddress]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = flags
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let list else { return nil }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                switch current.pointee.ai_family {
                case AF_INET:
                    let v4 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
                    if let ip = withUnsafeBytes(of: v4.sin_addr, { IPAddress(bytes: Array($0)) }) {
                        addresses.append(ip)
                    }
                case AF_INET6:
                    let v6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
                    if let ip = withUnsafeBytes(of: v6.sin6_addr, { IPAddress(bytes: Array($0)) }) {
                        addresses.append(ip)
                    }
                default:
                    break
                }
            }
            entry = current.pointee.ai_next
        }
        return addresses.isEmpty ? nil : addresses
    }
}
