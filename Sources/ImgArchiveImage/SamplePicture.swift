import Foundation

/// Pictures the project draws itself, for `imgarchive demo`: a landscape (sky, sun, hills, lake) whose colours
/// and shapes depend on a seed, encoded as a real JPEG or PNG.
public enum SamplePicture {
    /// Draws a picture `width` x `height` and writes it to `path` as JPEG, or PNG when `png` is true.
    public static func write(to path: String, width: Int, height: Int, seed: Int, png: Bool) throws(ImageError) {
        let channels = png ? 4 : 3
        var px = [UInt8](repeating: 255, count: width * height * channels)
        let hue = Double((seed * 47) % 360) / 360
        let sunX = Double(width) * (0.2 + 0.6 * Double((seed * 31) % 100) / 100)
        let sunY = Double(height) * 0.3
        let sunR = Double(min(width, height)) * 0.09
        // Per column: the two hill lines and the lake's ripple phase; per row: the sky's colour.
        let columns = (0..<width).map { x -> (far: Double, near: Double, phase: Double) in
            let fx = Double(x) / Double(width)
            return (
                0.55 + 0.06 * sin(fx * 9 + Double(seed)) + 0.03 * sin(fx * 23 + hue * 10),
                0.68 + 0.05 * sin(fx * 5 + Double(seed) * 2) + 0.02 * sin(fx * 41), sin(fx * 30) * 2
            )
        }
        for y in 0..<height {
            let fy = Double(y) / Double(height)
            let sky = (
                0.45 + 0.4 * fy + 0.15 * sin(hue * 6.28), 0.6 + 0.25 * fy, 0.95 - 0.3 * fy + 0.05 * cos(hue * 6.28)
            )
            let dy = Double(y) - sunY
            for x in 0..<width {
                let column = columns[x]
                var (r, g, b) = sky
                if fy > 0.8 {
                    let ripple = 0.04 * sin(Double(y) * 0.9 + column.phase)
                    (r, g, b) = (0.15 + ripple, 0.35 + ripple + 0.1 * hue, 0.55 + ripple)
                } else if fy > column.near {
                    (r, g, b) = (0.18 + 0.1 * hue, 0.42 - 0.15 * (fy - column.near), 0.2)
                } else if fy > column.far {
                    (r, g, b) = (0.35, 0.5 + 0.1 * sin(hue * 6.28), 0.45)
                } else if abs(dy) < sunR * 2.5 {
                    let dx = Double(x) - sunX
                    let d = (dx * dx + dy * dy).squareRoot()
                    if d < sunR {
                        (r, g, b) = (1, 0.85, 0.4)
                    } else if d < sunR * 2.5 {
                        let glow = 1 - (d - sunR) / (sunR * 1.5)
                        r += 0.3 * glow
                        g += 0.2 * glow
                    }
                }
                let i = (y * width + x) * channels
                px[i] = UInt8(max(0, min(255, r * 255)))
                px[i + 1] = UInt8(max(0, min(255, g * 255)))
                px[i + 2] = UInt8(max(0, min(255, b * 255)))
            }
        }
        let image = PixelBuffer(width: width, height: height, channels: channels, pixels: px)
        if png {
            try PNGEncoder.write(image, to: path)
        } else {
            try JPEGEncoder.write(image, to: path, options: JPEGEncodeOptions())
        }
    }
}
