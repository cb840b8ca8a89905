/* test_winograd_simd.c — F(2x2, 3x3)'s AVX-512 row and filter transforms (cpu/winograd_avx512.c) against
 * the portable ones of cpu/winograd.c.
 *
 * The AVX-512 functions promise the portable functions' bits (the same IEEE operations in the same
 * order), so the three Winograd primitives — forward, backward-data (the transforms with padding
 * 2 - p) and backward-filter (the input transform) — must give bitwise the same result with
 * cpu->wino512 on and off, with the GEMM unchanged. Shapes: widths below, at and across the
 * 16-tile vectors (odd widths: a last tile half outside), odd heights, padding 0, 1 and 2, beta 0
 * (the output full of NaN: never read) and beta != 0, values with zeros and signed zeros.
 * Tolerance: none (memcmp). The path against the definition of the convolution is
 * test_cpu_backend's (which runs whatever this CPU selects). On a CPU without AVX-512 the SIMD
 * path cannot run: skipped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/conv.h"
#include "engine/backend.h"
#include "test.h"

static void fill(float *p, size_t n, mc_rng *r) {
    for (size_t i = 0; i < n; i++) {
        double u = mc_rng_uniform(r);
        p[i] = u < 0.05 ? 0.0f : u < 0.08 ? -0.0f : (float)(mc_rng_normal(r));
    }
}

static float *alloc_f(size_t n) {
    float *p = malloc(n * sizeof(float));
    REQUIRE(p, "alloc");
    return p;
}

static int nsame, ncases;

/* one primitive (0 fwd, 1 bwd-data, 2 bwd-filter) with the SIMD transforms and without */
static void one(mc_cpu *cpu, const mc_conv_desc *d, int prim, float beta, mc_rng *r) {
    const size_t nx = (size_t)d->n * d->c * d->h * d->w, ny = (size_t)d->n * d->k * d->oh * d->ow,
                 nw = (size_t)d->k * d->c * 9;
    float *x = alloc_f(nx), *y = alloc_f(ny), *w = alloc_f(nw);
    fill(x, nx, r), fill(y, ny, r), fill(w, nw, r);
    const size_t nout = prim == 0 ? ny : prim == 1 ? nx : nw;
    float *o0 = alloc_f(nout), *o1 = alloc_f(nout);
    fill(o0, nout, r);
    if (beta == 0.0f)
        for (size_t i = 0; i < nout; i += 3) o0[i] = NAN; /* never read with beta 0 */
    memcpy(o1, o0, nout * sizeof(float));
    for (int simd = 0; simd < 2; simd++) {
        cpu->wino512 = simd;
        float *o = simd ? o1 : o0;
        int rc = prim == 0   ? mc_cpu_wino_fwd(cpu, d, x, w, beta, o)
                 : prim == 1 ? mc_cpu_wino_bwd_data(cpu, d, y, w, beta, o)
                             : mc_cpu_wino_bwd_filter(cpu, d, x, y, beta, o);
        REQUIRE(rc == MC_OK, "primitive %d: %s", prim, mc_errmsg());
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < nout; i++)
        if (memcmp(&o0[i], &o1[i], sizeof(float)) != 0 && bad++ == 0) first = i;
    CHECK(bad == 0,
          "%s n%d c%d %dx%d k%d pad %d beta %g: %zu of %zu values differ from the portable path (first %zu: %.9g vs %.9g)",
          prim == 0 ? "forward" : prim == 1 ? "backward-data" : "backward-filter", d->n, d->c, d->h, d->w, d->k, d->ph,
          (double)beta, bad, nout, first, (double)o0[first], (double)o1[first]);
    nsame += bad == 0;
    ncases++;
    free(x), free(y), free(w), free(o0), free(o1);
}

int main(void) {
    if (!mc_cpu_wino512_available()) {
        mc_test_skip("test_winograd_simd", "this CPU has no AVX-512 (F, VL): the SIMD row transforms are not used here");
        return mc_test_done("test_winograd_simd");
    }
    mc_backend *be = NULL;
    REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2, .winograd = MC_WINOGRAD_ON}));
    mc_cpu *cpu = be->ctx;
    CHECK(cpu->wino512 == 1, "the backend did not select the AVX-512 transforms on this CPU");
    REQUIRE(cpu->winograd == 2, "F(2x2, 3x3) not selected");
    mc_rng r;
    mc_rng_seed(&r, 2026);
    /* n, c, h, w, k */
    static const int shapes[][5] = {{1, 16, 5, 5, 16},   {2, 16, 8, 8, 17},   {1, 17, 7, 31, 16},  {1, 16, 9, 32, 16},
                                    {1, 16, 6, 33, 18},  {2, 24, 11, 65, 16}, {1, 16, 2, 2, 16},   {1, 16, 3, 70, 16},
                                    {3, 20, 13, 15, 21}, {1, 16, 4, 100, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int pad = 0; pad <= 2; pad++) {
            mc_conv_desc d = {.n = shapes[s][0], .c = shapes[s][1], .h = shapes[s][2], .w = shapes[s][3],
                              .k = shapes[s][4], .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = pad, .pw = pad, .groups = 1};
            d.oh = d.h + 2 * pad - 2, d.ow = d.w + 2 * pad - 2;
            if (!mc_cpu_wino_ok(&d)) continue;
            for (int prim = 0; prim < 3; prim++) {
                one(cpu, &d, prim, 0.0f, &r);
                one(cpu, &d, prim, 0.75f, &r);
            }
        }
    cpu->wino512 = 1;
    be->destroy(be);
    printf("winograd F(2x2, 3x3): AVX-512 row transforms bitwise the portable ones in %d of %d cases\n", nsame, ncases);
    CHECK(ncases >= 150, "only %d cases ran", ncases);
    return mc_test_done("test_winograd_simd");
}
