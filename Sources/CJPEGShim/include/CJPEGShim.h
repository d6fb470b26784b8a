// CJPEGShim: what Swift cannot do with libjpeg-turbo. libjpeg reports errors by calling an error_exit
// function that must not return, so every call that can fail runs inside one of these C functions,
// under its own setjmp; the longjmp never crosses a Swift frame. Nothing is printed, nothing exits.
#ifndef CJPEGSHIM_H
#define CJPEGSHIM_H

#include <stddef.h>
#include <stdint.h>

/// Result codes of every CJPEGShim call (mapped to ImageError codes in one place, JPEGCodec.swift).
enum {
    CJPEGShim_OK = 0,
    CJPEGShim_IO = 1,          // fopen/fread/fwrite/fclose failed (errno in libCode)
    CJPEGShim_CORRUPT = 2,     // libjpeg error_exit (msg_code in libCode)
    CJPEGShim_TRUNCATED = 3,   // the data ended before the image did (JWRN_JPEG_EOF)
    CJPEGShim_NOMEM = 4,       // allocation failed
    CJPEGShim_USAGE = 5        // a call out of order or an unsupported argument
};

/// Outcome of the last call on a decoder or of one encode.
typedef struct CJPEGShim_Status {
    int code;            // CJPEGShim_*
    int libCode;         // libjpeg msg_code, or errno for CJPEGShim_IO
    int warnings;        // libjpeg warnings seen so far (corrupt data that libjpeg recovered from)
    char message[200];   // libjpeg's text for the error (JMSG_LENGTH_MAX)
} CJPEGShim_Status;

/// Header facts of an opened JPEG.
typedef struct CJPEGShim_Header {
    int width;
    int height;
    int components;      // components in the file (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK)
    int colorSpace;      // libjpeg J_COLOR_SPACE of the file
    int progressive;
    int adobe;           // an Adobe APP14 marker was seen (CMYK data is stored inverted)
    int multiScan;       // progressive, or components in separate scans: libjpeg buffers every coefficient
    size_t coefficientBytes;  // what that buffer takes (the whole image's DCT blocks, 128 bytes each)
} CJPEGShim_Header;

typedef struct CJPEGShim_Decoder CJPEGShim_Decoder;

/// Opens `path` and reads the header (markers APP1 and APP2 are kept). Returns NULL only when out of
/// memory; otherwise check CJPEGShim_decoderStatus and always call CJPEGShim_closeDecoder.
CJPEGShim_Decoder *CJPEGShim_openDecoder(const char *path);
/// Reads the header from `length` bytes at `bytes` (a file's first bytes, or all of them), as CJPEGShim_openDecoder
/// does from a file; bytes that end before the header does leave the status CJPEGShim_TRUNCATED. The bytes must stay
/// valid until close.
CJPEGShim_Decoder *CJPEGShim_openDecoderMemory(const uint8_t *bytes, size_t length);
const CJPEGShim_Status *CJPEGShim_decoderStatus(const CJPEGShim_Decoder *decoder);
void CJPEGShim_decoderHeader(const CJPEGShim_Decoder *decoder, CJPEGShim_Header *header);
/// The TIFF payload of the Exif APP1 marker (after "Exif\0\0"), or NULL. Valid until close.
const uint8_t *CJPEGShim_exif(const CJPEGShim_Decoder *decoder, size_t *length);
/// The ICC profile from the APP2 markers, or NULL. Valid until close.
const uint8_t *CJPEGShim_icc(CJPEGShim_Decoder *decoder, size_t *length);
/// Starts decompression at scale scaleNum/8 (1...16). Output is gray (1 channel) or RGB (3 channels;
/// CMYK and YCCK are converted, Adobe-inverted data handled).
int CJPEGShim_start(CJPEGShim_Decoder *decoder, int scaleNum, int *outWidth, int *outHeight, int *outChannels);
/// Decodes every scanline into `pixels` (outHeight rows of `stride` bytes).
int CJPEGShim_readPixels(CJPEGShim_Decoder *decoder, uint8_t *pixels, size_t stride);
/// Decodes the next `count` scanlines (at most those left) into `pixels` (rows of `stride` bytes).
int CJPEGShim_readRows(CJPEGShim_Decoder *decoder, uint8_t *pixels, size_t stride, int count);
/// Caps what libjpeg may allocate for this decoder (its max_memory_to_use); beyond it, decoding fails
/// with CJPEGShim_NOMEM instead of allocating. Call before CJPEGShim_start.
void CJPEGShim_setMemoryLimit(CJPEGShim_Decoder *decoder, long bytes);
void CJPEGShim_closeDecoder(CJPEGShim_Decoder *decoder);

/// How to encode. Defaults: quality 85, optimized Huffman tables, 4:2:0, baseline.
typedef struct CJPEGShim_EncodeOptions {
    int quality;
    int progressive;
    int restartInterval;   // in MCUs; 0 for none
    const uint8_t *icc;    // written as APP2 ICC_PROFILE markers when not NULL
    size_t iccLength;
    const uint8_t *app1;   // written verbatim as one APP1 marker when not NULL (Exif test fixtures)
    size_t app1Length;
} CJPEGShim_EncodeOptions;

/// Encodes width x height pixels of `channels` (1 gray, 3 RGB, 4 CMYK stored as given, with an Adobe
/// marker) into a new file at `path`.
int CJPEGShim_encode(const char *path, const uint8_t *pixels, int width, int height, int channels,
                     size_t stride, const CJPEGShim_EncodeOptions *options, CJPEGShim_Status *status);

#endif
