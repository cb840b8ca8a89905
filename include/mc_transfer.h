/* mc_transfer.h — reference-based colour transfer (Zeng et al. 2020, "adaptive deep colour
 * perception"): the image's pixels are optimised through a frozen VGG19 against a colour
 * reference. docs/transfer.md gives every definition and marks what the paper states, what only
 * the authors' code shows and what we chose.
 *
 * Part of the public API (include it after medcolor.h). Nothing here prints or decodes files.
 *
 *     mc_tr_obj *o;
 *     mc_tr_obj_new(&o, vgg, target_rgb, ref_rgb, 224, &setup);   // masks, constants
 *     mc_tr_weights w; mc_tr_weights_default(&w);
 *     mc_tr_obj_eval(o, &w, x, &f, grad, &terms);                  // f and ∇f at x
 *
 * Images: n×n RGB bytes, interleaved ([y][x][c]). The optimised image x is [3][n][n] doubles,
 * RGB, 0…255 (not clipped while optimising).
 */
#ifndef MC_TRANSFER_H
#define MC_TRANSFER_H
#include <stddef.h>
#include <stdint.h>
#include "medcolor.h"
#ifdef __cplusplus
extern "C" {
#endif

/* The six taps, post-ReLU outputs of VGG19 layers named as torchvision's (cfg/vgg19.cfg). */
enum { MC_TAP_RELU1_1, MC_TAP_RELU2_1, MC_TAP_RELU3_1, MC_TAP_RELU4_1, MC_TAP_RELU4_2, MC_TAP_RELU5_1, MC_NTAPS };
/* "features.0", "features.5", "features.10", "features.19", "features.21", "features.28" */
const char *mc_tr_tap_layer(int tap);

/* How an RGB 0…255 image becomes the network's input. */
enum {
    MC_VGG_TORCHVISION = 0, /* (x/255 − (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225), RGB */
    MC_VGG_CAFFE = 1        /* BGR, 0…255 minus (103.939, 116.779, 123.68) */
};

/* The loss weights (§2 step 6): total = content·L_c + color·Σ_l L_l + y·L_Y + swap·L_swap +
 * tv·TV. alpha_y mixes L1 and L2 in the Y-loss. */
typedef struct mc_tr_weights {
    double content, color, y, swap, tv, alpha_y;
} mc_tr_weights;
/* The paper's second pass: 1, 100, 1e5, 10, 1e-3, alpha_y 0. */
void mc_tr_weights_default(mc_tr_weights *w);

typedef struct mc_tr_terms {
    double content, color, y, swap, tv; /* unweighted */
    double total;                       /* weighted sum */
} mc_tr_terms;

typedef struct mc_tr_setup {
    int kmeans;    /* clusters of the segmentation; default 4 */
    int vgg_input; /* MC_VGG_*; default torchvision */
} mc_tr_setup;

typedef struct mc_tr_obj mc_tr_obj;
/* The objective for target I' and reference S' (n×n RGB bytes) on net, a VGG19 built at n×n
 * from cfg/vgg19.cfg (layers named features.N; weights loaded). Freezes every group of net and
 * turns its input gradient on. Computes the k-means masks of both images, their propagation to
 * every tap, the content target F^{4_2}(I'), the reference's masked Gram matrices and the swapped
 * feature maps. setup NULL: defaults. MC_ESHAPE when n is too small for a 3×3 patch at
 * relu5_1 (n < 48), MC_ENOTFOUND when a tap layer is missing. */
int mc_tr_obj_new(mc_tr_obj **out, mc_net *net, const uint8_t *target, const uint8_t *ref, int n,
                  const mc_tr_setup *setup);
void mc_tr_obj_free(mc_tr_obj *o);
/* f (and ∇f into grad[3·n·n] unless NULL; terms unless NULL) at x [3][n][n]. The network runs
 * only as far as the terms with a non-zero weight need. */
int mc_tr_obj_eval(mc_tr_obj *o, const mc_tr_weights *w, const double *x, double *f, double *grad,
                   mc_tr_terms *terms);
/* Inspection (tests, --dump). Shape of tap t's features; the k-means labels of the target (ref 0)
 * or the reference (ref 1), n·n bytes; the k masks at tap t, k·h·w floats; tap t's swapped map
 * (c·h·w floats) and the chosen patch per position (h·w ints) for the swap taps relu3_1, relu4_1,
 * relu5_1 (MC_EARG for the others). */
int mc_tr_obj_tap_shape(const mc_tr_obj *o, int t, int *c, int *h, int *w);
const uint8_t *mc_tr_obj_labels(const mc_tr_obj *o, int ref);
const float *mc_tr_obj_masks(const mc_tr_obj *o, int ref, int t);
int mc_tr_obj_swap(const mc_tr_obj *o, int t, const float **sw, const int **idx);

/* The smoothing of §2 step 8 (a guided filter with the "joint bilateral" average of its
 * coefficients): guide and img w×h RGB bytes, out w×h RGB bytes (may be img). Per pixel a
 * 3×4 affine fit of img on [guide;1] over its 3×3 window (ridge 1e-3 on the 3×3 part, zero when
 * |det| < 1e-9), the 12 coefficients averaged over a 31×31 window with weights
 * exp(−|p−q|²/50)·exp(−(Σ_c (g_q − g_p)²/3)/0.02), applied to the guide; ×255, clipped,
 * truncated. */
int mc_tr_smooth(const uint8_t *guide, const uint8_t *img, int w, int h, uint8_t *out);

/* ---- the whole method ------------------------------------------------------------------------ */
typedef struct mc_transfer_progress {
    int pass;           /* 1 or 2 */
    long iter, nfev;    /* of this pass */
    double f, best_f;   /* at the iterate; lowest over all evaluations of this pass */
    mc_tr_terms terms;  /* at the iterate */
} mc_transfer_progress;
/* The coordinates of the optimisation (the objective and its minima are the same; L-BFGS's path
 * is not). RGB: the pixels themselves, as the authors' code. YCBCR [I]: per pixel (Y, Cb − 128,
 * Cr − 128) of JFIF, RGB = (Y + 1.402 Cr', Y − 0.344136 Cb' − 0.714136 Cr', Y + 1.772 Cb'): the
 * Y-loss's gradient then has no chroma component (the paper's eq. 8 spreads it equally on R, G,
 * B), so its large weight does not drag the colour while the luminance is fitted. */
enum { MC_TR_SPACE_RGB = 0, MC_TR_SPACE_YCBCR = 1 };

typedef struct mc_transfer_opts {
    int size;                /* N; default 224 (the paper; the authors' code used 112) */
    long init_iters, iters;  /* L-BFGS iterations of pass 1 and pass 2; default 1000 each */
    double pgtol, factr;     /* L-BFGS stopping rules (mc_lbfgs_opts); default scipy's 1e-5, 1e7 */
    int space;               /* MC_TR_SPACE_*: the coordinates L-BFGS moves in; default YCbCr */
    mc_tr_weights w;         /* pass 2's weights (pass 1: content, color and tv of these) */
    mc_tr_setup setup;
    int smooth;              /* default 1 */
    double chroma_gain;      /* of the YCbCr merge; default 1 */
    uint64_t seed;           /* of O₀'s noise; default 0 */
    /* progress: called at each pass's start (iter 0) and after every L-BFGS iteration; return
     * non-zero to stop (at the start: an error) */
    int (*progress)(const mc_transfer_progress *p, void *ctx);
    void *progress_ctx;
} mc_transfer_opts;
void mc_transfer_opts_default(mc_transfer_opts *o);

/* What a run leaves besides the output (all n×n RGB bytes unless noted; owned by the caller,
 * freed with mc_transfer_result_free). */
typedef struct mc_transfer_result {
    int n;
    uint8_t *target_n, *ref_n; /* I', S' */
    uint8_t *pass1;            /* pass 1's best image, quantised */
    uint8_t *raw;              /* pass 2's best image, quantised (before smoothing) */
    uint8_t *smoothed;         /* after smoothing (NULL without) */
    double init_loss;          /* pass 2's objective at its start */
    double best_loss;          /* pass 2's best */
    long nfev1, nfev2;
} mc_transfer_result;
void mc_transfer_result_free(mc_transfer_result *r);

/* Colours target (w×h RGB bytes, a grey image as R = G = B) after ref (rw×rh RGB) through net
 * (VGG19 built at opts->size): resize both to N×N (Pillow LANCZOS), two L-BFGS passes, smoothing,
 * resize to w×h, Y of the target with Cb/Cr of the result. out: w×h RGB bytes. res may be NULL. */
int mc_transfer(mc_net *net, const uint8_t *target, int w, int h, const uint8_t *ref, int rw, int rh,
                const mc_transfer_opts *opts, uint8_t *out, mc_transfer_result *res);

#ifdef __cplusplus
}
#endif
#endif
