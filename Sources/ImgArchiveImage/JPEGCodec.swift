internal import CJPEGShim

/// Maps the shim's result codes to `ImageError` (the one place for libjpeg's codes).
func jpegError(_ status: CJPEGShim_Status, path: String) -> ImageError {
    let code: ImageError.Code
    switch Int(status.code) {
    case CJPEGShim_IO: code = .unreadable
    case CJPEGShim_TRUNCATED: code = .truncated
    case CJPEGShim_NOMEM: code = .outOfMemory
    case CJPEGShim_USAGE: code = .invalidArgument
    default: code = .corrupt
    }
    let message = withUnsafeBytes(of: status.message) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return ImageError(
        code: code, path: path, message: message.isEmpty ? "JPEG error" : message,
        libraryCode: status.libCode, warnings: Int(status.warnings))
}

/// An opened JPEG file whose header has been read; owns the libjpeg decoder.
final class JPEGDecoder {
    let path: String
    private let handle: OpaquePointer
    let width: Int
    let height: Int
    let progressive: Bool
    /// Progressive, or components in separate scans: libjpeg holds every DCT coefficient while decoding.
    let multiScan: Bool
    /// What those coefficients take, in bytes (whether or not the image is multi-scan).
    let coefficientBytes: Int

    convenience init(path: String) throws(ImageError) {
        try self.init(path: path, handle: CJPEGShim_openDecoder(path))
    }

    /// The header of the JPEG whose first bytes (or all of them) are `bytes`, which must outlive the decoder;
    /// `.truncated` when they end before the header does. `path` names the image in errors.
    convenience init(bytes: UnsafeRawBufferPointer, path: String) throws(ImageError) {
        let start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        try self.init(path: path, handle: CJPEGShim_openDecoderMemory(start, bytes.count))
    }

    private init(path: String, handle: OpaquePointer?) throws(ImageError) {
        guard let handle else {
            throw ImageError(code: .outOfMemory, path: path, message: "cannot allocate a JPEG decoder")
        }
        if let status = CJPEGShim_decoderStatus(handle)?.pointee, Int(status.code) != CJPEGShim_OK {
            CJPEGShim_closeDecoder(handle)
            throw jpegError(status, path: path)
        }
        var header = CJPEGShim_Header()
        CJPEGShim_decoderHeader(handle, &header)
        self.path = path
        self.handle = handle
        self.width = Int(header.width)
        self.height = Int(header.height)
        self.progressive = header.progressive != 0
        self.multiScan = header.multiScan != 0
        self.coefficientBytes = header.coefficientBytes
    }

    deinit { CJPEGShim_closeDecoder(handle) }

    var warnings: Int { Int(CJPEGShim_decoderStatus(handle)?.pointee.warnings ?? 0) }

    /// The EXIF orientation from the APP1 marker (`.up` when there is none).
    var orientation: Orientation {
        var length = 0
        guard let data = CJPEGShim_exif(handle, &length) else { return .up }
        return Orientation.fromExif(UnsafeBufferPointer(start: data, count: length))
    }

    /// The ICC profile from the APP2 markers, if any.
    func iccProfile() -> [UInt8]? {
        var length = 0
        guard let data = CJPEGShim_icc(handle, &length), length > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }

    /// Decodes at scale `scaleNumerator`/8 into gray or RGB pixels. Call once.
    func decode(scaleNumerator: Int) throws(ImageError) -> PixelBuffer {
        var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        if Int(CJPEGShim_start(handle, Int32(scaleNumerator), &w, &h, &c)) != CJPEGShim_OK {
            throw currentError()
        }
        let width = Int(w), height = Int(h), channels = Int(c)
        let count = width * height * channels
        var ok = true
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            ok = Int(CJPEGShim_readPixels(handle, buffer.baseAddress, width * channels)) == CJPEGShim_OK
            if !ok { buffer.initialize(repeating: 0) }
            initialized = count
        }
        guard ok else { throw currentError() }
        return PixelBuffer(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Caps what libjpeg may allocate for this image; past it, decoding fails with `.outOfMemory`.
    func limitMemory(to bytes: Int) {
        CJPEGShim_setMemoryLimit(handle, bytes)
    }

    /// Starts decoding at scale `scaleNumerator`/8 and returns its rows, to be read once, top to bottom.
    /// Call once, instead of `decode`.
    func rows(scaleNumerator: Int) throws(ImageError) -> JPEGRows {
        var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        if Int(CJPEGShim_start(handle, Int32(scaleNumerator), &w, &h, &c)) != CJPEGShim_OK {
            throw currentError()
        }
        return JPEGRows(decoder: self, width: Int(w), height: Int(h), channels: Int(c))
    }

    /// Decodes the next scanline into `row`; false when libjpeg failed (see `currentError`).
    fileprivate func readRow(into row: UnsafeMutablePointer<UInt8>, rowBytes: Int) -> Bool {
        Int(CJPEGShim_readRows(handle, row, rowBytes, 1)) == CJPEGShim_OK
    }

    fileprivate func currentError() -> ImageError {
        guard let status = CJPEGShim_decoderStatus(handle)?.pointee else {
            return ImageError(code: .corrupt, path: path, message: "JPEG error")
        }
        return jpegError(status, path: path)
    }

    /// The DCT scale M (of M/8) that shrinks the most while the decoded width stays at least twice
    /// `targetWidth`: 1, 2 or 4, or 8 (the full size) when no reduction allows that. Only these scales:
    /// libjpeg-turbo has SIMD IDCTs for them, while 3/8, 5/8, 6/8 and 7/8 run its plain-C IDCTs; on the
    /// benchmark set the finer scales were no faster and lost 0.4-0.6 dB on three images (docs/images.md).
    static func scaleNumerator(fullWidth: Int, targetWidth: Int) -> Int {
        for m in [1, 2, 4] where (fullWidth * m + 7) / 8 >= 2 * targetWidth { return m }
        return 8
    }
}

/// The scanlines of a started JPEG decoder, at its DCT scale: libjpeg decodes each as it is asked for, so
/// a single-scan (baseline) image is never held whole.
final class JPEGRows: RowSource {
    private let decoder: JPEGDecoder
    let width: Int
    let height: Int
    let channels: Int
    private(set) var failure: ImageError?

    fileprivate init(decoder: JPEGDecoder, width: Int, height: Int, channels: Int) {
        self.decoder = decoder
        self.width = width
        self.height = height
        self.channels = channels
    }

    func readRow(into row: UnsafeMutablePointer<UInt8>) {
        let n = width * channels
        if failure == nil, decoder.readRow(into: row, rowBytes: n) { return }
        if failure == nil { failure = decoder.currentError() }
        row.update(repeating: 0, count: n)
    }
}

/// JPEG encoding options (the thumbnail path uses quality and ICC; tests make fixtures with the rest).
struct JPEGEncodeOptions {
    var quality = 85
    var progressive = false
    var restartInterval = 0
    var iccProfile: [UInt8]? = nil
    var app1: [UInt8]? = nil
}

enum JPEGEncoder {
    /// Encodes gray (1), RGB (3) or CMYK (4, stored as given with an Adobe marker) pixels into a new file.
    static func write(_ image: PixelBuffer, to path: String, options: JPEGEncodeOptions) throws(ImageError) {
        var status = CJPEGShim_Status()
        let icc = options.iccProfile ?? []
        let app1 = options.app1 ?? []
        let rc = image.pixels.withUnsafeBufferPointer { px in
            icc.withUnsafeBufferPointer { iccP in
                app1.withUnsafeBufferPointer { app1P in
                    var o = CJPEGShim_EncodeOptions()
                    o.quality = Int32(options.quality)
                    o.progressive = options.progressive ? 1 : 0
                    o.restartInterval = Int32(options.restartInterval)
                    o.icc = icc.isEmpty ? nil : iccP.baseAddress
                    o.iccLength = icc.count
                    o.app1 = app1.isEmpty ? nil : app1P.baseAddress
                    o.app1Length = app1.count
                    return CJPEGShim_encode(
                        path, px.baseAddress, Int32(image.width), Int32(image.height),
                        Int32(image.channels), image.rowBytes, &o, &status)
                }
            }
        }
        if Int(rc) != CJPEGShim_OK {
            var error = jpegError(status, path: path)
            if error.code == .unreadable { error.code = .writeFailed }
            throw error
        }
    }
}
