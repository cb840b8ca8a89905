/* test_winograd_simd.c — F(2x2, 3x3)'s AVX-512 row and filter transforms (cpu/winograd_avx512.c) against
 * the portable ones of cpu/winograd.c.
 *
 * The AVX-512 functions promise the portable functions' bits (the same IEEE operations in the same
 * order), so the three Winograd primitives — forward, backward-data (the transforms with padding
 * 2 - p) and backward-filter (the input transform) — must give bitwise the same result with
 * cpu->avx512 on and off, with the GEMM unchanged. Shapes: widths below, at and across the
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
#include "simd_case.h"

static int nsame, ncases;

/* one primitive (0 fwd, 1 bwd-data, 2 bwd-filter) with the SIMD transforms and without */
static void one(mc_cpu *cpu, const mc_conv_desc *d, int prim, float beta, mc_rng *r) {
    static const simd_prim_fn f[3] = {mc_cpu_wino_fwd, mc_cpu_wino_bwd_data, mc_cpu_wino_bwd_filter};
    size_t first;
    float v0, v1;
    const size_t bad = simd_conv_pair(cpu, &cpu->avx512, f, d, prim, beta, r, &first, &v0, &v1);
    CHECK(bad == 0, "%s n%d c%d %dx%d k%d pad %d beta %g: %zu values differ from the portable path (first %zu: %.9g vs %.9g)",
          prim == 0 ? "forward" : prim == 1 ? "backward-data" : "backward-filter", d->n, d->c, d->h, d->w, d->k, d->ph,
          (double)beta, bad, first, (double)v0, (double)v1);
    nsame += bad == 0;
    ncases++;
}

int main(void) {
    if (!mc_cpu_avx512_available()) {
        mc_test_skip("test_winograd_simd", "this CPU has no AVX-512 (F, VL): the SIMD row transforms are not used here");
        return mc_test_done("test_winograd_simd");
    }
    mc_backend *be = NULL;
    REQUIRE_OK(mc_backend_cpu_create(&be, &(mc_net_opts){.threads = 2, .winograd = MC_WINOGRAD_ON}));
    mc_cpu *cpu = be->ctx;
    CHECK(cpu->avx512 == 1, "the backend did not select the AVX-512 transforms on this CPU");
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
    cpu->avx512 = 1;
    be->destroy(be);
    printf("winograd F(2x2, 3x3): AVX-512 row transforms bitwise the portable ones in %d of %d cases\n", nsame, ncases);
    CHECK(ncases >= 150, "only %d cases ran", ncases);
    return mc_test_done("test_winograd_simd");
}
