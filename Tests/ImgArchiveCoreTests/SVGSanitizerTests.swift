import Foundation
import ImgArchiveCore
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

private let ns = #"xmlns="http://www.w3.org/2000/svg""#
private let xlink = #"xmlns:xlink="http://www.w3.org/1999/xlink""#

/// What an independent XML parser (libxml2 through Foundation's `XMLParser`, namespaces resolved, no external
/// entities) sees in a document: its elements (namespace and local name) and attributes.
private final class Inventory: NSObject, XMLParserDelegate {
    var elements: [(namespace: String?, name: String)] = []
    var attributes: [(element: String, name: String, value: String)] = []
    var text = ""
    var styleText = ""
    private var inStyle = false

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements.append((namespaceURI, name))
        for (key, value) in attributes { self.attributes.append((name, key, value)) }
        inStyle = name == "style"
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        inStyle = false
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
        if inStyle { styleText += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        text += String(decoding: CDATABlock, as: UTF8.self)
    }

    var processingInstructions = 0

    func parser(_ parser: XMLParser, foundProcessingInstructionWithTarget target: String, data: String?) {
        processingInstructions += 1
    }

    /// Whether CSS text would load something from outside (an escape could spell anything).
    static func externalCSS(_ css: String) -> Bool {
        let compact = css.lowercased().filter { !$0.isWhitespace }
        return compact.contains("@import") || compact.contains("\\")
            || ["url(http", "url('http", "url(\"http", "url(//", "url('//", "url(\"//"].contains {
                compact.contains($0)
            }
    }

    /// Parses `bytes`; nil when the parser refuses them.
    static func of(_ bytes: [UInt8]) -> Inventory? {
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        let inventory = Inventory()
        parser.delegate = inventory
        return parser.parse() ? inventory : nil
    }

    /// Everything active this inventory holds, in words (empty when nothing is).
    var activeContent: [String] {
        var found: [String] = []
        for (namespace, name) in elements {
            if namespace != SVGSanitizer.svgNamespace {
                found.append("element \(name) in \(namespace ?? "no namespace")")
            }
            if ["script", "foreignObject", "iframe", "animate", "set", "handler"].contains(name) {
                found.append("element \(name)")
            }
        }
        if processingInstructions > 0 { found.append("processing instruction") }
        for (element, name, value) in attributes {
            let compact = value.lowercased().filter { !$0.isWhitespace }
            let local = name.split(separator: ":").last.map(String.init) ?? name
            if local.lowercased().hasPrefix("on") { found.append("\(name) on \(element)") }
            if compact.contains("javascript:") || compact.contains("data:text") || compact.contains("svg+xml") {
                found.append("\(name)=\(value) on \(element)")
            }
            if name.hasSuffix("href"), !compact.hasPrefix("#"), !(element == "a" && compact.hasPrefix("https://")),
                !compact.hasPrefix("data:image/png;base64,")
            {
                found.append("external \(name)=\(value) on \(element)")
            }
            if Self.externalCSS(value) { found.append("external CSS in \(name) on \(element)") }
        }
        if Self.externalCSS(styleText) { found.append("external CSS in <style>") }
        if text.contains("alert(") && !elements.contains(where: { $0.name == "text" || $0.name == "title" }) {
            found.append("script text kept")
        }
        return found
    }
}

/// Hostile SVGs: each comes out well-formed (for libxml2 too) with nothing active in it, and the drawing stays.
@Test(arguments: [
    ("script element", "<svg \(ns)><script>alert(1)</script><rect width='5' height='5'/></svg>"),
    ("script in CDATA", "<svg \(ns)><script><![CDATA[alert(1)]]></script><rect width='5' height='5'/></svg>"),
    ("onload on root", "<svg \(ns) onload='alert(1)'><rect width='5' height='5'/></svg>"),
    ("onclick and onmouseover", "<svg \(ns)><rect width='5' height='5' onclick='alert(1)' ONMOUSEOVER='x'/></svg>"),
    (
        "foreignObject with HTML",
        "<svg \(ns)><foreignObject><body xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></body>"
            + "</foreignObject><rect width='5' height='5'/></svg>"
    ),
    ("javascript: href", "<svg \(ns)><a href='javascript:alert(1)'><rect width='5' height='5'/></a></svg>"),
    (
        "javascript: xlink:href with spaces and tab",
        "<svg \(ns) \(xlink)><a xlink:href=' java&#9;script:alert(1)'><rect width='5' height='5'/></a></svg>"
    ),
    (
        "encoded javascript:",
        "<svg \(ns)><a href='&#106;avascript&#x3A;alert(1)'><rect width='5' height='5'/></a></svg>"
    ),
    (
        "data:text/html link",
        "<svg \(ns)><a href='data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;'><rect width='5' height='5'/></a></svg>"
    ),
    (
        "xlink:href to http on image",
        "<svg \(ns) \(xlink)><image xlink:href='http://evil.example/x.png' width='5' height='5'/>"
            + "<rect width='5' height='5'/></svg>"
    ),
    ("use href to http", "<svg \(ns)><use href='http://evil.example/s.svg#a'/><rect width='5' height='5'/></svg>"),
    (
        "use data:image/svg+xml",
        "<svg \(ns)><use href='data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#a'/><rect width='5' height='5'/></svg>"
    ),
    (
        "style attribute url()",
        "<svg \(ns)><rect width='5' height='5' style='fill:url(http://evil.example/p.svg#g);stroke:red'/></svg>"
    ),
    (
        "fill attribute url()",
        "<svg \(ns)><rect width='5' height='5' fill='url(&quot;//evil.example/p#g&quot;)'/></svg>"
    ),
    (
        "style element @import",
        "<svg \(ns)><style>@import url(http://evil.example/x.css); rect{fill:red}</style>"
            + "<rect width='5' height='5'/></svg>"
    ),
    (
        "style element url() with spaces, quotes and a comment",
        "<svg \(ns)><style>rect{fill:/**/URL( 'http://evil.example/p' )}</style><rect width='5' height='5'/></svg>"
    ),
    ("CSS escape", "<svg \(ns)><rect width='5' height='5' style='fill:\\75 rl(http://evil.example/p)'/></svg>"),
    (
        "external entity (XXE)",
        "<?xml version='1.0'?><!DOCTYPE svg [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
            + "<svg \(ns)><text>&xxe;</text><rect width='5' height='5'/></svg>"
    ),
    (
        "XHTML script by prefix",
        "<svg \(ns) xmlns:h='http://www.w3.org/1999/xhtml'><h:script>alert(1)</h:script>"
            + "<rect width='5' height='5'/></svg>"
    ),
    (
        "default namespace redeclared to XHTML",
        "<svg \(ns)><g xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></g>"
            + "<rect width='5' height='5'/></svg>"
    ),
    (
        "prefixed SVG root, prefixed script",
        "<s:svg xmlns:s='http://www.w3.org/2000/svg'><s:script>alert(1)</s:script>"
            + "<s:rect width='5' height='5'/></s:svg>"
    ),
    (
        "xlink under another prefix",
        "<svg \(ns) xmlns:q='http://www.w3.org/1999/xlink'><a q:href='javascript:alert(1)'>"
            + "<rect width='5' height='5'/></a></svg>"
    ),
    (
        "handler attribute in the SVG namespace",
        "<svg \(ns) xmlns:s='http://www.w3.org/2000/svg'><rect s:onload='alert(1)' width='5' height='5'/></svg>"
    ),
    ("case tricks", "<svg \(ns)><ScRiPt>alert(1)</ScRiPt><rect width='5' height='5' OnLoad='alert(1)'/></svg>"),
    (
        "animate sets href",
        "<svg \(ns)><a><animate attributeName='href' to='javascript:alert(1)'/><rect width='5' height='5'/></a></svg>"
    ),
    (
        "animateTransform aimed at href",
        "<svg \(ns)><a><animateTransform attributeName='href' to='javascript:alert(1)'/>"
            + "<rect width='5' height='5'/></a></svg>"
    ),
    (
        "xml-stylesheet processing instruction",
        "<?xml-stylesheet href='http://evil.example/x.xsl' type='text/xsl'?><svg \(ns)><rect width='5' height='5'/></svg>"
    ),
    ("iframe", "<svg \(ns)><iframe src='http://evil.example/'/><rect width='5' height='5'/></svg>"),
    (
        "two prefixes for XLink",
        "<svg \(ns) xmlns:p='http://www.w3.org/1999/xlink' xmlns:q='http://www.w3.org/1999/xlink'>"
            + "<a p:href='#r' q:href='javascript:alert(1)'><rect id='r' width='5' height='5'/></a></svg>"
    ),
])
func hostileSVGComesOutInert(name: String, svg: String) throws {
    let input = Inventory.of(Array(svg.utf8))
    // libxml2 reads neither of these inputs as they are (an entity it will not load, an attribute defined twice
    // under two prefixes); the sanitizer must still make them safe.
    if name != "external entity (XXE)" && name != "two prefixes for XLink" {
        // The case is what it claims: libxml2 reads it and finds something active (the test can fail).
        #expect(input.map { !$0.activeContent.isEmpty } ?? false, "\(name): the input holds nothing active")
    }
    let result = try SVGSanitizer.sanitize(Array(svg.utf8))
    let output = try #require(Inventory.of(result.bytes), "\(name): libxml2 cannot parse the output")
    #expect(output.activeContent.isEmpty, "\(name): \(output.activeContent)")
    #expect(result.removedCount > 0, "\(name): nothing was reported removed")
    #expect(output.elements.contains { $0.name == "rect" }, "\(name): the drawing was lost")
    let text = String(decoding: result.bytes, as: UTF8.self)
    #expect(!text.contains("evil.example") || text.contains("<a href=\"https://"), "\(name): \(text)")
    #expect(!text.contains("root:"), "an external entity was loaded")
    // Sanitizing is idempotent: the output is already clean.
    let again = try SVGSanitizer.sanitize(result.bytes)
    #expect(again.bytes == result.bytes)
    #expect(again.removedCount == 0, "\(again.removed)")
}

/// An ordinary drawing (as Inkscape writes it) keeps its elements, geometry, internal references and CSS;
/// only the editor's own namespaces and metadata go.
@Test func harmlessSVGKeepsItsDrawing() throws {
    let svg = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <!-- Created with Inkscape -->
        <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
        <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
             xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="120" height="80"
             viewBox="0 0 120 80" inkscape:version="1.2">
          <style>.a { fill: url(#grad); stroke: #333 } text { font-family: 'DejaVu Sans' }</style>
          <defs>
            <linearGradient id="grad" x1="0" x2="1"><stop offset="0" stop-color="#f00"/><stop offset="1"
              stop-color="#00f"/></linearGradient>
            <path id="curve" d="M10 60 Q 60 10 110 60"/>
            <filter id="blur"><feGaussianBlur stdDeviation="2"/></filter>
          </defs>
          <rect class="a" x="5" y="5" width="110" height="70" rx="4" style="stroke-width:2;opacity:.9"/>
          <use xlink:href="#curve" fill="none" stroke="black" filter="url(#blur)"/>
          <text><textPath href="#curve">A &amp; B &lt; C</textPath></text>
          <a href="https://example.com/about"><circle cx="60" cy="40" r="5"/></a>
          <image width="2" height="2" href="data:image/png;base64,iVBORw0KGgo="/>
          <g transform="rotate(10)"><animateTransform attributeName="transform" type="rotate" from="0" to="360"
            dur="4s" repeatCount="indefinite"/></g>
        </svg>
        """
    let result = try SVGSanitizer.sanitize(Array(svg.utf8))
    let input = try #require(Inventory.of(Array(svg.utf8)))
    let output = try #require(Inventory.of(result.bytes))
    #expect(output.activeContent.isEmpty, "\(output.activeContent)")
    #expect(output.elements.map(\.name) == input.elements.map(\.name))
    let kept = Set(
        output.attributes.filter { !$0.name.hasPrefix("xmlns") }.map { "\($0.element) \($0.name)=\($0.value)" })
    let expected = Set(
        input.attributes.filter { !$0.name.hasSuffix("version") && !$0.name.hasPrefix("xmlns") }
            .map { "\($0.element) \($0.name)=\($0.value)" })
    #expect(kept == expected)
    #expect(output.styleText == input.styleText)
    #expect(output.text.contains("A & B < C"))
    #expect(result.removed == ["inkscape:version on <svg>"])
}

/// What cannot be read is refused with a reason, quickly and without loading anything.
@Test(arguments: [
    (
        "billion laughs",
        """
        <?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lollollollollollollollollollol">
        <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
        <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
        <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>
        <svg xmlns="http://www.w3.org/2000/svg"><text>&g;</text></svg>
        """, "expand past"
    ),
    (
        "deep billion laughs",
        "<!DOCTYPE svg [<!ENTITY a0 'x'>"
            + (1...12).map { "<!ENTITY a\($0) '&a\($0 - 1);&a\($0 - 1);'>" }.joined()
            + "]><svg \(ns)><text>&a12;</text></svg>", "nest deeper"
    ),
    ("recursive entity", "<!DOCTYPE svg [<!ENTITY a '&b;'><!ENTITY b '&a;'>]><svg \(ns)>&a;</svg>", "nest deeper"),
    (
        "parameter entity (out-of-band XXE)",
        "<!DOCTYPE svg [<!ENTITY % p SYSTEM 'http://evil.example/x.dtd'> %p;]><svg \(ns)/>", "parameter entit"
    ),
    ("not closed", "<svg \(ns)><g><rect/></svg>", "closes <g>"),
    ("cut short", "<svg \(ns)><rect width='1'", "does not end"),
    ("undeclared entity", "<svg \(ns)><text>&nbsp;</text></svg>", "not declared"),
    ("HTML root", "<html><svg \(ns)/></html>", "not an SVG"),
    ("two roots", "<svg \(ns)/><svg \(ns)/>", "after the root"),
    ("duplicate attribute", "<svg \(ns) width='1' width='2'/>", "twice"),
    ("UTF-16 declared", "<?xml version='1.0' encoding='UTF-16'?><svg \(ns)/>", "encoding"),
    ("control character", "<svg \(ns)>\u{1}</svg>", "control character"),
])
func unreadableSVGIsRefused(name: String, svg: String, expected: String) {
    #expect(throws: SVGError.self, "\(name)") { try SVGSanitizer.sanitize(Array(svg.utf8)) }
    do {
        _ = try SVGSanitizer.sanitize(Array(svg.utf8))
    } catch {
        #expect(error.message.contains(expected), "\(name): \(error)")
    }
}

/// Old Illustrator files define namespace URIs as internal entities; they are expanded, and Latin-1 is read.
@Test func internalEntitiesAndLatin1AreRead() throws {
    let svg = """
        <?xml version="1.0" encoding="iso-8859-1"?>
        <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
          <!ENTITY ns_svg "http://www.w3.org/2000/svg">
          <!ENTITY ns_xlink "http://www.w3.org/1999/xlink">
        ]>
        <svg xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;"><text>caf\u{E9}</text></svg>
        """
    let latin1 = svg.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    let result = try SVGSanitizer.sanitize(latin1)
    let output = try #require(Inventory.of(result.bytes))
    #expect(output.elements.map(\.name) == ["svg", "text"])
    #expect(output.text == "café")
}
