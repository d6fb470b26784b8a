// CPNGShim: libpng for Swift. It exists because the PNG_FORMAT_* and PNG_IMAGE_* macros of the
// simplified API (png_image) do not import into Swift, and because libpng's row API reports errors by
// longjmp: every row-reader call runs under its own setjmp here, so no longjmp reaches Swift (the
// simplified API keeps its setjmp inside libpng, png_safe_execute). Nothing is printed.
#ifndef CPNGSHIM_H
#define CPNGSHIM_H

#include <stddef.h>
#include <stdint.h>

/// Result codes (mapped to ImageError codes in one place, PNGCodec.swift).
enum {
    CPNGShim_OK = 0,
    CPNGShim_FAILED = 1,   // libpng reported an error; the text is in the message
    CPNGShim_IO = 2,       // the output file could not be opened or written (errno in libCode)
    CPNGShim_NOMEM = 3
};

typedef struct CPNGShim_Reader CPNGShim_Reader;

/// Opens `path` and reads the header. NULL only when out of memory; otherwise check the returned
/// code from CPNGShim_readerStatus and always call CPNGShim_closeReader.
CPNGShim_Reader *CPNGShim_openReader(const char *path);
/// CPNGShim_openReader on a whole file's `length` bytes at `bytes`, which must stay valid until close.
CPNGShim_Reader *CPNGShim_openReaderMemory(const uint8_t *bytes, size_t length);
/// The status of the last call: CPNGShim_* code; message is libpng's text.
int CPNGShim_readerStatus(const CPNGShim_Reader *reader, const char **message);
/// Header facts: size, 8-bit output channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; tRNS counts as
/// alpha), and the file's bit depth and interlace flag as far as the simplified API tells.
void CPNGShim_readerHeader(const CPNGShim_Reader *reader, uint32_t *width, uint32_t *height, int *channels,
                           int *sixteenBit, int *colormap);
/// Decodes the whole image as 8-bit sRGB samples of `channels` (straight alpha) into `pixels`
/// (height rows of `stride` bytes). 16-bit samples are scaled (treated as sRGB, not linear).
int CPNGShim_readPixels(CPNGShim_Reader *reader, uint8_t *pixels, size_t stride, int channels);
void CPNGShim_closeReader(CPNGShim_Reader *reader);

/// A non-interlaced PNG read one row at a time (libpng's png_read_row), with the same transformations
/// png_image_finish_read applies for CPNGShim_readPixels, so the rows are the same samples.
typedef struct CPNGShim_RowReader CPNGShim_RowReader;

/// Header facts of a PNG opened with CPNGShim_openRowReader.
typedef struct CPNGShim_RowInfo {
    uint32_t width;
    uint32_t height;
    int channels;     // 8-bit output channels, as CPNGShim_readerHeader
    int bitDepth;     // the file's bits per sample (1, 2, 4, 8 or 16)
    int interlaced;   // Adam7: rows come in passes; CPNGShim_startRows refuses it
    size_t fileRowBytes;  // bytes of one row as stored (before transformations)
} CPNGShim_RowInfo;

/// Opens `path` and reads the chunks before the image data. NULL only when out of memory; otherwise check
/// CPNGShim_rowReaderStatus and always call CPNGShim_closeRowReader.
CPNGShim_RowReader *CPNGShim_openRowReader(const char *path);
int CPNGShim_rowReaderStatus(const CPNGShim_RowReader *reader, const char **message);
void CPNGShim_rowReaderInfo(const CPNGShim_RowReader *reader, CPNGShim_RowInfo *info);
/// Sets up the transformations to 8-bit samples; call once before reading rows.
int CPNGShim_startRows(CPNGShim_RowReader *reader);
/// Decodes the next row (width * channels bytes) into `row`.
int CPNGShim_readRow(CPNGShim_RowReader *reader, uint8_t *row);
void CPNGShim_closeRowReader(CPNGShim_RowReader *reader);

/// Writes an 8-bit PNG of `channels` (1, 2, 3 or 4; straight alpha) to a new file at `path`.
int CPNGShim_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                   size_t stride, int *libCode, char message[64]);

#endif
