/* simd_case.h — the shared case of the tests that hold a SIMD path of the CPU backend to its
 * portable path bit for bit (test_winograd_simd.c, test_strided_simd.c): one convolution
 * primitive run twice on the same random operands, with the path's flag off and then on, and the
 * two outputs compared with memcmp. */
#ifndef MC_SIMD_CASE_H
#define MC_SIMD_CASE_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/conv.h"
#include "test.h"

/* normal values with zeros of both signs */
static void simd_fill(float *p, size_t n, mc_rng *r) {
    for (size_t i = 0; i < n; i++) {
        double u = mc_rng_uniform(r);
        p[i] = u < 0.05 ? 0.0f : u < 0.08 ? -0.0f : (float)(mc_rng_normal(r));
    }
}

/* exactly n floats (ASan sees a read or write past the end) */
static float *simd_alloc(size_t n) {
    float *p = malloc(n * sizeof(float));
    REQUIRE(p, "alloc");
    return p;
}

/* a convolution primitive: fwd(x, w), bwd_data(dy, w) or bwd_filter(x, dy), blended with beta */
typedef int (*simd_prim_fn)(mc_cpu *cpu, const mc_conv_desc *d, const float *a, const float *b, float beta,
                            float *out);

/* The CPU backend for a SIMD test (opts), and the highest row-kernel level this CPU has; where it
 * has AVX2 but not AVX-512 the AVX-512 part is reported skipped, and where it has neither the whole
 * test is (0 is returned: the caller ends with mc_test_done). */
static int simd_case_backend(const char *name, const char *what, mc_net_opts opts, mc_backend **be) {
    const int level = mc_cpu_f32_level();
    if (level < MC_F32_AVX2) {
        mc_test_skip(name, "this CPU has no AVX2 with FMA: the SIMD %s are not used here", what);
        return 0;
    }
    if (level < MC_F32_AVX512) {
        char part[96];
        snprintf(part, sizeof part, "%s: AVX-512", name);
        mc_test_skip(part, "this CPU has no AVX-512 (F, VL)");
    }
    REQUIRE_OK(mc_backend_cpu_create(be, &opts));
    const mc_cpu *cpu = (*be)->ctx;
    CHECK(cpu->simd == level, "the backend's %s: level %d on a CPU of level %d", what, cpu->simd, level);
    return level;
}

/* Primitive prim (0 fwd, 1 bwd-data, 2 bwd-filter: f[prim]) with cpu->simd 0 (the portable loops)
 * and then `level` on the same operands; beta 0 puts NaN in the output first (it must never be read). Returns how many output
 * values differ bitwise; *first, *v0, *v1: the first of them and its two values. */
static size_t simd_conv_pair(mc_cpu *cpu, int level, const simd_prim_fn f[3], const mc_conv_desc *d, int prim,
                             float beta, mc_rng *r, size_t *first, float *v0, float *v1) {
    const size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)d->n * d->k * d->oh * d->ow,
                 nw = (size_t)d->k * (d->c / d->groups) * d->kh * d->kw;
    float *x = simd_alloc(nx), *y = simd_alloc(ny), *w = simd_alloc(nw);
    simd_fill(x, nx, r), simd_fill(y, ny, r), simd_fill(w, nw, r);
    const size_t nout = prim == 0 ? ny : prim == 1 ? nx : nw;
    float *o0 = simd_alloc(nout), *o1 = simd_alloc(nout);
    simd_fill(o0, nout, r);
    if (beta == 0.0f)
        for (size_t i = 0; i < nout; i += 3) o0[i] = NAN;
    memcpy(o1, o0, nout * sizeof(float));
    const float *a = prim == 1 ? y : x, *b = prim == 2 ? y : w;
    for (int on = 0; on < 2; on++) {
        cpu->simd = on ? level : 0;
        int rc = f[prim](cpu, d, a, b, beta, on ? o1 : o0);
        REQUIRE(rc == MC_OK, "primitive %d: %s", prim, mc_errmsg());
    }
    size_t bad = 0;
    *first = 0;
    for (size_t i = 0; i < nout; i++)
        if (memcmp(&o0[i], &o1[i], sizeof(float)) != 0 && bad++ == 0) *first = i;
    *v0 = o0[*first], *v1 = o1[*first];
    free(x), free(y), free(w), free(o0), free(o1);
    return bad;
}
#endif
