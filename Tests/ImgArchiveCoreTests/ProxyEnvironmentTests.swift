import ImgArchiveCore
import Testing

/// The proxy a URL goes through, decided from the environment as libcurl decides it.
@Suite struct ProxyEnvironmentTests {
    static let proxies = [
        "http_proxy": "http://proxy.lan:3128", "HTTPS_PROXY": "http://secure.lan:3128",
        "no_proxy": "intranet.example, .corp.example,10.0.0.0/8 ::1",
    ]

    @Test(
        arguments: [
            // URL, environment, expected proxy
            ("http://img.example.com/a.jpg", proxies, "http://proxy.lan:3128"),
            ("https://img.example.com/a.jpg", proxies, "http://secure.lan:3128"),
            ("http://intranet.example/a.jpg", proxies, nil),
            ("http://img.intranet.example/a.jpg", proxies, nil),
            ("http://badintranet.example/a.jpg", proxies, "http://proxy.lan:3128"),
            ("http://a.corp.example./a.jpg", proxies, nil),
            ("http://10.1.2.3:8080/a.jpg", proxies, nil),
            ("http://11.1.2.3/a.jpg", proxies, "http://proxy.lan:3128"),
            ("http://[::1]/a.jpg", proxies, nil),
            // HTTP_PROXY in capitals is ignored (a CGI request can set it); ALL_PROXY is the fallback.
            ("http://img.example.com/a.jpg", ["HTTP_PROXY": "http://evil:1"], nil),
            (
                "http://img.example.com/a.jpg", ["HTTP_PROXY": "http://evil:1", "ALL_PROXY": "socks5h://s:1080"],
                "socks5h://s:1080"
            ),
            ("https://img.example.com/a.jpg", ["https_proxy": "", "all_proxy": "http://all:1"], "http://all:1"),
            ("https://img.example.com/a.jpg", ["all_proxy": "http://all:1", "NO_PROXY": "*"], nil),
            ("https://img.example.com/a.jpg", [:], nil),
        ] as [(String, [String: String], String?)])
    func proxyForURL(url: String, environment: [String: String], expected: String?) {
        #expect(ProxyEnvironment(environment).proxy(for: url) == expected)
    }
}
