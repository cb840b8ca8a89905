/* fft.c — radix-2 and Bluestein FFTs in double (see fft.h). Twiddles are computed directly
 * with cos/sin of 2πk/n (no recurrences), Bluestein's chirp from k² mod 2n, so the error stays
 * near the rounding of double (≈1e-15 relative to the largest coefficient for the sizes FSIM
 * uses). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "imaging/fft.h"

struct mc_fft {
    int n;
    int m;              /* power-of-two length of the core transform (n itself, or ≥ 2n−1) */
    int log2m;
    double *twr, *twi;  /* m/2 twiddles e^(−2πik/m) */
    int *rev;           /* bit reversal of m */
    /* Bluestein only (m != n): */
    double *cr, *ci;    /* chirp w_k = e^(−πi·k²/n), k < n */
    double *br, *bi;    /* FFT of the conjugate chirp, length m */
    double *ar, *ai;    /* scratch, length m */
};

/* in-place forward radix-2 transform of length p->m */
static void radix2(const mc_fft *p, double *re, double *im) {
    int m = p->m;
    for (int i = 0; i < m; i++) {
        int j = p->rev[i];
        if (j > i) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int len = 2; len <= m; len <<= 1) {
        int half = len >> 1, step = m / len;
        for (int s = 0; s < m; s += len)
            for (int k = 0; k < half; k++) {
                double wr = p->twr[k * step], wi = p->twi[k * step];
                int a = s + k, b = a + half;
                double xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
    }
}

int mc_fft_new(mc_fft **out, int n) {
    *out = NULL;
    if (n < 1) return mc_err(MC_EARG, "mc_fft_new: length %d", n);
    mc_fft *p = mc_calloc(1, sizeof *p, "FFT plan");
    if (!p) return MC_ENOMEM;
    p->n = n;
    int m = 1;
    if ((n & (n - 1)) == 0)
        m = n;
    else
        while (m < 2 * n - 1) m <<= 1;
    p->m = m;
    while ((1 << p->log2m) < m) p->log2m++;
    p->twr = mc_malloc((size_t)(m / 2 + 1) * sizeof(double), "FFT twiddles");
    p->twi = mc_malloc((size_t)(m / 2 + 1) * sizeof(double), "FFT twiddles");
    p->rev = mc_malloc((size_t)m * sizeof(int), "FFT permutation");
    if (!p->twr || !p->twi || !p->rev) goto oom;
    for (int k = 0; k < m / 2 + 1; k++) {
        double a = -2.0 * M_PI * k / m;
        p->twr[k] = cos(a);
        p->twi[k] = sin(a);
    }
    for (int i = 0; i < m; i++) {
        int r = 0;
        for (int b = 0; b < p->log2m; b++)
            if (i & (1 << b)) r |= 1 << (p->log2m - 1 - b);
        p->rev[i] = r;
    }
    if (m != n) {
        p->cr = mc_malloc((size_t)n * sizeof(double), "FFT chirp");
        p->ci = mc_malloc((size_t)n * sizeof(double), "FFT chirp");
        p->br = mc_calloc((size_t)m, sizeof(double), "FFT chirp");
        p->bi = mc_calloc((size_t)m, sizeof(double), "FFT chirp");
        p->ar = mc_malloc((size_t)m * sizeof(double), "FFT scratch");
        p->ai = mc_malloc((size_t)m * sizeof(double), "FFT scratch");
        if (!p->cr || !p->ci || !p->br || !p->bi || !p->ar || !p->ai) goto oom;
        for (int k = 0; k < n; k++) {
            long long k2 = ((long long)k * k) % (2LL * n);
            double a = -M_PI * (double)k2 / n;
            p->cr[k] = cos(a);
            p->ci[k] = sin(a);
        }
        /* b_j = conj(w_j) at j and m − j */
        p->br[0] = p->cr[0];
        p->bi[0] = -p->ci[0];
        for (int k = 1; k < n; k++) {
            p->br[k] = p->br[m - k] = p->cr[k];
            p->bi[k] = p->bi[m - k] = -p->ci[k];
        }
        radix2(p, p->br, p->bi);
    }
    *out = p;
    return MC_OK;
oom:
    mc_fft_free(p);
    return MC_ENOMEM;
}

void mc_fft_free(mc_fft *p) {
    if (!p) return;
    free(p->twr);
    free(p->twi);
    free(p->rev);
    free(p->cr);
    free(p->ci);
    free(p->br);
    free(p->bi);
    free(p->ar);
    free(p->ai);
    free(p);
}

static void forward(mc_fft *p, double *re, double *im) {
    if (p->m == p->n) {
        radix2(p, re, im);
        return;
    }
    int n = p->n, m = p->m;
    double *ar = p->ar, *ai = p->ai;
    for (int k = 0; k < n; k++) { /* a_k = x_k·w_k */
        ar[k] = re[k] * p->cr[k] - im[k] * p->ci[k];
        ai[k] = re[k] * p->ci[k] + im[k] * p->cr[k];
    }
    memset(ar + n, 0, (size_t)(m - n) * sizeof(double));
    memset(ai + n, 0, (size_t)(m - n) * sizeof(double));
    radix2(p, ar, ai);
    for (int k = 0; k < m; k++) { /* times FFT(b), then the inverse as conj(FFT(conj(·)))/m */
        double xr = ar[k] * p->br[k] - ai[k] * p->bi[k];
        double xi = ar[k] * p->bi[k] + ai[k] * p->br[k];
        ar[k] = xr;
        ai[k] = -xi;
    }
    radix2(p, ar, ai);
    for (int k = 0; k < n; k++) { /* X_k = w_k·conv_k */
        double vr = ar[k] / m, vi = -ai[k] / m;
        re[k] = vr * p->cr[k] - vi * p->ci[k];
        im[k] = vr * p->ci[k] + vi * p->cr[k];
    }
}

void mc_fft_run(mc_fft *p, double *re, double *im, int inverse) {
    if (!inverse) {
        forward(p, re, im);
        return;
    }
    int n = p->n;
    for (int k = 0; k < n; k++) im[k] = -im[k];
    forward(p, re, im);
    double s = 1.0 / n;
    for (int k = 0; k < n; k++) {
        re[k] *= s;
        im[k] = -im[k] * s;
    }
}

int mc_fft2(mc_fft *pw, mc_fft *ph, double *re, double *im, int w, int h, int inverse) {
    for (int y = 0; y < h; y++) mc_fft_run(pw, re + (size_t)y * w, im + (size_t)y * w, inverse);
    double *cr = mc_malloc((size_t)h * 2 * sizeof(double), "FFT column");
    if (!cr) return MC_ENOMEM;
    double *ci = cr + h;
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) {
            cr[y] = re[(size_t)y * w + x];
            ci[y] = im[(size_t)y * w + x];
        }
        mc_fft_run(ph, cr, ci, inverse);
        for (int y = 0; y < h; y++) {
            re[(size_t)y * w + x] = cr[y];
            im[(size_t)y * w + x] = ci[y];
        }
    }
    free(cr);
    return MC_OK;
}
