// See include/CJPEGShim.h: the setjmp/longjmp error exit and the loops that run under it.
#include "CJPEGShim.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct ShimError {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    CJPEGShim_Status *status;
} ShimError;

static void shim_error_exit(j_common_ptr cinfo) {
    ShimError *err = (ShimError *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->status->message);
    err->status->libCode = cinfo->err->msg_code;
    // Out of memory, or past the cap set with CJPEGShim_setMemoryLimit (libjpeg then asks for a backing store).
    int memory = cinfo->err->msg_code == JERR_OUT_OF_MEMORY || cinfo->err->msg_code == JERR_NO_BACKING_STORE;
    err->status->code = memory ? CJPEGShim_NOMEM : CJPEGShim_CORRUPT;
    longjmp(err->jump, 1);
}

static void shim_emit_message(j_common_ptr cinfo, int level) {
    ShimError *err = (ShimError *)cinfo->err;
    if (level >= 0) return;  // trace messages: ignored
    cinfo->err->num_warnings++;
    err->status->warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        // libjpeg would pad the rest of the image with grey; we stop instead (policy: truncated = error).
        (*cinfo->err->format_message)(cinfo, err->status->message);
        err->status->libCode = cinfo->err->msg_code;
        err->status->code = CJPEGShim_TRUNCATED;
        longjmp(err->jump, 1);
    }
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }  // never print

static void shim_init_error(ShimError *err, CJPEGShim_Status *status) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = shim_error_exit;
    err->pub.emit_message = shim_emit_message;
    err->pub.output_message = shim_output_message;
    err->status = status;
}

static void set_io_error(CJPEGShim_Status *status, const char *what) {
    status->code = CJPEGShim_IO;
    status->libCode = errno;
    snprintf(status->message, sizeof status->message, "%s: %s", what, strerror(errno));
}

struct CJPEGShim_Decoder {
    struct jpeg_decompress_struct cinfo;
    ShimError err;
    CJPEGShim_Status status;
    FILE *file;
    int created;
    int headerRead;
    int started;
    JOCTET *icc;
    unsigned iccLength;
    int iccRead;
    int multiScan;
    JSAMPLE *cmykRows;   // scratch rows for CMYK to RGB, allocated at start
};

// Reads the header from the source set on d->cinfo (by `set_source`, under the error handler).
static CJPEGShim_Decoder *open_decoder(CJPEGShim_Decoder *d, void (*set_source)(CJPEGShim_Decoder *, const void *),
                                       const void *source) {
    d->cinfo.err = &d->err.pub;
    if (setjmp(d->err.jump)) return d;
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    set_source(d, source);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&d->cinfo, TRUE);
    d->multiScan = jpeg_has_multiple_scans(&d->cinfo) ? 1 : 0;
    d->headerRead = 1;
    return d;
}

static void set_file_source(CJPEGShim_Decoder *d, const void *unused) {
    (void)unused;
    jpeg_stdio_src(&d->cinfo, d->file);
}

typedef struct MemorySource {
    const uint8_t *bytes;
    size_t length;
} MemorySource;

static void set_memory_source(CJPEGShim_Decoder *d, const void *source) {
    const MemorySource *m = source;
    jpeg_mem_src(&d->cinfo, m->bytes, (unsigned long)m->length);
}

CJPEGShim_Decoder *CJPEGShim_openDecoder(const char *path) {
    CJPEGShim_Decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    shim_init_error(&d->err, &d->status);
    d->file = fopen(path, "rb");
    if (d->file == NULL) {
        set_io_error(&d->status, "open");
        return d;
    }
    return open_decoder(d, set_file_source, NULL);
}

CJPEGShim_Decoder *CJPEGShim_openDecoderMemory(const uint8_t *bytes, size_t length) {
    CJPEGShim_Decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    shim_init_error(&d->err, &d->status);
    if (length == 0) {
        d->status.code = CJPEGShim_TRUNCATED;
        snprintf(d->status.message, sizeof d->status.message, "no bytes");
        return d;
    }
    MemorySource source = {bytes, length};
    return open_decoder(d, set_memory_source, &source);
}

const CJPEGShim_Status *CJPEGShim_decoderStatus(const CJPEGShim_Decoder *d) { return &d->status; }

void CJPEGShim_decoderHeader(const CJPEGShim_Decoder *d, CJPEGShim_Header *h) {
    memset(h, 0, sizeof *h);
    if (!d->headerRead) return;
    h->width = (int)d->cinfo.image_width;
    h->height = (int)d->cinfo.image_height;
    h->components = d->cinfo.num_components;
    h->colorSpace = (int)d->cinfo.jpeg_color_space;
    h->progressive = d->cinfo.progressive_mode ? 1 : 0;
    h->adobe = d->cinfo.saw_Adobe_marker ? 1 : 0;
    h->multiScan = d->multiScan;
    // The coefficient buffer of a multi-scan image (jdcoefct.c): per component, its blocks rounded up to
    // whole MCUs, DCTSIZE2 JCOEFs each.
    int maxH = 1, maxV = 1;
    for (int i = 0; i < d->cinfo.num_components; i++) {
        const jpeg_component_info *c = &d->cinfo.comp_info[i];
        if (c->h_samp_factor > maxH) maxH = c->h_samp_factor;
        if (c->v_samp_factor > maxV) maxV = c->v_samp_factor;
    }
    size_t bytes = 0;
    for (int i = 0; i < d->cinfo.num_components; i++) {
        const jpeg_component_info *c = &d->cinfo.comp_info[i];
        size_t hs = (size_t)(c->h_samp_factor > 0 ? c->h_samp_factor : 1);
        size_t vs = (size_t)(c->v_samp_factor > 0 ? c->v_samp_factor : 1);
        size_t wBlocks = ((size_t)d->cinfo.image_width * hs + (size_t)maxH * DCTSIZE - 1) / ((size_t)maxH * DCTSIZE);
        size_t hBlocks = ((size_t)d->cinfo.image_height * vs + (size_t)maxV * DCTSIZE - 1) / ((size_t)maxV * DCTSIZE);
        wBlocks = (wBlocks + hs - 1) / hs * hs;
        hBlocks = (hBlocks + vs - 1) / vs * vs;
        bytes += wBlocks * hBlocks * DCTSIZE2 * sizeof(JCOEF);
    }
    h->coefficientBytes = bytes;
}

void CJPEGShim_setMemoryLimit(CJPEGShim_Decoder *d, long bytes) {
    if (d->created && bytes > 0) d->cinfo.mem->max_memory_to_use = bytes;
}

const uint8_t *CJPEGShim_exif(const CJPEGShim_Decoder *d, size_t *length) {
    *length = 0;
    if (!d->headerRead) return NULL;
    for (jpeg_saved_marker_ptr m = d->cinfo.marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            *length = m->data_length - 6;
            return m->data + 6;
        }
    }
    return NULL;
}

const uint8_t *CJPEGShim_icc(CJPEGShim_Decoder *d, size_t *length) {
    *length = 0;
    if (!d->headerRead) return NULL;
    if (!d->iccRead) {
        d->iccRead = 1;
        if (setjmp(d->err.jump)) return NULL;
        if (!jpeg_read_icc_profile(&d->cinfo, &d->icc, &d->iccLength)) {
            d->icc = NULL;  // absent or malformed: carried as nothing
            d->iccLength = 0;
        }
    }
    *length = d->iccLength;
    return d->icc;
}

int CJPEGShim_start(CJPEGShim_Decoder *d, int scaleNum, int *outWidth, int *outHeight, int *outChannels) {
    if (!d->headerRead || d->started || scaleNum < 1 || scaleNum > 16) {
        d->status.code = CJPEGShim_USAGE;
        snprintf(d->status.message, sizeof d->status.message, "decoder not ready or bad scale");
        return d->status.code;
    }
    if (setjmp(d->err.jump)) return d->status.code;
    d->cinfo.scale_num = (unsigned)scaleNum;
    d->cinfo.scale_denom = 8;
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: d->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: d->cinfo.out_color_space = JCS_CMYK; break;
    default: d->cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&d->cinfo);
    if (d->cinfo.out_color_space == JCS_CMYK) {
        d->cmykRows = malloc((size_t)d->cinfo.output_width * 4 * 16);
        if (d->cmykRows == NULL) {
            d->status.code = CJPEGShim_NOMEM;
            snprintf(d->status.message, sizeof d->status.message, "out of memory");
            return d->status.code;
        }
    }
    d->started = 1;
    *outWidth = (int)d->cinfo.output_width;
    *outHeight = (int)d->cinfo.output_height;
    *outChannels = d->cinfo.out_color_space == JCS_GRAYSCALE ? 1 : 3;
    return CJPEGShim_OK;
}

static void cmyk_to_rgb(const JSAMPLE *in, uint8_t *out, JDIMENSION width, int inverted) {
    for (JDIMENSION x = 0; x < width; x++, in += 4, out += 3) {
        // Adobe (Photoshop) CMYK is stored inverted: the samples are 255-C, 255-M, 255-Y, 255-K.
        unsigned c = inverted ? in[0] : 255u - in[0];
        unsigned m = inverted ? in[1] : 255u - in[1];
        unsigned y = inverted ? in[2] : 255u - in[2];
        unsigned k = inverted ? in[3] : 255u - in[3];
        out[0] = (uint8_t)((c * k + 127u) / 255u);
        out[1] = (uint8_t)((m * k + 127u) / 255u);
        out[2] = (uint8_t)((y * k + 127u) / 255u);
    }
}

int CJPEGShim_readRows(CJPEGShim_Decoder *d, uint8_t *pixels, size_t stride, int count) {
    if (!d->started) {
        d->status.code = CJPEGShim_USAGE;
        snprintf(d->status.message, sizeof d->status.message, "decoder not started");
        return d->status.code;
    }
    if (setjmp(d->err.jump)) return d->status.code;
    struct jpeg_decompress_struct *c = &d->cinfo;
    int cmyk = c->out_color_space == JCS_CMYK;
    int inverted = c->saw_Adobe_marker;
    JDIMENSION batch = (JDIMENSION)(c->rec_outbuf_height > 0 ? c->rec_outbuf_height : 1);
    JSAMPROW rows[16];
    if (batch > 16) batch = 16;
    JDIMENSION end = c->output_scanline + (count > 0 ? (JDIMENSION)count : 0);
    if (end > c->output_height) end = c->output_height;
    uint8_t *out = pixels;
    while (c->output_scanline < end) {
        JDIMENSION n = end - c->output_scanline < batch ? end - c->output_scanline : batch;
        for (JDIMENSION i = 0; i < n; i++)
            rows[i] = cmyk ? d->cmykRows + (size_t)i * c->output_width * 4 : out + (size_t)i * stride;
        JDIMENSION got = jpeg_read_scanlines(c, rows, n);
        if (cmyk)
            for (JDIMENSION i = 0; i < got; i++) cmyk_to_rgb(rows[i], out + (size_t)i * stride, c->output_width, inverted);
        out += (size_t)got * stride;
        if (got == 0) break;
    }
    // No jpeg_finish_decompress: the pixels are complete, and a missing EOI after them is harmless.
    return CJPEGShim_OK;
}

int CJPEGShim_readPixels(CJPEGShim_Decoder *d, uint8_t *pixels, size_t stride) {
    return CJPEGShim_readRows(d, pixels, stride, d->started ? (int)d->cinfo.output_height : 0);
}

void CJPEGShim_closeDecoder(CJPEGShim_Decoder *d) {
    if (d == NULL) return;
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d->icc);
    free(d->cmykRows);
    if (d->file != NULL) fclose(d->file);
    free(d);
}

typedef struct EncodeState {
    struct jpeg_compress_struct cinfo;
    ShimError err;
    FILE *file;
    int created;
} EncodeState;

int CJPEGShim_encode(const char *path, const uint8_t *pixels, int width, int height, int channels,
                     size_t stride, const CJPEGShim_EncodeOptions *options, CJPEGShim_Status *status) {
    memset(status, 0, sizeof *status);
    if (width < 1 || height < 1 || !(channels == 1 || channels == 3 || channels == 4)) {
        status->code = CJPEGShim_USAGE;
        snprintf(status->message, sizeof status->message, "bad dimensions or channel count");
        return status->code;
    }
    EncodeState *s = calloc(1, sizeof *s);
    if (s == NULL) {
        status->code = CJPEGShim_NOMEM;
        return status->code;
    }
    shim_init_error(&s->err, status);
    s->file = fopen(path, "wb");
    if (s->file == NULL) {
        set_io_error(status, "open");
        free(s);
        return status->code;
    }
    s->cinfo.err = &s->err.pub;
    if (setjmp(s->err.jump)) {
        if (s->created) jpeg_destroy_compress(&s->cinfo);
        fclose(s->file);
        free(s);
        return status->code;
    }
    jpeg_create_compress(&s->cinfo);
    s->created = 1;
    jpeg_stdio_dest(&s->cinfo, s->file);
    s->cinfo.image_width = (JDIMENSION)width;
    s->cinfo.image_height = (JDIMENSION)height;
    s->cinfo.input_components = channels;
    s->cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&s->cinfo);  // YCbCr 4:2:0 for RGB; CMYK input gets an Adobe marker
    jpeg_set_quality(&s->cinfo, options->quality, TRUE);
    s->cinfo.optimize_coding = TRUE;
    s->cinfo.restart_interval = (unsigned)(options->restartInterval > 0 ? options->restartInterval : 0);
    if (options->progressive) jpeg_simple_progression(&s->cinfo);
    jpeg_start_compress(&s->cinfo, TRUE);
    if (options->app1 != NULL && options->app1Length > 0 && options->app1Length <= 65533)
        jpeg_write_marker(&s->cinfo, JPEG_APP0 + 1, options->app1, (unsigned)options->app1Length);
    if (options->icc != NULL && options->iccLength > 0)
        jpeg_write_icc_profile(&s->cinfo, options->icc, (unsigned)options->iccLength);
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)s->cinfo.next_scanline * stride);
        jpeg_write_scanlines(&s->cinfo, &row, 1);
    }
    jpeg_finish_compress(&s->cinfo);
    jpeg_destroy_compress(&s->cinfo);
    int failed = ferror(s->file);
    if (fclose(s->file) != 0 || failed) {
        set_io_error(status, "write");
        free(s);
        return status->code;
    }
    free(s);
    return CJPEGShim_OK;
}
