/// How a CDN fits the source image into the size the URL asks for.
public enum ResizeMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Scaled to fit inside a W×H box; W and H are upper bounds (most CDNs never upscale).
    case fitInside
    /// A W×H box is filled and the overflow cut off; the displayed size is exactly W×H.
    case crop
    /// Scaled to cover the W×H box, without cropping.
    case cover
    /// The number limits the longest side, not the width.
    case longEdge
    /// Stretched to exactly W×H.
    case exact
}

/// What a CDN URL says about the asset behind it.
public struct CDNResolution: Sendable, Hashable {
    /// The original asset's URL; the input itself when no rule applies.
    public var origin: String
    /// The referenced width (nil: unknown, height-only, or an unbounded sentinel such as 9999).
    public var width: Int?
    /// The referenced height (nil: unknown, width-only, or an unbounded sentinel).
    public var height: Int?
    /// How the CDN fits the image into width × height (nil when the URL does not say).
    public var mode: ResizeMode?
    /// Name of the rule that matched (nil when none); nested proxies give `outer>inner`.
    public var rule: String?

    /// Creates a resolution.
    public init(origin: String, width: Int? = nil, height: Int? = nil, mode: ResizeMode? = nil, rule: String? = nil) {
        self.origin = origin
        self.width = width
        self.height = height
        self.mode = mode
        self.rule = rule
    }
}
