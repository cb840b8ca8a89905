/* mc_imaging.h — 8-bit image primitives for reference-based colour transfer (Zeng et al. 2020)
 * and the quality metrics of its evaluation: PIL's luma, Pillow-exact Lanczos resizing, the
 * D-hash of imagehash, JFIF YCbCr, sRGB ↔ CIELAB, 1-D k-means on grey levels, PSNR, SSIM,
 * FSIM/FSIMc and entropy. docs/transfer.md says where each definition comes from.
 *
 * Part of the public API (include it after medcolor.h).
 *
 * Buffers are plain memory, row-major, channels interleaved: an 8-bit image of w×h pixels and
 * c channels (1 = grey, 3 = RGB) is w·h·c bytes, pixel (x, y) channel k at [(y·w + x)·c + k].
 * Nothing here decodes files (mc_image_load_rgb8 in mc_image.h does) or prints.
 */
#ifndef MC_IMAGING_H
#define MC_IMAGING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- grey ------------------------------------------------------------------------------------
 * PIL's "L" of RGB, exactly: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16 (ITU-R 601-2 luma
 * in 16-bit fixed point; a grey pixel v gives v). rgb and grey may not overlap. */
void mc_luma_pil(const uint8_t *rgb, size_t npix, uint8_t *grey);

/* ---- Lanczos resize, bit-exact with Pillow 9.4's Image.resize(size, Image.LANCZOS) -----------
 * Separable, the horizontal pass first (only when the width changes), the vertical one second
 * (only when the height changes), 8-bit values between the passes. Per axis, for in → out
 * samples: scale = in/out, fs = max(scale, 1), support = 3·fs; output sample x has its centre at
 * (x + 0.5)·scale and taps j = max(0, (int)(centre − support + 0.5)) … min(in, (int)(centre +
 * support + 0.5)) − 1 weighted lanczos3((j − centre + 0.5)/fs) (sinc(t)·sinc(t/3), |t| < 3),
 * normalised to sum 1, then rounded to 22-bit fixed point ((int)(w·2²² ± 0.5), away from zero);
 * the sum starts at 2²¹ and the result is (sum >> 22) clipped to 0…255.
 * channels 1 or 3; src and dst may not overlap. MC_EARG for sizes < 1, MC_ENOMEM. */
int mc_resize_lanczos(const uint8_t *src, int sw, int sh, int channels, uint8_t *dst, int dw, int dh);

/* ---- D-hash (imagehash.dhash, hash_size 8) ----------------------------------------------------
 * grey (mc_luma_pil for RGB) first, then Lanczos to 9 wide × 8 high; bit (y, x) = px[y][x+1] >
 * px[y][x] for x < 8, bits row-major, the first bit the most significant. */
int mc_dhash(const uint8_t *px, int w, int h, int channels, uint64_t *hash);
/* Number of differing bits. */
int mc_hamming64(uint64_t a, uint64_t b);
/* 16 lowercase hex digits and a NUL (imagehash's str()). */
void mc_dhash_hex(uint64_t hash, char out[17]);
/* Parses exactly 16 hex digits; MC_EPARSE otherwise (message names the text). */
int mc_dhash_parse(const char *hex, uint64_t *hash);
/* The index of the hash nearest to q (lowest Hamming distance; ties: the lowest index — sort
 * the references by path first to get "ties → first sorted path"), its distance in *dist.
 * n must be ≥ 1. */
size_t mc_dhash_nearest(uint64_t q, const uint64_t *refs, size_t n, int *dist);

/* ---- colour map (src/imaging/colormap.c) ------------------------------------------------------
 * matplotlib's "jet", exactly as matplotlib 3.6's cm.jet(v, bytes=True) (its 256-entry table of
 * the jet segment data, values truncated to bytes; entry (int)(v * 256) in float32, v >= 1 the
 * last entry, v < 0 and NaN the first): rgb[3 n] from v[n]. The table itself: lut[256 * 3]. */
void mc_colormap_jet(const float *v, size_t n, uint8_t *rgb);
void mc_colormap_jet_table(uint8_t lut[256 * 3]);

/* ---- JFIF YCbCr (full range, Pillow's "YCbCr" mode) -------------------------------------------
 * Y = 0.299R + 0.587G + 0.114B, Cb = 128 − 0.168736R − 0.331264G + 0.5B,
 * Cr = 128 + 0.5R − 0.418688G − 0.081312B; back: R = Y + 1.402(Cr − 128),
 * G = Y − 0.344136(Cb − 128) − 0.714136(Cr − 128), B = Y + 1.772(Cb − 128). Computed in double,
 * rounded half away from zero, clipped to 0…255 (the specification's rounding). Pillow uses
 * fixed-point tables whose results are close to truncation (floor): they differ from ours by at
 * most 1, in about half of the values (tests/test_imaging.c prints the counts). In place allowed
 * (npix pixels of 3 bytes). */
void mc_rgb_to_ycbcr(const uint8_t *rgb, size_t npix, uint8_t *ycc);
void mc_ycbcr_to_rgb(const uint8_t *ycc, size_t npix, uint8_t *rgb);
/* The "imaging module" merge (§2 step 9): Y of orig, Cb/Cr of result (both RGB, npix pixels),
 * each converted to 8-bit YCbCr as above; with gain ≠ 1 the chroma becomes
 * round(128 + gain·(C − 128)) clipped; back to RGB into out (which may be either input). */
void mc_ycbcr_merge(const uint8_t *orig, const uint8_t *result, size_t npix, double gain, uint8_t *out);

/* ---- sRGB ↔ CIELAB (D65, 2°; scikit-image's conventions) ---------------------------------------
 * rgb in [0, 1]: linearise c ≤ 0.04045 ? c/12.92 : ((c + 0.055)/1.055)^2.4; XYZ = M·rgb with
 * M = [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
 *      [0.019334, 0.119193, 0.950227]]; divide by the white (0.95047, 1, 1.08883);
 * f(t) = t > 0.008856 ? t^(1/3) : 7.787t + 16/116; L = 116f(Y) − 16, a = 500(f(X) − f(Y)),
 * b = 200(f(Y) − f(Z)). Back (skimage's lab2xyz/xyz2rgb): fy = (L + 16)/116, fx = a/500 + fy,
 * fz = fy − b/200, fz < 0 → 0; t = f > 0.2068966 ? f³ : (f − 16/116)/7.787; times the white;
 * rgb = M⁻¹·XYZ; c > 0.0031308 ? 1.055c^(1/2.4) − 0.055 : 12.92c; clipped to [0, 1].
 * n triples, interleaved; in place allowed. The float versions compute in double. */
void mc_srgb_to_lab(const double *rgb, size_t n, double *lab);
void mc_lab_to_srgb(const double *lab, size_t n, double *rgb);
void mc_srgb_to_lab_f(const float *rgb, size_t n, float *lab);
void mc_lab_to_srgb_f(const float *lab, size_t n, float *rgb);

/* ---- 1-D k-means on grey levels (§2 step 3) ----------------------------------------------------
 * Levels shifted v' = v − min + 1 (1 … max'), initial centres c_i = i·(max' + 1)/(k + 1),
 * i = 1…k; repeat { every occupied level → nearest centre (lowest index on ties); each centre
 * = the histogram-weighted mean of its levels; an empty cluster keeps its centre } until no
 * assignment changes (at most max_iter rounds, 0 = 1000). Pixel label = its level's cluster
 * (0 … k−1, dark → bright as the centres start ordered). centres (may be NULL) receives the k
 * centres in grey levels (c' + min − 1), *iters (may be NULL) the rounds. k in 1…255. */
int mc_kmeans_grey(const uint8_t *grey, size_t n, int k, int max_iter, uint8_t *labels,
                   double *centres, int *iters);
/* masks[i][n] = (labels == i) as 0/1 bytes, i < k. */
void mc_kmeans_masks(const uint8_t *labels, size_t n, int k, uint8_t *masks);

/* ---- quality metrics (§2 step 10; double precision) ---------------------------------------------
 * PSNR of two grey images: 20·log10(255/√MSE), 100 when MSE = 0. */
double mc_psnr(const uint8_t *a, const uint8_t *b, size_t n);
/* SSIM of two grey w×h images: 11×11 Gaussian window σ 1.5 (normalised), K1 0.01, K2 0.03,
 * L 255, "valid" filtering (the (w−10)×(h−10) windows inside the image), mean of the map.
 * MC_ESHAPE when w or h < 11. */
int mc_ssim(const uint8_t *a, const uint8_t *b, int w, int h, double *ssim);
/* FSIM (Zhang et al. 2011, FeatureSIM.m's definition, docs/transfer.md). channels 1: grey
 * images, *fsim; fsimc may be NULL (if not, it receives FSIM as well: FSIMc of grey = FSIM).
 * channels 3: RGB, Y = 0.299R + 0.587G + 0.114B in double, *fsim from Y and *fsimc with the I/Q
 * chroma term. Images at least 2×2 after the F×F downsampling. MC_ENUM when neither image has
 * any phase congruency (flat images: FSIM is 0/0). */
int mc_fsim(const uint8_t *a, const uint8_t *b, int w, int h, int channels, double *fsim,
            double *fsimc);
/* Phase congruency map of a w×h double image (phasecong2 of FeatureSIM.m: 4 scales,
 * 4 orientations, exposed for tests); pc receives w·h values. */
int mc_phase_congruency(const double *img, int w, int h, double *pc);
/* Shannon entropy (bits) of the 256-bin histogram of n grey bytes. */
double mc_entropy(const uint8_t *grey, size_t n);
/* Mean and standard deviation with ddof 0 (numpy's default) of n values; n = 0 gives NaN. */
void mc_mean_std(const double *v, size_t n, double *mean, double *std);

/* Every metric of one pair: PSNR, SSIM and FSIM on PIL grey ("L") of both; with color (both
 * RGB) also FSIMc from RGB; the entropy of each grey image. Images are w×h with `channels`
 * 1 or 3 each (a grey image is taken as R = G = B for FSIMc). */
typedef struct mc_quality {
    double psnr, ssim, fsim, fsimc; /* fsimc NaN without color */
    double entropy_ref, entropy_img;
} mc_quality;
int mc_quality_pair(const uint8_t *ref, int ref_channels, const uint8_t *img, int img_channels,
                    int w, int h, int color, mc_quality *q);

#ifdef __cplusplus
}
#endif
#endif
