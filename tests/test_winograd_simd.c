/* test_winograd_simd.c — F(2x2, 3x3)'s AVX-512 block and filter transforms (cpu/winograd_avx512.c:
 * 16 consecutive tiles of a block per vector, across tile rows and images) and AVX2 row
 * transforms (cpu/winograd_avx2.c) against the portable ones of cpu/winograd.c.
 *
 * The SIMD functions promise the portable functions' bits (the same IEEE operations in the same
 * order), so the three Winograd primitives — forward, backward-data (the transforms with padding
 * 2 - p) and backward-filter (the input transform) — must give bitwise the same result with
 * cpu->simd at MC_F32_AVX512 and at 0 (portable), and at MC_F32_AVX2 and at 0, with
 * the GEMM unchanged. Widths across 16 tiles cross 8 too; planes of 1 to 11 tiles a row and of
 * 4 to 9 tiles put tile rows and images side by side in one AVX-512 vector. Shapes: widths below, at and across the
 * 16-tile vectors (odd widths: a last tile half outside), odd heights, padding 0, 1 and 2, beta 0
 * (the output full of NaN: never read) and beta != 0, values with zeros and signed zeros.
 * Tolerance: none (memcmp). The path against the definition of the convolution is
 * test_cpu_backend's (which runs whatever this CPU selects). Where the CPU lacks AVX-512 (or AVX2)
 * that part cannot run: skipped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/conv.h"
#include "engine/backend.h"
#include "test.h"
#include "simd_case.h"

static int nsame[3], ncases[3]; /* [1] AVX2, [2] AVX-512 */

/* one primitive (0 fwd, 1 bwd-data, 2 bwd-filter) with one instruction set's transforms (isa:
 * MC_F32_AVX512, MC_F32_AVX2) and with the portable ones */
static void one(mc_cpu *cpu, int isa, const mc_conv_desc *d, int prim, float beta, mc_rng *r) {
    static const simd_prim_fn f[3] = {mc_cpu_wino_fwd, mc_cpu_wino_bwd_data, mc_cpu_wino_bwd_filter};
    size_t first;
    float v0, v1;
    const size_t bad = simd_conv_pair(cpu, isa, f, d, prim, beta, r, &first, &v0, &v1);
    CHECK(bad == 0, "%s: %s n%d c%d %dx%d k%d pad %d beta %g: %zu values differ from the portable path (first %zu: %.9g vs %.9g)",
          isa == 2 ? "AVX-512" : "AVX2", prim == 0 ? "forward" : prim == 1 ? "backward-data" : "backward-filter", d->n,
          d->c, d->h, d->w, d->k, d->ph, (double)beta, bad, first, (double)v0, (double)v1);
    nsame[isa] += bad == 0;
    ncases[isa]++;
}

int main(void) {
    mc_backend *be = NULL;
    const int level = simd_case_backend("test_winograd_simd", "row transforms",
                                        (mc_net_opts){.threads = 2, .winograd = MC_WINOGRAD_ON}, &be);
    if (!level) return mc_test_done("test_winograd_simd");
    mc_cpu *cpu = be->ctx;
    REQUIRE(cpu->winograd == 2, "F(2x2, 3x3) not selected");
    mc_rng r;
    mc_rng_seed(&r, 2026);
    /* n, c, h, w, k */
    static const int shapes[][5] = {{1, 16, 5, 5, 16},   {2, 16, 8, 8, 17},   {1, 17, 7, 31, 16},  {1, 16, 9, 32, 16},
                                    {1, 16, 6, 33, 18},  {2, 24, 11, 65, 16}, {1, 16, 2, 2, 16},   {1, 16, 3, 70, 16},
                                    {3, 20, 13, 15, 21}, {1, 16, 4, 100, 16}, {1, 16, 5, 17, 16},  {2, 16, 7, 19, 16},
                                    {5, 16, 3, 3, 16},   {2, 16, 21, 21, 16}, {7, 16, 4, 6, 16}};
    for (int isa = level; isa >= MC_F32_AVX2; isa--)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int pad = 0; pad <= 2; pad++) {
                mc_conv_desc d = {.n = shapes[s][0], .c = shapes[s][1], .h = shapes[s][2], .w = shapes[s][3],
                                  .k = shapes[s][4], .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = pad, .pw = pad,
                                  .groups = 1};
                d.oh = d.h + 2 * pad - 2, d.ow = d.w + 2 * pad - 2;
                if (!mc_cpu_wino_ok(&d)) continue;
                for (int prim = 0; prim < 3; prim++) {
                    one(cpu, isa, &d, prim, 0.0f, &r);
                    one(cpu, isa, &d, prim, 0.75f, &r);
                }
            }
    be->destroy(be);
    for (int isa = level; isa >= MC_F32_AVX2; isa--) {
        printf("winograd F(2x2, 3x3): %s transforms bitwise the portable ones in %d of %d cases\n",
               isa == 2 ? "AVX-512 block" : "AVX2 row", nsame[isa], ncases[isa]);
        CHECK(ncases[isa] >= 150, "only %d cases ran", ncases[isa]);
    }
    return mc_test_done("test_winograd_simd");
}
