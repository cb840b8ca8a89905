/* mc_image.h — grey images, the paper's preprocessing/augmentation, and the batch loader.
 *
 * Part of the public API (include it after medcolor.h / mc_data.h).
 *
 *   decode      PNG (1/2/4/8/16-bit, grey, grey+alpha, RGB, RGBA, palette, interlaced), JPEG and
 *               DICOM (GDCM; docs/dicom.md) → grey float32 in [0, 1] (x / maxval; colour → ITU-R
 *               601 luma, alpha ignored; DICOM: modality LUT, VOI, MONOCHROME1), optionally
 *               through a window.
 *   geometry    square crop (centre / random), bilinear resize exactly as
 *               torch.nn.functional.interpolate(mode='bilinear', align_corners=False), and one
 *               affine warp exactly as F.affine_grid + F.grid_sample(mode='bilinear',
 *               padding_mode='reflection', align_corners=True) with fastai v1's rotate/zoom matrix.
 *   normalise   (x − mean) / std, defaults 0.5028 / 0.2902 (CheXpert statistics).
 *   loader      multi-threaded, bounded prefetch queue, deterministic whatever the thread count:
 *               every random draw of a sample comes from (seed, epoch, position in epoch).
 *
 * Image buffers are row-major [h][w] float32, one channel.
 */
#ifndef MC_IMAGE_H
#define MC_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "mc_data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------------------ */
typedef struct mc_image {
    int w, h;   /* width (columns) and height (rows) */
    float *px;  /* [h][w] grey values in [0, 1] */
    size_t cap; /* floats allocated at px (the buffer is reused by the next load) */
} mc_image;

/* Decodes the PNG, JPEG or DICOM file at path (format from the file's signature, not its name;
 * DICOM also by a .dcm/.dicom name) into *img, through the process's window (below) if set.
 * img must be zero-initialised ({0}) or come from a previous load: its buffer is reused when
 * large enough, so loading many images into one mc_image does not allocate in steady state.
 * Errors (MC_EIO, MC_EPARSE, MC_EUNSUP, MC_ENOMEM) name the file; a corrupt or truncated file,
 * including one libjpeg only warns about ("Premature end of JPEG file") and PNG CRC / zlib
 * errors, is an error. On error *img keeps its buffer (w = h = 0). */
int mc_image_load_grey(const char *path, mc_image *img);
void mc_image_free(mc_image *img);
/* What the header of the image at path says, without decoding the pixels: MC_OK when
 * mc_image_load_grey would start decoding it (a PNG or JPEG signature, a well-formed header, a
 * size within the limit, a layout it reads: not CMYK/YCCK or 12-bit JPEG); otherwise the error
 * it would meet, naming the file (an empty or text file, a folder, a damaged header, 20000x20000
 * pixels, ...). A file damaged after its header passes: only decoding finds that. */
enum { MC_IMAGE_PNG = 1, MC_IMAGE_JPEG = 2, MC_IMAGE_DICOM = 3 };
typedef struct mc_image_info {
    int format;       /* MC_IMAGE_* */
    int w, h;
    int channels;     /* in the file (before conversion to grey) */
    int depth;        /* bits per sample */
} mc_image_info;
int mc_image_probe(const char *path, mc_image_info *info);

/* ---- DICOM and windows (docs/dicom.md) ------------------------------------------------------
 * Every decoder above also reads DICOM (a file with 'DICM' at offset 128, or named .dcm/.dicom):
 * one frame, MONOCHROME1 or MONOCHROME2, 8 or 16 bits allocated, through GDCM (uncompressed, RLE,
 * JPEG baseline/lossless, JPEG-LS, JPEG 2000). Its grey value: the stored value through the
 * Modality LUT Sequence or Rescale Slope/Intercept, then the user's window if one is set, else
 * the file's VOI LUT Sequence, else its first Window Center/Width (VOI LUT Function LINEAR,
 * LINEAR_EXACT or SIGMOID, PS3.3 C.11.2), else the full range of the modality output — the
 * result's range mapped to [0, 1]; MONOCHROME1 then inverted (1 − y). A build without GDCM
 * (make DICOM=0) refuses DICOM files with an error saying how to rebuild.
 *
 * A window (center, width) in the file's sample units (a DICOM file's modality output; for PNG
 * and JPEG the sample value 0..maxval, the luma for colour files) maps grey through PS3.3's
 * LINEAR function: x <= c − 0.5 − (w − 1)/2 → 0, x > c − 0.5 + (w − 1)/2 → 1, else
 * (x − (c − 0.5))/(w − 1) + 0.5; width >= 1. */
typedef struct mc_image_window {
    int on;             /* 0: no user window */
    double center, width;
} mc_image_window;
/* mc_image_load_grey with an explicit window (NULL or on = 0: none). */
int mc_image_load_grey_window(const char *path, mc_image *img, const mc_image_window *win);
/* The window every decoder of the process applies (mc_image_load_grey, _rgb8, _rgbf, mc_lab_load
 * and the loader): set it before any decoding thread starts (the CLI's --window C,W does);
 * NULL clears it. MC_EARG for a width < 1 or a non-finite value. */
int mc_image_set_window(const mc_image_window *win);
mc_image_window mc_image_get_window(void);
/* 1 when name ends in .png, .jpg, .jpeg, .dcm or .dicom (any case): the image folders' and
 * reference libraries' file filter. */
int mc_image_name_ok(const char *name);
/* 1 when this build decodes DICOM (GDCM linked in). */
int mc_image_dicom_supported(void);

/* ---- normalisation ----------------------------------------------------------------------- */
typedef struct mc_norm {
    float mean; /* subtracted after x / maxval */
    float std;  /* then divided by */
} mc_norm;
#define MC_NORM_MEAN 0.5028f
#define MC_NORM_STD 0.2902f
/* out[i] = (in[i] − mean) / std for n values (in place allowed). */
void mc_normalise(const float *in, float *out, size_t n, const mc_norm *norm);

/* ---- crops ------------------------------------------------------------------------------- */
typedef struct mc_crop {
    int x0, y0; /* top-left corner (column, row) in the source image */
    int side;   /* square side = min(w, h) */
} mc_crop;
/* Centre square crop as torchvision's CenterCrop: offset = round((size − side) / 2), Python's
 * round (half to even). */
void mc_crop_centre_square(int w, int h, mc_crop *c);
/* Random square crop as fastai v1's crop (rand_crop): offset = floor((size − side + 1) · u),
 * u in [0, 1), i.e. uniform over 0 … size − side along the longer axis. */
void mc_crop_random_square(int w, int h, double u, mc_crop *c);

/* ---- transform workspace ------------------------------------------------------------------
 * Per-thread scratch (resize tables, intermediate image); grows on demand and is reused. */
typedef struct mc_xform mc_xform;
int mc_xform_new(mc_xform **out);
void mc_xform_free(mc_xform *ws);

/* Bilinear resize of the sw×sh window starting at src (row stride sstride floats) to dst
 * [dh][dw] = F.interpolate(x, (dh, dw), mode='bilinear', align_corners=False), no antialias;
 * same arithmetic (float32) and order of operations as PyTorch's CPU kernel. A window already
 * dw×dh is copied unchanged. ws may be NULL (temporary tables are then allocated). */
int mc_resize_bilinear(const float *src, int sw, int sh, int sstride, float *dst, int dw, int dh,
                       mc_xform *ws);

/* The affine matrix convention (the same as F.affine_grid(theta, align_corners=True)):
 * theta is a row-major 2×3 matrix that maps an OUTPUT pixel's normalised coordinates
 * (x, y, 1) to the SOURCE position it samples:
 *     [xs, ys]ᵀ = [[t0, t1, t2], [t3, t4, t5]] · [x, y, 1]ᵀ
 * where x = −1 + 2·col/(w − 1) (−1 = centre of the first column, +1 = centre of the last) and
 * y likewise for rows. The identity is {1, 0, 0, 0, 1, 0}. */

/* Warps src [h][w] into dst [h][w] (no aliasing) with theta, bilinear sampling and reflection
 * padding = F.grid_sample(src, F.affine_grid(theta), 'bilinear', 'reflection',
 * align_corners=True). Sampling coordinates are computed in double precision. If norm is not
 * NULL the result is normalised on the way out. */
int mc_warp_affine(const float *src, float *dst, int h, int w, const float theta[6],
                   const mc_norm *norm);

/* fastai v1's rotate + zoom composed into one theta for an h×w image:
 *   R = [[cos a, −sin a, 0], [sin a, cos a, 0]]                    (rotate(degrees))
 *   Z = [[1/s, 0, cc], [0, 1/s, rc]], cc = (1 − 1/s)(2·col_pct − 1), rc = (1 − 1/s)(2·row_pct − 1)
 *                                                                  (zoom(scale, row_pct, col_pct))
 *   M = R · Z  (fastai multiplies affine_mat @ m in transform order: rotate, then zoom),
 *   then fastai's aspect correction M[0][1] *= h/w, M[1][0] *= w/h; theta = the top 2 rows.
 * angle_deg = 0, scale = 1 gives the identity. */
void mc_affine_fastai(float theta[6], double angle_deg, double scale, double row_pct,
                      double col_pct, int h, int w);

/* ---- augmentation ------------------------------------------------------------------------ */
typedef struct mc_aug_opts {
    double max_rotate;      /* degrees; angle ~ U(−max_rotate, +max_rotate). Default 10 */
    double p_rotate;        /* probability a sample is rotated. Default 0.75 */
    double max_zoom;        /* scale ~ U(1, max_zoom); ≤ 1 disables zoom. Default 1.1 */
    double p_zoom;          /* probability a sample is zoomed (independent of rotation). 0.75 */
    int random_zoom_centre; /* 1 (default): zoom centre row_pct, col_pct ~ U(0, 1), fastai v1
                             * rand_zoom's behaviour; 0: zoom about the image centre */
} mc_aug_opts;
void mc_aug_opts_default(mc_aug_opts *o);

/* One sample's draws. For evaluation only the crop is used (centre crop, no warp). */
typedef struct mc_aug_params {
    mc_crop crop;
    int rotate; /* 1: rotated by angle_deg */
    double angle_deg;
    int zoom; /* 1: zoomed by scale about (row_pct, col_pct) */
    double scale, row_pct, col_pct;
} mc_aug_params;

/* A 64-bit key for sample `pos` of epoch `epoch` (counter-based: no shared stream). */
uint64_t mc_sample_key(uint64_t seed, uint64_t epoch, uint64_t pos);
/* Draws a sample's parameters from key for a w×h source. train = 0: centre crop, no warp.
 * The same key always gives the same parameters. */
void mc_aug_draw(const mc_aug_opts *o, uint64_t key, int w, int h, int train, mc_aug_params *p);

/* Full per-sample preprocessing: crop p->crop out of img, resize to oh×ow, warp (when p
 * rotates or zooms), normalise (norm may be NULL: no normalisation); out is [oh][ow]. */
int mc_preprocess(mc_xform *ws, const mc_image *img, const mc_aug_params *p, const mc_norm *norm,
                  float *out, int oh, int ow);

/* ---- loader ------------------------------------------------------------------------------ */
typedef struct mc_loader_opts {
    int batch;       /* B, default 16 */
    int h, w;        /* output size, default 320×320 */
    int train;       /* 1: random square crop + augmentation; 0 (default): centre crop */
    int shuffle;     /* 1: new order every epoch (default 0) */
    uint64_t seed;   /* shuffling and augmentation seed */
    int threads;     /* worker threads; 0 = decode in the caller's thread. Default 2 */
    int prefetch;    /* batches prepared ahead of the one being used (0 acts as 1). Default 2 */
    int drop_last;   /* 1: drop the last incomplete batch of each epoch. Default 0 */
    int epochs;      /* epochs to produce, counted from epoch 0; 0 = endless. Default 0 */
    int start_epoch; /* resume: the first batch handed out is (start_epoch, start_batch) */
    int start_batch;
    mc_aug_opts aug;
    mc_norm norm;
    /* parts > 1 (data-parallel training, src/dist/): every batch of B is cut into `parts` equal
     * parts (B divisible by parts) and this loader hands out part `part` of each: the samples at
     * positions part·B/parts … of the same order, with the same augmentation draws, as the whole
     * batch would have them (a last partial batch's part may be short or empty: n = 0).
     * Default 0: whole batches. */
    int part, parts;
} mc_loader_opts;
void mc_loader_opts_default(mc_loader_opts *o);

typedef struct mc_batch {
    int n;     /* samples in this batch (< batch only for a last partial batch) */
    int epoch; /* epoch number */
    int index; /* batch number within the epoch */
    int h, w, nlabels;
    float *images; /* [n][1][h][w] normalised */
    float *labels; /* [n][nlabels] */
    float *mask;   /* [n][nlabels] (all 1 when the dataset has no mask) */
    int *indices;  /* [n] dataset rows (for prediction CSVs) */
} mc_batch;

typedef struct mc_loader mc_loader;
/* Starts the workers. ds is borrowed and must outlive the loader. opts NULL = defaults. */
int mc_loader_new(mc_loader **out, const mc_dataset *ds, const mc_loader_opts *opts);
/* Hands out the next batch (in order: epoch by epoch, batch by batch). The batch stays valid
 * until the next call or mc_loader_free. At the end (opts.epochs reached) *out = NULL and
 * MC_OK. A missing or corrupt image is an error naming the file; the loader then stays in
 * that error state. */
int mc_loader_next(mc_loader *ld, mc_batch **out);
/* Batches per epoch (drop_last taken into account). */
int mc_loader_batches_per_epoch(const mc_loader *ld);
/* Stops the workers (also mid-epoch), joins them and frees everything. NULL is fine. */
void mc_loader_free(mc_loader *ld);

/* ---- 8-bit RGB images ----------------------------------------------------------------------
 * For the colour-transfer tools (D-hash, quality, transfer): the pixels that PIL's
 * Image.open(path).convert("RGB") gives (Pillow 9.4): grey replicated, alpha dropped, palettes
 * looked up, 16-bit grey clipped to 255 (PIL's mode "I"), other 16-bit samples' high byte;
 * CMYK JPEGs are refused (MC_EUNSUP). px is [h][w][3], reused across loads like mc_image's;
 * errors as mc_image_load_grey's, naming the file. */
typedef struct mc_image8 {
    int w, h;    /* width and height */
    int c;       /* channels: 3 */
    uint8_t *px; /* [h][w][c] */
    size_t cap;  /* bytes allocated at px */
} mc_image8;
int mc_image_load_rgb8(const char *path, mc_image8 *img);
void mc_image8_free(mc_image8 *img);

/* ---- float RGB and CIELAB images (the colorization data pipeline, src/data/labimage.c) -------
 * mc_image_load_rgbf: the file as float RGB in [0, 1], [h][w][3] in *px (malloc'd, the caller
 * frees): grey files (grey or grey+alpha PNGs, grey JPEGs) through mc_image_load_grey (x / maxval,
 * so 16-bit X-rays keep their precision; PIL's convert("RGB") would clip them) replicated to three
 * channels; colour files through mc_image_load_rgb8, / 255 (16-bit colour PNGs: the high byte).
 * Errors name the file. */
int mc_image_load_rgbf(const char *path, float **px, int *w, int *h);

/* mc_lab_load: the image at path as CIELAB, planar [3][h][w] (L 0..100, a, b in their natural
 * units) in *lab (malloc'd): decoded with mc_image_load_rgbf, each RGB channel resized to w x h
 * with mc_resize_bilinear (PyTorch's bilinear, align_corners=False; the aspect ratio is not kept)
 * when w, h > 0 and the size differs, then mc_srgb_to_lab (include/mc_imaging.h: the spec's
 * formulas, in double). w, h <= 0: the file's own size. *ow, *oh receive the size. */
int mc_lab_load(const char *path, int w, int h, float **lab, int *ow, int *oh);
/* Planar Lab [3][h][w] (float) to interleaved 8-bit RGB [h][w][3]: mc_lab_to_srgb (clipped to
 * [0, 1]), x 255, rounded half up. */
void mc_lab_to_rgb8(const float *lab, int w, int h, uint8_t *rgb);

/* ---- D-hash of files and reference libraries (src/data/refimages.c) -------------------------
 * mc_dhash_file: decode (mc_image_load_rgb8) and hash (mc_dhash: PIL luma, then Lanczos 9×8). */
int mc_dhash_file(const char *path, uint64_t *hash);

/* A reference library: the PNG/JPEG/DICOM files (.png, .jpg, .jpeg, .dcm, .dicom in any case; hidden
 * files and folders skipped; not recursive) of one folder, sorted by name (byte order), with
 * their D-hashes. With an index file (docs/transfer.md: "dhash index"), hashes of files whose
 * size and modification time (ns) are unchanged are reused; the others are computed, and the
 * index is rewritten atomically when anything changed (or it did not exist). A malformed index
 * is an error naming file:line, as is a reference that cannot be decoded. */
typedef struct mc_refimage {
    char *name;        /* file name inside the folder */
    char *path;        /* folder/name */
    uint64_t hash;
    int64_t size;      /* bytes */
    int64_t mtime_ns;  /* modification time, ns since the epoch */
} mc_refimage;
typedef struct mc_reflib {
    int n;
    mc_refimage *v;    /* sorted by name */
    int reused;        /* hashes taken from the index */
    int hashed;        /* hashes computed */
    int dropped;       /* index entries of files no longer there (or changed) */
    int index_written; /* 1: the index file was (re)written */
} mc_reflib;
int mc_reflib_load(mc_reflib **out, const char *dir, const char *index_path);
void mc_reflib_free(mc_reflib *r);
/* The nearest reference to q (Hamming distance; ties: the first by name); -1 when empty. */
int mc_reflib_nearest(const mc_reflib *r, uint64_t q, int *dist);

/* ---- quality of image files (src/data/refimages.c) ------------------------------------------
 * Decodes both (mc_image_load_rgb8) and computes mc_quality_pair (include/mc_imaging.h) on them;
 * q must point to an mc_quality. Different sizes are an error naming both files and sizes. */
struct mc_quality;
int mc_quality_files(const char *ref, const char *img, int color, struct mc_quality *q);

/* A list of pairs, one "REF<TAB>IMG" a line ('#' comments and blank lines skipped, a first line
 * "ref<TAB>img" taken as a header); relative paths are relative to the list file's folder.
 * Errors name file:line. */
typedef struct mc_pairlist {
    int n;
    char **ref, **img;
} mc_pairlist;
int mc_pairlist_load(mc_pairlist **out, const char *path);
void mc_pairlist_free(mc_pairlist *l);

#ifdef __cplusplus
}
#endif
#endif
