// CPNGShim: libpng's simplified API (png_image) for Swift. It exists because the PNG_FORMAT_* and
// PNG_IMAGE_* macros do not import into Swift; libpng's own setjmp stays inside libpng
// (png_safe_execute), so no longjmp reaches Swift. Nothing is printed.
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

/// Writes an 8-bit PNG of `channels` (1, 2, 3 or 4; straight alpha) to a new file at `path`.
int CPNGShim_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                   size_t stride, int *libCode, char message[64]);

#endif
