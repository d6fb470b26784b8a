/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to be shown upright.
struct Orientation: RawRepresentable, Equatable, Sendable {
    /// 1...8 as in the TIFF/EXIF specification; 1 is "as stored".
    let rawValue: Int

    init?(rawValue: Int) {
        guard (1...8).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    static let up = Orientation(uncheckedRawValue: 1)
    private init(uncheckedRawValue: Int) { rawValue = uncheckedRawValue }

    /// Orientations 5...8 swap width and height.
    var swapsAxes: Bool { rawValue >= 5 }

    /// Reads the orientation from the TIFF payload of an Exif APP1 marker; `.up` when absent or malformed.
    static func fromExif(_ tiff: UnsafeBufferPointer<UInt8>) -> Orientation {
        guard tiff.count >= 8 else { return .up }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return .up
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            let a = Int(tiff[at]), b = Int(tiff[at + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return .up }
        for i in 0..<count {
            let entry = ifd + 2 + i * 12
            guard let tag = u16(entry) else { return .up }
            if tag == 0x0112 {
                // SHORT, count 1: the value sits in the first two bytes of the value field.
                guard u16(entry + 2) == 3, let value = u16(entry + 8) else { return .up }
                return Orientation(rawValue: value) ?? .up
            }
        }
        return .up
    }

    /// Turns `image` (stored pixels) into the upright image.
    func apply(to image: PixelBuffer) -> PixelBuffer {
        if rawValue == 1 { return image }
        let w = image.width, h = image.height, c = image.channels
        let outW = swapsAxes ? h : w, outH = swapsAxes ? w : h
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        let r = rawValue
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        let sx: Int, sy: Int
                        switch r {
                        case 2: (sx, sy) = (w - 1 - x, y)
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case 4: (sx, sy) = (x, h - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, h - 1 - x)
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                        default: (sx, sy) = (w - 1 - y, x)  // 8
                        }
                        let d = (y * outW + x) * c, s = (sy * w + sx) * c
                        for k in 0..<c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return PixelBuffer(width: outW, height: outH, channels: c, pixels: out)
    }
}
