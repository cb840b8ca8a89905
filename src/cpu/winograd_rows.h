/* cpu/winograd_rows.h — F(2x2, 3x3)'s row transforms (input, output, output-gradient), written
 * for a vector width given by macros; included by cpu/winograd_avx2.c (AVX-512 has the block
 * transforms of cpu/winograd_avx512.c instead) after it defines:
 *   TGT, VW              the target attribute; tiles (floats) per vector
 *   FN(name)             the name of a function of this width (name ## 256)
 *   vec                  the vector type
 *   V_ZERO() V_ADD(a, b) V_SUB(a, b) V_MUL(a, b) V_SET1(x) V_NEG(x) (the sign bit flipped)
 *   msk, M_FIRST(n)      a lane set, the first n lanes (none for n <= 0, all for n >= VW)
 *   V_LOADK(k, p)        the lanes k of p[0 .. VW-1], 0 elsewhere (not read)
 *   V_STOREK(p, k, v)    the lanes k of v to p
 *   COLS(row, c, w)      row[c .. c + VW - 1], 0 for the columns outside [0, w) (not read)
 *   SPLIT(row, c, w, e, o)   the even (*e) and odd (*o) columns of row[c .. c + 2 VW - 1], as COLS
 *   ZIP(e, o, y0, y1)    e0 o0 e1 o1 ... into *y0 (the first VW) and *y1 (the rest)
 * Exactness: the portable functions' (winograd.c: input_row, output_row, grad_row) IEEE operations
 * on the same operands in the same order, one tile per lane, so every width gives their bits
 * (tests/test_winograd_simd.c compares them). */

/* d B of input row 2 ty - pad + i for the VW tiles from column c0 (2 columns apart): H[component] */
TGT static inline void FN(in_h)(const float *plane, int h, int w, int iy, int c0, vec H[4]) {
    if (iy < 0 || iy >= h) {
        H[0] = H[1] = H[2] = H[3] = V_ZERO();
        return;
    }
    const float *row = plane + (size_t)iy * w;
    vec d0, d1, d2, d3;
    SPLIT(row, c0, w, &d0, &d1);
    SPLIT(row, c0 + 2, w, &d2, &d3);
    H[0] = V_SUB(d0, d2);
    H[1] = V_ADD(d1, d2);
    H[2] = V_SUB(d2, d1);
    H[3] = V_SUB(d1, d3);
}

/* B^T (.) down the rows, V[4 r + j] = (H0 - H2, H1 + H2, H2 - H1, H1 - H3)[r][j]: rows 0 and 2
 * first, then 1, then 3, eight vectors live (AVX2 has 16 registers; with all four rows' H live,
 * all sixteen spilled and the transform was slower than the portable one) */
TGT void FN(mc_cpu_wino_in_row)(const float *plane, int h, int w, int pad, int ty, int tx0, int cnt, float *v,
                                size_t ldv) {
    for (int q0 = 0; q0 < cnt; q0 += VW) {
        const int c0 = 2 * (tx0 + q0) - pad, iy = 2 * ty - pad; /* tile q's columns: c0 + 2q .. c0 + 2q + 3 */
        const msk n = M_FIRST(cnt - q0);
        float *o = v + q0;
        vec P[4], Q[4];
        FN(in_h)(plane, h, w, iy, c0, P);     /* H0 */
        FN(in_h)(plane, h, w, iy + 2, c0, Q); /* H2 */
        for (int j = 0; j < 4; j++) V_STOREK(o + (size_t)j * ldv, n, V_SUB(P[j], Q[j]));
        FN(in_h)(plane, h, w, iy + 1, c0, P); /* H1 */
        for (int j = 0; j < 4; j++) {
            V_STOREK(o + (size_t)(4 + j) * ldv, n, V_ADD(P[j], Q[j]));
            V_STOREK(o + (size_t)(8 + j) * ldv, n, V_SUB(Q[j], P[j]));
        }
        FN(in_h)(plane, h, w, iy + 3, c0, Q); /* H3 */
        for (int j = 0; j < 4; j++) V_STOREK(o + (size_t)(12 + j) * ldv, n, V_SUB(P[j], Q[j]));
    }
}

TGT void FN(mc_cpu_wino_out_row)(const float *m, size_t ldm, int oh, int ow, int ty, int tx0, int cnt, float beta,
                                 float *yk) {
    const vec vb = V_SET1(beta);
    for (int q0 = 0; q0 < cnt; q0 += VW) {
        const msk k = M_FIRST(cnt - q0);
        vec S[2][4]; /* A^T m: S[r][j] */
        for (int j = 0; j < 4; j++) {
            const float *p = m + q0 + (size_t)j * ldm;
            vec a0 = V_LOADK(k, p), a1 = V_LOADK(k, p + 4 * ldm), a2 = V_LOADK(k, p + 8 * ldm),
                a3 = V_LOADK(k, p + 12 * ldm);
            S[0][j] = V_ADD(V_ADD(a0, a1), a2);
            S[1][j] = V_SUB(V_SUB(a1, a2), a3);
        }
        const int x0 = 2 * (tx0 + q0), ncol = 2 * (cnt - q0) < ow - x0 ? 2 * (cnt - q0) : ow - x0;
        const msk k0 = M_FIRST(ncol), k1 = M_FIRST(ncol - VW);
        for (int r = 0; r < 2 && 2 * ty + r < oh; r++) {
            vec e = V_ADD(V_ADD(S[r][0], S[r][1]), S[r][2]); /* (.) A along the row */
            vec o = V_SUB(V_SUB(S[r][1], S[r][2]), S[r][3]);
            vec y0, y1;
            ZIP(e, o, &y0, &y1);
            float *yr = yk + (size_t)(2 * ty + r) * ow + x0;
            if (beta != 0.0f) {
                y0 = V_ADD(y0, V_MUL(vb, V_LOADK(k0, yr)));
                y1 = V_ADD(y1, V_MUL(vb, V_LOADK(k1, yr + VW)));
            }
            V_STOREK(yr, k0, y0);
            V_STOREK(yr + VW, k1, y1);
        }
    }
}

/* winograd.c's a2x: a, a + b, a - b, -b into rows o, o + ld, o + 2 ld, o + 3 ld */
TGT static inline void FN(a2x)(vec a, vec b, float *o, size_t ld, msk n) {
    V_STOREK(o, n, a);
    V_STOREK(o + ld, n, V_ADD(a, b));
    V_STOREK(o + 2 * ld, n, V_SUB(a, b));
    V_STOREK(o + 3 * ld, n, V_NEG(b));
}

TGT void FN(mc_cpu_wino_grad_row)(const float *plane, int oh, int ow, int ty, int tx0, int cnt, float *e, size_t lde) {
    const float *r0 = plane + (size_t)(2 * ty) * ow, *r1 = r0 + ow;
    const int second = 2 * ty + 1 < oh;
    for (int q0 = 0; q0 < cnt; q0 += VW) {
        const int c0 = 2 * (tx0 + q0);
        const msk n = M_FIRST(cnt - q0);
        vec g0e, g0o, g1e = V_ZERO(), g1o = V_ZERO();
        SPLIT(r0, c0, ow, &g0e, &g0o);
        if (second) SPLIT(r1, c0, ow, &g1e, &g1o);
        float *o = e + q0;
        FN(a2x)(g0e, g0o, o, lde, n); /* A g: rows g0, g0 + g1, g0 - g1, -g1, then (.) A^T */
        FN(a2x)(V_ADD(g0e, g1e), V_ADD(g0o, g1o), o + 4 * lde, lde, n);
        FN(a2x)(V_SUB(g0e, g1e), V_SUB(g0o, g1o), o + 8 * lde, lde, n);
        FN(a2x)(V_NEG(g1e), V_NEG(g1o), o + 12 * lde, lde, n);
    }
}
