/* smooth.c — the smoothing after the optimisation (spec §2 step 8): the paper's "joint bilateral
 * filter", as the authors' code computes it: a local affine colour model of the result on the
 * guide (the target), its coefficients averaged with bilateral weights, applied to the guide.
 *
 * guide g = I'/255, image o = (the optimised image)/255 (RGB, double). For each pixel p, over
 * the pixels q of its 3×3 window inside the image, A_p (3×4) minimises Σ_q ‖o_q − A·[g_q; 1]‖² + 1e-3·‖A[:, 0:3]‖²:
 * A_p = B·M⁻¹ with M = Σ_q X_q X_qᵀ + diag(1e-3, 1e-3, 1e-3, 0), B = Σ_q o_q X_qᵀ, X_q = [g_q; 1]
 * (A_p = 0 when |det M| < 1e-9). Then Ā_p = Σ_q w_pq A_q / Σ_q w_pq over the 31×31 window inside
 * the image, w_pq = exp(−|p−q|²/50)·exp(−(Σ_c (g_q,c − g_p,c)²/3)/0.02), and
 * o'_p = Ā_p·[g_p; 1], ×255, clipped to 0…255 and truncated. Windows are cut at the border
 * (pixels outside the image are left out) [I].
 *
 * Each output pixel is computed alone, in a fixed order: the result does not depend on the
 * thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "medcolor.h"
#include "mc_transfer.h"

#define RADIUS 15

/* solves A·M = B for A (3×4), M 4×4 symmetric; Gaussian elimination with partial pivoting on
 * Mᵀ = M. Returns 0 and A = 0 when |det M| < 1e-9. */
static void solve_affine(const double M[4][4], const double B[3][4], double A[3][4]) {
    double m[4][4 + 3];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) m[i][j] = M[i][j];
        for (int r = 0; r < 3; r++) m[i][4 + r] = B[r][i]; /* Mᵀ Aᵀ = Bᵀ */
    }
    double det = 1;
    for (int c = 0; c < 4; c++) {
        int piv = c;
        for (int i = c + 1; i < 4; i++)
            if (fabs(m[i][c]) > fabs(m[piv][c])) piv = i;
        if (piv != c) {
            for (int j = 0; j < 7; j++) {
                double t = m[c][j];
                m[c][j] = m[piv][j];
                m[piv][j] = t;
            }
            det = -det;
        }
        det *= m[c][c];
        if (m[c][c] == 0) break;
        for (int i = c + 1; i < 4; i++) {
            double f = m[i][c] / m[c][c];
            for (int j = c; j < 7; j++) m[i][j] -= f * m[c][j];
        }
    }
    if (!(fabs(det) >= 1e-9)) {
        memset(A, 0, sizeof(double) * 12);
        return;
    }
    for (int r = 0; r < 3; r++)
        for (int i = 3; i >= 0; i--) {
            double s = m[i][4 + r];
            for (int j = i + 1; j < 4; j++) s -= m[i][j] * A[r][j];
            A[r][i] = s / m[i][i];
        }
}

int mc_tr_smooth(const uint8_t *guide, const uint8_t *img, int w, int h, uint8_t *out) {
    if (w < 1 || h < 1) return mc_err(MC_EARG, "smooth: size %dx%d", w, h);
    size_t np = (size_t)w * h;
    double *g = malloc(np * 3 * sizeof(double)), *coef = malloc(np * 12 * sizeof(double));
    double *res = malloc(np * 3 * sizeof(double));
    if (!g || !coef || !res) {
        free(g);
        free(coef);
        free(res);
        return mc_err(MC_ENOMEM, "smooth: %dx%d", w, h);
    }
    for (size_t i = 0; i < np * 3; i++) g[i] = guide[i] / 255.0;
    /* the affine fits */
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double M[4][4] = {{1e-3, 0, 0, 0}, {0, 1e-3, 0, 0}, {0, 0, 1e-3, 0}, {0, 0, 0, 0}}, B[3][4] = {{0}};
            for (int yy = y - 1; yy <= y + 1; yy++)
                for (int xx = x - 1; xx <= x + 1; xx++) {
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    size_t q = (size_t)yy * w + xx;
                    double X[4] = {g[q * 3], g[q * 3 + 1], g[q * 3 + 2], 1.0};
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) M[i][j] += X[i] * X[j];
                    for (int r = 0; r < 3; r++)
                        for (int j = 0; j < 4; j++) B[r][j] += (img[q * 3 + r] / 255.0) * X[j];
                }
            double A[3][4];
            solve_affine(M, B, A);
            memcpy(coef + ((size_t)y * w + x) * 12, A, sizeof A);
        }
    /* the bilateral average of the coefficients, applied to the guide */
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            double acc[12] = {0}, sw = 0;
            for (int yy = y - RADIUS; yy <= y + RADIUS; yy++) {
                if (yy < 0 || yy >= h) continue;
                for (int xx = x - RADIUS; xx <= x + RADIUS; xx++) {
                    if (xx < 0 || xx >= w) continue;
                    size_t q = (size_t)yy * w + xx;
                    double d0 = g[q * 3] - g[p * 3], d1 = g[q * 3 + 1] - g[p * 3 + 1], d2 = g[q * 3 + 2] - g[p * 3 + 2];
                    double dist2 = (double)((yy - y) * (yy - y) + (xx - x) * (xx - x));
                    double wt = exp(-dist2 / 50.0) * exp(-((d0 * d0 + d1 * d1 + d2 * d2) / 3.0) / 0.02);
                    const double *c = coef + q * 12;
                    for (int k = 0; k < 12; k++) acc[k] += wt * c[k];
                    sw += wt;
                }
            }
            for (int r = 0; r < 3; r++) {
                double v = acc[r * 4 + 3];
                for (int j = 0; j < 3; j++) v += acc[r * 4 + j] * g[p * 3 + j];
                res[p * 3 + r] = v / sw;
            }
        }
    for (size_t i = 0; i < np * 3; i++) {
        double v = res[i] * 255.0;
        out[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
    }
    free(g);
    free(coef);
    free(res);
    return MC_OK;
}
