import Foundation

@testable import ImgArchiveImage

/// A fresh temporary folder per test, removed by the caller with `cleanup()`.
struct TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "imgarchive-image-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    func contents() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] }
}

/// Deterministic pseudo-random numbers (no global state, same sequence every run).
struct LCG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    mutating func unit() -> Double { Double(next() % 1_000_000) / 1_000_000 }
}

/// Photographic-like content: smooth colour shading, luminance texture at several scales, a
/// hard-edged disc and a little grain (mostly in luminance, as in photos). Values are 0...255.
func photoSample(_ x: Int, _ y: Int, _ c: Int, _ w: Int, _ h: Int, _ rng: inout LCG) -> Double {
    let fx = Double(x), fy = Double(y), fc = Double(c)
    var v = 110 + 50 * (fx / Double(w) - 0.5) * (fc - 1) + 30 * (fy / Double(h) - 0.5) * (1 - fc / 2)
    let texture = 35 * sin(fx * 0.045) * cos(fy * 0.033) + 15 * sin((fx + 2 * fy) * 0.09)
    v += texture * (1 - 0.1 * fc)
    let dx = fx - Double(w) * 0.62, dy = fy - Double(h) * 0.4
    if dx * dx + dy * dy < Double(min(w, h) * min(w, h)) * 0.04 { v += 45 - 25 * fc }
    v += (rng.unit() - 0.5) * 3
    return min(max(v, 0), 255)
}

func photo(width: Int, height: Int, channels: Int, seed: UInt64 = 1) -> PixelBuffer {
    var rng = LCG(state: seed)
    var px = [UInt8](repeating: 0, count: width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                px[(y * width + x) * channels + c] = UInt8(photoSample(x, y, c, width, height, &rng).rounded())
            }
        }
    }
    return PixelBuffer(width: width, height: height, channels: channels, pixels: px)
}

/// Writes a JPEG fixture with the module's encoder (libjpeg-turbo).
func writeJPEG(_ image: PixelBuffer, _ path: String, _ options: JPEGEncodeOptions = JPEGEncodeOptions()) throws {
    try JPEGEncoder.write(image, to: path, options: options)
}

/// Decodes a JPEG at full size.
func readJPEG(_ path: String) throws -> PixelBuffer {
    try JPEGDecoder(path: path).decode(scaleNumerator: 8)
}

/// The Exif APP1 payload with one IFD0 entry: Orientation = `value`.
func exifOrientation(_ value: Int, bigEndian: Bool) -> [UInt8] {
    func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
    var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
    tiff += u16(42) + u32(8) + u16(1)
    tiff += u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0)
    tiff += u32(0)
    return Array("Exif".utf8) + [0, 0] + tiff
}

// MARK: - A small PNG writer, independent of libpng, for every colour type, depth and interlace.

enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    static func of(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return be32(UInt32(data.count)) + body + be32(CRC32.of(body))
}

struct PNGFixture {
    var width: Int
    var height: Int
    var colorType: UInt8  // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    var bitDepth: Int
    var interlaced = false
    /// Samples at `bitDepth`, `samplesPerPixel` per pixel (palette: the index).
    var samples: [Int]
    var palette: [[UInt8]] = []
    var transparency: [UInt8]? = nil

    var samplesPerPixel: Int {
        switch colorType {
        case 2: 3
        case 4: 2
        case 6: 4
        default: 1
        }
    }

    func encoded() -> [UInt8] {
        var ihdr = be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [UInt8(bitDepth), colorType, 0, 0, interlaced ? 1 : 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", ihdr)
        if colorType == 3 { out += pngChunk("PLTE", palette.flatMap { $0 }) }
        if let transparency { out += pngChunk("tRNS", transparency) }
        out += pngChunk("IDAT", zlibStored(rawScanlines()))
        out += pngChunk("IEND", [])
        return out
    }

    private func rawScanlines() -> [UInt8] {
        let passes: [(Int, Int, Int, Int)] =
            interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        var raw: [UInt8] = []
        for (x0, y0, dx, dy) in passes {
            let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
            if xs.isEmpty || ys.isEmpty { continue }
            for y in ys {
                raw.append(0)  // filter: none
                var bits = 0, acc = 0
                for x in xs {
                    for s in 0..<samplesPerPixel {
                        let v = samples[(y * width + x) * samplesPerPixel + s]
                        if bitDepth == 16 {
                            raw += [UInt8(v >> 8), UInt8(v & 0xFF)]
                        } else if bitDepth == 8 {
                            raw.append(UInt8(v))
                        } else {
                            acc = acc << bitDepth | v
                            bits += bitDepth
                            if bits == 8 { raw.append(UInt8(acc)); acc = 0; bits = 0 }
                        }
                    }
                }
                if bits > 0 { raw.append(UInt8(acc << (8 - bits))) }
            }
        }
        return raw
    }

    private func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let final: UInt8 = offset + n == data.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<offset + n]
            offset += n
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }
}

func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

// MARK: - Reference Lanczos-3 in Double, and PSNR

/// Straightforward separable Lanczos-3 (kernel stretched by the reduction), in Double, in
/// premultiplied alpha when `alpha` — the test's own reference, written apart from the module.
func referenceResize(
    _ src: [Double], width w: Int, height h: Int, channels c: Int, alpha: Bool,
    to ow: Int, _ oh: Int
) -> [Double] {
    func kernel(_ x: Double) -> Double {
        if x == 0 { return 1 }
        if abs(x) >= 3 { return 0 }
        return 3 * sin(.pi * x) * sin(.pi * x / 3) / (.pi * .pi * x * x)
    }
    func weights(_ n: Int, _ on: Int) -> [[(Int, Double)]] {
        let scale = Double(n) / Double(on), fs = max(scale, 1)
        return (0..<on).map { o in
            let center = (Double(o) + 0.5) * scale
            let lo = max(0, Int((center - 3 * fs).rounded(.down))), hi = min(n - 1, Int((center + 3 * fs).rounded(.up)))
            var ws = (lo...hi).map { i in (i, kernel((Double(i) + 0.5 - center) / fs)) }
            let sum = ws.reduce(0) { $0 + $1.1 }
            ws = ws.map { ($0.0, $0.1 / sum) }
            return ws
        }
    }
    var pre = src
    if alpha {
        for p in 0..<(w * h) { for k in 0..<(c - 1) { pre[p * c + k] *= src[p * c + c - 1] / 255 } }
    }
    let wx = weights(w, ow), wy = weights(h, oh)
    var mid = [Double](repeating: 0, count: h * ow * c)
    for y in 0..<h {
        for o in 0..<ow {
            for (i, wt) in wx[o] { for k in 0..<c { mid[(y * ow + o) * c + k] += wt * pre[(y * w + i) * c + k] } }
        }
    }
    var out = [Double](repeating: 0, count: oh * ow * c)
    for o in 0..<oh {
        for (j, wt) in wy[o] { for x in 0..<(ow * c) { out[o * ow * c + x] += wt * mid[j * ow * c + x] } }
    }
    if alpha {
        for p in 0..<(ow * oh) {
            let a = min(max(out[p * c + c - 1], 0), 255)
            for k in 0..<(c - 1) { out[p * c + k] = a > 0 ? out[p * c + k] * 255 / a : 0 }
            out[p * c + c - 1] = a
        }
    }
    return out.map { min(max($0, 0), 255) }
}

/// Colour channels composited over mid grey when there is alpha, as the benchmark compares.
func composited(_ px: [Double], channels c: Int, alpha: Bool) -> [Double] {
    guard alpha else { return px }
    var out: [Double] = []
    out.reserveCapacity(px.count / c * (c - 1))
    for p in 0..<(px.count / c) {
        let a = px[p * c + c - 1] / 255
        for k in 0..<(c - 1) { out.append(px[p * c + k] * a + 128 * (1 - a)) }
    }
    return out
}

func psnr(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var se = 0.0
    for i in a.indices { se += (a[i] - b[i]) * (a[i] - b[i]) }
    let mse = se / Double(a.count)
    return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
}

func doubles(_ image: PixelBuffer) -> [Double] { image.pixels.map(Double.init) }
