// TEMPORARY (not committed): stands in for the CDN helper's module until it is merged.
public enum ResizeMode: String, Sendable, Hashable, Codable { case fitInside, crop, cover, longEdge, exact }
public struct CDNResolution: Sendable, Hashable {
    public var origin: String
    public var width: Int?
    public var height: Int?
    public var mode: ResizeMode?
    public var rule: String?
}
public struct CDNRules: Sendable {
    public static let builtIn = CDNRules()
    public func resolve(_ url: String) -> CDNResolution {
        if let r = url.firstRange(of: "?imageView&thumbnail="), let x = url[r.upperBound...].firstIndex(of: "x") {
            return CDNResolution(origin: String(url[..<r.lowerBound]), width: Int(url[r.upperBound..<x]))
        }
        return CDNResolution(origin: url)
    }
}
