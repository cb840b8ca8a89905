/* mc_io.h — file formats and pictures: safetensors weights, a strict JSON parser, PNG output,
 * a bitmap font and line charts for people (LR finder, ROC curves, training logs, AUC vs
 * training-set size). Part of the public API.
 *
 *     mc_st *st;
 *     if (mc_st_open(&st, "resnet18.safetensors") < 0) { puts(mc_errmsg()); ... }
 *     int i = mc_st_find(st, "conv1.weight");              // index or MC_ENOTFOUND
 *     mc_st_info info; mc_st_get_info(st, i, &info);        // dtype, shape, numel
 *     mc_st_read_f32(st, i, dst, info.numel);               // any dtype -> float32
 *     mc_st_close(st);
 *
 *     mc_plot *p = mc_plot_new(800, 560, "LR finder", "learning rate", "loss");
 *     mc_plot_xlog(p, 1);
 *     mc_plot_series(p, "smoothed loss", lr, loss, n, MC_PLOT_LINE);
 *     mc_plot_vline(p, 3e-3, "suggested 3.0e-3");
 *     mc_plot_save(p, "lr_find.png");                      // written atomically
 *     mc_plot_free(p);
 *
 * Conventions as in medcolor.h: int status (MC_OK or a negative MC_E* code) or NULL, and a
 * one-line message from mc_errmsg() that names the file (and the tensor) concerned.
 */
#ifndef MC_IO_H
#define MC_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- JSON (RFC 8259, strict) ----------------------------------------------------------------
 * A small DOM parser: objects, arrays, strings (all escapes, \uXXXX with surrogate pairs, UTF-8
 * validated), numbers, true/false/null. No comments, trailing commas, NaN, leading zeros or
 * control characters in strings. Only whitespace may follow the top-level value. Limits:
 * nesting depth MC_JSON_MAX_DEPTH, text length MC_JSON_MAX_TEXT. Duplicate object keys are
 * kept (in order); callers that care check for them. */
#define MC_JSON_MAX_DEPTH 64
#define MC_JSON_MAX_TEXT ((size_t)1 << 30)

enum { MC_JSON_NULL, MC_JSON_BOOL, MC_JSON_NUMBER, MC_JSON_STRING, MC_JSON_ARRAY, MC_JSON_OBJECT };

typedef struct mc_json {
    int type;               /* MC_JSON_* */
    int boolean;            /* BOOL: 0 or 1 */
    int is_int;             /* NUMBER: 1 when written as an integer that fits in int64 */
    int64_t i;              /* NUMBER with is_int */
    double num;             /* NUMBER (also set for integers, possibly rounded) */
    char *str;              /* STRING: UTF-8, NUL-terminated (may hold \0 from \u0000) */
    size_t len;             /* STRING: bytes, without the terminating NUL */
    size_t n;               /* ARRAY / OBJECT: number of members */
    struct mc_json *items;  /* ARRAY / OBJECT: [n] values */
    char **keys;            /* OBJECT: [n] keys (NUL-terminated UTF-8, no embedded NUL) */
    size_t offset;          /* byte offset of the value in the text (for messages) */
} mc_json;

/* Parses text[0..len) (need not be NUL-terminated). what names the source in messages, e.g.
 * "model.safetensors: header". *out is freed with mc_json_free. */
int mc_json_parse(mc_json **out, const char *text, size_t len, const char *what);
void mc_json_free(mc_json *v);
/* Member of an object by key (the first one when duplicated), NULL when absent / not an object. */
const mc_json *mc_json_get(const mc_json *obj, const char *key);
/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
int mc_utf8_valid(const char *s, size_t len);
/* Line and column (1-based) of byte offset in text, for messages. */
void mc_json_linecol(const char *text, size_t len, size_t offset, int *line, int *col);

/* ---- safetensors ----------------------------------------------------------------------------
 * File: uint64 little-endian header length N; N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * padded with spaces; then the data buffer, little-endian, offsets relative to its start.
 * The reader maps the file (a regular file only: a FIFO or device is refused; read() when mmap
 * is refused) and validates everything at open:
 * header length, JSON, dtypes, offsets inside the buffer, sizes equal dtype x shape, no two
 * tensors overlapping, no duplicate names. Tensors are listed sorted by name. */
#define MC_ST_MAX_DIMS 8
#define MC_ST_MAX_HEADER 100000000u /* bytes; the reference implementation's limit */

enum {
    MC_ST_BOOL, MC_ST_U8, MC_ST_I8, MC_ST_F8_E5M2, MC_ST_F8_E4M3, MC_ST_I16, MC_ST_U16,
    MC_ST_F16, MC_ST_BF16, MC_ST_I32, MC_ST_U32, MC_ST_F32, MC_ST_F64, MC_ST_I64, MC_ST_U64,
    MC_ST_NUM_DTYPES
};
const char *mc_st_dtype_name(int dtype); /* "F32", ...; "?" when out of range */
int mc_st_dtype_size(int dtype);         /* bytes per element, 0 when out of range */
int mc_st_dtype_from_name(const char *name); /* MC_ST_* or -1 */

typedef struct mc_st mc_st;

typedef struct mc_st_info {
    const char *name;   /* owned by the handle */
    int dtype;          /* MC_ST_* */
    int ndim;           /* 0 for a scalar */
    int64_t shape[MC_ST_MAX_DIMS];
    size_t numel;       /* product of shape (1 for a scalar) */
    size_t nbytes;      /* numel * dtype size */
    uint64_t offset;    /* of the first byte from the start of the file */
} mc_st_info;

int mc_st_open(mc_st **out, const char *path);
void mc_st_close(mc_st *st);
const char *mc_st_path(const mc_st *st);
int mc_st_num_tensors(const mc_st *st);
/* Tensor i (0 <= i < num_tensors, in name order). */
int mc_st_get_info(const mc_st *st, int i, mc_st_info *info);
/* Index of the named tensor, or MC_ENOTFOUND (with a message naming file and tensor). */
int mc_st_find(const mc_st *st, const char *name);
/* Converts tensor i to float32 into dst[n]; n must equal its numel (else MC_ESHAPE).
 * Integers convert with round-to-nearest like PyTorch's .float(), BOOL to 0/1. */
int mc_st_read_f32(const mc_st *st, int i, float *dst, size_t n);
/* Reads the named tensor, checking that its shape is exactly shape[ndim]; for weight import. */
int mc_st_read_expect(const mc_st *st, const char *name, int ndim, const int64_t *shape, float *dst);
/* Raw little-endian bytes of tensor i (valid until mc_st_close); NULL on a bad index. */
const void *mc_st_raw(const mc_st *st, int i, size_t *nbytes);
/* "__metadata__": value of key, or NULL when absent. Pairs by index in key order. */
const char *mc_st_metadata(const mc_st *st, const char *key);
int mc_st_num_metadata(const mc_st *st);
int mc_st_metadata_at(const mc_st *st, int i, const char **key, const char **value);

/* Writer: collects float32 tensors (copied) and metadata strings, then writes a file the
 * reference implementation would write for the same tensors: compact JSON, "__metadata__"
 * first, tensors sorted by name with contiguous offsets, header padded with spaces to a
 * multiple of 8. Saving is atomic (temporary file + rename). */
typedef struct mc_st_writer mc_st_writer;
mc_st_writer *mc_st_writer_new(void);
void mc_st_writer_free(mc_st_writer *w);
/* Adds a tensor of shape[ndim] (ndim 0..MC_ST_MAX_DIMS; a scalar has ndim 0); data[numel]. */
int mc_st_writer_add(mc_st_writer *w, const char *name, int ndim, const int64_t *shape,
                     const float *data);
/* Adds or replaces a metadata entry. */
int mc_st_writer_meta(mc_st_writer *w, const char *key, const char *value);
int mc_st_writer_save(const mc_st_writer *w, const char *path);

/* ---- zip archives and PyTorch checkpoints (src/io/zip.c, src/io/pth.c; docs/import.md) ---- */
typedef struct mc_zip_entry {
    char *name;
    const uint8_t *data; /* into the caller's buffer */
    size_t size;
} mc_zip_entry;
/* The entries of a zip archive buf[len] (stored entries only, CRC-checked; path for messages). */
int mc_zip_entries(const char *path, const uint8_t *buf, size_t len, mc_zip_entry **e, int *n);
void mc_zip_free(mc_zip_entry *e, int n);
/* A PyTorch checkpoint (torch.save's zip format: data.pkl + data/<key> storages; or its legacy
 * format, torch < 1.6 or _use_new_zipfile_serialization=False: five pickles then the storages' raw
 * bytes; the older tar format is refused with a message saying so) read through a
 * restricted unpickler that builds only what a state dict needs (dicts, OrderedDict, lists,
 * tuples, numbers, strings, None, booleans, tensors from storages); any other global or opcode is
 * an error naming it. The state dict is the top-level dict, or its 'model' or 'state_dict' entry
 * (fastai's {'model': ..., 'opt': ...}). Converted to a safetensors image in memory (*out, malloc'd,
 * *outlen bytes; the tensors keep their dtype) for mc_st_open_memory. */
int mc_pth_to_safetensors(const char *path, uint8_t **out, size_t *outlen);
/* mc_st_open on a safetensors image in memory (takes ownership of buf, malloc'd). */
int mc_st_open_memory(mc_st **out, const char *path, uint8_t *buf, size_t size);

/* ---- PNG ------------------------------------------------------------------------------------
 * pixels: (height, width, channels) bytes, row-major; channels 1 (grey), 3 (RGB) or 4 (RGBA).
 * Written atomically with libpng. */
int mc_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);

/* ---- bitmap font ----------------------------------------------------------------------------
 * A proportional pixel font of printable ASCII plus a few symbols (× ± ° µ ² ³ · − …).
 * A glyph is MC_FONT_ROWS rows of bitmasks (bit (width-1-x) is column x); rows 0..8 are the
 * cap height above the baseline, rows 9..10 descenders. Text is UTF-8; unknown characters
 * draw as a box. */
#define MC_FONT_ROWS 11
#define MC_FONT_ASCENT 9     /* rows above the baseline */
#define MC_FONT_LINE 14      /* line spacing */
typedef struct mc_glyph {
    int width;               /* columns of the bitmap (the advance is width + 1) */
    uint16_t rows[MC_FONT_ROWS];
} mc_glyph;
/* Glyph of a Unicode code point (a box for unknown ones); never NULL. */
const mc_glyph *mc_font_glyph(uint32_t cp);
/* Width in pixels of UTF-8 text at scale 1 (bold adds one column per glyph). */
int mc_font_text_width(const char *utf8, int bold);
/* Decodes one UTF-8 character at *s, advances *s; invalid bytes give U+FFFD. */
uint32_t mc_utf8_next(const char **s);

/* ---- plots ----------------------------------------------------------------------------------
 * Line charts rendered to an RGB image: axes with 1-2-5 ticks (decades on log axes), grid,
 * tick labels, title, axis labels, legend (placed where it covers least data), distinct
 * colours per series, anti-aliased lines. NaN/Inf points (and x <= 0 on a log axis) break
 * a line; empty series and degenerate ranges are fine. */
typedef struct mc_plot mc_plot;

enum {
    MC_PLOT_LINE = 1,     /* connect the points */
    MC_PLOT_MARKERS = 2,  /* a dot at each point */
    MC_PLOT_DASHED = 4,   /* dashed line */
    MC_PLOT_THIN = 8      /* 1-pixel line instead of 2 */
};
enum { MC_LEGEND_AUTO, MC_LEGEND_UPPER_RIGHT, MC_LEGEND_UPPER_LEFT, MC_LEGEND_LOWER_RIGHT,
       MC_LEGEND_LOWER_LEFT, MC_LEGEND_NONE };

/* Any of title/xlabel/ylabel may be NULL. width, height in pixels (>= 160 x 120). */
mc_plot *mc_plot_new(int width, int height, const char *title, const char *xlabel,
                     const char *ylabel);
void mc_plot_free(mc_plot *p);
int mc_plot_xlog(mc_plot *p, int on);
int mc_plot_ylog(mc_plot *p, int on);
/* Fixes an axis range (otherwise: the data with a 4% margin). */
int mc_plot_xrange(mc_plot *p, double lo, double hi);
int mc_plot_yrange(mc_plot *p, double lo, double hi);
int mc_plot_legend(mc_plot *p, int where); /* MC_LEGEND_* */
/* Adds a series (x, y copied; n may be 0); name NULL or "" = no legend entry. Returns the
 * series index (>= 0) or an error. Colours come from a palette in order. */
int mc_plot_series(mc_plot *p, const char *name, const double *x, const double *y, int n, int style);
/* A series with symmetric error bars y ± err[i] (err NULL or non-finite = none at that point). */
int mc_plot_errorbars(mc_plot *p, const char *name, const double *x, const double *y,
                      const double *err, int n, int style);
/* Colour of series s as 0xRRGGBB (get, or set with mc_plot_set_color). */
uint32_t mc_plot_color(const mc_plot *p, int s);
int mc_plot_set_color(mc_plot *p, int s, uint32_t rgb);
/* A dashed vertical line at x with a label at its top (label may be NULL). */
int mc_plot_vline(mc_plot *p, double x, const char *label);
/* A highlighted point with a label beside it (e.g. the suggested LR on the loss curve). */
int mc_plot_point(mc_plot *p, double x, double y, const char *label);
/* The y = x reference line (ROC chance diagonal), dashed grey; label NULL = not in legend. */
int mc_plot_diagonal(mc_plot *p, const char *label);

/* Renders into rgb (height, width, 3) and fixes the layout. */
int mc_plot_render(mc_plot *p, uint8_t *rgb);
/* Renders and writes a PNG atomically. */
int mc_plot_save(mc_plot *p, const char *path);
/* Pixel position (x right, y down; pixel centres at +0.5) of a data point, after render/save. */
int mc_plot_to_pixel(const mc_plot *p, double x, double y, double *px, double *py);

/* Axis ticks for the range [lo, hi] (lo < hi; both > 0 when log): linear — multiples of the
 * smallest 1-2-5 step giving at most max_ticks ticks inside the range; log — decades (every
 * k-th when too many), with 2 and 5 multiples added when fewer than two decades fall inside,
 * plus unlabelled minor ticks 2..9 per decade. Returns the number of ticks written (at most
 * cap) or an error. */
typedef struct mc_plot_tick {
    double v;
    int major;        /* 0: minor (no label) */
    char label[24];   /* e.g. "0.2", "-5", "1000", "1e-7" */
} mc_plot_tick;
int mc_plot_ticks(double lo, double hi, int log_scale, int max_ticks, mc_plot_tick *ticks, int cap);

#ifdef __cplusplus
}
#endif
#endif
