/* cpu/gemm_f32_kernel.h — the own GEMM's micro-kernel, written once for every vector width.
 * Included (once each) by cpu/gemm_f32_avx512.c and cpu/gemm_f32_avx2.c after they define:
 *   TGT                 the target attribute of the instruction set
 *   VW, RMAX, VMAX      floats per vector; the most rows and vectors of an instance
 *   vec, msk            the vector and lane-mask types
 *   V_ZERO() V_LOAD(p) V_STORE(p, v) V_SET1(x) V_MUL(a, b) V_FMA(a, b, c) (a b + c, one rounding)
 *   M_FIRST(n)          the first n lanes (none for n <= 0, all for n >= VW)
 *   V_LOADM(m, p)       the lanes of m from p, 0 elsewhere (the others not read)
 *   V_STOREM(p, m, v)   the lanes of m to p (the others not written)
 * What each element gets, whatever the width (so the instances give the same bits):
 *   S = fma chain over p = 0 .. kc-1 of ap[p][i] bp[p][j], from +0
 *   STORE: alpha S;   BLEND: fma(beta, C, alpha S);   ADD: fma(alpha, S, C). */

/* R and V are constants in each instance (the loops unroll, acc stays in registers) */
TGT static inline __attribute__((always_inline)) void kernel_rv(const int R, const int V, int kc,
                                                                const float *restrict ap,
                                                                const float *restrict bp, size_t ldbp, int mr,
                                                                int nr, int mode, float alpha, float beta,
                                                                float *c, int ldc) {
    vec acc[RMAX][VMAX];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[i][v] = V_ZERO();
    for (int p = 0; p < kc; p++) {
        vec bv[VMAX];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) bv[v] = V_LOAD(bp + (size_t)p * ldbp + VW * v);
        const float *av = ap + (size_t)p * R;
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            const vec x = V_SET1(av[i]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[i][v] = V_FMA(x, bv[v], acc[i][v]);
        }
    }
    const vec va = V_SET1(alpha), vb = V_SET1(beta);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            const int left = nr - VW * v; /* columns of C from this vector on */
            if (left <= 0) break;
            float *cv = ci + VW * v;
            if (left >= VW) { /* whole vectors: plain loads and stores */
                vec y = mode == MC_F32_STORE   ? V_MUL(va, acc[i][v])
                        : mode == MC_F32_BLEND ? V_FMA(vb, V_LOAD(cv), V_MUL(va, acc[i][v]))
                                               : V_FMA(va, acc[i][v], V_LOAD(cv));
                V_STORE(cv, y);
            } else {
                const msk m = M_FIRST(left);
                vec y = mode == MC_F32_STORE   ? V_MUL(va, acc[i][v])
                        : mode == MC_F32_BLEND ? V_FMA(vb, V_LOADM(m, cv), V_MUL(va, acc[i][v]))
                                               : V_FMA(va, acc[i][v], V_LOADM(m, cv));
                V_STOREM(cv, m, y);
            }
        }
    }
}

/* the instances: R rows by V vectors, as kernel_RxV */
#define KERNEL(R, V)                                                                                          \
    TGT static void kernel_##R##x##V(int kc, const float *restrict ap, const float *restrict bp, size_t ldbp,  \
                                      int mr, int nr, int mode, float alpha, float beta, float *c, int ldc) {    \
        kernel_rv(R, V, kc, ap, bp, ldbp, mr, nr, mode, alpha, beta, c, ldc);                                  \
    }
