/* quality.c — PSNR, SSIM, entropy, mean ± std and all metrics of a pair (§2 step 10 of the
 * transfer's specification; FSIM is in fsim.c). Double precision throughout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_imaging.h"

double mc_psnr(const uint8_t *a, const uint8_t *b, size_t n) {
    double se = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    double mse = se / (double)n;
    if (mse == 0.0) return 100.0;
    return 20.0 * log10(255.0 / sqrt(mse));
}

/* separable "valid" filtering with the 11-tap kernel k: [h][w] → [h−10][w−10] */
static void filter_valid(const double *in, int w, int h, const double *k, double *tmp, double *out) {
    int ow = w - 10, oh = h - 10;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0.0;
            for (int t = 0; t < 11; t++) s += k[t] * in[(size_t)y * w + x + t];
            tmp[(size_t)y * ow + x] = s;
        }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0.0;
            for (int t = 0; t < 11; t++) s += k[t] * tmp[(size_t)(y + t) * ow + x];
            out[(size_t)y * ow + x] = s;
        }
}

int mc_ssim(const uint8_t *a, const uint8_t *b, int w, int h, double *ssim) {
    if (!a || !b || !ssim) return mc_err(MC_EARG, "mc_ssim: NULL argument");
    if (w < 11 || h < 11) return mc_err(MC_ESHAPE, "SSIM: image %dx%d smaller than its 11x11 window", w, h);
    double k[11], ks = 0.0;
    for (int t = 0; t < 11; t++) {
        k[t] = exp(-((t - 5) * (t - 5)) / (2.0 * 1.5 * 1.5));
        ks += k[t];
    }
    for (int t = 0; t < 11; t++) k[t] /= ks; /* the 2-D window k_i·k_j sums to 1 */
    size_t n = (size_t)w * h, on = (size_t)(w - 10) * (h - 10);
    double *buf = mc_malloc((n + (size_t)(w - 10) * h + 5 * on) * sizeof(double), "SSIM buffers");
    if (!buf) return MC_ENOMEM;
    double *in = buf, *tmp = in + n, *mu1 = tmp + (size_t)(w - 10) * h, *mu2 = mu1 + on, *s11 = mu2 + on,
           *s22 = s11 + on, *s12 = s22 + on;
    for (size_t i = 0; i < n; i++) in[i] = a[i];
    filter_valid(in, w, h, k, tmp, mu1);
    for (size_t i = 0; i < n; i++) in[i] = b[i];
    filter_valid(in, w, h, k, tmp, mu2);
    for (size_t i = 0; i < n; i++) in[i] = (double)a[i] * a[i];
    filter_valid(in, w, h, k, tmp, s11);
    for (size_t i = 0; i < n; i++) in[i] = (double)b[i] * b[i];
    filter_valid(in, w, h, k, tmp, s22);
    for (size_t i = 0; i < n; i++) in[i] = (double)a[i] * b[i];
    filter_valid(in, w, h, k, tmp, s12);
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    double sum = 0.0;
    for (size_t i = 0; i < on; i++) {
        double m1 = mu1[i], m2 = mu2[i];
        double v1 = s11[i] - m1 * m1, v2 = s22[i] - m2 * m2, c12 = s12[i] - m1 * m2;
        sum += ((2 * m1 * m2 + C1) * (2 * c12 + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
    }
    free(buf);
    *ssim = sum / (double)on;
    return MC_OK;
}

double mc_entropy(const uint8_t *grey, size_t n) {
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[grey[i]]++;
    double e = 0.0;
    for (int v = 0; v < 256; v++)
        if (hist[v]) {
            double p = (double)hist[v] / (double)n;
            e -= p * log2(p);
        }
    return e;
}

void mc_mean_std(const double *v, size_t n, double *mean, double *std) {
    if (n == 0) {
        *mean = *std = NAN;
        return;
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    double m = s / (double)n, q = 0.0;
    for (size_t i = 0; i < n; i++) q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = sqrt(q / (double)n);
}

/* grey ("L") of a 1- or 3-channel image into out */
static void to_grey(const uint8_t *px, int channels, size_t n, uint8_t *out) {
    if (channels == 1)
        memcpy(out, px, n);
    else
        mc_luma_pil(px, n, out);
}

static void to_rgb(const uint8_t *px, int channels, size_t n, uint8_t *out) {
    if (channels == 3) {
        memcpy(out, px, 3 * n);
        return;
    }
    for (size_t i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = px[i];
}

int mc_quality_pair(const uint8_t *ref, int ref_channels, const uint8_t *img, int img_channels, int w, int h,
                    int color, mc_quality *q) {
    if (!ref || !img || !q || w < 1 || h < 1 || (ref_channels != 1 && ref_channels != 3) ||
        (img_channels != 1 && img_channels != 3))
        return mc_err(MC_EARG, "mc_quality_pair: bad arguments (%dx%d, channels %d and %d)", w, h, ref_channels,
                      img_channels);
    size_t n = (size_t)w * h;
    uint8_t *g = mc_malloc(2 * n, "grey images");
    if (!g) return MC_ENOMEM;
    uint8_t *g1 = g, *g2 = g + n;
    to_grey(ref, ref_channels, n, g1);
    to_grey(img, img_channels, n, g2);
    q->psnr = mc_psnr(g1, g2, n);
    q->entropy_ref = mc_entropy(g1, n);
    q->entropy_img = mc_entropy(g2, n);
    q->fsimc = NAN;
    int rc = mc_ssim(g1, g2, w, h, &q->ssim);
    if (rc == 0) rc = mc_fsim(g1, g2, w, h, 1, &q->fsim, NULL);
    free(g);
    if (rc < 0 || !color) return rc;
    uint8_t *c = mc_malloc(6 * n, "RGB images");
    if (!c) return MC_ENOMEM;
    to_rgb(ref, ref_channels, n, c);
    to_rgb(img, img_channels, n, c + 3 * n);
    double fy;
    rc = mc_fsim(c, c + 3 * n, w, h, 3, &fy, &q->fsimc);
    free(c);
    return rc;
}
