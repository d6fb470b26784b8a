// See include/CPNGShim.h.
#include "CPNGShim.h"

#include <errno.h>
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

CPNGShim_Reader *CPNGShim_openReader(const char *path) {
    CPNGShim_Reader *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&r->image, path)) keep_message(r);
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
    for (png_uint_32 y = 0; y < r->image.height; y++) {
        const uint16_t *in = buffer + (size_t)y * wide;
        uint8_t *out = pixels + (size_t)y * stride;
        for (png_uint_32 x = 0; x < r->image.width; x++, in += channels, out += channels) {
            uint32_t a = in[channels - 1];
            for (int k = 0; k < channels - 1; k++) {
                uint32_t v = a == 0 ? 0 : (uint32_t)(((uint64_t)in[k] * 65535u + a / 2) / a);
                if (v > 65535u) v = 65535u;
                out[k] = (uint8_t)((v * 255u + 32767u) / 65535u);
            }
            out[channels - 1] = (uint8_t)((a * 255u + 32767u) / 65535u);
        }
    }
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
