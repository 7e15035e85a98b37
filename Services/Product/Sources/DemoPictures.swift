import Foundation

/// The demo catalog's pictures, drawn here (owned by the project, nothing copied): a phone on a soft
/// background in the product's colours, its screen lit with a gradient, as a 256×256 PNG.
enum DemoPictures {
    struct Style {
        /// Background, body and the screen's two ends, as RGB.
        var background: (UInt8, UInt8, UInt8)
        var body: (UInt8, UInt8, UInt8)
        var screenTop: (UInt8, UInt8, UInt8)
        var screenBottom: (UInt8, UInt8, UInt8)
        /// Phone width and height as fractions of the picture, and corner radius in pixels.
        var width: Double
        var height: Double
        var radius: Double
        var cameras: Int
    }

    static let styles: [Style] = [
        Style(background: (236, 240, 247), body: (38, 40, 48), screenTop: (90, 120, 255), screenBottom: (240, 90, 180), width: 0.42, height: 0.80, radius: 22, cameras: 2),
        Style(background: (232, 246, 240), body: (20, 60, 90), screenTop: (60, 200, 190), screenBottom: (30, 80, 200), width: 0.44, height: 0.78, radius: 16, cameras: 3),
        Style(background: (250, 240, 230), body: (120, 80, 40), screenTop: (255, 200, 90), screenBottom: (230, 90, 60), width: 0.50, height: 0.82, radius: 14, cameras: 2),
        Style(background: (242, 238, 250), body: (60, 50, 90), screenTop: (120, 230, 120), screenBottom: (20, 140, 160), width: 0.46, height: 0.76, radius: 18, cameras: 3),
        Style(background: (245, 245, 245), body: (150, 20, 40), screenTop: (250, 250, 255), screenBottom: (140, 160, 220), width: 0.40, height: 0.78, radius: 12, cameras: 1),
        Style(background: (236, 246, 252), body: (70, 70, 75), screenTop: (255, 120, 80), screenBottom: (80, 40, 160), width: 0.45, height: 0.80, radius: 20, cameras: 2),
    ]

    /// The picture of the demo product at `index`.
    static func picture(_ index: Int, side: Int = 256) -> Data {
        let style = styles[index % styles.count]
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        let w = Double(side) * style.width, h = Double(side) * style.height
        let left = (Double(side) - w) / 2, top = (Double(side) - h) / 2
        let bezel = Double(side) * 0.03
        func inRoundedRect(_ x: Double, _ y: Double, _ l: Double, _ t: Double, _ rw: Double, _ rh: Double, _ r: Double) -> Bool {
            guard x >= l, x < l + rw, y >= t, y < t + rh else { return false }
            let cx = min(max(x, l + r), l + rw - r), cy = min(max(y, t + r), t + rh - r)
            return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
        }
        func mix(_ a: UInt8, _ b: UInt8, _ t: Double) -> UInt8 { UInt8(max(0, min(255, Double(a) + (Double(b) - Double(a)) * t))) }
        for y in 0..<side {
            for x in 0..<side {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                var colour = style.background
                // A soft shadow under the phone.
                if inRoundedRect(px - 6, py - 8, left, top, w, h, style.radius) {
                    colour = (mix(colour.0, 0, 0.12), mix(colour.1, 0, 0.12), mix(colour.2, 0, 0.12))
                }
                if inRoundedRect(px, py, left, top, w, h, style.radius) {
                    colour = style.body
                    let screen = (l: left + bezel, t: top + bezel * 2.2, w: w - bezel * 2, h: h - bezel * 4.4)
                    if inRoundedRect(px, py, screen.l, screen.t, screen.w, screen.h, max(style.radius - bezel, 2)) {
                        let t = (py - screen.t) / screen.h
                        let glare = max(0, 1 - abs((px - screen.l) / screen.w - t) * 6) * 0.18
                        colour = (
                            mix(mix(style.screenTop.0, style.screenBottom.0, t), 255, glare),
                            mix(mix(style.screenTop.1, style.screenBottom.1, t), 255, glare),
                            mix(mix(style.screenTop.2, style.screenBottom.2, t), 255, glare)
                        )
                    }
                    // The cameras above the screen, and a speaker slot.
                    for camera in 0..<style.cameras {
                        let cx = left + w / 2 + Double(camera - (style.cameras - 1) / 2) * bezel * 1.6 - (style.cameras.isMultiple(of: 2) ? bezel * 0.8 : 0)
                        let cy = top + bezel * 1.1
                        if (px - cx) * (px - cx) + (py - cy) * (py - cy) <= bezel * bezel * 0.2 { colour = (10, 10, 14) }
                    }
                    if abs(py - (top + h - bezel * 1.1)) < bezel * 0.25, abs(px - (left + w / 2)) < w * 0.12 { colour = (mix(style.body.0, 255, 0.3), mix(style.body.1, 255, 0.3), mix(style.body.2, 255, 0.3)) }
                }
                let offset = (y * side + x) * 3
                pixels[offset] = colour.0
                pixels[offset + 1] = colour.1
                pixels[offset + 2] = colour.2
            }
        }
        return PNGEncoder.rgb(width: side, height: side, pixels: pixels)
    }
}

/// A PNG writer without compression (stored deflate blocks): enough for small generated pictures,
/// and every decoder reads it.
enum PNGEncoder {
    static func rgb(width: Int, height: Int, pixels: [UInt8]) -> Data {
        var raw: [UInt8] = []
        raw.reserveCapacity((width * 3 + 1) * height)
        for row in 0..<height {
            raw.append(0) // filter: none
            raw.append(contentsOf: pixels[(row * width * 3)..<((row + 1) * width * 3)])
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var index = 0
        repeat {
            let count = min(65_535, raw.count - index)
            let final: UInt8 = index + count == raw.count ? 1 : 0
            zlib += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            zlib += raw[index..<(index + count)]
            index += count
        } while index < raw.count
        zlib += be32(adler32(raw))
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0])
        png += chunk("IDAT", zlib)
        png += chunk("IEND", [])
        return Data(png)
    }

    static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}
