/// Why an SVG cannot be published: it is not well-formed XML, or uses a feature the reader refuses (parameter
/// entities, an encoding other than UTF-8 or Latin-1, entity expansion past the limit, nesting too deep).
public struct SVGError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public var message: String
    /// The 1-based line of the input where it was found, when known.
    public var line: Int?

    /// Creates an error.
    public init(message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }

    /// The message, with its line.
    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// A small, strict XML reader for SVG files, in Swift, with nothing that could reach a network or a file.
///
/// It reads the document into a tree of elements and text. Comments, processing instructions, CDATA section
/// markers and the DOCTYPE are consumed and do not appear in the tree. Of a DOCTYPE's internal subset only
/// internal general entities (`<!ENTITY name "text">`, as old Illustrator files use for namespace URIs) are
/// kept; an external entity (`SYSTEM`/`PUBLIC`) is never loaded and a reference to it expands to nothing
/// (counted in `droppedExternalEntities`); parameter entities are refused. Entity expansion is bounded in depth
/// and in total size, so "billion laughs" stops with an error after a bounded amount of work. Elements nest at
/// most `maxDepth` deep. Namespaces are not resolved here: names are kept as written (`prefix:local`).
struct SVGXMLReader {
    /// A node of the tree.
    enum Node {
        case element(Element)
        case text(String)
    }

    /// An element with its attributes in document order and its children.
    struct Element {
        var name: String
        var attributes: [(name: String, value: String)]
        var children: [Node] = []
    }

    /// How deep elements may nest.
    static let maxDepth = 256
    /// How many bytes entity references may produce in a whole document.
    static let maxExpansion = 1 << 20
    /// How deep entity references may nest inside entity values.
    static let maxEntityDepth = 8

    private var bytes: [UInt8]
    private var i = 0
    private var entities: [String: [UInt8]] = [:]
    private var externalEntities = Set<String>()
    private var expanded = 0
    /// References to external entities that were dropped instead of loaded.
    private(set) var droppedExternalEntities = 0
    /// Processing instructions (`<?xml-stylesheet ...?>`, ...) that were dropped; the XML declaration is not one.
    private(set) var droppedInstructions = 0

    /// Reads a whole document; returns its root element.
    static func parse(_ input: [UInt8]) throws(SVGError) -> (
        root: Element, droppedExternalEntities: Int, droppedInstructions: Int
    ) {
        var reader = try SVGXMLReader(bytes: decode(input))
        let root = try reader.document()
        return (root, reader.droppedExternalEntities, reader.droppedInstructions)
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Encoding

    /// The input as UTF-8 with XML's line ends (`\r\n` and `\r` become `\n`): UTF-8 (with or without a BOM), or
    /// Latin-1 when the XML declaration says so. Other encodings, invalid UTF-8 and control characters XML does
    /// not allow are refused.
    static func decode(_ input: [UInt8]) throws(SVGError) -> [UInt8] {
        var data = input[...]
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data = data.dropFirst(3) }
        if data.starts(with: [0xFE, 0xFF]) || data.starts(with: [0xFF, 0xFE]) {
            throw SVGError(message: "UTF-16 SVG files are not supported")
        }
        if let declared = declaredEncoding(data) {
            switch declared {
            case "utf-8", "utf8", "us-ascii", "ascii":
                break
            case "iso-8859-1", "latin1", "latin-1", "iso_8859-1", "l1":
                var text = ""
                text.unicodeScalars.append(contentsOf: data.map { Unicode.Scalar($0) })
                data = ArraySlice(text.utf8)
            default:
                throw SVGError(
                    message: "the file declares the encoding \(declared.prefix(40)); only UTF-8 and Latin-1 are read")
            }
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw SVGError(message: "the file is not valid UTF-8")
        }
        var out: [UInt8] = []
        out.reserveCapacity(data.count)
        var line = 1
        var previous: UInt8 = 0
        for b in data {
            if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D {
                throw SVGError(message: "control character 0x\(String(b, radix: 16)) is not allowed in XML", line: line)
            }
            if b == 0x0A {
                if previous != 0x0D { out.append(0x0A) }
                line += 1
            } else if b == 0x0D {
                out.append(0x0A)
            } else {
                out.append(b)
            }
            previous = b
        }
        return out
    }

    /// The lowercased `encoding` of a leading XML declaration, if any.
    private static func declaredEncoding(_ data: ArraySlice<UInt8>) -> String? {
        guard data.starts(with: Array("<?xml".utf8)) else { return nil }
        let head = data.prefix(200)
        guard let end = head.firstIndex(of: UInt8(ascii: ">")) else { return nil }
        let declaration = String(decoding: head[..<end], as: UTF8.self)
        guard let at = declaration.range(of: "encoding") else { return nil }
        var rest = declaration[at.upperBound...].drop(while: { $0 == " " || $0 == "=" || $0 == "\t" || $0 == "\n" })
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        rest = rest.dropFirst()
        return String(rest.prefix(while: { $0 != quote })).lowercased()
    }

    // MARK: Document

    private mutating func document() throws(SVGError) -> Element {
        try misc(allowDoctype: true)
        guard peek("<"), i + 1 < bytes.count, isNameStart(bytes[i + 1]) else {
            throw fail("no root element where one was expected")
        }
        let root = try elementTree()
        try misc(allowDoctype: false)
        guard i == bytes.count else { throw fail("content after the root element") }
        return root
    }

    /// Whitespace, comments, processing instructions and (before the root) one DOCTYPE.
    private mutating func misc(allowDoctype: Bool) throws(SVGError) {
        var sawDoctype = false
        while true {
            skipSpace()
            if peek("<?") {
                try instruction()
            } else if peek("<!--") {
                try skipPast("-->", what: "comment")
            } else if peek("<!DOCTYPE") {
                guard allowDoctype, !sawDoctype else { throw fail("a DOCTYPE out of place") }
                sawDoctype = true
                try doctype()
            } else {
                return
            }
        }
    }

    /// Skips a processing instruction, counting it unless it is the XML declaration.
    private mutating func instruction() throws(SVGError) {
        if !(peek("<?xml ") || peek("<?xml\t") || peek("<?xml\n") || peek("<?xml?")) { droppedInstructions += 1 }
        try skipPast("?>", what: "processing instruction")
    }

    // MARK: DOCTYPE

    private mutating func doctype() throws(SVGError) {
        i += "<!DOCTYPE".utf8.count
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: ">"):
                i += 1
                return
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                _ = try quoted()
            case UInt8(ascii: "["):
                i += 1
                try internalSubset()
            default:
                i += 1
            }
        }
        throw fail("the DOCTYPE does not end")
    }

    private mutating func internalSubset() throws(SVGError) {
        while true {
            skipSpace()
            guard i < bytes.count else { throw fail("the DOCTYPE's internal subset does not end") }
            if peek("]") {
                i += 1
                return
            } else if peek("<!--") {
                try skipPast("-->", what: "comment")
            } else if peek("<?") {
                try instruction()
            } else if peek("<!ENTITY") {
                try entityDeclaration()
            } else if peek("<!ELEMENT") || peek("<!ATTLIST") || peek("<!NOTATION") {
                // Declarations that define no text: skipped (attribute defaults are not applied).
                while i < bytes.count && bytes[i] != UInt8(ascii: ">") {
                    if bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") {
                        _ = try quoted()
                    } else {
                        i += 1
                    }
                }
                i += 1
            } else if peek("%") {
                throw fail("parameter entity references are not supported")
            } else {
                throw fail("unexpected content in the DOCTYPE")
            }
        }
    }

    private mutating func entityDeclaration() throws(SVGError) {
        i += "<!ENTITY".utf8.count
        skipSpace()
        if peek("%") { throw fail("parameter entities are not supported") }
        let name = try self.name()
        skipSpace()
        if peek("\"") || peek("'") {
            let value = try quoted()
            if value.contains(UInt8(ascii: "<")) { throw fail("the entity \(name) holds markup; not supported") }
            if value.contains(UInt8(ascii: "%")) {
                throw fail("the entity \(name) uses parameter entities; not supported")
            }
            if entities[name] == nil && !externalEntities.contains(name) { entities[name] = value }
        } else if peek("SYSTEM") || peek("PUBLIC") {
            // Never loaded: references to it expand to nothing.
            if entities[name] == nil { externalEntities.insert(name) }
        } else {
            throw fail("a malformed entity declaration")
        }
        while i < bytes.count && bytes[i] != UInt8(ascii: ">") {
            if bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") {
                _ = try quoted()
            } else {
                i += 1
            }
        }
        guard i < bytes.count else { throw fail("an entity declaration does not end") }
        i += 1
    }

    // MARK: Elements

    private mutating func elementTree() throws(SVGError) -> Element {
        var stack: [Element] = []
        while true {
            guard i < bytes.count else {
                throw fail("the file ends before </\(stack.last?.name ?? "svg")> (cut short?)")
            }
            if bytes[i] == UInt8(ascii: "<") {
                if peek("</") {
                    i += 2
                    let name = try self.name()
                    skipSpace()
                    guard peek(">") else { throw fail("a malformed end tag </\(name)") }
                    i += 1
                    guard let open = stack.popLast() else { throw fail("an end tag </\(name)> without a start") }
                    guard open.name == name else { throw fail("</\(name)> closes <\(open.name)>") }
                    if stack.isEmpty { return open }
                    stack[stack.count - 1].children.append(.element(open))
                } else if peek("<!--") {
                    try skipPast("-->", what: "comment")
                } else if peek("<![CDATA[") {
                    i += "<![CDATA[".utf8.count
                    let start = i
                    try skipPast("]]>", what: "CDATA section")
                    guard !stack.isEmpty else { throw fail("text outside the root element") }
                    appendText(bytes[start..<(i - 3)], to: &stack)
                } else if peek("<?") {
                    try instruction()
                } else {
                    i += 1
                    let element = try startTag()
                    if element.selfClosing {
                        if stack.isEmpty { return element.element }
                        stack[stack.count - 1].children.append(.element(element.element))
                    } else {
                        guard stack.count < Self.maxDepth else {
                            throw fail("elements nest deeper than \(Self.maxDepth)")
                        }
                        stack.append(element.element)
                    }
                }
            } else {
                guard !stack.isEmpty else { throw fail("text outside the root element") }
                let start = i
                while i < bytes.count && bytes[i] != UInt8(ascii: "<") { i += 1 }
                let text = try expand(bytes[start..<i], inAttribute: false, depth: 0)
                appendText(text[...], to: &stack)
            }
        }
    }

    private func appendText(_ text: ArraySlice<UInt8>, to stack: inout [Element]) {
        guard !text.isEmpty else { return }
        let string = String(decoding: text, as: UTF8.self)
        let last = stack.count - 1
        if case .text(let previous) = stack[last].children.last {
            stack[last].children[stack[last].children.count - 1] = .text(previous + string)
        } else {
            stack[last].children.append(.text(string))
        }
    }

    /// A start tag after its `<`: the element and whether it closed itself (`/>`).
    private mutating func startTag() throws(SVGError) -> (element: Element, selfClosing: Bool) {
        let name = try self.name()
        var attributes: [(name: String, value: String)] = []
        var seen = Set<String>()
        while true {
            let spaced = skipSpace()
            guard i < bytes.count else { throw fail("the tag <\(name) does not end") }
            if peek("/>") {
                i += 2
                return (Element(name: name, attributes: attributes), true)
            }
            if peek(">") {
                i += 1
                return (Element(name: name, attributes: attributes), false)
            }
            guard spaced else { throw fail("attributes of <\(name)> must be separated by spaces") }
            let attribute = try self.name()
            skipSpace()
            guard peek("=") else { throw fail("the attribute \(attribute) of <\(name)> has no value") }
            i += 1
            skipSpace()
            let raw = try quoted()
            if raw.contains(UInt8(ascii: "<")) { throw fail("a '<' in the attribute \(attribute) of <\(name)>") }
            guard seen.insert(attribute).inserted else { throw fail("<\(name)> has the attribute \(attribute) twice") }
            let value = try expand(raw[...], inAttribute: true, depth: 0)
            attributes.append((attribute, String(decoding: value, as: UTF8.self)))
        }
    }

    // MARK: References

    /// Text with its character and entity references replaced; in an attribute value, literal tabs and line
    /// ends become spaces (XML's attribute-value normalisation).
    private mutating func expand(_ raw: ArraySlice<UInt8>, inAttribute: Bool, depth: Int) throws(SVGError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var k = raw.startIndex
        while k < raw.endIndex {
            let b = raw[k]
            guard b == UInt8(ascii: "&") else {
                out.append(inAttribute && (b == 0x09 || b == 0x0A) ? 0x20 : b)
                k += 1
                continue
            }
            guard let semicolon = raw[k..<min(raw.endIndex, k + 80)].firstIndex(of: UInt8(ascii: ";")) else {
                throw fail("a '&' that starts no reference (write &amp;)")
            }
            let name = String(decoding: raw[(k + 1)..<semicolon], as: UTF8.self)
            k = semicolon + 1
            if name.hasPrefix("#") {
                let hex = name.hasPrefix("#x")
                guard let value = UInt32(name.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10),
                    let scalar = Unicode.Scalar(value),
                    value == 0x09 || value == 0x0A || value == 0x0D || value >= 0x20,
                    value != 0xFFFE && value != 0xFFFF
                else { throw fail("the character reference &\(name.prefix(20)); is not a valid XML character") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
                continue
            }
            switch name {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                if let value = entities[name] {
                    guard depth < Self.maxEntityDepth else {
                        throw fail(
                            "entities nest deeper than \(Self.maxEntityDepth) (a recursive or \"billion laughs\" entity)"
                        )
                    }
                    let replacement = try expand(value[...], inAttribute: inAttribute, depth: depth + 1)
                    expanded += replacement.count
                    guard expanded <= Self.maxExpansion else {
                        throw fail("entity references expand past \(Self.maxExpansion) bytes (\"billion laughs\"?)")
                    }
                    out.append(contentsOf: replacement)
                } else if externalEntities.contains(name) {
                    droppedExternalEntities += 1
                } else {
                    throw fail("the entity &\(name.prefix(40)); is not declared")
                }
            }
        }
        return out
    }

    // MARK: Lexing

    private func peek(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        return text.withUTF8Buffer { buffer in
            for k in 0..<count where bytes[i + k] != buffer[k] { return false }
            return true
        }
    }

    @discardableResult
    private mutating func skipSpace() -> Bool {
        let start = i
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
        return i > start
    }

    private mutating func skipPast(_ end: StaticString, what: String) throws(SVGError) {
        let start = i
        while i < bytes.count {
            if peek(end) {
                i += end.utf8CodeUnitCount
                return
            }
            i += 1
        }
        i = start
        throw fail("a \(what) does not end")
    }

    private func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_") || b == UInt8(ascii: ":")
            || b >= 0x80
    }

    private func isName(_ b: UInt8) -> Bool {
        isNameStart(b) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    private mutating func name() throws(SVGError) -> String {
        let start = i
        guard i < bytes.count, isNameStart(bytes[i]) else { throw fail("a name was expected") }
        while i < bytes.count, isName(bytes[i]) { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    /// A quoted literal's content (the quotes removed).
    private mutating func quoted() throws(SVGError) -> [UInt8] {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
            throw fail("a quoted value was expected")
        }
        let quote = bytes[i]
        let start = i + 1
        guard let end = bytes[start...].firstIndex(of: quote) else { throw fail("a quoted value does not end") }
        i = end + 1
        return Array(bytes[start..<end])
    }

    private func fail(_ message: String) -> SVGError {
        let line = 1 + bytes[..<min(i, bytes.count)].reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        return SVGError(message: message, line: line)
    }
}
