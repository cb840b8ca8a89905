/* cpu/gemm_f32.h — the own float32 GEMM's pieces per instruction set (internal to
 * cpu/gemm_f32.c, the driver and packing, and the micro-kernel files gemm_f32_avx512.c and
 * gemm_f32_avx2.c, which instantiate cpu/gemm_f32_kernel.h).
 *
 * Every instance computes each element of C in the same order (the driver's blocks of k, one
 * fused multiply-add chain per block, the same epilogue), so the AVX2 and the AVX-512 kernels
 * give the same bits (test_gemm_f32 compares them with memcmp): a run on an AVX2 machine repeats
 * a run on an AVX-512 one. */
#ifndef MC_CPU_GEMM_F32_H
#define MC_CPU_GEMM_F32_H

#include <stddef.h>
#include "cpu/avx2.h"

#if MC_AVX512
/* what the micro-kernel does with C: C = alpha S; C = alpha S + beta C; C = C + alpha S */
enum { MC_F32_STORE, MC_F32_BLEND, MC_F32_ADD };

/* An R x (VW V) block of C over one block of k: ap the packed panel (ap[p R + i]), bp the strip
 * (bp[p ldbp + j]); only the first mr rows and nr columns are written. */
typedef void (*mc_f32_kernel)(int kc, const float *restrict ap, const float *restrict bp, size_t ldbp, int mr,
                              int nr, int mode, float alpha, float beta, float *c, int ldc);

/* One instruction set's micro-kernels. shape [0] is the main micro-tile, [1] a second one the
 * driver takes where it wastes less of the last strip and panel (the same as [0] where there is
 * none); kernel[s][v - 1] computes v vectors of shape s's strip (the narrower ones serve a last
 * strip, whose vectors past n are not computed). */
typedef struct {
    int vw;              /* floats per vector */
    int rows[2], cols[2];/* micro-tile shapes */
    int mc;              /* rows of A per packed block: a multiple of rows[0] and rows[1] */
    mc_f32_kernel kernel[2][4];
} mc_f32_isa;

extern const mc_f32_isa mc_f32_avx512, mc_f32_avx2;
#endif

#endif
