#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lanczos-3 weights for one axis, computed once per (input size, output size): for each output
/// sample, the first input index and its weights (normalised to sum 1). The kernel is stretched by
/// the reduction factor, as Pillow's and libvips's reduce do, so every input sample contributes.
struct FilterBank: Sendable {
    let outSize: Int
    let maxTaps: Int
    let starts: [Int]
    let counts: [Int]
    let weights: [Float]  // outSize * maxTaps, row o holds counts[o] weights

    static let support = 3.0

    static func lanczos(_ x: Double) -> Double {
        func sinc(_ v: Double) -> Double {
            if v == 0 { return 1 }
            let p = Double.pi * v
            return sin(p) / p
        }
        return x > -support && x < support ? sinc(x) * sinc(x / support) : 0
    }

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = Self.support * filterScale
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var weights = [Float](repeating: 0, count: outSize * maxTaps)
        var k = [Double](repeating: 0, count: maxTaps)
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)
            let count = min(min(Int(center + support + 0.5), inSize) - first, maxTaps)
            var sum = 0.0
            for i in 0..<count {
                k[i] = Self.lanczos((Double(i + first) - center + 0.5) / filterScale)
                sum += k[i]
            }
            for i in 0..<count { weights[o * maxTaps + i] = Float(sum != 0 ? k[i] / sum : k[i]) }
            starts[o] = first
            counts[o] = max(count, 0)
        }
        self.outSize = outSize
        self.maxTaps = maxTaps
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }
}

/// Separable Lanczos-3 resampling of a `PixelBuffer` to an exact size. Works on the gamma-encoded
/// sRGB samples (as libvips and the benchmark's reference do), in premultiplied alpha when the
/// image has alpha. Horizontal pass first, row by row into a Float buffer; then the vertical pass.
enum Resampler {
    static func resize(_ image: PixelBuffer, width outW: Int, height outH: Int) -> PixelBuffer {
        if outW == image.width && outH == image.height { return image }
        let c = image.channels
        let inW = image.width, inH = image.height
        let horizontal = FilterBank(inSize: inW, outSize: outW)
        let vertical = FilterBank(inSize: inH, outSize: outH)
        let alpha = image.hasAlpha
        let rowLength = outW * c
        var middle = [Float](repeating: 0, count: inH * rowLength)
        var row = [Float](repeating: 0, count: inW * c)

        image.pixels.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { mid in
                row.withUnsafeMutableBufferPointer { rowF in
                    horizontal.weights.withUnsafeBufferPointer { wts in
                        for y in 0..<inH {
                            loadRow(src, y: y, width: inW, channels: c, alpha: alpha, into: rowF)
                            let out = UnsafeMutableBufferPointer(rebasing: mid[(y * rowLength)..<((y + 1) * rowLength)])
                            convolveRow(rowF, out: out, bank: horizontal, weights: wts, channels: c)
                        }
                    }
                }
            }
        }

        var result = [UInt8](repeating: 0, count: outW * outH * c)
        var acc = [Float](repeating: 0, count: rowLength)
        middle.withUnsafeBufferPointer { mid in
            acc.withUnsafeMutableBufferPointer { acc in
                result.withUnsafeMutableBufferPointer { dst in
                    vertical.weights.withUnsafeBufferPointer { wts in
                        for oy in 0..<outH {
                            for i in 0..<rowLength { acc[i] = 0 }
                            let first = vertical.starts[oy], count = vertical.counts[oy]
                            for k in 0..<count {
                                let w = wts[oy * vertical.maxTaps + k]
                                let base = (first + k) * rowLength
                                for i in 0..<rowLength { acc[i] += w * mid[base + i] }
                            }
                            storeRow(UnsafeBufferPointer(acc), into: dst, y: oy, width: outW, channels: c, alpha: alpha)
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: outW, height: outH, channels: c, pixels: result)
    }

    /// Converts one row to Float, premultiplying colour by alpha/255 when there is alpha.
    @inline(__always)
    private static func loadRow(_ src: UnsafeBufferPointer<UInt8>, y: Int, width: Int, channels c: Int,
                                alpha: Bool, into row: UnsafeMutableBufferPointer<Float>) {
        let base = y * width * c
        if !alpha {
            for i in 0..<(width * c) { row[i] = Float(src[base + i]) }
            return
        }
        let colors = c - 1
        for x in 0..<width {
            let p = base + x * c
            let a = Float(src[p + colors])
            let f = a / 255
            for k in 0..<colors { row[x * c + k] = Float(src[p + k]) * f }
            row[x * c + colors] = a
        }
    }

    @inline(__always)
    private static func convolveRow(_ row: UnsafeMutableBufferPointer<Float>, out: UnsafeMutableBufferPointer<Float>,
                                    bank: FilterBank, weights: UnsafeBufferPointer<Float>, channels c: Int) {
        let taps = bank.maxTaps
        bank.starts.withUnsafeBufferPointer { starts in
            bank.counts.withUnsafeBufferPointer { counts in
                switch c {
                case 1:
                    for o in 0..<bank.outSize {
                        var s0: Float = 0
                        let first = starts[o], w = o * taps
                        for k in 0..<counts[o] { s0 += weights[w + k] * row[first + k] }
                        out[o] = s0
                    }
                case 2:
                    for o in 0..<bank.outSize {
                        var s0: Float = 0, s1: Float = 0
                        let first = starts[o], w = o * taps
                        for k in 0..<counts[o] {
                            let wk = weights[w + k], p = (first + k) * 2
                            s0 += wk * row[p]; s1 += wk * row[p + 1]
                        }
                        out[o * 2] = s0; out[o * 2 + 1] = s1
                    }
                case 3:
                    for o in 0..<bank.outSize {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0
                        let first = starts[o], w = o * taps
                        for k in 0..<counts[o] {
                            let wk = weights[w + k], p = (first + k) * 3
                            s0 += wk * row[p]; s1 += wk * row[p + 1]; s2 += wk * row[p + 2]
                        }
                        out[o * 3] = s0; out[o * 3 + 1] = s1; out[o * 3 + 2] = s2
                    }
                default:
                    for o in 0..<bank.outSize {
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
                        let first = starts[o], w = o * taps
                        for k in 0..<counts[o] {
                            let wk = weights[w + k], p = (first + k) * 4
                            s0 += wk * row[p]; s1 += wk * row[p + 1]; s2 += wk * row[p + 2]; s3 += wk * row[p + 3]
                        }
                        out[o * 4] = s0; out[o * 4 + 1] = s1; out[o * 4 + 2] = s2; out[o * 4 + 3] = s3
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func clamp8(_ v: Float) -> UInt8 {
        if !(v > 0) { return 0 }  // also NaN
        if v >= 254.5 { return 255 }
        return UInt8(v + 0.5)
    }

    /// Rounds one Float row to 8 bits, un-premultiplying when there is alpha.
    @inline(__always)
    private static func storeRow(_ acc: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt8>,
                                 y: Int, width: Int, channels c: Int, alpha: Bool) {
        let base = y * width * c
        if !alpha {
            for i in 0..<(width * c) { dst[base + i] = clamp8(acc[i]) }
            return
        }
        let colors = c - 1
        for x in 0..<width {
            let p = x * c
            let a = min(max(acc[p + colors], 0), 255)
            let f: Float = a > 0 ? 255 / a : 0
            for k in 0..<colors { dst[base + p + k] = clamp8(acc[p + k] * f) }
            dst[base + p + colors] = clamp8(a)
        }
    }
}
