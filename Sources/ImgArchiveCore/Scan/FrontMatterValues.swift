/// Which front-matter values are image references: those of the configured fields (any value: a local path
/// too), and any string at any depth that is a remote URL with an image sign (`CDNRules.isImageURL`).
struct FrontMatterSelector {
    /// Configured fields as dotted key paths (`header.image`); list levels do not count in a path.
    let fields: Set<String>
    let rules: CDNRules
    /// The first key of each configured field, for the cheap check.
    private let firstKeys: [[UInt8]]

    init(fields: [String], rules: CDNRules) {
        self.fields = Set(fields)
        self.rules = rules
        firstKeys = Array(Set(fields.compactMap { $0.split(separator: ".").first.map { Array($0.utf8) } }))
    }

    /// Whether a value at `path` (dotted keys) is a reference.
    func wants(path: String, value: String) -> Bool {
        !value.isEmpty && (fields.contains(path) || rules.isImageURL(value))
    }

    /// Whether a configured field's last key is `key` (the line reader knows no nesting).
    func isFieldKey(_ key: String) -> Bool {
        fields.contains { $0 == key || $0.hasSuffix("." + key) }
    }

    /// False when `range` cannot hold an image value: no `//` (every remote URL has one) and no configured key.
    func mayHoldImages(_ b: ByteView, _ range: Range<Int>) -> Bool {
        if b.find("//", from: range.lowerBound, end: range.upperBound) != nil { return true }
        for key in firstKeys where !key.isEmpty {
            var i = range.lowerBound
            let last = range.upperBound - key.count
            while i <= last {
                if b[i] == key[0] {
                    var k = 1
                    while k < key.count, b[i + k] == key[k] { k += 1 }
                    if k == key.count { return true }
                }
                i += 1
            }
        }
        return false
    }
}
