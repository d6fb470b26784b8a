import ImgArchiveCore
import Testing

@Suite("CDN rules from YAML")
struct CDNRuleDecodingTests {
    static let userYAML = #"""
        retries: 3
        cdn-rules:
          - name: my-cdn
            host: img.example.com
            pattern: '^(?<origin>.*)!w(?<width>\d+)$'
            mode: fitInside
          - name: my-imgur
            host: [i.imgur.com]
            pattern: '^(?<base>https://i\.imgur\.com/)(?<id>\w{7})m\.(?<ext>\w+)$'
            origin: '${base}${id}.${ext}?from=mine'
          - name: my-proxy
            host: "*.proxy.example"
            pattern: '[?&]u=(?<inner>[^&#]+)'
            find: '[?&]w=(?<width>\d+)'
            origin: '${inner|url}'
            unwrap: true
          - name: my-query
            in: query-item
            pattern: '^resize=(?<width>\d+)x(?<height>\d+)$'
            host-regex: '^media\d+\.example\.org$'
            mode: crop
            remove-params: [quality]
            signed: token
        """#

    @Test("a config file's cdn-rules list decodes, other keys ignored")
    func decodesUserRules() throws {
        let rules = try CDNRules.decodeRules(yaml: Self.userYAML)
        #expect(rules.map(\.name) == ["my-cdn", "my-imgur", "my-proxy", "my-query"])
        #expect(rules[0].hosts == ["img.example.com"])
        #expect(rules[0].mode == .fitInside)
        #expect(rules[1].origin == "${base}${id}.${ext}?from=mine")
        #expect(rules[2].find == [#"[?&]w=(?<width>\d+)"#])
        #expect(rules[2].unwrap)
        #expect(rules[3].subject == .queryItem)
        #expect(rules[3].hostRegex == #"^media\d+\.example\.org$"#)
        #expect(rules[3].removeParams == ["quality"])
        #expect(rules[3].signed == ["token"])
    }

    @Test("user rules apply, and win over built-in rules for the same URL")
    func userRulesTakePrecedence() throws {
        let user = try CDNRules.decodeRules(yaml: Self.userYAML)
        let rules = CDNRules.builtIn.adding(userRules: user)

        let mine = rules.resolve("https://img.example.com/a/b.jpg!w640")
        #expect(
            mine
                == CDNResolution(
                    origin: "https://img.example.com/a/b.jpg", width: 640, mode: .fitInside, rule: "my-cdn"))

        let imgur = "https://i.imgur.com/c7EXjJum.jpeg"
        #expect(CDNRules.builtIn.resolve(imgur).rule == "imgur")
        #expect(CDNRules.builtIn.resolve(imgur).width == 320)
        let overridden = rules.resolve(imgur)
        #expect(overridden.rule == "my-imgur")
        #expect(overridden.origin == "https://i.imgur.com/c7EXjJu.jpeg?from=mine")
        #expect(overridden.width == nil)

        let proxied = rules.resolve("https://cdn.proxy.example/fetch?u=https%3A%2F%2Fi.imgur.com%2Fc7EXjJum.jpeg&w=200")
        #expect(proxied.origin == "https://i.imgur.com/c7EXjJu.jpeg?from=mine")
        #expect(proxied.width == 200)
        #expect(proxied.rule == "my-proxy>my-imgur")

        let query = rules.resolve("https://media7.example.org/p.jpg?a=1&resize=300x200&quality=80")
        #expect(
            query
                == CDNResolution(
                    origin: "https://media7.example.org/p.jpg?a=1", width: 300, height: 200, mode: .crop,
                    rule: "my-query"))
        let signed = "https://media7.example.org/p.jpg?resize=300x200&token=abc"
        #expect(rules.resolve(signed).origin == signed)
        #expect(rules.resolve("https://other.example.org/p.jpg?resize=300x200").rule == nil)
    }

    @Test("a bare list, an empty file and a file without cdn-rules decode")
    func otherShapes() throws {
        let bare = try CDNRules.decodeRules(yaml: "- name: a\n  pattern: 'x'\n")
        #expect(bare == [CDNRule(name: "a", pattern: "x")])
        #expect(try CDNRules.decodeRules(yaml: "").isEmpty)
        #expect(try CDNRules.decodeRules(yaml: "retries: 3\n").isEmpty)
        #expect(try CDNRules.decodeRules(yaml: "cdn-rules:\n").isEmpty)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let why: String
        let yaml: String
        let code: CDNRuleError.Code
        let index: Int?
        let field: String?
        var testDescription: String { why }
    }

    static let badCases: [BadCase] = [
        BadCase(
            why: "missing pattern", yaml: "cdn-rules:\n  - name: a\n    pattern: x\n  - name: b\n", code: .invalidField,
            index: 1, field: "pattern"),
        BadCase(
            why: "regex does not compile", yaml: "cdn-rules:\n  - name: a\n    pattern: '(unclosed'\n",
            code: .invalidRegex, index: 0, field: "pattern"),
        BadCase(
            why: "second find regex does not compile",
            yaml: "cdn-rules:\n  - name: a\n    pattern: x\n  - name: b\n    pattern: y\n    find: ['a', '[z']\n",
            code: .invalidRegex, index: 1, field: "find[1]"),
        BadCase(
            why: "host regex does not compile", yaml: "- name: a\n  pattern: x\n  host-regex: '*bad'\n",
            code: .invalidRegex, index: 0, field: "host-regex"),
        BadCase(
            why: "template names an unknown capture", yaml: "- name: a\n  pattern: '(?<x>.*)'\n  origin: '${nope}'\n",
            code: .invalidTemplate, index: 0, field: "origin"),
        BadCase(
            why: "template has an unknown filter", yaml: "- name: a\n  pattern: '(?<x>.*)'\n  origin: '${x|base64}'\n",
            code: .invalidTemplate, index: 0, field: "origin"),
        BadCase(
            why: "template is not closed", yaml: "- name: a\n  pattern: '(?<x>.*)'\n  origin: 'https://${x'\n",
            code: .invalidTemplate, index: 0, field: "origin"),
        BadCase(
            why: "unwrap without an origin", yaml: "- name: a\n  pattern: 'x'\n  unwrap: true\n",
            code: .invalidRule, index: 0, field: "unwrap"),
        BadCase(
            why: "unknown mode", yaml: "- name: a\n  pattern: x\n  mode: sideways\n", code: .invalidField, index: 0,
            field: "mode"),
        BadCase(
            why: "unknown subject", yaml: "- name: a\n  pattern: x\n  in: header\n", code: .invalidField, index: 0,
            field: "in"),
        BadCase(
            why: "unwrap is not a boolean", yaml: "- name: a\n  pattern: x\n  unwrap: maybe\n", code: .invalidField,
            index: 0, field: "unwrap"),
        BadCase(
            why: "sizes are not numbers", yaml: "- name: a\n  pattern: x\n  sizes: {small: big}\n", code: .invalidField,
            index: 0, field: "sizes.small"),
        BadCase(
            why: "wildcard host without a domain", yaml: "- name: a\n  pattern: x\n  host: '*.'\n", code: .invalidField,
            index: 0, field: "host"),
        BadCase(
            why: "empty name", yaml: "- name: ''\n  pattern: x\n", code: .invalidField, index: 0, field: "name"),
        BadCase(why: "not YAML", yaml: "cdn-rules: [unclosed\n", code: .invalidYAML, index: nil, field: nil),
        BadCase(
            why: "cdn-rules is not a list", yaml: "cdn-rules: 3\n", code: .invalidField, index: nil, field: "cdn-rules"),
        BadCase(why: "a rule is not a mapping", yaml: "- just a string\n", code: .invalidField, index: 0, field: nil),
    ]

    @Test("bad rules are rejected with the rule index and field", arguments: badCases)
    func rejects(_ bad: BadCase) {
        #expect {
            _ = try CDNRules.decodeRules(yaml: bad.yaml)
        } throws: { error in
            guard let error = error as? CDNRuleError else { return false }
            return error.code == bad.code && error.ruleIndex == bad.index && error.field == bad.field
        }
    }

    @Test("the error text names the rule and the field")
    func errorText() {
        do {
            _ = try CDNRules.decodeRules(yaml: "cdn-rules:\n  - name: a\n    pattern: x\n  - name: b\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("cdn-rules[1]"))
            #expect(error.description.contains("(b)"))
            #expect(error.description.contains("'pattern'"))
        }
    }

    @Test("a rule that does not compile is left out by init(rules:), and validate says why")
    func initSkipsBrokenRules() {
        let broken = CDNRule(name: "broken", pattern: "(")
        let good = CDNRule(name: "good", hosts: ["a.example"], pattern: "^(?<origin>.*)!x$")
        #expect(CDNRules(rules: [broken, good]).rules == [good])
        #expect(throws: CDNRuleError.self) { try CDNRules.validate([good, broken]) }
        #expect(
            CDNRules(rules: [broken, good]).resolve("https://a.example/p.jpg!x").origin == "https://a.example/p.jpg")
    }
}
