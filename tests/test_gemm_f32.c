/* test_gemm_f32.c — the CPU backend's own float32 GEMM (cpu/gemm_f32.c; docs/performance.md).
 *
 * Checked here, for each instruction set the CPU has (the AVX-512 kernels, the AVX2 ones):
 * - every transpose pair, shapes with partial micro-tiles (m not a multiple of 8, n not of 48;
 *   both micro-tile shapes: 8 x 48, and 4 x 64 where n is a multiple of 64 but not of 48, and
 *   every narrower instance the last strip takes (8 x 16, 8 x 32; 4 x 16 .. 4 x 48: n mod 48 or
 *   64 of 1, 22, 36, 24, 58 among the shapes); B read in place for k <= 64 and packed otherwise),
 *   k across several blocks of 256, leading dimensions larger than the rows, alpha and beta
 *   (beta 0 with C full of NaN: it must never be read): against the sum in double, within
 *   the bound of float rounding below; nothing written outside the m x n block;
 * - its promise to the callers (cpu/conv.h): an element's value does not depend on m, n or where
 *   the product is cut, so a product computed in pieces (rows, columns, at any offset) is bitwise
 *   the product computed whole;
 * - NaN and inf propagate; k = 0 gives beta C;
 * - op(A) packed once (mc_cpu_f32_pa, for the Winograd forward's U) with either micro-tile shape:
 *   products of any n bitwise those of mc_cpu_f32_gemm, the packing within its stated size;
 * - the AVX2 and AVX-512 kernels give the same bits on every shape, transpose pair, alpha and beta
 *   (memcmp): what a run computes does not depend on which of the two the CPU has;
 * - the backend's choice: the AVX-512 kernels where the CPU has them, the AVX2 ones with
 *   MC_TEST_NO_AVX512=1 (bitwise the same), OpenBLAS's sgemm with MC_TEST_NO_AVX2=1 (within
 *   rounding); MC_CPU_GEMM's values and refusals.
 * On a CPU without AVX2 and FMA no kernel can run: the test reports itself skipped; without
 * AVX-512, the AVX2 part runs and the AVX-512 part and the comparison report themselves skipped.
 *
 * Tolerance: each k block of at most KC = 256 products is one chain of fused multiply-adds, and
 * the blocks are added in order, so the rounding error is at most about (KC + k/KC + 2) u of the
 * sum of |terms| (u = 2^-24; the usual bound for a recursive sum, with alpha and beta's roundings).
 * That is the limit used, element by element; random data stays far below it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/conv.h"
#include "engine/backend.h"
#include "test.h"
#include "gemm_case.h"

#define U32 5.960464477539063e-08 /* 2^-24 */
#define KC 256

#define fill_random gemm_case_fill

static double max_excess; /* the largest |err| / bound seen (printed) */
static int level;         /* the kernels under test: MC_F32_AVX512 or MC_F32_AVX2 */

/* C = alpha op(A) op(B) + beta C0 against double, element by element within the bound */
static void check_gemm(int ta, int tb, int m, int n, int k, float alpha, float beta, mc_rng *r) {
    gemm_case g;
    gemm_case_make(&g, ta, tb, m, n, k, beta, r);
    int rc = mc_cpu_f32_gemm(level, ta, tb, m, n, k, alpha, g.a, g.lda, g.b, g.ldb, beta, g.c, g.ldc);
    CHECK(rc == MC_OK, "gemm rc %d", rc);
    int bad = 0;
    const double nblocks = (k + KC - 1) / KC;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, sabs = 0;
            for (int q = 0; q < k; q++) {
                double t = (double)gemm_case_a(&g, i, q) * (double)gemm_case_b(&g, q, j);
                s += t;
                sabs += fabs(t);
            }
            double cold = beta == 0.0f ? 0.0 : (double)g.c0[(size_t)i * g.ldc + j];
            double want = (double)alpha * s + (double)beta * cold, got = g.c[(size_t)i * g.ldc + j];
            double bound = ((k < KC ? k : KC) + nblocks + 2) * U32 *
                               (fabs((double)alpha) * sabs + fabs((double)beta) * fabs(cold)) +
                           1e-30;
            double err = fabs(got - want);
            if (err / bound > max_excess) max_excess = err / bound;
            if (!(err <= bound) && bad++ < 3)
                CHECK(0, "gemm ta=%d tb=%d %dx%dx%d alpha %g beta %g: C[%d][%d] = %.9g, want %.9g (bound %.3g)", ta, tb, m,
                      n, k, (double)alpha, (double)beta, i, j, got, want, bound);
        }
    CHECK(!bad, "gemm ta=%d tb=%d %dx%dx%d: %d elements beyond the bound", ta, tb, m, n, k, bad);
    gemm_case_check_padding(&g, "gemm");
    gemm_case_free(&g);
}

/* the product whole, then in pieces of rows and of columns at odd offsets: bitwise the same */
static void check_pieces(int ta, int tb, int m, int n, int k, float beta, mc_rng *r) {
    const int lda = ta ? m : k, ldb = tb ? k : n;
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
    float *c0 = malloc(sizeof(float) * (size_t)m * n), *whole = malloc(sizeof(float) * (size_t)m * n),
          *part = malloc(sizeof(float) * (size_t)m * n);
    REQUIRE(a && b && c0 && whole && part, "alloc");
    fill_random(a, (size_t)m * k, r);
    fill_random(b, (size_t)k * n, r);
    fill_random(c0, (size_t)m * n, r);
    memcpy(whole, c0, sizeof(float) * (size_t)m * n);
    REQUIRE(mc_cpu_f32_gemm(level, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, whole, n) == MC_OK, "gemm");
    static const int cuts[] = {1, 7, 8, 13, 48, 50, 97};
    for (int by_rows = 0; by_rows < 2; by_rows++) {
        memcpy(part, c0, sizeof(float) * (size_t)m * n);
        const int len = by_rows ? m : n;
        int at = 0;
        for (int ci = 0; at < len; ci = (ci + 1) % 7) {
            const int w = len - at < cuts[ci] ? len - at : cuts[ci];
            if (by_rows)
                mc_cpu_f32_gemm(level, ta, tb, w, n, k, 1.0f, a + (ta ? (size_t)at : (size_t)at * lda), lda, b, ldb, beta,
                                part + (size_t)at * n, n);
            else
                mc_cpu_f32_gemm(level, ta, tb, m, w, k, 1.0f, a, lda, b + (tb ? (size_t)at * ldb : (size_t)at), ldb, beta,
                                part + at, n);
            at += w;
        }
        CHECK(!memcmp(part, whole, sizeof(float) * (size_t)m * n),
              "gemm ta=%d tb=%d %dx%dx%d cut into %s: not bitwise the whole product", ta, tb, m, n, k,
              by_rows ? "rows" : "columns");
    }
    free(a), free(b), free(c0), free(whole), free(part);
}

/* the same case at both levels: bitwise the same C (also where beta is 0 over NaN) */
static void check_levels(int ta, int tb, int m, int n, int k, float alpha, float beta, mc_rng *r) {
    gemm_case g;
    gemm_case_make(&g, ta, tb, m, n, k, beta, r);
    const size_t nc = (size_t)m * g.ldc;
    float *c2 = malloc(sizeof(float) * nc);
    REQUIRE(c2, "alloc");
    memcpy(c2, g.c0, sizeof(float) * nc);
    REQUIRE(mc_cpu_f32_gemm(MC_F32_AVX512, ta, tb, m, n, k, alpha, g.a, g.lda, g.b, g.ldb, beta, g.c, g.ldc) == MC_OK,
            "gemm");
    REQUIRE(mc_cpu_f32_gemm(MC_F32_AVX2, ta, tb, m, n, k, alpha, g.a, g.lda, g.b, g.ldb, beta, c2, g.ldc) == MC_OK,
            "gemm");
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < nc; i++)
        if (memcmp(g.c + i, c2 + i, sizeof(float)) && !differ++) first = i;
    CHECK(!differ, "gemm ta=%d tb=%d %dx%dx%d alpha %g beta %g: AVX2 and AVX-512 differ in %zu elements (first C[%zu][%zu]: %.9g vs %.9g)",
          ta, tb, m, n, k, (double)alpha, (double)beta, differ, first / g.ldc, first % g.ldc, (double)g.c[first],
          (double)c2[first]);
    free(c2);
    gemm_case_free(&g);
}

/* op(A) packed once (mc_cpu_f32_pa, the Winograd forward's U), the micro-tile shape fixed for
 * `nshape` columns, then products of n columns: bitwise mc_cpu_f32_gemm's, nothing written past n */
static void check_packed(int ta, int m, int n, int k, int nshape, float alpha, float beta, mc_rng *r) {
    gemm_case g;
    gemm_case_make(&g, ta, 0, m, n, k, beta, r);
    mc_cpu_f32_pa pa;
    REQUIRE(mc_cpu_f32_pa_init(&pa, level, m, k, nshape) == MC_OK, "pa_init");
    float *ap = malloc(sizeof(float) * (pa.floats + 1)), *want = malloc(sizeof(float) * (size_t)m * g.ldc);
    REQUIRE(ap && want, "alloc");
    ap[pa.floats] = 1234.5f; /* a guard: the packing stays within pa.floats */
    mc_cpu_f32_pa_pack(&pa, ta, g.a, g.lda, ap);
    CHECK(ap[pa.floats] == 1234.5f, "packed A %dx%d (ta=%d): wrote past its %zu floats", m, k, ta, pa.floats);
    memcpy(want, g.c0, sizeof(float) * (size_t)m * g.ldc);
    REQUIRE(mc_cpu_f32_gemm(level, ta, 0, m, n, k, alpha, g.a, g.lda, g.b, g.ldb, beta, want, g.ldc) == MC_OK, "gemm");
    int rc = mc_cpu_f32_gemm_pa(&pa, ap, n, alpha, g.b, g.ldb, beta, g.c, g.ldc);
    CHECK(rc == MC_OK, "gemm_pa rc %d", rc);
    CHECK(!memcmp(want, g.c, sizeof(float) * (size_t)m * g.ldc),
          "packed A, ta=%d %dx%dx%d (shape for n = %d) alpha %g beta %g: not bitwise mc_cpu_f32_gemm's", ta, m, n, k,
          nshape, (double)alpha, (double)beta);
    gemm_case_check_padding(&g, "gemm_pa");
    free(ap), free(want);
    gemm_case_free(&g);
}

static void packed_suite(const char *name, mc_rng *r) {
    /* m across the 128-row blocks and partial panels, k across 256-blocks and <= 64 (B in place),
     * n with partial strips; the shape fixed for 48 columns (8 x 48), 64 (4 x 64) or the same n */
    static const int cases[][3] = {{64, 48, 64},  {64, 100, 64}, {64, 916, 64}, {128, 96, 128}, {512, 96, 512},
                                   {7, 17, 9},    {61, 130, 33}, {130, 50, 300}, {16, 5, 257},  {256, 48, 256}};
    static const int nshapes[] = {48, 64, 0};
    int count = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int ta = 0; ta < 2; ta++)
            for (int s = 0; s < 3; s++, count += 2) {
                const int m = cases[c][0], n = cases[c][1], k = cases[c][2], ns = nshapes[s] ? nshapes[s] : n;
                check_packed(ta, m, n, k, ns, 1.0f, 0.0f, r);
                check_packed(ta, m, n, k, ns, 0.5f, -2.0f, r);
            }
    printf("%s: A packed once: %d products bitwise those of the unpacked GEMM\n", name, count);
}

/* the backend's GEMM: the CPU's own kernels, the AVX2 ones under MC_TEST_NO_AVX512, OpenBLAS's
 * under MC_TEST_NO_AVX2 or MC_CPU_GEMM=openblas */
static void check_backend_choice(mc_rng *r) {
    const int m = 70, n = 300, k = 530;
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
    float *own = malloc(sizeof(float) * (size_t)m * n), *be_c = malloc(sizeof(float) * (size_t)m * n),
          *blas = malloc(sizeof(float) * (size_t)m * n);
    REQUIRE(a && b && own && be_c && blas, "alloc");
    fill_random(a, (size_t)m * k, r);
    fill_random(b, (size_t)k * n, r);
    REQUIRE(mc_cpu_f32_gemm(level, 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, own, n) == MC_OK, "gemm");
    mc_backend *be = NULL;
    REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2}));
    CHECK(((mc_cpu *)be->ctx)->own_gemm == mc_cpu_f32_level(), "the backend's GEMM level %d, the CPU's %d",
          ((mc_cpu *)be->ctx)->own_gemm, mc_cpu_f32_level());
    REQUIRE_OK(be->gemm(be, 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, be_c, n));
    be->destroy(be);
    CHECK(!memcmp(own, be_c, sizeof(float) * (size_t)m * n), "the backend's GEMM is not the own GEMM on this CPU");
    if (mc_cpu_f32_level() == MC_F32_AVX512) { /* pretending no AVX-512: the AVX2 kernels, the same bits */
        setenv("MC_TEST_NO_AVX512", "1", 1);
        CHECK(mc_cpu_f32_level() == MC_F32_AVX2, "MC_TEST_NO_AVX512=1: level %d",
              mc_cpu_f32_level());
        REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2}));
        CHECK(((mc_cpu *)be->ctx)->own_gemm == MC_F32_AVX2 && ((mc_cpu *)be->ctx)->simd == MC_F32_AVX2,
              "MC_TEST_NO_AVX512=1: the backend's GEMM level %d, row kernels' %d", ((mc_cpu *)be->ctx)->own_gemm,
              ((mc_cpu *)be->ctx)->simd);
        memset(be_c, 0, sizeof(float) * (size_t)m * n);
        REQUIRE_OK(be->gemm(be, 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, be_c, n));
        be->destroy(be);
        unsetenv("MC_TEST_NO_AVX512");
        CHECK(!memcmp(own, be_c, sizeof(float) * (size_t)m * n), "MC_TEST_NO_AVX512=1: not the AVX-512 GEMM's bits");
    }
    setenv("MC_TEST_NO_AVX2", "1", 1);
    CHECK(mc_cpu_f32_level() == 0, "MC_TEST_NO_AVX2=1: still level %d",
          mc_cpu_f32_level());
    REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2}));
    CHECK(((mc_cpu *)be->ctx)->own_gemm == 0, "MC_TEST_NO_AVX2=1: the backend kept its own GEMM");
    REQUIRE_OK(be->gemm(be, 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, blas, n));
    be->destroy(be);
    /* MC_CPU_GEMM=own insists: refused without AVX2; an unknown value is refused */
    setenv("MC_CPU_GEMM", "own", 1);
    be = NULL;
    CHECK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 1}) == MC_EARG && !be &&
              strstr(mc_errmsg(), "MC_CPU_GEMM=own: this CPU has no AVX2 with FMA"),
          "MC_CPU_GEMM=own without AVX2: '%s'", mc_errmsg());
    unsetenv("MC_TEST_NO_AVX2");
    setenv("MC_CPU_GEMM", "fastest", 1);
    CHECK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 1}) == MC_EARG && !be &&
              strstr(mc_errmsg(), "not 'own' or 'openblas' (it is 'fastest')"),
          "MC_CPU_GEMM=fastest: '%s'", mc_errmsg());
    /* MC_CPU_GEMM=openblas: the OpenBLAS path again, bitwise */
    setenv("MC_CPU_GEMM", "openblas", 1);
    float *blas2 = malloc(sizeof(float) * (size_t)m * n);
    REQUIRE(blas2, "alloc");
    REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2}));
    REQUIRE_OK(be->gemm(be, 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, blas2, n));
    be->destroy(be);
    unsetenv("MC_CPU_GEMM");
    CHECK(!memcmp(blas, blas2, sizeof(float) * (size_t)m * n), "MC_CPU_GEMM=openblas is not OpenBLAS's path");
    free(blas2);
    /* OpenBLAS sums in another order: a few elements differ in the last bits, none by more than
     * the bound above (KC + 4 roundings of the sum of |terms|, here <= k) */
    int differ = 0;
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sabs = 0;
            for (int q = 0; q < k; q++) sabs += fabs((double)a[(size_t)i * k + q] * (double)b[(size_t)j * k + q]);
            double e = fabs((double)own[(size_t)i * n + j] - (double)blas[(size_t)i * n + j]) / sabs;
            differ += own[(size_t)i * n + j] != blas[(size_t)i * n + j];
            if (e > worst) worst = e;
        }
    CHECK(differ > 0, "OpenBLAS's path gave the own GEMM's bits exactly: was it taken?");
    CHECK(worst < 2 * (KC + 4) * U32, "own vs OpenBLAS: %.3g of the sum of |terms|", worst);
    printf("own GEMM vs OpenBLAS (MC_TEST_NO_AVX2=1): %d of %d elements differ, worst %.2g of sum |terms|\n", differ,
           m * n, worst);
    free(a), free(b), free(own), free(be_c), free(blas);
}

static const int shapes[][3] = {{1, 1, 1},      {1, 1, 2},     {3, 5, 7},       {8, 48, 16},  {9, 49, 17},
                                {7, 47, 1},     {16, 96, 64},  {17, 100, 3},    {64, 512, 576}, {37, 45, 301},
                                {2, 600, 9},    {130, 70, 1153}, {8, 16, 256},  {8, 16, 257}, {129, 1537, 20},
                                {33, 5, 700},   {64, 64, 300}, {128, 128, 513}, {7, 64, 9},   {61, 128, 33},
                                {5, 250, 17},   {6, 16, 8},    {13, 23, 70},    {121, 33, 64}, {12, 8, 65}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* every shape, transpose pair and (alpha, beta) at the current level against double; products in
 * pieces; NaN, inf and k = 0 */
static void suite(const char *name, mc_rng *r) {
    max_excess = 0;
    for (size_t s = 0; s < NSHAPES; s++)
        for (int t = 0; t < 4; t++) {
            const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            check_gemm(t >> 1, t & 1, m, n, k, 1.0f, 0.0f, r);
            check_gemm(t >> 1, t & 1, m, n, k, 1.0f, 1.0f, r);
            check_gemm(t >> 1, t & 1, m, n, k, 0.5f, -2.0f, r);
        }
    printf("float32 gemm, %s kernels: worst error / bound %.3f over %zu shapes x 4 transposes x 3 (alpha, beta)\n",
           name, max_excess, NSHAPES);
    for (int t = 0; t < 4; t++) {
        check_pieces(t >> 1, t & 1, 100, 230, 600, 0.0f, r);
        check_pieces(t >> 1, t & 1, 61, 97, 300, 1.0f, r);
        /* whole, these take the 4 x 64 micro-tiles (AVX-512); most pieces the 8 x 48 ones */
        check_pieces(t >> 1, t & 1, 64, 128, 300, 0.0f, r);
        check_pieces(t >> 1, t & 1, 30, 64, 257, 1.0f, r);
        /* k <= 64: B's whole strips read in place (tb = 0), partial ones packed */
        check_pieces(t >> 1, t & 1, 40, 230, 64, 0.0f, r);
        check_pieces(t >> 1, t & 1, 17, 101, 9, 1.0f, r);
    }
    /* NaN and inf propagate; k = 0 is beta C */
    float a[4] = {1, NAN, 2, 3}, b[4] = {1, 1, 1, 1}, c[4];
    mc_cpu_f32_gemm(level, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    CHECK(isnan(c[0]) && isnan(c[1]) && c[2] == 5.0f && c[3] == 5.0f, "%s: NaN row: %g %g %g %g", name, (double)c[0],
          (double)c[1], (double)c[2], (double)c[3]);
    a[1] = INFINITY;
    mc_cpu_f32_gemm(level, 0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    CHECK(isinf(c[0]) && c[0] > 0 && c[2] == 5.0f, "%s: inf row: %g %g", name, (double)c[0], (double)c[2]);
    c[0] = 3.0f, c[1] = NAN, c[2] = c[3] = 1.0f;
    mc_cpu_f32_gemm(level, 0, 0, 1, 1, 0, 1.0f, a, 2, b, 2, 0.5f, c, 2);
    mc_cpu_f32_gemm(level, 0, 0, 1, 1, 0, 1.0f, a, 2, b, 2, 0.0f, c + 1, 2);
    CHECK(c[0] == 1.5f && c[1] == 0.0f, "%s: k = 0: %g %g (want 1.5 0)", name, (double)c[0], (double)c[1]);
}

int main(void) {
    const int have = mc_cpu_f32_level();
    if (!have) {
        /* still: the backend works without it (OpenBLAS) — the rest of the suite runs that way */
        mc_test_skip("test_gemm_f32", "this CPU has no AVX2 with FMA: the own float32 GEMM is not used here");
        return mc_test_done("test_gemm_f32");
    }
    mc_rng r;
    mc_rng_seed(&r, 18);
    level = MC_F32_AVX2;
    suite("AVX2", &r);
    packed_suite("AVX2", &r);
    if (have == MC_F32_AVX512) {
        level = MC_F32_AVX512;
        suite("AVX-512", &r);
        packed_suite("AVX-512", &r);
        int cases = 0;
        for (size_t s = 0; s < NSHAPES; s++)
            for (int t = 0; t < 4; t++, cases += 3) {
                const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                check_levels(t >> 1, t & 1, m, n, k, 1.0f, 0.0f, &r);
                check_levels(t >> 1, t & 1, m, n, k, 1.0f, 1.0f, &r);
                check_levels(t >> 1, t & 1, m, n, k, 0.5f, -2.0f, &r);
            }
        printf("AVX2 and AVX-512 kernels: %d cases compared bitwise\n", cases);
    } else {
        mc_test_skip("test_gemm_f32: AVX-512", "this CPU has no AVX-512 (F, VL): its kernels, and the comparison "
                                               "with the AVX2 ones, cannot run here");
    }
    check_backend_choice(&r);
    return mc_test_done("test_gemm_f32");
}
