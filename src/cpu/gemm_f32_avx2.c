/* cpu/gemm_f32_avx2.c — the own float32 GEMM's AVX2 + FMA micro-kernels (cpu/gemm_f32.c drives
 * them; cpu/gemm_f32_kernel.h is the kernel), for CPUs without AVX-512.
 *
 * One shape, 6 x 16: 12 of the 16 vector registers as accumulators, two loads of B and six
 * broadcasts per step of k (the usual AVX2 SGEMM tile); 6 x 8 for a last strip of at most 8
 * columns. Each element is summed as by the AVX-512 kernels, so the bits are theirs. */
#include "cpu/gemm_f32.h"

#if MC_AVX512
#define TGT T256
#define VW 8
#define RMAX 6
#define VMAX 2
typedef __m256 vec;
typedef __m256i msk;
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define M_FIRST(n) first8(n)
#define V_LOADM(m, p) _mm256_maskload_ps(p, m)
#define V_STOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#include "cpu/gemm_f32_kernel.h"

KERNEL(6, 1)
KERNEL(6, 2)

const mc_f32_isa mc_f32_avx2 = {.vw = 8,
                                .rows = {6, 6},
                                .cols = {16, 16},
                                .mc = 120,
                                .kernel = {{kernel_6x1, kernel_6x2, kernel_6x2, kernel_6x2},
                                           {kernel_6x1, kernel_6x2, kernel_6x2, kernel_6x2}}};
#endif
