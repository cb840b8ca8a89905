/* gemm_case.h — one GEMM test case's operands, shared by the tests of the CPU backend's own
 * GEMMs (tests/test_gemm_f32.c: float32, tests/test_bf16.c: bf16): op(A) m x k and op(B) k x n
 * stored as the transposes say, with leading dimensions larger than the rows (3, 1 and 2 floats
 * of padding), values uniform in [-1, 1); C0 likewise, or all NaN when beta is 0 (such a GEMM
 * must never read C); C starts as a copy of C0. Include after test.h. */
#ifndef MC_TEST_GEMM_CASE_H
#define MC_TEST_GEMM_CASE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_case {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float *a, *b, *c, *c0;
} gemm_case;

static inline void gemm_case_fill(float *p, size_t n, mc_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * mc_rng_uniform(r) - 1.0);
}

static inline void gemm_case_make(gemm_case *g, int ta, int tb, int m, int n, int k, float beta, mc_rng *r) {
    *g = (gemm_case){.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .lda = (ta ? m : k) + 3, .ldb = (tb ? k : n) + 1,
                     .ldc = n + 2};
    const size_t na = (size_t)(ta ? k : m) * g->lda, nb = (size_t)(tb ? n : k) * g->ldb, nc = (size_t)m * g->ldc;
    g->a = malloc(sizeof(float) * na), g->b = malloc(sizeof(float) * nb);
    g->c = malloc(sizeof(float) * nc), g->c0 = malloc(sizeof(float) * nc);
    REQUIRE(g->a && g->b && g->c && g->c0, "gemm case: out of memory");
    gemm_case_fill(g->a, na, r);
    gemm_case_fill(g->b, nb, r);
    gemm_case_fill(g->c0, nc, r);
    if (beta == 0.0f)
        for (size_t i = 0; i < nc; i++) g->c0[i] = NAN;
    memcpy(g->c, g->c0, sizeof(float) * nc);
}

/* op(A)[i][q] and op(B)[q][j] */
static inline float gemm_case_a(const gemm_case *g, int i, int q) {
    return g->ta ? g->a[(size_t)q * g->lda + i] : g->a[(size_t)i * g->lda + q];
}
static inline float gemm_case_b(const gemm_case *g, int q, int j) {
    return g->tb ? g->b[(size_t)j * g->ldb + q] : g->b[(size_t)q * g->ldb + j];
}

/* checks that C's padding columns (past n) were not written */
static inline void gemm_case_check_padding(const gemm_case *g, const char *what) {
    for (int i = 0; i < g->m; i++)
        for (int j = g->n; j < g->ldc; j++)
            if (memcmp(g->c + (size_t)i * g->ldc + j, g->c0 + (size_t)i * g->ldc + j, sizeof(float))) {
                CHECK(0, "%s: wrote C[%d][%d] beyond n = %d", what, i, j, g->n);
                return;
            }
}

static inline void gemm_case_free(gemm_case *g) {
    free(g->a), free(g->b), free(g->c), free(g->c0);
}

#endif
