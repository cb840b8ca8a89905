/* cpu/conv.h — the CPU backend's state, convolution engine and GEMM (internal to
 * cpu/backend_cpu.c, cpu/conv.c and cpu/winograd.c).
 *
 * Threads. The backend's thread count is its own (mc_cpu.threads, from mc_net_opts.threads):
 * every parallel region says num_threads(cpu->threads); nothing sets OpenMP's process-wide
 * default. One thread pool: OpenMP. Every GEMM (OpenBLAS's, or the own ones: cpu/gemm_f32.c,
 * cpu/gemm_bf16.c) is called single-threaded from inside our own parallel regions (OpenBLAS's
 * pthread pool and OpenMP's spinning workers on the same cores cost more than half of a step on
 * a 2-core machine), so every parallel GEMM here splits the work itself.
 *
 * Results do not depend on the thread count. OpenBLAS's sgemm is not bitwise the same when a
 * product is cut differently (even cutting C's columns at multiples of 16 changes the last bits
 * of some elements: the kernels for the edges and for small sizes sum differently; the own
 * float32 GEMM of AVX-512 CPUs, cpu/gemm_f32.c, is, but the plans do not rely on that), so:
 * - every split of work is a function of the problem's shape only: the plans below are cut for
 *   MC_CPU_WAYS-way parallelism whatever the actual thread count, and threads just take pieces;
 * - every reduction over pieces (backward-filter's sum over tiles) is cut into chunks whose
 *   count depends on the shape only (mc_cpu_chunks), each summed in order into its own partial
 *   result, the partial results then added in chunk order. Memory: a bounded number of
 *   partial results, whatever the thread count.
 * Everything else in the backend (batch norm, bias gradient, loss, pooling) gives each output
 * element to one thread, which sums in a fixed order.
 *
 * Convolutions are tiled GEMMs (docs/performance.md):
 * - the output columns (image, output row) are cut into tiles of about MC_CONV_TILE columns:
 *   several output rows of one image when the image is large, several whole images when it is
 *   small (batch folding: one GEMM over a few images instead of one per image);
 * - each thread im2cols its tile into its own small buffer (it stays in the L2/L3 cache) and
 *   runs one single-threaded GEMM on it; a 1x1 stride-1 convolution reads its input directly;
 * - backward-filter: the tiles in mc_cpu_chunks chunks, each summed into its own copy of dW;
 * - backward-data: whole images per piece (col2im of neighbouring tiles overlaps), or, with
 *   fewer images than MC_CPU_WAYS, ranges of input channels.
 * Scratch memory is the backend's arena (mc_cpu_arena), grown on first use and then kept: no
 * allocation per step.
 */
#ifndef MC_CPU_CONV_H
#define MC_CPU_CONV_H

#include <stdint.h>
#include "engine/backend.h"

typedef struct mc_cpu_arena {
    float *p; /* n floats (an anonymous mapping: mc_cpu_map) */
    size_t n;
} mc_cpu_arena;

/* The CPU backend's state (be->ctx). */
typedef struct mc_cpu {
    int threads;        /* OpenMP threads of every parallel region (>= 1) */
    int winograd;       /* 0: off; 2: Winograd F(2x2, 3x3), 4: F(4x4, 3x3) for the 3x3 stride-1
                           convolutions that qualify */
    int bf16;           /* 1: bf16 mode: every GEMM is mc_cpu_bf16_gemm, Winograd is bypassed */
    int own_gemm;       /* float32 GEMMs: mc_cpu_f32_gemm at this level (MC_F32_AVX512 or
                           MC_F32_AVX2), or 0: OpenBLAS's */
    int simd;           /* the row kernels beside the own GEMM (mc_cpu_f32_level, whatever
                           MC_CPU_GEMM says): MC_F32_AVX512 — F(2x2, 3x3)'s transforms
                           (cpu/winograd_avx512.c), the stride-2 rows of im2col, col2im and max
                           pooling (cpu/strided_avx512.c), the bias gradient's sums
                           (cpu/sums_avx512.c); MC_F32_AVX2 — the same at 8 lanes but col2im's
                           (cpu/winograd_avx2.c, cpu/strided_avx2.c); 0 — the portable loops. Each
                           gives the portable loops' bits (the tests set it to compare) */
    int hugepages;      /* 1: large buffers ask for transparent huge pages (mc_cpu_map); the
                           environment variable MC_CPU_HUGEPAGES=0 turns it off, for comparisons */
    int gemm_fail;      /* set by a thread whose bf16 or own float32 GEMM found no scratch memory */
    mc_cpu_arena arena; /* convolution scratch */
} mc_cpu;

/* The parallelism the plans are cut for (a constant: results must not depend on the thread
 * count). A small layer is cut into at least about this many pieces; large layers have many
 * more tiles anyway. */
#define MC_CPU_WAYS 4
/* Reductions: at most this many chunks, and partial results of at most about
 * MC_CPU_REDUCE_FLOATS floats in all (but always at least 2 chunks when there are 2 items). */
#define MC_CPU_MAX_CHUNKS 16
#define MC_CPU_REDUCE_FLOATS ((size_t)8 << 20)

/* Large buffers (layer outputs, gradients, the arena): an anonymous mapping of `bytes` bytes,
 * zero pages that take memory only where written; with hugepages, madvise(MADV_HUGEPAGE) asks
 * for transparent huge pages where the system leaves that to the program (the usual "madvise"
 * setting): the convolutions' transforms and GEMMs stride through tens of MB, and 2 MB pages
 * spare them most TLB misses (3-4 % of the PixelShuffle color step here; docs/performance.md).
 * NULL with a message naming `what` on failure. mc_cpu_unmap(p, bytes) releases it. */
void *mc_cpu_map(size_t bytes, int hugepages, const char *what);
void mc_cpu_unmap(void *p, size_t bytes);

/* Makes the backend's arena at least n floats (contents not kept; huge pages as cpu->hugepages);
 * MC_ENOMEM with a message on failure. */
int mc_cpu_arena_reserve(mc_cpu *cpu, size_t n);
void mc_cpu_arena_free(mc_cpu_arena *a);

/* Chunks of a reduction over `items` ordered items with partial results of `nw` floats: a
 * power of two <= MC_CPU_MAX_CHUNKS and <= items, from the shape only. Chunk c holds items
 * [c*items/chunks, (c+1)*items/chunks). */
int mc_cpu_chunks(size_t items, size_t nw);

/* Work stealing from the tail, for the parallel loops over independent pieces (tiles, blocks,
 * chunks of a reduction: which thread computes a piece changes no bit). Thread t of T owns the
 * pieces [count t / T, count (t + 1) / T), its rows in its own caches, and takes them from the
 * front; once done it takes the last untaken pieces of the others' shares, one at a time. A
 * share's untaken pieces [front, back) are one 64-bit word changed by compare-and-swap, a cache
 * line per thread. Why: on a shared host a core is sometimes slowed for a while and the static
 * halves finished up to ~6 % apart, the faster thread then waiting (docs/performance.md). */
#define MC_CPU_STEAL_MAX 256
typedef struct {
    uint64_t fb; /* front | back << 32, in pieces of the share */
    char pad[56];
} mc_cpu_steal_slot;
typedef struct {
    mc_cpu_steal_slot *slots; /* MC_CPU_STEAL_MAX of them, shared by the team; NULL: no stealing */
    long count;
    int t, T, u;               /* this thread, the team, the share taken from now */
    long own0, own1;           /* this thread's own share [own0, own1) */
    long a;                    /* no stealing: the next piece of the share */
} mc_cpu_steal;
/* Called by every thread of the team (a barrier inside, where slots != NULL): this thread's
 * iterator over `count` pieces. slots NULL or a team over MC_CPU_STEAL_MAX: the static share only. */
void mc_cpu_steal_begin(mc_cpu_steal *it, mc_cpu_steal_slot *slots, long count);
/* the next piece for this thread, or -1 when none is left anywhere */
long mc_cpu_steal_next(mc_cpu_steal *it);
/* The end of a chunked reduction: a[i] = ((a[i] + p_0[i]) + p_1[i]) + ... for the np partial
 * results p_c = parts + c * stride (n floats each), block by block (streams that stay in cache),
 * the blocks spread over the threads. */
void mc_cpu_sum_into(const mc_cpu *cpu, float *a, const float *parts, size_t stride, int np, size_t n);

/* Row-major C = alpha op(A) op(B) + beta C, cut into pieces by shape (a single-threaded GEMM on
 * each: mc_cpu_gemm1), the pieces spread over the backend's threads. */
void mc_cpu_gemm(const mc_cpu *cpu, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* The same on the caller's thread, whole: the bf16 GEMM in bf16 mode, else the own float32 GEMM
 * (cpu->own_gemm) or OpenBLAS's sgemm. A GEMM that found no memory for its packing sets
 * cpu->gemm_fail (the backend reports it after the operation). */
void mc_cpu_gemm1(const mc_cpu *cpu, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);

/* The calling thread's GEMM packing scratch of at least `bytes` bytes (64-byte aligned; contents
 * not kept when it grows), kept for the thread's life and freed when it ends; NULL when out of
 * memory. */
void *mc_cpu_thread_scratch(size_t bytes);

/* bf16 mode (cpu/gemm_bf16.c; docs/performance.md "bf16"). mc_bf16_round: float32 to bf16 bits,
 * round to nearest even, every NaN 0x7FC0 (PyTorch's conversion); mc_bf16_float: back (exact).
 * mc_cpu_bf16_available: 1 when the CPU has AVX512-F and AVX512-BF16 (the environment variable
 * MC_TEST_NO_BF16=1 pretends it has not, for tests of the refusal). mc_cpu_bf16_gemm: the
 * single-threaded row-major C = alpha op(A) op(B) + beta C with bf16-rounded operands and float32
 * accumulation, each element summed in increasing k whatever m and n; MC_ENOMEM (no message:
 * it runs on worker threads) when its scratch cannot be had, MC_EUNSUP where not compiled in. */
uint16_t mc_bf16_round(float f);
float mc_bf16_float(uint16_t h);
int mc_cpu_bf16_available(void);
int mc_cpu_bf16_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc);

/* The own float32 GEMM (cpu/gemm_f32.c, kernels in gemm_f32_avx512.c and gemm_f32_avx2.c).
 * mc_cpu_f32_level: the instruction set its kernels can use here: MC_F32_AVX512 (AVX-512 F and VL
 * with AVX2 and FMA), MC_F32_AVX2 (AVX2 with FMA) or 0 (neither: OpenBLAS does the work); the
 * environment variables MC_TEST_NO_AVX512=1 and MC_TEST_NO_AVX2=1 pretend the CPU lacks them.
 * The row kernels beside the GEMM take the same level (cpu->simd).
 * mc_cpu_f32_gemm: the single-threaded row-major C = alpha op(A) op(B) + beta C with the kernels
 * of `level`, k summed in blocks fixed by k alone (so each element's value does not depend on m,
 * n or how a product is cut), and the same bits at either level; MC_ENOMEM (no message: it runs
 * on worker threads) when its packing scratch cannot be had, MC_EUNSUP for a level not compiled
 * in (the CPU's level is the caller's business). */
enum { MC_F32_AVX2 = 1, MC_F32_AVX512 = 2 };
int mc_cpu_f32_level(void);
/* The level of the backend's float32 GEMMs: the own at mc_cpu_f32_level() where the CPU has one,
 * 0 for OpenBLAS's where it has not or where the environment variable MC_CPU_GEMM=openblas asks
 * for it (for comparisons); MC_CPU_GEMM=own insists on the own. -1 with *why set for any other
 * value, or for `own` on a CPU without AVX2 and FMA. */
int mc_cpu_own_gemm(const char **why);
int mc_cpu_f32_gemm(int level, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);
/* op(A) packed once for many products C = alpha op(A) B + beta C with the same A (the Winograd
 * transforms' U, for each block of tiles): mc_cpu_f32_pa_init fixes the level, A's m x k and the
 * micro-tile shape (the one mc_cpu_f32_gemm would take for n columns) and says how many floats
 * the packed A takes; mc_cpu_f32_pa_pack packs op(A) (ta: A^T) into them; mc_cpu_f32_gemm_pa
 * computes a product from them, bitwise what mc_cpu_f32_gemm gives for the same operands (the
 * same kernels, blocks of k and epilogue: only the packing is not repeated). */
typedef struct {
    int level, m, k, wide;
    size_t floats; /* of the packed A */
} mc_cpu_f32_pa;
int mc_cpu_f32_pa_init(mc_cpu_f32_pa *p, int level, int m, int k, int n);
void mc_cpu_f32_pa_pack(const mc_cpu_f32_pa *p, int ta, const float *a, int lda, float *out);
int mc_cpu_f32_gemm_pa(const mc_cpu_f32_pa *p, const float *pa, int n, float alpha, const float *b, int ldb,
                       float beta, float *c, int ldc);
/* mc_cpu_gemm1 for an A packed once (the own float32 GEMM only), its failure kept alike */
void mc_cpu_gemm1_pa(const mc_cpu *cpu, const mc_cpu_f32_pa *pa, const float *ap, int n, float alpha,
                     const float *b, int ldb, float beta, float *c, int ldc);

/* The three convolution primitives with the backend.h semantics (beta blends the output). */
int mc_cpu_conv_fwd(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *w, float beta,
                    float *y);
int mc_cpu_conv_bwd_data(mc_cpu *cpu, const mc_conv_desc *d, const float *dy, const float *w,
                         float beta, float *dx);
int mc_cpu_conv_bwd_filter(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *dy,
                           float beta, float *dw);

/* 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) or F(4x4, 3x3) (cpu/winograd.c; which: cpu->winograd):
 * whether d qualifies (3x3, stride 1, padding <= 2, no groups, >= 16 channels in and out), and
 * the three primitives with the semantics above. */
int mc_cpu_wino_ok(const mc_conv_desc *d);
int mc_cpu_wino_fwd(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *w, float beta,
                    float *y);
int mc_cpu_wino_bwd_data(mc_cpu *cpu, const mc_conv_desc *d, const float *dy, const float *w,
                         float beta, float *dx);
int mc_cpu_wino_bwd_filter(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *dy,
                           float beta, float *dw);

/* F(2x2, 3x3)'s filter transform in AVX-512 (cpu/winograd_avx512.c), bitwise winograd.c's: U = G g G^T
 * of 16 of the kc 3x3 filters at w (fewer at the end). */
void mc_cpu_wino_filter512(const float *w, size_t q0, size_t kc, size_t ldu, float *U); /* filters q0 .. q0 + 15 */
/* F(2x2, 3x3)'s block transforms in AVX-512 (cpu/winograd_avx512.c), where cpu->simd is
 * MC_F32_AVX512: one channel's plane for a whole block of tiles, 16 consecutive tiles of the block
 * per vector whatever tile rows or images they come from (row transforms, as AVX2's below, fill a
 * vector with one tile row's tiles only: 10 of 16 lanes on a 20 x 20 output, 5 on 10 x 10, and
 * split the vectors at every row end). The lanes of each vector are cut into runs of one tile
 * row each (winograd.c's block_lanes):
 *   n        the image,
 *   row      the first input row of the run's tiles (2 ty - pad; the output and output-gradient
 *            rows 2 ty and 2 ty + 1, pad 0),
 *   col      the column lane 0 would start at (2 tx0 - pad - 2 l0, l0 the run's first lane),
 *   k[s]     the positions q of 16 consecutive columns from col + (0, 16, 2, 18)[s] that belong
 *            to the run's lanes (lane q / 2) and lie inside the row [0, w).
 * Vector v's runs are run[first[v] .. first[v + 1] - 1]. The same bits as winograd.c's portable
 * row transforms (each lane the same operations on the same operands; tests/test_winograd_simd.c). */
typedef struct mc_cpu_wino_run {
    int n, row, col;
    unsigned short k[4];
} mc_cpu_wino_run;
typedef struct mc_cpu_wino_lanes {
    int nvec, nb;  /* vectors; tiles in the block (the last vector's lanes past nb not stored) */
    const int *first;
    const mc_cpu_wino_run *run;
} mc_cpu_wino_lanes;
/* in_block: V of channel plane x (image n at x + n img) of an h x w input into v (ldv apart);
 * [lo, hi) the tensor, which whole-vector loads may read beyond a run's columns. grad_block: E of
 * an oh x ow output-gradient plane g. out_block: A^T m A into output plane y, blended with beta. */
void mc_cpu_wino_in_block512(const float *x, const float *lo, const float *hi, size_t img, int h, int w,
                             const mc_cpu_wino_lanes *L, float *v, size_t ldv);
void mc_cpu_wino_grad_block512(const float *g, const float *lo, const float *hi, size_t img, int oh, int ow,
                               const mc_cpu_wino_lanes *L, float *e, size_t lde);
void mc_cpu_wino_out_block512(const float *m, size_t ldm, size_t img, int oh, int ow, const mc_cpu_wino_lanes *L,
                              float beta, float *y);
/* F(2x2, 3x3)'s row transforms at 8 tiles per AVX2 vector (cpu/winograd_avx2.c), bitwise winograd.c's
 * input_row, output_row and grad_row; where cpu->simd is MC_F32_AVX2. in_row: V[xi][q] (xi = 0..15,
 * ldv apart) of the tiles tx0 .. tx0 + cnt - 1 of tile row ty of one h x w plane padded by pad;
 * out_row: A^T m A of those tiles into output plane yk (oh x ow), blended with beta; grad_row:
 * A g A^T of the 2x2 tiles of an oh x ow output-gradient plane. */
void mc_cpu_wino_in_row256(const float *plane, int h, int w, int pad, int ty, int tx0, int cnt, float *v, size_t ldv);
void mc_cpu_wino_out_row256(const float *m, size_t ldm, int oh, int ow, int ty, int tx0, int cnt, float beta,
                            float *yk);
void mc_cpu_wino_grad_row256(const float *plane, int oh, int ow, int ty, int tx0, int cnt, float *e, size_t lde);

/* Stride-2 rows in AVX-512 (cpu/strided_avx512.c), bitwise the portable loops of cpu/conv.c and
 * cpu/backend_cpu.c; only where cpu->simd is MC_F32_AVX512. gather2: dst[q] = src[2q]; scatter2_add:
 * dst[2q] += s[q]; max2: acc[q] = (v > acc[q] || isnan(v)) ? v : acc[q] with v = src[2q]; each for
 * q < n (nothing outside src/dst[0 .. 2n - 2] read, no odd element written). maxpool3s2_bwd:
 * the backward of cnt <= 16 neighbouring 3x3 stride-2 max-pooling windows wholly inside the
 * plane (row length w; window l's top-left element x00[2l], its rows x00 + r w; only the columns
 * the windows cover are read): each window's gradient g16[l] added, in window order, to d00's
 * element at its first maximum m16[l] in scan order (the last NaN when m16[l] is NaN). */
/* The sum of hw floats as cpu_bias_bwd's portable loop sums them (eight double partial sums,
 * element j into sum j mod 8, added pairwise), in AVX-512 (cpu/sums_avx512.c); bitwise that loop's
 * result; only where cpu->simd is MC_F32_AVX512. */
double mc_cpu_plane_sum8_512(const float *p, int hw);

void mc_cpu_gather2_512(const float *src, int n, float *dst);
void mc_cpu_scatter2_add512(const float *s, int n, float *dst);
void mc_cpu_max2_512(const float *src, int n, float *acc);
void mc_cpu_maxpool3s2_bwd512(const float *x00, int w, int cnt, const float *m16, const float *g16, float *d00);
/* The 3x3 stride-2 max pooling's backward as a gather (cpu/backend_cpu.c: padding 1, beta 0).
 * codes512: the element maxpool3s2_bwd512 would add window l's gradient to, as k16[l] = 3 r + c
 * (row r, column c of the window), for cnt <= 16 windows as there. gather512: one input row of
 * w elements (w = 2 ow or 2 ow - 1), d[2b] and d[2b + 1] for b < ow (those below w), from the windows
 * whose row ra (0..2) it is (codes ka, gradients ga of window row a) and, when kb is not NULL,
 * from the next window row's (kb, gb; its row 0): each element the sum, in window order (row a's
 * windows b then b + 1, then row a + 1's), of the gradients whose code names it, from +0 — the
 * scatter's bits without zeroing the plane first. */
void mc_cpu_maxpool3s2_codes512(const float *x00, int w, int cnt, const float *m16, int32_t *k16);
void mc_cpu_maxpool3s2_gather512(const int32_t *ka, const float *ga, int ra, const int32_t *kb, const float *gb,
                                 int ow, int w, float *d);

/* The same at 8 lanes in AVX2 (cpu/strided_avx2.c; col2im's scatter excepted), bitwise the
 * portable loops; only where cpu->simd is MC_F32_AVX2 or more. maxpool3s2_bwd256 and
 * maxpool3s2_codes256 take up to 16 windows too. */
void mc_cpu_gather2_256(const float *src, int n, float *dst);
void mc_cpu_max2_256(const float *src, int n, float *acc);
void mc_cpu_maxpool3s2_bwd256(const float *x00, int w, int cnt, const float *m16, const float *g16, float *d00);
void mc_cpu_maxpool3s2_codes256(const float *x00, int w, int cnt, const float *m16, int32_t *k16);
void mc_cpu_maxpool3s2_gather256(const int32_t *ka, const float *ga, int ra, const int32_t *kb, const float *gb,
                                 int ow, int w, float *d);
double mc_cpu_plane_sum8_256(const float *p, int hw);

#endif
