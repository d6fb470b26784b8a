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

/// Separable Lanczos-3 resampling to an exact size. Works on the gamma-encoded sRGB samples (as libvips
/// and the benchmark's reference do), in premultiplied alpha when the image has alpha. It pulls its input
/// from a `RowSource`, top to bottom, each row once: a streaming decoder feeds it without the decoded image
/// ever being held. Vertical pass first, one output row at a time, over a ring of input rows converted to
/// Float once each (contiguous, vectorisable); then the horizontal pass on that one row, with one SIMD4
/// multiply-add per tap and pixel. Memory beyond the output: the ring (at most `taps` rows of Float), a few
/// rows, and the filter weights (`workingBytes`).
enum Resampler {
    /// Resizes the rows of `source`; throws the source's failure, if reading it failed.
    static func resize(_ source: some RowSource, width outW: Int, height outH: Int) throws(ImageError) -> PixelBuffer {
        let out = resizeRows(source, width: outW, height: outH)
        if let failure = source.failure { throw failure }
        return out
    }

    /// Resizes an image held in memory.
    static func resize(_ image: PixelBuffer, width outW: Int, height outH: Int) -> PixelBuffer {
        if outW == image.width && outH == image.height { return image }
        return resizeRows(BufferRows(image), width: outW, height: outH)
    }

    /// The box pre-shrink factors for a reduction: the integer part of half the reduction on each axis
    /// (1 for none), or nil when neither axis reduces by 4 or more.
    static func shrinkFactors(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> (x: Int, y: Int)? {
        let fx = inWidth / (2 * outWidth), fy = inHeight / (2 * outHeight)
        return fx >= 2 || fy >= 2 ? (max(fx, 1), max(fy, 1)) : nil
    }

    private static func resizeRows(_ source: some RowSource, width outW: Int, height outH: Int) -> PixelBuffer {
        if outW == source.width && outH == source.height { return source.readAll() }
        // Large reductions: average f x f blocks first (f = the integer part of half the reduction),
        // so the Lanczos pass still reduces by at least 2 but runs on far fewer input rows and taps.
        if let f = shrinkFactors(inWidth: source.width, inHeight: source.height, outWidth: outW, outHeight: outH) {
            let shrunk = ShrunkRows(source, f.x, f.y)
            if outW == shrunk.width && outH == shrunk.height { return shrunk.readAll() }
            return lanczosRows(shrunk, width: outW, height: outH)
        }
        return lanczosRows(source, width: outW, height: outH)
    }

    /// Averages fx x fy blocks (premultiplied by alpha when there is alpha). The last partial block
    /// of a row or column is averaged over the pixels it has.
    static func boxShrink(_ image: PixelBuffer, _ fx: Int, _ fy: Int) -> PixelBuffer {
        ShrunkRows(BufferRows(image), fx, fy).readAll()
    }

    /// Lanczos-3 from `image` to exactly outW x outH.
    static func lanczos(_ image: PixelBuffer, width outW: Int, height outH: Int) -> PixelBuffer {
        if outW == image.width && outH == image.height { return image }
        return lanczosRows(BufferRows(image), width: outW, height: outH)
    }

    /// Bytes the resampler holds besides its output, for an input of inW x inH: the pre-shrink's sums and
    /// row, the ring of Float rows, the filter banks.
    static func workingBytes(
        inWidth inW: Int, inHeight inH: Int, outWidth outW: Int, outHeight outH: Int, channels c: Int
    )
        -> Int
    {
        var w = inW, h = inH, bytes = 0
        if let f = shrinkFactors(inWidth: inW, inHeight: inH, outWidth: outW, outHeight: outH) {
            w = (inW + f.x - 1) / f.x
            h = (inH + f.y - 1) / f.y
            bytes += inW * c + w * c * 4  // one input row, the block sums
        }
        let taps = { (from: Int, to: Int) in
            Int((FilterBank.support * max(Double(from) / Double(to), 1)).rounded(.up)) * 2 + 1
        }
        let pitch = (w * c + 7) & ~7
        bytes += (taps(h, outH) + 1) * pitch * 4 + w * c + outW * c * 4  // the ring, acc, a UInt8 row, an output row
        bytes += (outW * taps(w, outW) + outH * taps(h, outH)) * 4 + (outW + outH) * 16  // weights, starts, counts
        return bytes
    }

    /// Lanczos-3 from the rows of `source` to exactly outW x outH.
    private static func lanczosRows(_ source: some RowSource, width outW: Int, height outH: Int) -> PixelBuffer {
        let c = source.channels
        let inW = source.width, inH = source.height
        let horizontal = FilterBank(inSize: inW, outSize: outW)
        let vertical = FilterBank(inSize: inH, outSize: outH)
        let alpha = c == 2 || c == 4
        let inRow = inW * c
        let pitch = (inRow + 7) & ~7  // ring rows padded to whole SIMD8 blocks
        let ringRows = vertical.maxTaps
        // +8: SIMD4 loads of the last pixel of a 3-channel row read one float past it.
        let ring = UnsafeMutableBufferPointer<Float>.allocate(capacity: ringRows * pitch + 8)
        let acc = UnsafeMutableBufferPointer<Float>.allocate(capacity: pitch + 8)
        let outRow = UnsafeMutableBufferPointer<Float>.allocate(capacity: outW * c + 4)
        let bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: inRow + 1)
        ring.initialize(repeating: 0)
        acc.initialize(repeating: 0)
        outRow.initialize(repeating: 0)
        bytes.initialize(repeating: 0)
        defer {
            ring.deallocate()
            acc.deallocate()
            outRow.deallocate()
            bytes.deallocate()
        }
        let result = [UInt8](unsafeUninitializedCapacity: outW * outH * c) { dst, initialized in
            vertical.weights.withUnsafeBufferPointer { vw in
                horizontal.weights.withUnsafeBufferPointer { hw in
                    horizontal.starts.withUnsafeBufferPointer { hs in
                        horizontal.counts.withUnsafeBufferPointer { hc in
                            guard let rowBytes = bytes.baseAddress else { return }
                            var loaded = 0  // input rows [0, loaded) have been put in the ring
                            for oy in 0..<outH {
                                let first = vertical.starts[oy], count = vertical.counts[oy]
                                while loaded < first + count {
                                    let slot = UnsafeMutableBufferPointer(
                                        rebasing: ring[
                                            ((loaded % ringRows) * pitch)..<((loaded % ringRows) * pitch + inRow)])
                                    source.readRow(into: rowBytes)
                                    loadRow(
                                        UnsafeBufferPointer(bytes), rowLength: inRow, channels: c, alpha: alpha,
                                        into: slot)
                                    loaded += 1
                                }
                                accumulate(
                                    ring: ring, pitch: pitch, ringRows: ringRows, first: first, count: count,
                                    weights: UnsafeBufferPointer(rebasing: vw[(oy * vertical.maxTaps)...]),
                                    into: acc)
                                convolveRow(
                                    acc, out: outRow, outSize: outW, taps: horizontal.maxTaps,
                                    starts: hs, counts: hc, weights: hw, channels: c)
                                storeRow(outRow, into: dst, y: oy, width: outW, channels: c, alpha: alpha)
                            }
                        }
                    }
                }
            }
            initialized = outW * outH * c
        }
        return PixelBuffer(width: outW, height: outH, channels: c, pixels: result)
    }

    /// acc = sum over k of weights[k] * ring row (first + k), in SIMD8 blocks over the padded row.
    @inline(__always)
    private static func accumulate(
        ring: UnsafeMutableBufferPointer<Float>, pitch: Int, ringRows: Int, first: Int,
        count: Int, weights: UnsafeBufferPointer<Float>,
        into acc: UnsafeMutableBufferPointer<Float>
    ) {
        guard let ringBase = ring.baseAddress, let accBase = acc.baseAddress else { return }
        let ringRaw = UnsafeRawPointer(ringBase), accRaw = UnsafeMutableRawPointer(accBase)
        // Byte offsets of the tap rows in the ring.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { rows in
            for k in 0..<count { rows[k] = ((first + k) % ringRows) * pitch * 4 }
            var j = 0
            while j < pitch {
                var s = SIMD8<Float>()
                let column = j * 4
                for k in 0..<count {
                    s += weights[k] * ringRaw.loadUnaligned(fromByteOffset: rows[k] + column, as: SIMD8<Float>.self)
                }
                accRaw.storeBytes(of: s, toByteOffset: column, as: SIMD8<Float>.self)
                j += 8
            }
        }
    }

    /// Converts one row to Float, premultiplying colour by alpha/255 when there is alpha.
    @inline(__always)
    private static func loadRow(
        _ src: UnsafeBufferPointer<UInt8>, rowLength: Int, channels c: Int,
        alpha: Bool, into row: UnsafeMutableBufferPointer<Float>
    ) {
        let base = 0
        if !alpha {
            for i in 0..<rowLength { row[i] = Float(src[base + i]) }
            return
        }
        let colors = c - 1
        var p = 0
        while p < rowLength {
            let a = Float(src[base + p + colors])
            let f = a * (1 / 255)
            for k in 0..<colors { row[p + k] = Float(src[base + p + k]) * f }
            row[p + colors] = a
            p += c
        }
    }

    @inline(__always)
    private static func convolveRow(
        _ row: UnsafeMutableBufferPointer<Float>, out: UnsafeMutableBufferPointer<Float>,
        outSize: Int, taps: Int, starts: UnsafeBufferPointer<Int>,
        counts: UnsafeBufferPointer<Int>, weights: UnsafeBufferPointer<Float>,
        channels c: Int
    ) {
        guard let rowBase = row.baseAddress, let outBase = out.baseAddress else { return }
        let raw = UnsafeRawPointer(rowBase)
        switch c {
        case 1:
            for o in 0..<outSize {
                var s: Float = 0
                let first = starts[o], w = o * taps
                for k in 0..<counts[o] { s += weights[w + k] * row[first + k] }
                out[o] = s
            }
        case 2:
            for o in 0..<outSize {
                var s = SIMD2<Float>()
                let first = starts[o], w = o * taps
                for k in 0..<counts[o] {
                    s += weights[w + k] * raw.loadUnaligned(fromByteOffset: (first + k) * 8, as: SIMD2<Float>.self)
                }
                UnsafeMutableRawPointer(outBase).storeBytes(of: s, toByteOffset: o * 8, as: SIMD2<Float>.self)
            }
        default:  // 3 or 4: one SIMD4 per pixel (for 3 channels the 4th lane is the next pixel's, unused)
            let stride = c * 4
            for o in 0..<outSize {
                var s = SIMD4<Float>()
                let first = starts[o], w = o * taps
                for k in 0..<counts[o] {
                    s += weights[w + k] * raw.loadUnaligned(fromByteOffset: (first + k) * stride, as: SIMD4<Float>.self)
                }
                // Writes 4 floats; for 3 channels the 4th is overwritten by the next pixel (out has 4 spare).
                UnsafeMutableRawPointer(outBase).storeBytes(of: s, toByteOffset: o * stride, as: SIMD4<Float>.self)
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
    private static func storeRow(
        _ acc: UnsafeMutableBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<UInt8>,
        y: Int, width: Int, channels c: Int, alpha: Bool
    ) {
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

/// The rows of a source averaged over fx x fy blocks (premultiplied by alpha when there is alpha), made as
/// they are read: each output row reads fy input rows. The last partial block of a row or column is
/// averaged over the pixels it has.
final class ShrunkRows<Source: RowSource>: RowSource {
    private let source: Source
    private let fx: Int, fy: Int
    let width: Int, height: Int
    private var next = 0
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let sums: UnsafeMutableBufferPointer<UInt32>

    init(_ source: Source, _ fx: Int, _ fy: Int) {
        self.source = source
        self.fx = fx
        self.fy = fy
        width = (source.width + fx - 1) / fx
        height = (source.height + fy - 1) / fy
        input = .allocate(capacity: source.width * source.channels)
        input.initialize(repeating: 0)
        sums = .allocate(capacity: width * source.channels)
        sums.initialize(repeating: 0)
    }

    deinit {
        input.deallocate()
        sums.deallocate()
    }

    var channels: Int { source.channels }
    var failure: ImageError? { source.failure }

    func readRow(into dst: UnsafeMutablePointer<UInt8>) {
        let c = source.channels, inW = source.width, inH = source.height
        let alpha = c == 2 || c == 4
        let oy = next
        next += 1
        sums.update(repeating: 0)
        let y0 = oy * fy, y1 = min(y0 + fy, inH)
        guard let inputBase = input.baseAddress, y0 < y1 else {
            dst.update(repeating: 0, count: width * c)
            return
        }
        let src = UnsafeBufferPointer(input)
        for _ in y0..<y1 {
            source.readRow(into: inputBase)
            for ox in 0..<width {
                let x1 = min((ox + 1) * fx, inW)
                var p = ox * fx * c
                let end = x1 * c
                let o = ox * c
                if alpha {
                    let colors = c - 1
                    while p < end {
                        let a = UInt32(src[p + colors])
                        for k in 0..<colors { sums[o + k] &+= UInt32(src[p + k]) &* a }
                        sums[o + colors] &+= a
                        p += c
                    }
                } else {
                    while p < end {
                        for k in 0..<c { sums[o + k] &+= UInt32(src[p + k]) }
                        p += c
                    }
                }
            }
        }
        for ox in 0..<width {
            let n = UInt32((min((ox + 1) * fx, inW) - ox * fx) * (y1 - y0))
            let o = ox * c, d = ox * c
            if alpha {
                let colors = c - 1
                let a = sums[o + colors]
                for k in 0..<colors { dst[d + k] = a == 0 ? 0 : UInt8((sums[o + k] + a / 2) / a) }
                dst[d + colors] = UInt8((a + n / 2) / n)
            } else {
                for k in 0..<c { dst[d + k] = UInt8((sums[o + k] + n / 2) / n) }
            }
        }
    }
}
