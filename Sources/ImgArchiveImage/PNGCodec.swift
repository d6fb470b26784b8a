internal import CPNGShim

/// Maps the shim's result codes and libpng's messages to `ImageError` (the one place for libpng).
func pngError(code: Int32, message: String, libraryCode: Int32? = nil, path: String, writing: Bool) -> ImageError {
    let kind: ImageError.Code
    switch Int(code) {
    case CPNGShim_IO: kind = writing ? .writeFailed : .unreadable
    case CPNGShim_NOMEM: kind = .outOfMemory
    default:
        if writing {
            kind = .writeFailed
        } else if message.contains("Read Error") || message.contains("Not enough image data")
            || message.contains("unexpected end") || message.contains("end of file")
        {
            kind = .truncated  // libpng's wording for data that stops early
        } else if message.contains("memory") {
            kind = .outOfMemory
        } else if message.hasPrefix("png_image_begin_read_from_file: ") && message.contains("No such file") {
            kind = .unreadable
        } else {
            kind = .corrupt
        }
    }
    return ImageError(
        code: kind, path: path, message: message.isEmpty ? "PNG error" : message, libraryCode: libraryCode)
}

/// An opened PNG file whose header has been read; owns libpng's png_image.
final class PNGDecoder {
    let path: String
    private let handle: OpaquePointer
    let width: Int
    let height: Int
    /// 8-bit output channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (tRNS counts as alpha).
    let channels: Int

    convenience init(path: String) throws(ImageError) {
        try self.init(path: path, handle: CPNGShim_openReader(path))
    }

    /// The header of the PNG whose bytes (all of them) are `bytes`, which must outlive the decoder. `path` names
    /// the image in errors.
    convenience init(bytes: UnsafeRawBufferPointer, path: String) throws(ImageError) {
        let start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        try self.init(path: path, handle: CPNGShim_openReaderMemory(start, bytes.count))
    }

    private init(path: String, handle: OpaquePointer?) throws(ImageError) {
        guard let handle else {
            throw ImageError(code: .outOfMemory, path: path, message: "cannot allocate a PNG reader")
        }
        var message: UnsafePointer<CChar>? = nil
        let rc = CPNGShim_readerStatus(handle, &message)
        if Int(rc) != CPNGShim_OK {
            let text = message.map { String(cString: $0) } ?? ""
            CPNGShim_closeReader(handle)
            throw pngError(code: rc, message: text, path: path, writing: false)
        }
        var w: UInt32 = 0, h: UInt32 = 0, c: Int32 = 0, sixteen: Int32 = 0, colormap: Int32 = 0
        CPNGShim_readerHeader(handle, &w, &h, &c, &sixteen, &colormap)
        self.path = path
        self.handle = handle
        self.width = Int(w)
        self.height = Int(h)
        self.channels = Int(c)
    }

    deinit { CPNGShim_closeReader(handle) }

    /// Decodes the whole image to 8-bit samples. Call once.
    func decode() throws(ImageError) -> PixelBuffer {
        let rowBytes = width * channels
        let count = rowBytes * height
        var rc: Int32 = 0
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            rc = CPNGShim_readPixels(handle, buffer.baseAddress, rowBytes, Int32(channels))
            if Int(rc) != CPNGShim_OK { buffer.initialize(repeating: 0) }  // libpng wrote every row otherwise
            initialized = count
        }
        if Int(rc) != CPNGShim_OK {
            var message: UnsafePointer<CChar>? = nil
            _ = CPNGShim_readerStatus(handle, &message)
            throw pngError(code: rc, message: message.map { String(cString: $0) } ?? "", path: path, writing: false)
        }
        return PixelBuffer(width: width, height: height, channels: channels, pixels: pixels)
    }
}

/// A PNG read one row at a time through libpng's row API, giving the same samples as `PNGDecoder.decode`
/// (8-bit, the file's channels, straight alpha) while holding only a row or two. Adam7-interlaced files
/// cannot be read so (their rows come in seven passes over the whole image): `interlaced` says so, and
/// they go through `PNGDecoder.decode`.
final class PNGRowReader: RowSource {
    let path: String
    private let handle: OpaquePointer
    let width: Int
    let height: Int
    let channels: Int
    let bitDepth: Int
    let interlaced: Bool
    /// Bytes of one row as stored in the file.
    let fileRowBytes: Int
    private(set) var failure: ImageError?

    init(path: String) throws(ImageError) {
        guard let handle = CPNGShim_openRowReader(path) else {
            throw ImageError(code: .outOfMemory, path: path, message: "cannot allocate a PNG reader")
        }
        self.path = path
        self.handle = handle
        var info = CPNGShim_RowInfo()
        CPNGShim_rowReaderInfo(handle, &info)
        width = Int(info.width)
        height = Int(info.height)
        channels = Int(info.channels)
        bitDepth = Int(info.bitDepth)
        interlaced = info.interlaced != 0
        fileRowBytes = info.fileRowBytes
        if let error = currentError() { throw error }
    }

    deinit { CPNGShim_closeRowReader(handle) }

    /// Sets up 8-bit output; call once before the first row (not for an interlaced file).
    func start() throws(ImageError) {
        _ = CPNGShim_startRows(handle)
        if let error = currentError() { throw error }
    }

    func readRow(into row: UnsafeMutablePointer<UInt8>) {
        if failure == nil, Int(CPNGShim_readRow(handle, row)) == CPNGShim_OK { return }
        if failure == nil { failure = currentError() }
        row.update(repeating: 0, count: width * channels)
    }

    private func currentError() -> ImageError? {
        var message: UnsafePointer<CChar>? = nil
        let rc = CPNGShim_rowReaderStatus(handle, &message)
        guard Int(rc) != CPNGShim_OK else { return nil }
        return pngError(code: rc, message: message.map { String(cString: $0) } ?? "", path: path, writing: false)
    }
}

enum PNGEncoder {
    /// Writes an 8-bit PNG with the image's channels (alpha kept) into a new file.
    static func write(_ image: PixelBuffer, to path: String) throws(ImageError) {
        var libCode: Int32 = 0
        var text = [CChar](repeating: 0, count: 64)
        let rc = image.pixels.withUnsafeBufferPointer { px in
            text.withUnsafeMutableBufferPointer { msg in
                CPNGShim_write(
                    path, px.baseAddress, UInt32(image.width), UInt32(image.height),
                    Int32(image.channels), image.rowBytes, &libCode, msg.baseAddress)
            }
        }
        if Int(rc) != CPNGShim_OK {
            let message = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw pngError(code: rc, message: message, libraryCode: libCode, path: path, writing: true)
        }
    }
}
