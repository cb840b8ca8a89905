/* image.c — decode PNG (libpng) and JPEG (libjpeg) files into grey float32 images in [0, 1]; DICOM
 * files go to dicom.c (GDCM); the window (mc_image_set_window, docs/dicom.md) applies to all.
 *
 * Values are x / maxval: 8-bit / 255, 16-bit / 65535 (full precision kept), 1/2/4-bit grey is
 * expanded by libpng to 8 bits with bit replication (so x / (2^d − 1) is preserved). Colour
 * (RGB, RGBA, palette) becomes ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B computed in float32
 * on the [0, 1] values; alpha is ignored, grey+alpha keeps the grey channel. JPEG decoding asks
 * libjpeg for JCS_GRAYSCALE output (the Y channel of YCbCr files; RGB JPEGs are converted by
 * libjpeg with the same 601 weights).
 *
 * Errors never abort: both libraries report through handlers that longjmp back to the
 * decoder, which frees what it allocated and returns an error naming the file. Every libjpeg
 * warning about the data (e.g. "Premature end of JPEG file", "Corrupt JPEG data: ...") is an
 * error too; libpng is told to treat CRC errors in any chunk and "benign" errors (zlib check
 * value, extra image data) as errors, and to skip the ancillary chunks we do not use.
 *
 * Buffers: mc_image.px is [h][w] float32, reused across loads (grow-only); a PNG row buffer
 * (or the whole raw image for interlaced PNGs) is allocated per image; libjpeg rows come from
 * libjpeg's own pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/core.h"
#include "mc_image.h"
#include "data/dicom.h"
#include <math.h>
#include <strings.h>
#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

/* Largest image accepted, in pixels (a 16k × 16k image = 1 GiB of floats). */
#define MAX_PIXELS MC_IMAGE_MAX_PIXELS

/* Makes room for w×h floats in img (contents are not kept). */
int mc_image_reserve(mc_image *img, size_t w, size_t h, const char *path) {
    if (w == 0 || h == 0) return mc_err(MC_EPARSE, "%s: image has zero size (%zux%zu)", path, w, h);
    if (w > MAX_PIXELS / h)
        return mc_err(MC_EUNSUP, "%s: image too large (%zux%zu pixels)", path, w, h);
    size_t n = w * h;
    if (n > img->cap) {
        free(img->px);
        img->px = NULL;
        img->cap = 0;
        img->px = mc_malloc(n * sizeof(float), path);
        if (!img->px) return MC_ENOMEM;
        img->cap = n;
    }
    return MC_OK;
}

void mc_image_free(mc_image *img) {
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->cap = 0;
    img->w = img->h = 0;
}

/* ---- PNG --------------------------------------------------------------------------------- */

typedef struct png_errctx {
    jmp_buf jb;
    char msg[256];
} png_errctx;

static void png_error_cb(png_structp png, png_const_charp msg) {
    png_errctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown libpng error");
    longjmp(c->jb, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) {
    /* Warnings left after the settings in load_png concern ancillary data we skip. */
    (void)png;
    (void)msg;
}

/* Converts one decoded row (channels 1–4, depth 8 or 16, big-endian samples) to [0, 1] grey.
 * lut8: x / 255 for the 256 8-bit values. */
static void png_row_to_grey(const unsigned char *row, float *out, int w, int channels, int depth,
                            const float *lut8) {
    if (depth == 8) {
        if (channels < 3) {
            for (int x = 0; x < w; x++) out[x] = lut8[row[(size_t)x * channels]];
        } else {
            for (int x = 0; x < w; x++) {
                const unsigned char *p = row + (size_t)x * channels;
                out[x] = 0.299f * lut8[p[0]] + 0.587f * lut8[p[1]] + 0.114f * lut8[p[2]];
            }
        }
    } else {
        const float maxval = 65535.0f;
        if (channels < 3) {
            for (int x = 0; x < w; x++) {
                const unsigned char *p = row + (size_t)x * channels * 2;
                out[x] = (float)((p[0] << 8) | p[1]) / maxval;
            }
        } else {
            for (int x = 0; x < w; x++) {
                const unsigned char *p = row + (size_t)x * channels * 2;
                float r = (float)((p[0] << 8) | p[1]) / maxval;
                float g = (float)((p[2] << 8) | p[3]) / maxval;
                float b = (float)((p[4] << 8) | p[5]) / maxval;
                out[x] = 0.299f * r + 0.587f * g + 0.114f * b;
            }
        }
    }
}

/* f is positioned after the 8 signature bytes. *maxval: the largest sample value (255 or 65535),
 * *grey: 1 for grey files (integer samples), 0 for colour (luma). */
static int load_png(const char *path, FILE *f, mc_image *img, double *maxval, int *grey) {
    png_errctx ctx;
    ctx.msg[0] = 0;
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
    if (!png) return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    }
    /* Modified after setjmp and used on the error path: volatile. */
    unsigned char *volatile raw = NULL; /* one row, or [h][rowbytes] when interlaced */
    png_bytep *volatile rows = NULL;    /* [h] row pointers (interlaced only) */
    volatile int status = MC_OK;
    if (setjmp(ctx.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(rows);
        img->w = img->h = 0;
        if (status != MC_OK) return status; /* our own error, message already set */
        return mc_err(MC_EPARSE, "%s: corrupt or truncated PNG (%s)", path, ctx.msg);
    }
    png_set_benign_errors(png, 0); /* zlib check value etc.: errors */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1); /* skip ancillary */
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int odepth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || (odepth != 8 && odepth != 16) ||
        rowbytes < (size_t)w * channels * (odepth / 8)) {
        status = mc_err(MC_EUNSUP, "%s: unsupported PNG layout (%d channels, %d bits)", path,
                        channels, odepth);
        png_error(png, "unsupported layout");
    }
    int rc = mc_image_reserve(img, w, h, path);
    if (rc < 0) {
        status = rc;
        png_error(png, "cannot allocate the image");
    }
    float lut8[256];
    for (int i = 0; i < 256; i++) lut8[i] = (float)i / 255.0f;

    if (passes > 1) {
        if ((size_t)h > SIZE_MAX / rowbytes) {
            status = mc_err(MC_EUNSUP, "%s: image too large", path);
            png_error(png, "too large");
        }
        raw = mc_malloc((size_t)h * rowbytes, path);
        rows = raw ? mc_malloc((size_t)h * sizeof(png_bytep), path) : NULL;
        if (!raw || !rows) {
            status = MC_ENOMEM;
            png_error(png, "out of memory");
        }
        for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
        png_read_image(png, rows);
        for (png_uint_32 y = 0; y < h; y++)
            png_row_to_grey(rows[y], img->px + (size_t)y * w, (int)w, channels, odepth, lut8);
    } else {
        raw = mc_malloc(rowbytes, path);
        if (!raw) {
            status = MC_ENOMEM;
            png_error(png, "out of memory");
        }
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, raw, NULL);
            png_row_to_grey(raw, img->px + (size_t)y * w, (int)w, channels, odepth, lut8);
        }
    }
    /* Reads the rest up to IEND: the zlib check value, the last CRCs, truncation after IDAT. */
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    img->w = (int)w;
    img->h = (int)h;
    *maxval = odepth == 16 ? 65535.0 : 255.0;
    *grey = channels < 3;
    return MC_OK;
}

/* ---- JPEG -------------------------------------------------------------------------------- */

typedef struct jpeg_errctx {
    struct jpeg_error_mgr pub; /* must be first: libjpeg hands us a pointer to it */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_errctx;

static void jpeg_error_exit_cb(j_common_ptr cinfo) {
    jpeg_errctx *e = (jpeg_errctx *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* level −1: a warning, i.e. (except for harmless metadata issues) corrupt data that libjpeg
 * would otherwise paper over with grey. Trace messages (level ≥ 0) are ignored. */
static void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC) {
        cinfo->err->num_warnings++;
        return;
    }
    jpeg_error_exit_cb(cinfo);
}

static void jpeg_output_message_cb(j_common_ptr cinfo) { (void)cinfo; }

/* f is positioned at the start of the file. */
static int load_jpeg(const char *path, FILE *f, mc_image *img) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errctx jerr;
    volatile int status = MC_OK;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_cb;
    jerr.pub.emit_message = jpeg_emit_message_cb;
    jerr.pub.output_message = jpeg_output_message_cb;
    jerr.msg[0] = 0;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&cinfo);
        img->w = img->h = 0;
        if (status != MC_OK) return status;
        int code = jerr.pub.msg_code;
        if (code == JERR_CONVERSION_NOTIMPL || code == JERR_BAD_PRECISION ||
            code == JERR_NOT_COMPILED || code == JERR_ARITH_NOTIMPL)
            return mc_err(MC_EUNSUP, "%s: unsupported JPEG (%s)", path, jerr.msg);
        return mc_err(MC_EPARSE, "%s: corrupt or truncated JPEG (%s)", path, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 1) {
        status = mc_err(MC_EUNSUP, "%s: libjpeg gave %d components for grey output", path,
                        cinfo.output_components);
        longjmp(jerr.jb, 1);
    }
    size_t w = cinfo.output_width, h = cinfo.output_height;
    int rc = mc_image_reserve(img, w, h, path);
    if (rc < 0) {
        status = rc;
        longjmp(jerr.jb, 1);
    }
    /* One row of 8-bit samples from libjpeg's pool (freed by jpeg_destroy_decompress). */
    JSAMPARRAY row = cinfo.mem->alloc_sarray((j_common_ptr)&cinfo, JPOOL_IMAGE, (JDIMENSION)w, 1);
    float lut8[256];
    for (int i = 0; i < 256; i++) lut8[i] = (float)i / 255.0f;
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, row, 1) != 1) {
            snprintf(jerr.msg, sizeof jerr.msg, "no scanline %zu", y);
            longjmp(jerr.jb, 1);
        }
        float *out = img->px + y * w;
        for (size_t x = 0; x < w; x++) out[x] = lut8[row[0][x]];
    }
    jpeg_finish_decompress(&cinfo); /* reads to EOI: warns (→ error) when the file ends early */
    jpeg_destroy_decompress(&cinfo);
    img->w = (int)w;
    img->h = (int)h;
    return MC_OK;
}

/* ---- entry point ------------------------------------------------------------------------- */

/* Opens path (a regular file: a FIFO or device would block or never end) and tells the format by
 * the signature: returns IMG_PNG with *fp past the 8-byte signature (libpng is told so), IMG_JPEG
 * with *fp at the start, IMG_DICOM ('DICM' at offset 128, or a name ending .dcm/.dicom: GDCM
 * then reads the file by its path and decides) with *fp at the start, or an error naming the
 * file (*fp NULL). Every entry point below (grey, 8-bit RGB, header probe) goes through it. */
enum { IMG_PNG = 1, IMG_JPEG = 2, IMG_DICOM = 3 };

static int has_dicom_name(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) && (!strcasecmp(dot, ".dcm") || !strcasecmp(dot, ".dicom"));
}

int mc_image_name_ok(const char *name) {
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".dcm") || !strcasecmp(dot, ".dicom"));
}

static int open_image(const char *path, FILE **fp) {
    *fp = NULL;
    FILE *f = mc_fopen_regular(path);
    if (!f) return MC_EIO;
    unsigned char sig[132];
    size_t got = fread(sig, 1, sizeof sig, f);
    int rc;
    if (ferror(f)) {
        rc = mc_err(MC_EIO, "%s: read error (%s)", path, strerror(errno));
    } else if (got == 0) {
        rc = mc_err(MC_EPARSE, "%s: empty file, not an image", path);
    } else if (got >= 8 && png_sig_cmp(sig, 0, 8) == 0) {
        rc = fseek(f, 8, SEEK_SET) != 0 ? mc_err(MC_EIO, "%s: cannot seek (%s)", path, strerror(errno)) : IMG_PNG;
    } else if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rc = fseek(f, 0, SEEK_SET) != 0 ? mc_err(MC_EIO, "%s: cannot seek (%s)", path, strerror(errno)) : IMG_JPEG;
    } else if ((got == 132 && memcmp(sig + 128, "DICM", 4) == 0) || has_dicom_name(path)) {
        rc = IMG_DICOM;
    } else {
        rc = mc_err(MC_EPARSE, "%s: not a PNG, JPEG or DICOM file (or truncated before its signature)", path);
    }
    if (rc < 0)
        fclose(f);
    else
        *fp = f;
    return rc;
}

/* ---- the window ----------------------------------------------------------------------------- */
static mc_image_window g_window; /* the process's (mc_image_set_window) */

int mc_image_set_window(const mc_image_window *win) {
    if (!win || !win->on) {
        memset(&g_window, 0, sizeof g_window);
        return MC_OK;
    }
    if (!(isfinite(win->center) && isfinite(win->width) && win->width >= 1.0))
        return mc_err(MC_EARG, "window %g,%g: the centre must be finite and the width >= 1", win->center, win->width);
    g_window = *win;
    g_window.on = 1;
    return MC_OK;
}

mc_image_window mc_image_get_window(void) { return g_window; }

/* The window on a decoded PNG/JPEG: px × maxval is the sample value (rounded for grey files, whose
 * samples are integers), mapped through PS3.3's LINEAR function. */
static void apply_window(mc_image *img, double maxval, int grey, const mc_image_window *win) {
    size_t n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++) {
        double x = (double)img->px[i] * maxval;
        if (grey) x = nearbyint(x);
        img->px[i] = (float)mc_voi_window(MC_VOI_LINEAR, x, win->center, win->width);
    }
}

int mc_image_load_grey_window(const char *path, mc_image *img, const mc_image_window *win) {
    if (!path || !img) return mc_err(MC_EARG, "mc_image_load_grey: NULL argument");
    img->w = img->h = 0;
    if (win && win->on && !(isfinite(win->center) && isfinite(win->width) && win->width >= 1.0))
        return mc_err(MC_EARG, "%s: window %g,%g: the width must be >= 1", path, win->center, win->width);
    FILE *f;
    int rc = open_image(path, &f);
    if (rc < 0) return rc;
    double maxval = 255.0;
    int grey = 1;
    if (rc == IMG_DICOM) {
        fclose(f);
        return mc_dicom_load_grey(path, img, win);
    }
    rc = rc == IMG_PNG ? load_png(path, f, img, &maxval, &grey) : load_jpeg(path, f, img);
    fclose(f);
    if (rc == MC_OK && win && win->on) apply_window(img, maxval, grey, win);
    return rc;
}

int mc_image_load_grey(const char *path, mc_image *img) { return mc_image_load_grey_window(path, img, &g_window); }

/* ---- 8-bit RGB decoding (mc_image_load_rgb8) ----------------------------------------------
 * The pixels PIL gives for Image.open(path).convert("RGB") (Pillow 9.4, the same libpng and
 * libjpeg): grey is replicated to R = G = B; alpha is dropped (no compositing); a palette is
 * looked up; 1/2/4-bit grey is scaled to 8 bits by bit replication (PIL's "1", "L;2", "L;4"
 * give the same 0/255, ×85, ×17). 16-bit samples follow PIL's modes: 16-bit grey opens as
 * mode "I" and converts by clipping (v > 255 → 255, so most 16-bit X-rays come out white, as
 * they do through PIL); 16-bit grey+alpha, RGB and RGBA keep the high byte (v >> 8). JPEG:
 * libjpeg's RGB output (YCbCr and grey files; the default IDCT and upsampling, as PIL uses);
 * CMYK/YCCK JPEGs are refused (MC_EUNSUP). */

void mc_image8_free(mc_image8 *img) {
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->cap = 0;
    img->w = img->h = img->c = 0;
}

static int image8_reserve(mc_image8 *img, size_t w, size_t h, const char *path) {
    if (w == 0 || h == 0) return mc_err(MC_EPARSE, "%s: image has zero size (%zux%zu)", path, w, h);
    if (w > MAX_PIXELS / h) return mc_err(MC_EUNSUP, "%s: image too large (%zux%zu pixels)", path, w, h);
    size_t n = w * h * 3;
    if (n > img->cap) {
        free(img->px);
        img->px = NULL;
        img->cap = 0;
        img->px = mc_malloc(n, path);
        if (!img->px) return MC_ENOMEM;
        img->cap = n;
    }
    return MC_OK;
}

/* one decoded PNG row (channels 1–4, depth 8 or 16) → RGB bytes; grey16: the file is 16-bit grey
 * without alpha (PIL mode "I": clip) */
static void png_row_to_rgb8(const unsigned char *row, uint8_t *out, int w, int channels, int depth, int grey16) {
    for (int x = 0; x < w; x++) {
        uint8_t v[3];
        if (depth == 8) {
            const unsigned char *p = row + (size_t)x * channels;
            if (channels < 3)
                v[0] = v[1] = v[2] = p[0];
            else
                v[0] = p[0], v[1] = p[1], v[2] = p[2];
        } else {
            const unsigned char *p = row + (size_t)x * channels * 2;
            if (channels < 3) {
                unsigned s = ((unsigned)p[0] << 8) | p[1];
                v[0] = v[1] = v[2] = grey16 ? (uint8_t)(s > 255 ? 255 : s) : p[0];
            } else {
                v[0] = p[0], v[1] = p[2], v[2] = p[4];
            }
        }
        out[3 * x] = v[0];
        out[3 * x + 1] = v[1];
        out[3 * x + 2] = v[2];
    }
}

static int load_png_rgb8(const char *path, FILE *f, mc_image8 *img) {
    png_errctx ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
    if (!png) return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    }
    unsigned char *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    volatile int status = MC_OK;
    if (setjmp(ctx.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(rows);
        img->w = img->h = 0;
        if (status != MC_OK) return status;
        return mc_err(MC_EPARSE, "%s: corrupt or truncated PNG (%s)", path, ctx.msg);
    }
    png_set_benign_errors(png, 0);
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int grey16 = ctype == PNG_COLOR_TYPE_GRAY && depth == 16;
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int odepth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || (odepth != 8 && odepth != 16) ||
        rowbytes < (size_t)w * channels * (odepth / 8)) {
        status = mc_err(MC_EUNSUP, "%s: unsupported PNG layout (%d channels, %d bits)", path, channels, odepth);
        png_error(png, "unsupported layout");
    }
    int rc = image8_reserve(img, w, h, path);
    if (rc < 0) {
        status = rc;
        png_error(png, "cannot allocate the image");
    }
    if (passes > 1) {
        if ((size_t)h > SIZE_MAX / rowbytes) {
            status = mc_err(MC_EUNSUP, "%s: image too large", path);
            png_error(png, "too large");
        }
        raw = mc_malloc((size_t)h * rowbytes, path);
        rows = raw ? mc_malloc((size_t)h * sizeof(png_bytep), path) : NULL;
        if (!raw || !rows) {
            status = MC_ENOMEM;
            png_error(png, "out of memory");
        }
        for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
        png_read_image(png, rows);
        for (png_uint_32 y = 0; y < h; y++)
            png_row_to_rgb8(rows[y], img->px + (size_t)y * w * 3, (int)w, channels, odepth, grey16);
    } else {
        raw = mc_malloc(rowbytes, path);
        if (!raw) {
            status = MC_ENOMEM;
            png_error(png, "out of memory");
        }
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, raw, NULL);
            png_row_to_rgb8(raw, img->px + (size_t)y * w * 3, (int)w, channels, odepth, grey16);
        }
    }
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(raw);
    free(rows);
    img->w = (int)w;
    img->h = (int)h;
    img->c = 3;
    return MC_OK;
}

static int load_jpeg_rgb8(const char *path, FILE *f, mc_image8 *img) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errctx jerr;
    volatile int status = MC_OK;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_cb;
    jerr.pub.emit_message = jpeg_emit_message_cb;
    jerr.pub.output_message = jpeg_output_message_cb;
    jerr.msg[0] = 0;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&cinfo);
        img->w = img->h = 0;
        if (status != MC_OK) return status;
        int code = jerr.pub.msg_code;
        if (code == JERR_CONVERSION_NOTIMPL || code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED ||
            code == JERR_ARITH_NOTIMPL)
            return mc_err(MC_EUNSUP, "%s: unsupported JPEG (%s)", path, jerr.msg);
        return mc_err(MC_EPARSE, "%s: corrupt or truncated JPEG (%s)", path, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        status = mc_err(MC_EUNSUP, "%s: CMYK JPEG, not supported (convert it to RGB or grey first)", path);
        longjmp(jerr.jb, 1);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        status = mc_err(MC_EUNSUP, "%s: libjpeg gave %d components for RGB output", path, cinfo.output_components);
        longjmp(jerr.jb, 1);
    }
    size_t w = cinfo.output_width, h = cinfo.output_height;
    int rc = image8_reserve(img, w, h, path);
    if (rc < 0) {
        status = rc;
        longjmp(jerr.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        JSAMPROW row = img->px + y * w * 3;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(jerr.msg, sizeof jerr.msg, "no scanline %zu", y);
            longjmp(jerr.jb, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    img->w = (int)w;
    img->h = (int)h;
    img->c = 3;
    return MC_OK;
}

/* Grey through mc_image_load_grey (the process's window), round(255 y) replicated: DICOM, 16-bit
 * grey PNGs (full precision, not PIL's clip) and, with a window set, every grey file. */
static int load_grey_rgb8(const char *path, mc_image8 *img) {
    mc_image g = {0};
    int rc = mc_image_load_grey(path, &g);
    if (rc == MC_OK) rc = image8_reserve(img, (size_t)g.w, (size_t)g.h, path);
    if (rc == MC_OK) {
        size_t n = (size_t)g.w * (size_t)g.h;
        for (size_t i = 0; i < n; i++) {
            uint8_t v = (uint8_t)(g.px[i] * 255.0f + 0.5f);
            img->px[3 * i] = img->px[3 * i + 1] = img->px[3 * i + 2] = v;
        }
        img->w = g.w;
        img->h = g.h;
        img->c = 3;
    }
    mc_image_free(&g);
    return rc;
}

int mc_image_load_rgb8(const char *path, mc_image8 *img) {
    if (!path || !img) return mc_err(MC_EARG, "mc_image_load_rgb8: NULL argument");
    img->w = img->h = 0;
    mc_image_info info;
    int rc = mc_image_probe(path, &info);
    if (rc < 0) return rc;
    if (info.format == MC_IMAGE_DICOM || (info.format == MC_IMAGE_PNG && info.channels == 1 && info.depth == 16) ||
        (g_window.on && info.channels <= 2))
        return load_grey_rgb8(path, img);
    FILE *f;
    rc = open_image(path, &f);
    if (rc < 0) return rc;
    rc = rc == IMG_PNG ? load_png_rgb8(path, f, img) : load_jpeg_rgb8(path, f, img);
    fclose(f);
    return rc;
}


/* ---- header probe ------------------------------------------------------------------------- */
/* What mc_image_load_grey would meet, from the header alone: the signature, the header itself,
 * a size within the limits and a layout the decoders read (stats --check-files). */

static int probe_png(const char *path, FILE *f, mc_image_info *info) {
    png_errctx ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
    if (!png) return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mc_err(MC_ENOMEM, "%s: cannot create the PNG reader", path);
    }
    if (setjmp(ctx.jb)) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return mc_err(MC_EPARSE, "%s: corrupt or truncated PNG header (%s)", path, ctx.msg);
    }
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, pinfo);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0;
    png_get_IHDR(png, pinfo, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    info->format = MC_IMAGE_PNG;
    info->w = (int)w;
    info->h = (int)h;
    info->channels = ctype == PNG_COLOR_TYPE_GRAY ? 1 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                     : ctype == PNG_COLOR_TYPE_RGB_ALPHA                              ? 4
                                                                                      : 3;
    info->depth = depth;
    return MC_OK;
}

static int probe_jpeg(const char *path, FILE *f, mc_image_info *info) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errctx jerr;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_error_exit_cb;
    jerr.pub.emit_message = jpeg_emit_message_cb;
    jerr.pub.output_message = jpeg_output_message_cb;
    jerr.msg[0] = 0;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&cinfo);
        return mc_err(MC_EPARSE, "%s: corrupt or truncated JPEG header (%s)", path, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    J_COLOR_SPACE cs = cinfo.jpeg_color_space;
    info->format = MC_IMAGE_JPEG;
    info->w = (int)cinfo.image_width;
    info->h = (int)cinfo.image_height;
    info->channels = cinfo.num_components;
    info->depth = cinfo.data_precision;
    jpeg_destroy_decompress(&cinfo);
    /* libjpeg converts grey, YCbCr and RGB to grey; not CMYK / YCCK (Adobe print files) */
    if (cs != JCS_GRAYSCALE && cs != JCS_YCbCr && cs != JCS_RGB)
        return mc_err(MC_EUNSUP, "%s: unsupported JPEG colour space (%s, %d components): grey, YCbCr or RGB only",
                      path, cs == JCS_CMYK ? "CMYK" : cs == JCS_YCCK ? "YCCK" : "unknown", info->channels);
    if (info->depth != 8)
        return mc_err(MC_EUNSUP, "%s: unsupported JPEG precision (%d bits; 8 only)", path, info->depth);
    return MC_OK;
}

int mc_image_probe(const char *path, mc_image_info *info) {
    memset(info, 0, sizeof *info);
    if (!path) return mc_err(MC_EARG, "mc_image_probe: NULL path");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return mc_err(MC_EIO, "%s: a folder, not an image file", path);
    FILE *f;
    int rc = open_image(path, &f);
    if (rc < 0) return rc;
    if (rc == IMG_DICOM) {
        fclose(f);
        return mc_dicom_probe(path, info);
    }
    rc = rc == IMG_PNG ? probe_png(path, f, info) : probe_jpeg(path, f, info);
    fclose(f);
    if (rc == MC_OK && (info->w <= 0 || info->h <= 0))
        rc = mc_err(MC_EPARSE, "%s: image has zero size (%dx%d)", path, info->w, info->h);
    if (rc == MC_OK && (size_t)info->w > MAX_PIXELS / (size_t)info->h)
        rc = mc_err(MC_EUNSUP, "%s: image too large (%dx%d pixels; at most %zu)", path, info->w, info->h, MAX_PIXELS);
    return rc;
}
