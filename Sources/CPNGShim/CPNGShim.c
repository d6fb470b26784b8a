// See include/CPNGShim.h.
#include "CPNGShim.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct CPNGShim_Reader {
    png_image image;
    int code;
    char message[64];
};

static void keep_message(CPNGShim_Reader *r) {
    r->code = CPNGShim_FAILED;
    memcpy(r->message, r->image.message, sizeof r->message);
    r->message[sizeof r->message - 1] = 0;
}

// libpng allocates each ancillary chunk whole (a tEXt or iCCP chunk may declare 2 GB in a 600-byte file), and the
// simplified API has no png_set_chunk_malloc_max. So every chunk header is walked first (seeking past the data):
// a chunk other than IDAT over CPNGShim_maxChunkBytes refuses the file, and CPNGShim_FAILED says which.
enum { CPNGShim_maxChunkBytes = 8000000 };  // libpng's own suggested PNG_USER_CHUNK_MALLOC_MAX

static int oversized_chunk_in(FILE *f, char *message, size_t size) {
    unsigned char h[8];
    int found = 0;
    if (fread(h, 1, 8, f) == 8) {
        while (fread(h, 1, 8, f) == 8) {
            uint32_t length = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            if (memcmp(h + 4, "IEND", 4) == 0) break;
            if (memcmp(h + 4, "IDAT", 4) != 0 && length > CPNGShim_maxChunkBytes) {
                snprintf(message, size, "a %.4s chunk declares %u bytes (limit %d)", (const char *)(h + 4), length,
                         CPNGShim_maxChunkBytes);
                found = 1;
                break;
            }
            if (fseek(f, (long)length + 4, SEEK_CUR) != 0) break;
        }
    }
    fclose(f);
    return found;
}

static int oversized_chunk(const char *path, char *message, size_t size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;  // libpng says why it cannot open it
    return oversized_chunk_in(f, message, size);
}

CPNGShim_Reader *CPNGShim_openReader(const char *path) {
    CPNGShim_Reader *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    if (oversized_chunk(path, r->message, sizeof r->message)) {
        r->code = CPNGShim_FAILED;
        return r;
    }
    r->image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&r->image, path)) keep_message(r);
    return r;
}

CPNGShim_Reader *CPNGShim_openReaderMemory(const uint8_t *bytes, size_t length) {
    CPNGShim_Reader *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    FILE *f = length > 0 ? fmemopen((void *)bytes, length, "rb") : NULL;
    if (f == NULL) {
        r->code = length > 0 ? CPNGShim_NOMEM : CPNGShim_FAILED;
        snprintf(r->message, sizeof r->message, "%s", length > 0 ? "out of memory" : "no bytes");
        return r;
    }
    if (oversized_chunk_in(f, r->message, sizeof r->message)) {
        r->code = CPNGShim_FAILED;
        return r;
    }
    r->image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&r->image, bytes, length)) keep_message(r);
    return r;
}

int CPNGShim_readerStatus(const CPNGShim_Reader *r, const char **message) {
    *message = r->message;
    return r->code;
}

void CPNGShim_readerHeader(const CPNGShim_Reader *r, uint32_t *width, uint32_t *height, int *channels,
                           int *sixteenBit, int *colormap) {
    png_uint_32 f = r->image.format;
    *width = r->image.width;
    *height = r->image.height;
    *channels = ((f & PNG_FORMAT_FLAG_COLOR) ? 3 : 1) + ((f & PNG_FORMAT_FLAG_ALPHA) ? 1 : 0);
    *sixteenBit = (f & PNG_FORMAT_FLAG_LINEAR) ? 1 : 0;
    *colormap = (f & PNG_FORMAT_FLAG_COLORMAP) ? 1 : 0;
}

static png_uint_32 format_for(int channels) {
    switch (channels) {
    case 1: return PNG_FORMAT_GRAY;
    case 2: return PNG_FORMAT_GA;
    case 3: return PNG_FORMAT_RGB;
    default: return PNG_FORMAT_RGBA;
    }
}

// 16-bit premultiplied samples (gray+alpha or RGBA) to 8-bit straight alpha.
static void unpremultiply_row(const uint16_t *in, uint8_t *out, png_uint_32 width, int channels) {
    for (png_uint_32 x = 0; x < width; x++, in += channels, out += channels) {
        uint32_t a = in[channels - 1];
        for (int k = 0; k < channels - 1; k++) {
            uint32_t v = a == 0 ? 0 : (uint32_t)(((uint64_t)in[k] * 65535u + a / 2) / a);
            if (v > 65535u) v = 65535u;
            out[k] = (uint8_t)((v * 255u + 32767u) / 65535u);
        }
        out[channels - 1] = (uint8_t)((a * 255u + 32767u) / 65535u);
    }
}

// libpng 1.6.39's simplified reader returns wrong rows for interlaced 16-bit images with alpha when
// asked for 8-bit output (the 16-bit linear output is right). So 16-bit images with alpha are read as
// 16-bit premultiplied samples (the file's 16-bit values, as no gAMA means linear to libpng) and turned
// into 8-bit straight alpha here: the same values the 8-bit path gives for non-interlaced files.
static int read_sixteen_with_alpha(CPNGShim_Reader *r, uint8_t *pixels, size_t stride, int channels) {
    r->image.format = channels == 2 ? PNG_FORMAT_LINEAR_Y_ALPHA : PNG_FORMAT_LINEAR_RGB_ALPHA;
    r->image.flags &= ~(png_uint_32)PNG_IMAGE_FLAG_16BIT_sRGB;
    size_t wide = (size_t)r->image.width * (size_t)channels;
    uint16_t *buffer = malloc(wide * 2 * r->image.height);
    if (buffer == NULL) {
        r->code = CPNGShim_NOMEM;
        snprintf(r->message, sizeof r->message, "out of memory");
        return r->code;
    }
    if (!png_image_finish_read(&r->image, NULL, buffer, 0, NULL)) {
        keep_message(r);
        free(buffer);
        return r->code;
    }
    for (png_uint_32 y = 0; y < r->image.height; y++)
        unpremultiply_row(buffer + (size_t)y * wide, pixels + (size_t)y * stride, r->image.width, channels);
    free(buffer);
    return r->code;
}

int CPNGShim_readPixels(CPNGShim_Reader *r, uint8_t *pixels, size_t stride, int channels) {
    if (r->code != CPNGShim_OK) return r->code;
    png_uint_32 f = r->image.format;  // the file's format, from the header
    r->image.format = format_for(channels);
    r->image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;  // 16-bit samples are sRGB-encoded, as PNG files are in practice
    if (stride > 0x7fffffff || stride < PNG_IMAGE_ROW_STRIDE(r->image)) {
        r->code = CPNGShim_FAILED;
        snprintf(r->message, sizeof r->message, "row stride too large or too small");
        return r->code;
    }
    if ((f & PNG_FORMAT_FLAG_LINEAR) && (f & PNG_FORMAT_FLAG_ALPHA) && (channels == 2 || channels == 4))
        return read_sixteen_with_alpha(r, pixels, stride, channels);
    if (!png_image_finish_read(&r->image, NULL, pixels, (png_int_32)stride, NULL)) keep_message(r);
    return r->code;
}

void CPNGShim_closeReader(CPNGShim_Reader *r) {
    if (r == NULL) return;
    png_image_free(&r->image);
    free(r);
}

struct CPNGShim_RowReader {
    png_structp png;
    png_infop info;
    FILE *file;
    int code;
    char message[64];
    CPNGShim_RowInfo facts;
    int premultiplied;   // 16-bit with alpha: read as 16-bit premultiplied, as read_sixteen_with_alpha
    int started;
    uint16_t *wide;      // one 16-bit row for those
};

static void row_error(png_structp png, png_const_charp text) {
    CPNGShim_RowReader *r = png_get_error_ptr(png);
    r->code = CPNGShim_FAILED;
    snprintf(r->message, sizeof r->message, "%s", text);
    png_longjmp(png, 1);
}

static void row_warning(png_structp png, png_const_charp text) {
    (void)png;  // the simplified API keeps warnings to itself too
    (void)text;
}

CPNGShim_RowReader *CPNGShim_openRowReader(const char *path) {
    CPNGShim_RowReader *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->file = fopen(path, "rb");
    if (r->file == NULL) {
        r->code = CPNGShim_IO;
        snprintf(r->message, sizeof r->message, "open: %s", strerror(errno));
        return r;
    }
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, row_error, row_warning);
    if (r->png != NULL) r->info = png_create_info_struct(r->png);
    if (r->png == NULL || r->info == NULL) {
        r->code = CPNGShim_NOMEM;
        snprintf(r->message, sizeof r->message, "out of memory");
        return r;
    }
    if (setjmp(png_jmpbuf(r->png))) return r;
    png_set_benign_errors(r->png, 1);  // as png_image_begin_read_from_file
    png_set_chunk_malloc_max(r->png, CPNGShim_maxChunkBytes);
    png_init_io(r->png, r->file);
    png_read_info(r->png, r->info);
    int type = png_get_color_type(r->png, r->info);
    int depth = png_get_bit_depth(r->png, r->info);
    int trans = 0;
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_get_tRNS(r->png, r->info, NULL, &trans, NULL);
    // The channels png_image_format gives: colour, and alpha from the colour type or a tRNS chunk.
    int alpha = (type & PNG_COLOR_MASK_ALPHA) != 0 || trans > 0;
    r->facts.width = png_get_image_width(r->png, r->info);
    r->facts.height = png_get_image_height(r->png, r->info);
    r->facts.channels = ((type & PNG_COLOR_MASK_COLOR) ? 3 : 1) + (alpha ? 1 : 0);
    r->facts.bitDepth = depth;
    r->facts.interlaced = png_get_interlace_type(r->png, r->info) != PNG_INTERLACE_NONE;
    r->facts.fileRowBytes = png_get_rowbytes(r->png, r->info);
    r->premultiplied = depth == 16 && alpha;
    return r;
}

int CPNGShim_rowReaderStatus(const CPNGShim_RowReader *r, const char **message) {
    *message = r->message;
    return r->code;
}

void CPNGShim_rowReaderInfo(const CPNGShim_RowReader *r, CPNGShim_RowInfo *info) { *info = r->facts; }

// The calls png_image_read_direct (libpng 1.6) makes for an output format with the file's own channels:
// 8-bit sRGB (16-bit samples taken as sRGB-encoded, PNG_IMAGE_FLAG_16BIT_sRGB), or, for 16-bit with alpha,
// 16-bit linear premultiplied (as read_sixteen_with_alpha asks), un-premultiplied here row by row.
int CPNGShim_startRows(CPNGShim_RowReader *r) {
    if (r->code != CPNGShim_OK) return r->code;
    if (r->started || r->facts.interlaced) {
        r->code = CPNGShim_FAILED;
        snprintf(r->message, sizeof r->message, "row reader: started twice or interlaced");
        return r->code;
    }
    if (setjmp(png_jmpbuf(r->png))) return r->code;
    png_set_expand(r->png);
    if (r->premultiplied) {
        png_set_alpha_mode_fixed(r->png, PNG_ALPHA_PNG, PNG_GAMMA_LINEAR);
        png_set_alpha_mode_fixed(r->png, PNG_ALPHA_STANDARD, PNG_GAMMA_LINEAR);
        uint16_t probe = 1;
        if (*(const uint8_t *)&probe) png_set_swap(r->png);  // native byte order
    } else {
        png_set_alpha_mode_fixed(r->png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);
        if (r->facts.bitDepth == 16) png_set_scale_16(r->png);
        png_set_alpha_mode_fixed(r->png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);
    }
    (void)png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    size_t samples = (size_t)r->facts.width * (size_t)r->facts.channels;
    if (png_get_rowbytes(r->png, r->info) != samples * (r->premultiplied ? 2 : 1)) {
        r->code = CPNGShim_FAILED;
        snprintf(r->message, sizeof r->message, "row reader: unexpected row layout");
        return r->code;
    }
    if (r->premultiplied) {
        r->wide = malloc(samples * 2);
        if (r->wide == NULL) {
            r->code = CPNGShim_NOMEM;
            snprintf(r->message, sizeof r->message, "out of memory");
            return r->code;
        }
    }
    r->started = 1;
    return CPNGShim_OK;
}

int CPNGShim_readRow(CPNGShim_RowReader *r, uint8_t *row) {
    if (r->code != CPNGShim_OK) return r->code;
    if (!r->started) {
        r->code = CPNGShim_FAILED;
        snprintf(r->message, sizeof r->message, "row reader: not started");
        return r->code;
    }
    if (setjmp(png_jmpbuf(r->png))) return r->code;
    if (!r->premultiplied) {
        png_read_row(r->png, row, NULL);
        return CPNGShim_OK;
    }
    png_read_row(r->png, (png_bytep)r->wide, NULL);
    unpremultiply_row(r->wide, row, r->facts.width, r->facts.channels);
    return CPNGShim_OK;
}

void CPNGShim_closeRowReader(CPNGShim_RowReader *r) {
    if (r == NULL) return;
    if (r->png != NULL) png_destroy_read_struct(&r->png, r->info != NULL ? &r->info : NULL, NULL);
    free(r->wide);
    if (r->file != NULL) fclose(r->file);
    free(r);
}

int CPNGShim_write(const char *path, const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                   size_t stride, int *libCode, char message[64]) {
    *libCode = 0;
    message[0] = 0;
    if (channels < 1 || channels > 4 || stride > 0x7fffffff) {
        snprintf(message, 64, "bad channel count or stride");
        return CPNGShim_FAILED;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        *libCode = errno;
        snprintf(message, 64, "open: %s", strerror(errno));
        return CPNGShim_IO;
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = format_for(channels);
    int ok = png_image_write_to_stdio(&image, file, 0, pixels, (png_int_32)stride, NULL);
    if (!ok) {
        memcpy(message, image.message, 64);
        message[63] = 0;
    }
    png_image_free(&image);
    int failed = ferror(file);
    if (fclose(file) != 0 || failed) {
        if (ok) {
            *libCode = errno;
            snprintf(message, 64, "write: %s", strerror(errno));
            return CPNGShim_IO;
        }
    }
    return ok ? CPNGShim_OK : CPNGShim_FAILED;
}
