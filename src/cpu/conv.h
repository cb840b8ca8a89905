/* cpu/conv.h — the CPU backend's convolution engine and thread pool helpers (internal to
 * cpu/backend_cpu.c and cpu/conv.c).
 *
 * One thread pool: OpenMP. OpenBLAS is always called single-threaded from inside our own
 * parallel regions (its pthread pool and OpenMP's spinning workers on the same cores cost
 * more than half of a step on a 2-core machine), so every parallel GEMM here splits the work
 * itself.
 *
 * Convolutions are tiled GEMMs (docs/performance.md):
 * - the output columns (image, output row) are cut into tiles of about MC_CONV_TILE columns:
 *   several output rows of one image when the image is large, several whole images when it is
 *   small (batch folding: one GEMM over a few images instead of one per image);
 * - each thread im2cols its tile into its own small buffer (it stays in the L2/L3 cache) and
 *   runs one single-threaded GEMM on it; a 1x1 stride-1 convolution reads its input directly;
 * - backward-filter: each thread accumulates into its own copy of dW, summed at the end;
 * - backward-data: each thread owns whole images (col2im of neighbouring tiles overlaps), or,
 *   with fewer images than threads, a range of input channels.
 * Scratch memory is the backend's per-thread arena (mc_cpu_arena), grown on first use and then
 * kept: no allocation per step.
 */
#ifndef MC_CPU_CONV_H
#define MC_CPU_CONV_H

#include "engine/backend.h"

typedef struct mc_cpu_arena {
    float *p;    /* n floats */
    size_t n;
} mc_cpu_arena;

/* Makes the arena at least n floats (contents not kept); MC_ENOMEM with a message on failure. */
int mc_cpu_arena_reserve(mc_cpu_arena *a, size_t n);
void mc_cpu_arena_free(mc_cpu_arena *a);

/* Threads for the next parallel region (omp_get_max_threads()). */
int mc_cpu_threads(void);

/* Row-major C = alpha op(A) op(B) + beta C split over the threads (single-threaded OpenBLAS
 * in each). */
void mc_cpu_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

/* The three convolution primitives with the backend.h semantics (beta blends the output). */
int mc_cpu_conv_fwd(mc_cpu_arena *ar, const mc_conv_desc *d, const float *x, const float *w,
                    float beta, float *y);
int mc_cpu_conv_bwd_data(mc_cpu_arena *ar, const mc_conv_desc *d, const float *dy,
                         const float *w, float beta, float *dx);
int mc_cpu_conv_bwd_filter(mc_cpu_arena *ar, const mc_conv_desc *d, const float *x,
                           const float *dy, float beta, float *dw);

/* 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) (cpu/winograd.c): whether d qualifies
 * (3x3, stride 1, padding <= 2, no groups, >= 16 channels in and out), and the three primitives
 * with the semantics above. */
int mc_cpu_wino_ok(const mc_conv_desc *d);
/* Winograd on (default; MC_CPU_WINOGRAD=0 in the environment turns it off) or off (im2col + GEMM
 * for every convolution): for comparisons and tests. */
void mc_cpu_conv_set_winograd(int on);
int mc_cpu_wino_fwd(mc_cpu_arena *ar, const mc_conv_desc *d, const float *x, const float *w, float beta,
                    float *y);
int mc_cpu_wino_bwd_data(mc_cpu_arena *ar, const mc_conv_desc *d, const float *dy, const float *w,
                         float beta, float *dx);
int mc_cpu_wino_bwd_filter(mc_cpu_arena *ar, const mc_conv_desc *d, const float *x, const float *dy,
                           float beta, float *dw);

#endif
