/// Literal strings every match of a regular expression must contain, read from the pattern text.
///
/// A prefilter: when one of them is missing from the subject, the regex cannot match and is not run. The reader
/// is conservative: it only collects literals on the pattern's mandatory path (outside alternations, optional
/// atoms, negative look-arounds and classes) and gives up (no literals) on anything it does not understand
/// (inline flags, `\Q…\E`, back references, unknown escapes, case-insensitive patterns).
enum RequiredLiterals {
    /// The literals (UTF-8 bytes) all matches of `pattern` contain; empty when nothing is known.
    static func of(_ pattern: String) -> [[UInt8]] {
        var reader = Reader(Array(pattern.unicodeScalars))
        guard let literals = reader.alternation(), reader.atEnd else { return [] }
        var kept: [[UInt8]] = []
        // Longest first; a literal inside a kept one adds nothing.
        for literal in literals.sorted(by: { $0.count > $1.count }) where !literal.isEmpty {
            if !kept.contains(where: { contains($0, literal) }) { kept.append(literal) }
        }
        return kept
    }

    /// The capture groups of `pattern` in the order ICU numbers them: the name of a named group, nil for an
    /// unnamed one. Nil when the pattern has syntax this reader does not follow (`\Q…\E`, nested classes,
    /// comments, the `x` flag); the caller also checks the count against the compiled regex.
    static func captureGroups(_ pattern: String) -> [String?]? {
        let s = Array(pattern.unicodeScalars)
        var groups: [String?] = []
        var i = 0
        var inClass = false
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                guard i + 1 < s.count, s[i + 1] != "Q" else { return nil }
                i += 2
            } else if inClass {
                guard c != "[" else { return nil }
                if c == "]" { inClass = false }
                i += 1
            } else if c == "[" {
                inClass = true
                i += 1
                if i < s.count && s[i] == "^" { i += 1 }
                guard i >= s.count || s[i] != "]" else { return nil }  // `[]…]`: leave it to name lookups
            } else if c == "(" && i + 1 < s.count && s[i + 1] == "?" {
                if i + 3 < s.count && s[i + 2] == "<" && s[i + 3] != "=" && s[i + 3] != "!" {
                    var j = i + 3
                    var name = ""
                    while j < s.count && s[j] != ">" {
                        name.unicodeScalars.append(s[j])
                        j += 1
                    }
                    guard j < s.count else { return nil }
                    groups.append(name)
                    i = j + 1
                } else {
                    guard i + 2 < s.count, s[i + 2] != "#" else { return nil }
                    var j = i + 2
                    while j < s.count && (s[j].properties.isAlphabetic || s[j] == "-") {
                        guard s[j] != "x" else { return nil }
                        j += 1
                    }
                    i += 2
                }
            } else {
                if c == "(" { groups.append(nil) }
                i += 1
            }
        }
        return groups
    }

    /// Whether `haystack` contains `needle`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    private struct Reader {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var atEnd: Bool { index == scalars.count }
        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        /// Reads branches up to `)` or the end; nil when the pattern is not understood. Literals are only
        /// required when there is a single branch.
        mutating func alternation() -> [[UInt8]]? {
            var literals: [[UInt8]] = []
            var branches = 1
            var run: [UInt8] = []
            func endRun() {
                if !run.isEmpty { literals.append(run) }
                run = []
            }
            /// A literal scalar: `x` extends the run, `x+` ends it, `x?` is not required.
            func add(_ scalar: Unicode.Scalar, _ quantifier: Quantifier) {
                if quantifier != .optional { run += Array(String(scalar).utf8) }
                if quantifier != .none { endRun() }
            }
            while let scalar = current, scalar != ")" {
                switch scalar {
                case "|":
                    index += 1
                    endRun()
                    branches += 1
                case "(":
                    endRun()
                    guard let inner = group() else { return nil }
                    guard let quantifier = quantifier() else { return nil }
                    if quantifier != .optional { literals += inner }
                case "[":
                    endRun()
                    guard skipClass(), quantifier() != nil else { return nil }
                case "^", "$":
                    index += 1
                    endRun()
                case ".":
                    index += 1
                    endRun()
                    guard quantifier() != nil else { return nil }
                case "\\":
                    guard let next = index + 1 < scalars.count ? scalars[index + 1] : nil else { return nil }
                    index += 2
                    if next.properties.isAlphabetic || ("0"..."9").contains(next) {
                        // Classes (\d \w \s) and anchors (\b \A \z): no literal; anything else: give up.
                        guard "dDwWsSbBAzZG".unicodeScalars.contains(next) else { return nil }
                        endRun()
                        guard quantifier() != nil else { return nil }
                    } else {
                        guard next.isASCII, let quantifier = quantifier() else { return nil }
                        add(next, quantifier)
                    }
                case "?", "*", "+", "{", "}", "]":
                    return nil
                default:
                    index += 1
                    guard let quantifier = quantifier() else { return nil }
                    add(scalar, quantifier)
                }
            }
            endRun()
            return branches == 1 ? literals : []
        }

        /// Reads `( … )` from its `(`; the literals it requires (nil: not understood).
        mutating func group() -> [[UInt8]]? {
            index += 1
            var required = true
            if current == "?" {
                index += 1
                switch current {
                case ":", ">", "=":
                    index += 1
                case "!":
                    index += 1
                    required = false
                case "<":
                    index += 1
                    if current == "=" || current == "!" {
                        index += 1
                        required = false
                    } else {
                        // A named group: (?<name>
                        while let scalar = current, scalar != ">" {
                            guard scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) else { return nil }
                            index += 1
                        }
                        guard current == ">" else { return nil }
                        index += 1
                    }
                default:
                    return nil  // inline flags, comments and anything else
                }
            }
            guard let inner = alternation(), current == ")" else { return nil }
            index += 1
            return required ? inner : []
        }

        /// Skips a `[…]` class from its `[`; false when it nests or does not close.
        mutating func skipClass() -> Bool {
            index += 1
            if current == "^" { index += 1 }
            if current == "]" { index += 1 }
            while let scalar = current {
                switch scalar {
                case "]":
                    index += 1
                    return true
                case "[":
                    return false
                case "\\":
                    index += 2
                default:
                    index += 1
                }
            }
            return false
        }

        enum Quantifier { case none, optional, repeated }

        /// Reads a quantifier after an atom (and its lazy `?` or possessive `+`); nil when malformed.
        mutating func quantifier() -> Quantifier? {
            let found: Quantifier
            switch current {
            case "?", "*":
                index += 1
                found = .optional
            case "+":
                index += 1
                found = .repeated
            case "{":
                index += 1
                var digits = ""
                while let scalar = current, ("0"..."9").contains(scalar) {
                    digits.unicodeScalars.append(scalar)
                    index += 1
                }
                while let scalar = current, scalar == "," || ("0"..."9").contains(scalar) { index += 1 }
                guard current == "}", let minimum = Int(digits) else { return nil }
                index += 1
                found = minimum == 0 ? .optional : .repeated
            default:
                return Quantifier.none
            }
            if current == "?" || current == "+" { index += 1 }
            return found
        }
    }
}
