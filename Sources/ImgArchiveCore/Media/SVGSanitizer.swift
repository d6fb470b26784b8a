/// An SVG made safe to publish under the site's own origin, and what was taken out of it.
public struct SanitizedSVG: Sendable, Hashable {
    /// The sanitized document (UTF-8, no XML declaration, no DOCTYPE).
    public var bytes: [UInt8]
    /// What was removed (`<script>`, `onload` on `<rect>`, ...), at most `SVGSanitizer.reportLimit` items.
    public var removed: [String]
    /// How many elements, attributes, declarations and entity references were removed in all.
    public var removedCount: Int
}

/// Rewrites an SVG into one with no active content: only allowlisted SVG elements and attributes, no scripts,
/// event handlers, `foreignObject`, links to `javascript:` or HTML, and no reference that would load anything
/// from outside the file.
///
/// The allowlists follow DOMPurify's `svg` and `svgFilters` profiles and svg-sanitizer's: the drawing
/// elements, gradients, patterns, masks, filters, text and the transform animations. Not kept: `script`,
/// `foreignObject`, `animate` and `set` (they can set `href` to `javascript:`), `animateColor`, fonts, `cursor`,
/// `iframe`, `handler`, `listener`, and any element outside the SVG namespace (XHTML, MathML, editors' own).
/// Element and attribute names are compared exactly (XML is case-sensitive: `ScRiPt` is no SVG element and is
/// dropped like any other unknown name) after namespace prefixes are resolved, so `<h:script
/// xmlns:h="http://www.w3.org/1999/xhtml">` and a default namespace redeclared to XHTML are dropped too.
///
/// Links: `href` and `xlink:href` keep only a same-document reference (`#id`), plus `http(s):`/`mailto:` on `<a>`
/// (navigation, nothing loads) and a base64 PNG, JPEG, GIF or WebP `data:` URL on `<image>` and `<feImage>`.
/// Values are judged after the XML parser has decoded references (`&#106;avascript:`) and with whitespace and
/// control characters removed, as browsers remove them. CSS (the `style` attribute, `<style>`, and any attribute
/// value with `url(`) may use `url(#id)` only; `@import`, `@font-face`, `image-set()`, `expression()`, bindings
/// and CSS escapes are refused. A `style` attribute loses only its bad declarations; a `<style>` element with
/// any is removed whole.
///
/// The output is serialised from the parsed tree, not patched: SVG elements unprefixed under one `xmlns`,
/// `xlink:href` with its prefix declared on the root, attribute values and text escaped, no comments, no
/// processing instructions, no DOCTYPE (so no entity and no attribute default survives).
public enum SVGSanitizer {
    /// The SVG namespace.
    public static let svgNamespace = "http://www.w3.org/2000/svg"
    /// The XLink namespace (`xlink:href`).
    public static let xlinkNamespace = "http://www.w3.org/1999/xlink"
    /// The XML namespace (`xml:space`, `xml:lang`).
    static let xmlNamespace = "http://www.w3.org/XML/1998/namespace"
    /// Inputs larger than this are not sanitized (the reader holds the whole document).
    public static let maxInputBytes = 16 << 20
    /// How many removals `SanitizedSVG.removed` lists.
    public static let reportLimit = 20

    /// Sanitizes `bytes`; throws `SVGError` when they are not a well-formed SVG document the reader accepts.
    public static func sanitize(_ bytes: [UInt8]) throws(SVGError) -> SanitizedSVG {
        guard bytes.count <= maxInputBytes else {
            throw SVGError(message: "the SVG is larger than \(maxInputBytes >> 20) MB; not sanitized")
        }
        let (root, droppedEntities, droppedInstructions) = try SVGXMLReader.parse(bytes)
        var writer = Writer()
        if droppedEntities > 0 { writer.note("external entity references (never loaded)", count: droppedEntities) }
        if droppedInstructions > 0 { writer.note("processing instructions", count: droppedInstructions) }
        let scope = ["xml": xmlNamespace]
        let rootScope = Writer.scope(of: root, inheriting: scope)
        let (prefix, local) = Writer.split(root.name)
        // A root `svg` with no namespace at all is read as SVG (browsers would not draw it; the copy will).
        let namespace = rootScope[prefix ?? ""] ?? (prefix == nil ? svgNamespace : nil)
        guard local == "svg", namespace == svgNamespace else {
            throw SVGError(message: "the root element is <\(root.name)>, not an SVG <svg>")
        }
        var effective = rootScope
        if prefix == nil && rootScope[""] == nil { effective[""] = svgNamespace }
        writer.element(root, scope: effective, isRoot: true)
        return SanitizedSVG(bytes: Array(writer.out.utf8), removed: writer.removed, removedCount: writer.removedCount)
    }

    // MARK: Allowlists

    /// SVG elements kept (SVG namespace, exact names).
    static let allowedElements: Set<String> = [
        "svg", "a", "circle", "clipPath", "defs", "desc", "ellipse", "filter", "g", "image", "line",
        "linearGradient", "marker", "mask", "metadata", "path", "pattern", "polygon", "polyline", "radialGradient",
        "rect", "stop", "style", "switch", "symbol", "text", "textPath", "title", "tspan", "use", "view",
        "animateMotion", "animateTransform", "mpath",
        "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
        "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG",
        "feFuncR", "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset",
        "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
    ]

    /// Attributes without a namespace kept on any kept element (exact names; no `on*` is here).
    static let allowedAttributes: Set<String> = [
        "accent-height", "accumulate", "additive", "alignment-baseline", "amplitude", "ascent", "attributeName",
        "attributeType", "azimuth", "baseFrequency", "baseline-shift", "begin", "bias", "by", "calcMode", "class",
        "clip", "clip-path", "clip-rule", "clipPathUnits", "color", "color-interpolation",
        "color-interpolation-filters", "color-rendering", "cx", "cy", "d", "diffuseConstant", "direction",
        "display", "divisor", "dominant-baseline", "dur", "dx", "dy", "edgeMode", "elevation", "end", "exponent",
        "fill", "fill-opacity", "fill-rule", "filter", "filterUnits", "flood-color", "flood-opacity",
        "font-family", "font-size", "font-size-adjust", "font-stretch", "font-style", "font-variant",
        "font-weight", "fr", "from", "fx", "fy", "gradientTransform", "gradientUnits", "height", "href", "id",
        "image-rendering", "in", "in2", "intercept", "isolation", "k", "k1", "k2", "k3", "k4", "kernelMatrix",
        "kernelUnitLength", "kerning", "keyPoints", "keySplines", "keyTimes", "lang", "lengthAdjust",
        "letter-spacing", "lighting-color", "limitingConeAngle", "marker-end", "marker-mid", "marker-start",
        "markerHeight", "markerUnits", "markerWidth", "mask", "mask-type", "maskContentUnits", "maskUnits", "max",
        "media", "method", "min", "mix-blend-mode", "mode", "numOctaves", "offset", "opacity", "operator", "order",
        "orient", "overflow", "paint-order", "path", "pathLength", "patternContentUnits", "patternTransform",
        "patternUnits", "pointer-events", "points", "pointsAtX", "pointsAtY", "pointsAtZ", "preserveAlpha",
        "preserveAspectRatio", "primitiveUnits", "r", "radius", "refX", "refY", "repeatCount", "repeatDur",
        "restart", "result", "rotate", "rx", "ry", "scale", "seed", "shape-rendering", "side", "slope", "spacing",
        "specularConstant", "specularExponent", "spreadMethod", "startOffset", "stdDeviation", "stitchTiles",
        "stop-color", "stop-opacity", "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
        "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "style", "surfaceScale",
        "systemLanguage", "tableValues", "targetX", "targetY", "text-anchor", "text-decoration", "text-rendering",
        "textLength", "to", "transform", "transform-origin", "type", "values", "vector-effect", "version",
        "viewBox", "visibility", "width", "word-spacing", "writing-mode", "x", "x1", "x2", "xChannelSelector",
        "y", "y1", "y2", "yChannelSelector", "z", "zoomAndPan",
    ]

    /// The only attributes an `animateTransform` may animate.
    static let animatableAttributes: Set<String> = ["transform", "gradientTransform", "patternTransform"]

    /// Raster `data:` URLs kept on `<image>` and `<feImage>`.
    static let rasterDataPrefixes = [
        "data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,", "data:image/gif;base64,",
        "data:image/webp;base64,",
    ]

    // MARK: Value rules

    /// Whether an `href` on `element` may stay: see the type's summary.
    static func hrefAllowed(_ value: String, on element: String) -> Bool {
        let link = compact(value)
        if link.hasPrefix("#") { return true }
        switch element {
        case "a":
            return link.hasPrefix("https://") || link.hasPrefix("http://") || link.hasPrefix("mailto:")
        case "image", "feImage":
            return rasterDataPrefixes.contains { link.hasPrefix($0) }
        default:
            return false
        }
    }

    /// Lowercased, without ASCII whitespace and control characters (which browsers skip inside URL schemes).
    static func compact(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars where scalar.value > 0x20 && scalar.value != 0x7F {
            out.unicodeScalars.append(scalar)
        }
        return out.lowercased()
    }

    /// CSS with its comments replaced by `replacement`.
    static func withoutComments(_ css: String, replacement: String) -> String {
        var out = ""
        var rest = Substring(css)
        while let start = rest.range(of: "/*") {
            out += rest[..<start.lowerBound]
            out += replacement
            guard let end = rest[start.upperBound...].range(of: "*/") else { return out }
            rest = rest[end.upperBound...]
        }
        return out + rest
    }

    /// Whether CSS text loads nothing and runs nothing: no escapes, no `@import`/`@font-face`/`@namespace`,
    /// no `image-set()`, `expression()`, bindings, script URLs, and every `url(` points inside the document.
    static func cssIsSafe(_ css: String) -> Bool {
        if css.contains("\\") { return false }
        let text = withoutComments(css, replacement: "").lowercased()
        let forbidden = [
            "@import", "@font-face", "@namespace", "image-set(", "expression(", "javascript:", "vbscript:",
            "behavior", "-moz-binding", "src(", "image(", "element(", "cross-fade(",
        ]
        if forbidden.contains(where: { text.contains($0) }) { return false }
        var rest = Substring(text)
        while let call = rest.range(of: "url(") {
            let argument = rest[call.upperBound...].drop(while: { $0.isWhitespace || $0 == "\"" || $0 == "'" })
            guard argument.first == "#" else { return false }
            rest = argument
        }
        return true
    }

    /// A `style` attribute with its unsafe declarations removed (nil when none is left), and how many went.
    static func filteredDeclarations(_ style: String) -> (String?, Int) {
        let text = withoutComments(style, replacement: " ")
        if text.contains("\\") { return (nil, 1) }
        var declarations: [Substring] = []
        var depth = 0
        var quote: Character?
        var start = text.startIndex
        for index in text.indices {
            let c = text[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth = max(0, depth - 1)
            } else if c == ";" && depth == 0 {
                declarations.append(text[start..<index])
                start = text.index(after: index)
            }
        }
        declarations.append(text[start...])
        var kept: [Substring] = []
        var dropped = 0
        for declaration in declarations where !declaration.allSatisfy(\.isWhitespace) {
            if cssIsSafe(String(declaration)) { kept.append(declaration) } else { dropped += 1 }
        }
        return (kept.isEmpty ? nil : kept.joined(separator: ";"), dropped)
    }

    // MARK: Output

    private struct Writer {
        var out = ""
        var removed: [String] = []
        var removedCount = 0

        mutating func note(_ what: String, count: Int = 1) {
            removedCount += count
            if removed.count < SVGSanitizer.reportLimit, !removed.contains(what) { removed.append(what) }
        }

        static func split(_ name: String) -> (prefix: String?, local: String) {
            guard let colon = name.firstIndex(of: ":") else { return (nil, name) }
            return (String(name[..<colon]), String(name[name.index(after: colon)...]))
        }

        /// The prefix-to-namespace map in force inside `element`.
        static func scope(of element: SVGXMLReader.Element, inheriting scope: [String: String]) -> [String: String] {
            var scope = scope
            for (name, value) in element.attributes {
                if name == "xmlns" {
                    scope[""] = value
                } else if name.hasPrefix("xmlns:") {
                    scope[String(name.dropFirst(6))] = value
                }
            }
            return scope
        }

        mutating func element(_ element: SVGXMLReader.Element, scope inherited: [String: String], isRoot: Bool) {
            let scope = isRoot ? inherited : Self.scope(of: element, inheriting: inherited)
            let (prefix, local) = Self.split(element.name)
            guard scope[prefix ?? ""] == SVGSanitizer.svgNamespace, SVGSanitizer.allowedElements.contains(local) else {
                note("<\(element.name)>")
                return
            }
            if local == "style" {
                let css = element.children.map { if case .text(let t) = $0 { t } else { "" } }.joined()
                let typeOK = element.attributes.allSatisfy { $0.name != "type" || compact($0.value) == "text/css" }
                guard typeOK, SVGSanitizer.cssIsSafe(css),
                    element.children.allSatisfy({ if case .text = $0 { true } else { false } })
                else {
                    note("<style> with external references or unsupported CSS")
                    return
                }
            }
            out += "<" + local
            if isRoot {
                out += " xmlns=\"\(SVGSanitizer.svgNamespace)\" xmlns:xlink=\"\(SVGSanitizer.xlinkNamespace)\""
            }
            var names = Set<String>()
            for (name, value) in element.attributes {
                if name == "xmlns" || name.hasPrefix("xmlns:") { continue }
                // Two prefixes bound to XLink would write `xlink:href` twice: the first one stays.
                guard let (written, kept) = attribute(name, value, on: local, scope: scope),
                    names.insert(written).inserted
                else {
                    note("\(name) on <\(local)>")
                    continue
                }
                out += " " + written + "=\"" + Self.escaped(kept, attribute: true) + "\""
            }
            if element.children.isEmpty {
                out += "/>"
                return
            }
            out += ">"
            for child in element.children {
                switch child {
                case .text(let text):
                    out += Self.escaped(
                        local == "style" ? SVGSanitizer.withoutComments(text, replacement: " ") : text,
                        attribute: false)
                case .element(let child):
                    self.element(child, scope: scope, isRoot: false)
                }
            }
            out += "</" + local + ">"
        }

        /// The name to write and the value to keep for an attribute, or nil to drop it.
        private mutating func attribute(_ name: String, _ value: String, on element: String, scope: [String: String])
            -> (String, String)?
        {
            let (prefix, local) = Self.split(name)
            let written: String
            if let prefix {
                switch (scope[prefix], local) {
                case (SVGSanitizer.xlinkNamespace, "href"): written = "xlink:href"
                case (SVGSanitizer.xmlNamespace, "space"), (SVGSanitizer.xmlNamespace, "lang"): written = "xml:" + local
                default: return nil
                }
            } else {
                guard SVGSanitizer.allowedAttributes.contains(local) else { return nil }
                written = local
            }
            switch local {
            case "href":
                return SVGSanitizer.hrefAllowed(value, on: element) ? (written, value) : nil
            case "style":
                let (kept, dropped) = SVGSanitizer.filteredDeclarations(value)
                if dropped > 0, kept != nil { note("declarations of style on <\(element)>", count: dropped) }
                return kept.map { (written, $0) }
            case "attributeName":
                return SVGSanitizer.animatableAttributes.contains(value.trimmingSpaces) ? (written, value) : nil
            default:
                let compact = SVGSanitizer.compact(value)
                if compact.contains("url(") || compact.contains("@import") {
                    return SVGSanitizer.cssIsSafe(value) ? (written, value) : nil
                }
                let active = ["javascript:", "vbscript:", "data:"]
                return active.contains(where: { compact.contains($0) }) ? nil : (written, value)
            }
        }

        static func escaped(_ text: String, attribute: Bool) -> String {
            var out = ""
            out.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                switch scalar {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"" where attribute: out += "&quot;"
                case "\t" where attribute: out += "&#9;"
                case "\n" where attribute: out += "&#10;"
                case "\r": out += "&#13;"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
