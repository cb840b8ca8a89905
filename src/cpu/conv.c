/* cpu/conv.c — tiled, threaded convolution for the CPU backend (see cpu/conv.h for the plan).
 *
 * Shapes (NCHW float32, backend.h): x (n, c, h, w), y (n, k, oh, ow), w (k, c/groups, kh, kw).
 * Per group g the GEMMs are
 *   forward          y_g (kg x cols)     = w_g (kg x kdim) . col (kdim x cols)
 *   backward-data    dcol (kdim x cols)  = w_g^T . dy_g (kg x cols),  then col2im into dx
 *   backward-filter  dw_g (kg x kdim)   += dy_g (kg x cols) . col^T
 * with kdim = (c/groups) kh kw and cols the columns of one tile: output rows [oy0, oy1) of one
 * image (col = im2col of those rows), or all the positions of `fold` whole images side by side
 * (col (kdim x fold*ohw); dy and y then go through a packed (kg x fold*ohw) copy).
 * The plan, and so every GEMM's shape and every sum's order, depends on the shape only: the
 * threads take tiles (or images, or chunks of tiles), and the result is bitwise the same for
 * any thread count (cpu/conv.h).
 */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "cpu/conv.h"

/* columns per tile: large enough for an efficient GEMM, small enough that the im2col tile
 * (kdim x MC_CONV_TILE floats) stays in cache */
#ifndef MC_CONV_TILE
#define MC_CONV_TILE 512
#endif

/* ---- arena, chunks, GEMM ---------------------------------------------------------------- */
void *mc_cpu_map(size_t bytes, int hugepages, const char *what) {
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        mc_err(MC_ENOMEM, "out of memory (%zu bytes) for %s", bytes, what);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    /* advice only: where the system has no transparent huge pages this fails, and the
     * mapping is the same with 4 KB pages */
    if (hugepages) (void)madvise(p, bytes ? bytes : 1, MADV_HUGEPAGE);
#else
    (void)hugepages;
#endif
    return p;
}

void mc_cpu_unmap(void *p, size_t bytes) {
    if (p) munmap(p, bytes ? bytes : 1);
}

int mc_cpu_arena_reserve(mc_cpu *cpu, size_t n) {
    mc_cpu_arena *a = &cpu->arena;
    if (n <= a->n) return MC_OK;
    mc_cpu_arena_free(a);
    if (n > SIZE_MAX / sizeof(float)) return mc_err(MC_ENOMEM, "out of memory (%zu floats) for cpu convolution scratch", n);
    a->p = mc_cpu_map(n * sizeof(float), cpu->hugepages, "cpu convolution scratch");
    if (!a->p) return MC_ENOMEM;
    a->n = n;
    return MC_OK;
}

void mc_cpu_arena_free(mc_cpu_arena *a) {
    mc_cpu_unmap(a->p, a->n * sizeof(float));
    a->p = NULL;
    a->n = 0;
}

int mc_cpu_chunks(size_t items, size_t nw) {
    size_t cap = MC_CPU_REDUCE_FLOATS / (nw ? nw : 1);
    if (cap < 2) cap = 2;
    if (cap > MC_CPU_MAX_CHUNKS) cap = MC_CPU_MAX_CHUNKS;
    if (cap > items) cap = items;
    size_t c = 1;
    while (c * 2 <= cap) c *= 2;
    return (int)c;
}

/* share s's next piece from its front (from_back 0) or its back: its index in the share, or -1 */
static long steal_take(mc_cpu_steal_slot *s, int from_back) {
    uint64_t o = __atomic_load_n(&s->fb, __ATOMIC_ACQUIRE);
    for (;;) {
        const uint32_t f = (uint32_t)o, b = (uint32_t)(o >> 32);
        if (f >= b) return -1;
        const uint64_t n = from_back ? ((uint64_t)(b - 1) << 32 | f) : ((uint64_t)b << 32 | (f + 1));
        if (__atomic_compare_exchange_n(&s->fb, &o, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return from_back ? (long)(b - 1) : (long)f;
    }
}

static long share_at(long count, int u, int T) { return count * u / T; }

void mc_cpu_steal_begin(mc_cpu_steal *it, mc_cpu_steal_slot *slots, long count) {
    it->t = omp_get_thread_num();
    it->T = omp_get_num_threads();
    it->u = it->t;
    it->count = count;
    it->own0 = it->a = share_at(count, it->t, it->T);
    it->own1 = share_at(count, it->t + 1, it->T);
    it->slots = slots && it->T <= MC_CPU_STEAL_MAX && count < ((long)1 << 31) ? slots : NULL;
    if (it->slots) {
        it->slots[it->t].fb = (uint64_t)(it->own1 - it->own0) << 32;
#pragma omp barrier
    }
}

long mc_cpu_steal_next(mc_cpu_steal *it) {
    if (!it->slots) return it->a < it->own1 ? it->a++ : -1;
    for (;;) {
        const long i = steal_take(&it->slots[it->u], it->u != it->t);
        if (i >= 0) return share_at(it->count, it->u, it->T) + i;
        it->u = (it->u + 1) % it->T;
        if (it->u == it->t) return -1;
    }
}

/* The GEMMs' packing scratch (cpu/gemm_f32.c, cpu/gemm_bf16.c): one buffer per thread, grown
 * as needed and kept (OpenMP's threads persist: one allocation per thread and size class, none
 * per step), freed by a thread-exit destructor when the thread ends (OpenMP ends the threads a
 * smaller team no longer needs). A thread runs one GEMM at a time, so the two share it. */
typedef struct tscratch {
    void *p;
    size_t n;
} tscratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *v) {
    tscratch *s = v;
    free(s->p);
    free(s);
}
static void scratch_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

void *mc_cpu_thread_scratch(size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok) return NULL;
    tscratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        if (pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (bytes <= s->n) return s->p;
    free(s->p);
    s->n = 0;
    s->p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!s->p) return NULL;
    s->n = bytes;
    return s->p;
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* threads for `pieces` pieces of work */
static int threads_for(const mc_cpu *cpu, size_t pieces) {
    size_t t = (size_t)cpu->threads < pieces ? (size_t)cpu->threads : pieces;
    return t < 1 ? 1 : (int)t;
}

#define SUM_BLOCK 4096
void mc_cpu_sum_into(const mc_cpu *cpu, float *a, const float *parts, size_t stride, int np, size_t n) {
    if (np <= 0 || n == 0) return;
    const size_t nb = (n + SUM_BLOCK - 1) / SUM_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, nb))
    for (size_t b = 0; b < nb; b++) {
        const size_t i0 = b * SUM_BLOCK, len = n - i0 < SUM_BLOCK ? n - i0 : SUM_BLOCK;
        float *restrict ab = a + i0;
        for (int c = 0; c < np; c++) {
            const float *restrict pb = parts + stride * (size_t)c + i0;
            for (size_t i = 0; i < len; i++) ab[i] += pb[i];
        }
    }
}

/* the arena from float off on (NULL while the arena is empty: then nothing is used) */
static float *slot(const mc_cpu_arena *a, size_t off) { return a->p ? a->p + off : NULL; }

/* y = beta*y (beta 0 clears, so that NaN garbage never leaks in) */
static void scale_out(float *y, size_t n, float beta) {
    if (beta == 1.0f) return;
    if (beta == 0.0f) {
        memset(y, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] *= beta;
}

/* a worker thread's GEMM result: a failure (no packing scratch) kept for the backend to report */
static void gemm_result(const mc_cpu *cpu, int r) {
    if (r != MC_OK) __atomic_store_n(&((mc_cpu *)cpu)->gemm_fail, 1, __ATOMIC_RELAXED);
}

/* single-threaded GEMM (the caller's thread): in bf16 mode the bf16 GEMM (cpu/gemm_bf16.c), else
 * the own float32 GEMM on AVX2 and AVX-512 CPUs (cpu/gemm_f32.c) or OpenBLAS's sgemm; a failure to get
 * packing scratch is recorded in cpu->gemm_fail and reported by the backend after the operation */
void mc_cpu_gemm1(const mc_cpu *cpu, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < m; i++) scale_out(c + (size_t)i * ldc, (size_t)n, beta);
        return;
    }
    if (cpu->bf16 || cpu->own_gemm) {
        gemm_result(cpu, cpu->bf16 ? mc_cpu_bf16_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
                                   : mc_cpu_f32_gemm(cpu->own_gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                                                     ldc));
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void mc_cpu_gemm1_pa(const mc_cpu *cpu, const mc_cpu_f32_pa *pa, const float *ap, int n, float alpha,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    gemm_result(cpu, mc_cpu_f32_gemm_pa(pa, ap, n, alpha, b, ldb, beta, c, ldc));
}
/* Pieces of about 1/MC_CPU_WAYS of the product, cut along the longer side of C at multiples of
 * 16 columns or 8 rows (never along k); small products in one piece. */
void mc_cpu_gemm(const mc_cpu *cpu, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (2.0 * m * n * (k > 0 ? k : 1) < 4e6 || (m < 16 && n < 32)) {
        mc_cpu_gemm1(cpu, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int split_n = n >= m, len = split_n ? n : m, unit = split_n ? 16 : 8;
    const int q = (len + MC_CPU_WAYS * unit - 1) / (MC_CPU_WAYS * unit) * unit, np = (len + q - 1) / q;
    const int T = cpu->threads < np ? cpu->threads : np;
#pragma omp parallel for schedule(static) num_threads(T)
    for (int i = 0; i < np; i++) {
        const int j0 = i * q, j1 = j0 + q < len ? j0 + q : len;
        if (split_n)
            mc_cpu_gemm1(cpu, ta, tb, m, j1 - j0, k, alpha, a, lda, b + (tb ? (size_t)j0 * ldb : (size_t)j0), ldb, beta,
                         c + j0, ldc);
        else
            mc_cpu_gemm1(cpu, ta, tb, j1 - j0, n, k, alpha, a + (ta ? (size_t)j0 : (size_t)j0 * lda), lda, b, ldb, beta,
                         c + (size_t)j0 * ldc, ldc);
    }
}

/* ---- im2col / col2im of a block of output rows ------------------------------------------ */
static int conv_is_direct(const mc_conv_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* valid output columns [lo, hi) of kernel column j: 0 <= ox*sw - pw + j < w */
static void valid_cols(const mc_conv_desc *d, int j, int *lo, int *hi) {
    int a = d->pw - j, l = a > 0 ? (a + d->sw - 1) / d->sw : 0;
    int b = d->w - 1 + d->pw - j, u = b >= 0 ? b / d->sw + 1 : 0;
    if (u > d->ow) u = d->ow;
    if (l > u) l = u;
    *lo = l;
    *hi = u;
}

/* col[r*ldc + (oy-oy0)*ow + ox] = x[ci][oy*sh - ph + i][ox*sw - pw + j] (0 outside) for
 * r = (ci*kh + i)*kw + j, ci < cg, oy in [oy0, oy1). x: (cg, h, w) */
static void im2col_rows(const mc_cpu *cpu, const mc_conv_desc *d, int cg, const float *x, int oy0, int oy1,
                        float *col, size_t ldc) {
    const int h = d->h, w = d->w, ow = d->ow;
    for (int ci = 0; ci < cg; ci++) {
        const float *xc = x + (size_t)ci * h * w;
        for (int i = 0; i < d->kh; i++)
            for (int j = 0; j < d->kw; j++) {
                float *dst = col + (size_t)((ci * d->kh + i) * d->kw + j) * ldc;
                int lo, hi;
                valid_cols(d, j, &lo, &hi);
                for (int oy = oy0; oy < oy1; oy++, dst += ow) {
                    int iy = oy * d->sh - d->ph + i;
                    if (iy < 0 || iy >= h || lo >= hi) {
                        memset(dst, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *src = xc + (size_t)iy * w + (lo * d->sw - d->pw + j);
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    if (d->sw == 1)
                        memcpy(dst + lo, src, (size_t)(hi - lo) * sizeof(float));
                    else if (d->sw == 2 && cpu->simd)
                        (cpu->simd == MC_F32_AVX512 ? mc_cpu_gather2_512 : mc_cpu_gather2_256)(src, hi - lo, dst + lo);
                    else
                        for (int q = 0; q < hi - lo; q++) dst[lo + q] = src[(size_t)q * d->sw];
                    for (int ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
                }
            }
    }
}

/* the adjoint: x[ci][iy][ix] += col[...] */
static void col2im_rows(const mc_cpu *cpu, const mc_conv_desc *d, int cg, const float *col, size_t ldc, int oy0,
                        int oy1, float *x) {
    const int h = d->h, w = d->w, ow = d->ow;
    for (int ci = 0; ci < cg; ci++) {
        float *xc = x + (size_t)ci * h * w;
        for (int i = 0; i < d->kh; i++)
            for (int j = 0; j < d->kw; j++) {
                const float *src = col + (size_t)((ci * d->kh + i) * d->kw + j) * ldc;
                int lo, hi;
                valid_cols(d, j, &lo, &hi);
                for (int oy = oy0; oy < oy1; oy++, src += ow) {
                    int iy = oy * d->sh - d->ph + i;
                    if (iy < 0 || iy >= h || lo >= hi) continue;
                    float *dst = xc + (size_t)iy * w + (lo * d->sw - d->pw + j);
                    const float *s = src + lo;
                    const int n = hi - lo;
                    if (d->sw == 1)
                        for (int q = 0; q < n; q++) dst[q] += s[q];
                    else if (d->sw == 2 && cpu->simd == MC_F32_AVX512)
                        mc_cpu_scatter2_add512(s, n, dst);
                    else
                        for (int q = 0; q < n; q++) dst[(size_t)q * d->sw] += s[q];
                }
            }
    }
}


/* bf16 mode bypasses Winograd: its GEMMs would round the transformed tiles, not the data, to
 * bf16; direct bf16 convolutions round exactly what PyTorch's autocast rounds (the input, the
 * weights, the output gradient) */
static int use_winograd(const mc_cpu *cpu, const mc_conv_desc *d) {
    return cpu->winograd && !cpu->bf16 && mc_cpu_wino_ok(d);
}

/* ---- the plan ------------------------------------------------------------------------- */
typedef struct conv_plan {
    int direct;    /* 1x1 stride 1 unpadded: the input is the column matrix */
    int fold;      /* images per tile; > 1: batch-folded tiles of whole images */
    int rows;      /* output rows per tile (fold == 1) */
    int tpi;       /* tiles per image (fold == 1) */
    int ntiles;
    size_t cols;   /* columns of the largest tile */
    int cg, kg, kdim;
    size_t hw, ohw;
    size_t per_thread; /* scratch floats per thread: col (kdim x cols) [+ pack (kg x cols)] */
} conv_plan;

/* From the shape only, cut for P = MC_CPU_WAYS threads whatever the backend's count. */
static void make_plan(const mc_conv_desc *d, conv_plan *p) {
    memset(p, 0, sizeof *p);
    const int N = d->n, P = MC_CPU_WAYS;
    p->direct = conv_is_direct(d);
    p->cg = d->c / d->groups;
    p->kg = d->k / d->groups;
    p->kdim = p->cg * d->kh * d->kw;
    p->hw = (size_t)d->h * d->w;
    p->ohw = (size_t)d->oh * d->ow;
    if (p->ohw >= MC_CONV_TILE || N < P || N <= 1) {
        p->fold = 1;
        int rows = p->direct ? d->oh : (MC_CONV_TILE / d->ow > 1 ? MC_CONV_TILE / d->ow : 1);
        if (N < P) { /* fewer images than P: cut images so that there are about P tiles */
            int per = (P + N - 1) / (N > 0 ? N : 1), r = (d->oh + per - 1) / per;
            if (r < rows) rows = r;
        }
        if (rows > d->oh) rows = d->oh;
        if (rows < 1) rows = 1;
        p->rows = rows;
        p->tpi = (d->oh + rows - 1) / rows;
        p->ntiles = N * p->tpi;
        p->cols = (size_t)rows * d->ow;
        p->per_thread = p->direct ? 0 : round16((size_t)p->kdim * p->cols);
    } else {
        /* whole images, `fold` per tile, the same number of tiles for each of P threads */
        int per = (N + P - 1) / P, want = (int)((MC_CONV_TILE + p->ohw - 1) / p->ohw);
        int tpt = (per + want - 1) / want;
        p->fold = (per + tpt - 1) / tpt;
        p->rows = d->oh;
        p->tpi = 1;
        p->ntiles = (N + p->fold - 1) / p->fold;
        p->cols = (size_t)p->fold * p->ohw;
        p->per_thread = round16((size_t)p->kdim * p->cols) + round16((size_t)p->kg * p->cols);
    }
}

/* tile t: images [*n0, *n1), output rows [*oy0, *oy1) */
static void tile_at(const conv_plan *p, const mc_conv_desc *d, int t, int *n0, int *n1, int *oy0,
                    int *oy1) {
    if (p->fold == 1) {
        *n0 = t / p->tpi;
        *n1 = *n0 + 1;
        *oy0 = (t % p->tpi) * p->rows;
        *oy1 = *oy0 + p->rows < d->oh ? *oy0 + p->rows : d->oh;
    } else {
        *n0 = t * p->fold;
        *n1 = *n0 + p->fold < d->n ? *n0 + p->fold : d->n;
        *oy0 = 0;
        *oy1 = d->oh;
    }
}

/* part t of nt of [0, count) (for threads taking pieces, and chunk c of a reduction) */
static void part(int count, int t, int nt, int *a, int *b) {
    *a = (int)((long)count * t / nt);
    *b = (int)((long)count * (t + 1) / nt);
}

/* ---- forward ---------------------------------------------------------------------------- */
int mc_cpu_conv_fwd(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *w, float beta,
                    float *y) {
    if (use_winograd(cpu, d)) return mc_cpu_wino_fwd(cpu, d, x, w, beta, y);
    conv_plan p;
    make_plan(d, &p);
    const int T = threads_for(cpu, p.ntiles);
    mc_cpu_arena *ar = &cpu->arena;
    MC_TRY(mc_cpu_arena_reserve(cpu, p.per_thread * (size_t)T));
    const int G = d->groups, cg = p.cg, kg = p.kg, kdim = p.kdim, ow = d->ow;
    const size_t hw = p.hw, ohw = p.ohw;
    mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX] __attribute__((aligned(64)));
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        float *col = slot(ar, p.per_thread * (size_t)t);
        float *out = slot(ar, p.per_thread * (size_t)t + round16((size_t)kdim * p.cols));
        mc_cpu_steal it; /* the tiles with work stealing: a tile's output is the same whoever computes it */
        mc_cpu_steal_begin(&it, slots, p.ntiles);
        for (long tl; (tl = mc_cpu_steal_next(&it)) >= 0;) {
            const int ti = (int)tl;
            int n0, n1, oy0, oy1;
            tile_at(&p, d, ti, &n0, &n1, &oy0, &oy1);
            for (int g = 0; g < G; g++) {
                const float *wg = w + (size_t)g * kg * kdim;
                if (p.fold == 1) {
                    const float *xg = x + ((size_t)n0 * d->c + (size_t)g * cg) * hw;
                    float *yg = y + ((size_t)n0 * d->k + (size_t)g * kg) * ohw + (size_t)oy0 * ow;
                    int cols = (oy1 - oy0) * ow;
                    if (p.direct) {
                        mc_cpu_gemm1(cpu, 0, 0, kg, cols, kdim, 1.0f, wg, kdim, xg + (size_t)oy0 * ow, (int)hw, beta,
                                     yg, (int)ohw);
                    } else {
                        im2col_rows(cpu, d, cg, xg, oy0, oy1, col, (size_t)cols);
                        mc_cpu_gemm1(cpu, 0, 0, kg, cols, kdim, 1.0f, wg, kdim, col, cols, beta, yg, (int)ohw);
                    }
                } else {
                    const int nb = n1 - n0, cols = nb * (int)ohw;
                    for (int j = 0; j < nb; j++)
                        im2col_rows(cpu, d, cg, x + ((size_t)(n0 + j) * d->c + (size_t)g * cg) * hw, 0, d->oh,
                                    col + (size_t)j * ohw, (size_t)cols);
                    mc_cpu_gemm1(cpu, 0, 0, kg, cols, kdim, 1.0f, wg, kdim, col, cols, 0.0f, out, cols);
                    for (int j = 0; j < nb; j++)
                        for (int k = 0; k < kg; k++) {
                            float *dst = y + ((size_t)(n0 + j) * d->k + (size_t)g * kg + k) * ohw;
                            const float *src = out + (size_t)k * cols + (size_t)j * ohw;
                            if (beta == 0.0f)
                                memcpy(dst, src, ohw * sizeof(float));
                            else
                                for (size_t q = 0; q < ohw; q++) dst[q] = src[q] + beta * dst[q];
                        }
                }
            }
        }
    }
    return MC_OK;
}

/* ---- backward-data ---------------------------------------------------------------------- */
/* dy of images [n0, n1), group g, into the packed (kg x nb*ohw) matrix */
static void pack_dy(const conv_plan *p, const mc_conv_desc *d, const float *dy, int n0, int n1, int g,
                    float *pk) {
    const size_t ohw = p->ohw, cols = (size_t)(n1 - n0) * ohw;
    for (int j = 0; j < n1 - n0; j++)
        for (int k = 0; k < p->kg; k++)
            memcpy(pk + (size_t)k * cols + (size_t)j * ohw,
                   dy + ((size_t)(n0 + j) * d->k + (size_t)g * p->kg + k) * ohw, ohw * sizeof(float));
}

int mc_cpu_conv_bwd_data(mc_cpu *cpu, const mc_conv_desc *d, const float *dy, const float *w, float beta,
                         float *dx) {
    if (use_winograd(cpu, d)) return mc_cpu_wino_bwd_data(cpu, d, dy, w, beta, dx);
    conv_plan p;
    make_plan(d, &p);
    const int G = d->groups, cg = p.cg, kg = p.kg, kdim = p.kdim, ow = d->ow, N = d->n;
    const int kk = d->kh * d->kw;
    const size_t hw = p.hw, ohw = p.ohw;
    /* the pieces: batch-folded tiles; whole images; or, with fewer images than MC_CPU_WAYS,
     * (image, range of input channels) — disjoint parts of dx each */
    const int by_channel = p.fold == 1 && N < MC_CPU_WAYS;
    int cparts = 1;
    if (by_channel) {
        cparts = (MC_CPU_WAYS + N - 1) / N;
        if (cparts > cg) cparts = cg;
    }
    const int pieces = p.fold > 1 ? p.ntiles : N * cparts;
    const int T = threads_for(cpu, pieces);
    mc_cpu_arena *ar = &cpu->arena;
    MC_TRY(mc_cpu_arena_reserve(cpu, p.per_thread * (size_t)T));
    mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX] __attribute__((aligned(64)));
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        float *col = slot(ar, p.per_thread * (size_t)t);
        float *pk = slot(ar, p.per_thread * (size_t)t + round16((size_t)kdim * p.cols));
        mc_cpu_steal it; /* the pieces (disjoint parts of dx) with work stealing */
        mc_cpu_steal_begin(&it, slots, pieces);
        if (p.fold > 1) {
            for (long tl; (tl = mc_cpu_steal_next(&it)) >= 0;) {
                const int ti = (int)tl;
                int n0, n1, oy0, oy1;
                tile_at(&p, d, ti, &n0, &n1, &oy0, &oy1);
                const int nb = n1 - n0, cols = nb * (int)ohw;
                for (int g = 0; g < G; g++) {
                    pack_dy(&p, d, dy, n0, n1, g, pk);
                    mc_cpu_gemm1(cpu, 1, 0, kdim, cols, kg, 1.0f, w + (size_t)g * kg * kdim, kdim, pk, cols, 0.0f, col,
                                 cols);
                    for (int j = 0; j < nb; j++) {
                        float *dxg = dx + ((size_t)(n0 + j) * d->c + (size_t)g * cg) * hw;
                        scale_out(dxg, (size_t)cg * hw, beta);
                        col2im_rows(cpu, d, cg, col + (size_t)j * ohw, (size_t)cols, 0, d->oh, dxg);
                    }
                }
            }
        } else {
            for (long pl; (pl = mc_cpu_steal_next(&it)) >= 0;) {
                const int pi = (int)pl, n = pi / cparts, cj = pi % cparts;
                int c0, c1;
                part(cg, cj, cparts, &c0, &c1);
                const int nc = c1 - c0;
                if (nc <= 0) continue;
                for (int g = 0; g < G; g++) {
                    const float *wg = w + (size_t)g * kg * kdim + (size_t)c0 * kk; /* rows c0*kk.. of w^T */
                    const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kg) * ohw;
                    float *dxg = dx + ((size_t)n * d->c + (size_t)g * cg + c0) * hw;
                    if (p.direct) {
                        mc_cpu_gemm1(cpu, 1, 0, nc, (int)ohw, kg, 1.0f, wg, kdim, dyg, (int)ohw, beta, dxg, (int)hw);
                        continue;
                    }
                    scale_out(dxg, (size_t)nc * hw, beta);
                    for (int oy0 = 0; oy0 < d->oh; oy0 += p.rows) {
                        int oy1 = oy0 + p.rows < d->oh ? oy0 + p.rows : d->oh, cols = (oy1 - oy0) * ow;
                        mc_cpu_gemm1(cpu, 1, 0, nc * kk, cols, kg, 1.0f, wg, kdim, dyg + (size_t)oy0 * ow, (int)ohw,
                                     0.0f, col, cols);
                        col2im_rows(cpu, d, nc, col, (size_t)cols, oy0, oy1, dxg);
                    }
                }
            }
        }
    }
    return MC_OK;
}

/* ---- backward-filter -------------------------------------------------------------------- */
/* The sum over tiles, in mc_cpu_chunks chunks of consecutive tiles: chunk 0 sums into dw
 * (blended with beta), chunk c > 0 into its own copy; then dw = ((dw + copy 1) + copy 2) + ... */
int mc_cpu_conv_bwd_filter(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *dy, float beta,
                           float *dw) {
    if (use_winograd(cpu, d)) return mc_cpu_wino_bwd_filter(cpu, d, x, dy, beta, dw);
    conv_plan p;
    make_plan(d, &p);
    const size_t nw = (size_t)d->k * p.kdim, nw16 = round16(nw);
    const int CH = mc_cpu_chunks((size_t)p.ntiles, nw);
    const int T = threads_for(cpu, CH);
    mc_cpu_arena *ar = &cpu->arena;
    /* per thread its scratch, then the chunks' copies of dW */
    MC_TRY(mc_cpu_arena_reserve(cpu, p.per_thread * (size_t)T + nw16 * (size_t)(CH - 1)));
    const int G = d->groups, cg = p.cg, kg = p.kg, kdim = p.kdim, ow = d->ow;
    const size_t hw = p.hw, ohw = p.ohw;
    float *copies = slot(ar, p.per_thread * (size_t)T);
    mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX] __attribute__((aligned(64)));
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        float *col = slot(ar, p.per_thread * (size_t)t);
        float *pk = slot(ar, p.per_thread * (size_t)t + round16((size_t)kdim * p.cols));
        mc_cpu_steal it; /* the chunks with work stealing: a chunk's sum is the same whoever computes it */
        mc_cpu_steal_begin(&it, slots, CH);
        for (long cl; (cl = mc_cpu_steal_next(&it)) >= 0;) {
            const int c = (int)cl;
            float *acc = c == 0 ? dw : copies + nw16 * (size_t)(c - 1);
            int ta, tb;
            part(p.ntiles, c, CH, &ta, &tb);
            if (ta == tb) scale_out(acc, nw, c == 0 ? beta : 0.0f);
            for (int ti = ta; ti < tb; ti++) {
                int n0, n1, oy0, oy1;
                tile_at(&p, d, ti, &n0, &n1, &oy0, &oy1);
                /* the first product overwrites a copy; chunk 0 blends with beta */
                const float b = ti > ta ? 1.0f : (c == 0 ? beta : 0.0f);
                for (int g = 0; g < G; g++) {
                    float *accg = acc + (size_t)g * kg * kdim;
                    if (p.fold == 1) {
                        const float *xg = x + ((size_t)n0 * d->c + (size_t)g * cg) * hw;
                        const float *dyg = dy + ((size_t)n0 * d->k + (size_t)g * kg) * ohw + (size_t)oy0 * ow;
                        int cols = (oy1 - oy0) * ow;
                        if (p.direct) {
                            mc_cpu_gemm1(cpu, 0, 1, kg, kdim, cols, 1.0f, dyg, (int)ohw, xg + (size_t)oy0 * ow, (int)hw,
                                         b, accg, kdim);
                        } else {
                            im2col_rows(cpu, d, cg, xg, oy0, oy1, col, (size_t)cols);
                            mc_cpu_gemm1(cpu, 0, 1, kg, kdim, cols, 1.0f, dyg, (int)ohw, col, cols, b, accg, kdim);
                        }
                    } else {
                        const int nb = n1 - n0, cols = nb * (int)ohw;
                        for (int j = 0; j < nb; j++)
                            im2col_rows(cpu, d, cg, x + ((size_t)(n0 + j) * d->c + (size_t)g * cg) * hw, 0, d->oh,
                                        col + (size_t)j * ohw, (size_t)cols);
                        pack_dy(&p, d, dy, n0, n1, g, pk);
                        mc_cpu_gemm1(cpu, 0, 1, kg, kdim, cols, 1.0f, pk, cols, col, cols, b, accg, kdim);
                    }
                }
            }
        }
    }
    mc_cpu_sum_into(cpu, dw, copies, nw16, CH - 1, nw);
    return MC_OK;
}
