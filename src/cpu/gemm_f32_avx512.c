/* cpu/gemm_f32_avx512.c — the own float32 GEMM's AVX-512 micro-kernels (cpu/gemm_f32.c drives
 * them; cpu/gemm_f32_kernel.h is the kernel).
 *
 * Two shapes, chosen per call by how much of the last strip and panel they would waste: 8 x 48
 * (24 of the 32 vector registers as accumulators, one broadcast per row and three loads of B per
 * step of k) for the wide products of the convolutions; 4 x 64 (16 accumulators, four loads and
 * four broadcasts) where n is a multiple of 64 but not of 48 — backward-filter's 64 x 64 and
 * 128 x 128 products (m = output channels, n = input channels), where a 48-wide strip would leave
 * two thirds of the last strip empty. Narrower instances serve a last strip (n mod 48 <= 16
 * columns take the 8 x 16 one, not 8 x 48). */
#include "cpu/gemm_f32.h"

#if MC_AVX512
#define TGT T512
#define VW 16
#define RMAX 8
#define VMAX 4
typedef __m512 vec;
typedef __mmask16 msk;
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define M_FIRST(n) first16(n)
#define V_LOADM(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#include "cpu/gemm_f32_kernel.h"

KERNEL(8, 1)
KERNEL(8, 2)
KERNEL(8, 3)
KERNEL(4, 1)
KERNEL(4, 2)
KERNEL(4, 3)
KERNEL(4, 4)

const mc_f32_isa mc_f32_avx512 = {.vw = 16,
                                  .rows = {8, 4},
                                  .cols = {48, 64},
                                  .mc = 128,
                                  .kernel = {{kernel_8x1, kernel_8x2, kernel_8x3, kernel_8x3},
                                             {kernel_4x1, kernel_4x2, kernel_4x3, kernel_4x4}}};
#endif
