/* fsim.c — FSIM and FSIMc (Zhang, Zhang, Mou, Zhang: "FSIM: a feature similarity index for image
 * quality assessment", IEEE TIP 2011), with the definitions of the authors' FeatureSIM.m as the
 * transfer's evaluation code uses them (docs/transfer.md, §2 step 10 of the specification):
 *   1. F = max(1, round(min(h, w)/256)); every plane (Y, and I, Q for FSIMc) is box-filtered
 *      F×F with zeros outside ("same" window rows i+⌊F/2⌋−F+1 … i+⌊F/2⌋) and every F-th sample
 *      kept, from 0;
 *   2. phase congruency of Y (Kovesi's phasecong2 as in FeatureSIM.m: 4 scales from wavelength
 *      6 by ×2, σ_f/f 0.55, 4 orientations θ_o = oπ/4 with angular σ π/4/1.2, k = 2, ε 1e-4);
 *   3. gradient magnitude with Scharr's kernels [3 0 −3; 10 0 −10; 3 0 −3]/16 and its transpose
 *      (zeros outside);
 *   4. S_PC = (2PC₁PC₂ + 0.85)/(PC₁² + PC₂² + 0.85), S_G = (2G₁G₂ + 160)/(G₁² + G₂² + 160),
 *      FSIM = Σ S_PC·S_G·PC_m / Σ PC_m with PC_m = max(PC₁, PC₂); FSIMc also multiplies by
 *      Re[(S_I·S_Q)^0.03] (S_I, S_Q with constant 200; the real part of the principal power, as
 *      MATLAB's real() of a negative base's power).
 * FFTs: src/imaging/fft.c (our own radix-2 + Bluestein in double; no FFT library). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "imaging/fft.h"
#include "mc_imaging.h"

#define NSCALE 4
#define NORIENT 4

/* frequency coordinate of index i of n after ifftshift: (−n/2 … n/2−1)/n (even n) or
 * (−(n−1)/2 … (n−1)/2)/(n−1) (odd n), shifted so that index 0 holds 0 */
static double freq(int i, int n) {
    if (n % 2 == 0) {
        int j = (i + n / 2) % n;
        return (double)(j - n / 2) / n;
    }
    if (n == 1) return 0.0;
    int j = (i + (n - 1) / 2) % n;
    return (double)(j - (n - 1) / 2) / (n - 1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of n values (the mean of the two middle ones for even n); sorts v */
static double median(double *v, size_t n) {
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The filters for one image size: filter[o][s][h·w] = logGabor_s · spread_o, and per
 * orientation the noise constants of phasecong2. */
typedef struct pc_plan {
    int w, h;
    mc_fft *fw, *fh;
    double *filter;            /* [NORIENT][NSCALE][h·w] */
    double em_n[NORIENT];      /* Σ filter_{o,1}² */
    double sum_an2[NORIENT];   /* Σ_pixels Σ_s f_s² */
    double sum_aiaj[NORIENT];  /* Σ_pixels Σ_{s<t} f_s·f_t */
} pc_plan;

static void pc_plan_free(pc_plan *p) {
    mc_fft_free(p->fw);
    mc_fft_free(p->fh);
    free(p->filter);
    memset(p, 0, sizeof *p);
}

static int pc_plan_new(pc_plan *p, int w, int h) {
    memset(p, 0, sizeof *p);
    p->w = w;
    p->h = h;
    size_t n = (size_t)w * h;
    int rc = mc_fft_new(&p->fw, w);
    if (rc == 0) rc = mc_fft_new(&p->fh, h);
    double *radius = NULL, *theta = NULL, *lp = NULL, *re = NULL;
    if (rc < 0) goto out;
    p->filter = mc_malloc(n * NORIENT * NSCALE * sizeof(double), "FSIM filters");
    radius = mc_malloc(n * sizeof(double), "FSIM grid");
    theta = mc_malloc(n * sizeof(double), "FSIM grid");
    lp = mc_malloc(n * sizeof(double), "FSIM grid");
    re = mc_malloc(n * NSCALE * 2 * sizeof(double), "FSIM filter transforms");
    if (!p->filter || !radius || !theta || !lp || !re) {
        rc = MC_ENOMEM;
        goto out;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double fx = freq(x, w), fy = freq(y, h);
            size_t i = (size_t)y * w + x;
            double r = sqrt(fx * fx + fy * fy);
            lp[i] = 1.0 / (1.0 + pow(r / 0.45, 30.0)); /* Butterworth, cutoff 0.45, order 15 */
            radius[i] = r;
            theta[i] = atan2(-fy, fx);
        }
    radius[0] = 1.0;
    const double sigma_onf = 0.55, theta_sigma = M_PI / NORIENT / 1.2;
    for (int o = 0; o < NORIENT; o++) {
        double angl = o * M_PI / NORIENT, ca = cos(angl), sa = sin(angl);
        for (int s = 0; s < NSCALE; s++) {
            double wavelength = 6.0 * pow(2.0, s), fo = 1.0 / wavelength;
            double *f = p->filter + ((size_t)o * NSCALE + s) * n;
            for (size_t i = 0; i < n; i++) {
                double l = log(radius[i] / fo);
                double g = exp(-(l * l) / (2.0 * log(sigma_onf) * log(sigma_onf))) * lp[i];
                if (i == 0) g = 0.0;
                double st = sin(theta[i]), ct = cos(theta[i]);
                double ds = st * ca - ct * sa, dc = ct * ca + st * sa;
                double dtheta = fabs(atan2(ds, dc));
                f[i] = g * exp(-(dtheta * dtheta) / (2.0 * theta_sigma * theta_sigma));
            }
        }
    }
    /* noise constants: f_s = real(ifft2(filter_s))·√(hw) */
    for (int o = 0; o < NORIENT; o++) {
        double em = 0.0;
        const double *f1 = p->filter + (size_t)o * NSCALE * n;
        for (size_t i = 0; i < n; i++) em += f1[i] * f1[i];
        p->em_n[o] = em;
        for (int s = 0; s < NSCALE; s++) {
            double *fr = re + (size_t)s * 2 * n, *fi = fr + n;
            memcpy(fr, p->filter + ((size_t)o * NSCALE + s) * n, n * sizeof(double));
            memset(fi, 0, n * sizeof(double));
            if ((rc = mc_fft2(p->fw, p->fh, fr, fi, w, h, 1)) < 0) goto out;
            double sc = sqrt((double)n);
            for (size_t i = 0; i < n; i++) fr[i] *= sc;
        }
        double a2 = 0.0, aij = 0.0;
        for (size_t i = 0; i < n; i++) {
            for (int s = 0; s < NSCALE; s++) {
                double fs = re[(size_t)s * 2 * n + i];
                a2 += fs * fs;
                for (int t = s + 1; t < NSCALE; t++) aij += fs * re[(size_t)t * 2 * n + i];
            }
        }
        p->sum_an2[o] = a2;
        p->sum_aiaj[o] = aij;
    }
out:
    free(radius);
    free(theta);
    free(lp);
    free(re);
    if (rc < 0) pc_plan_free(p);
    return rc;
}

static int pc_compute(const pc_plan *p, const double *img, double *pc) {
    int w = p->w, h = p->h;
    size_t n = (size_t)w * h;
    /* imagefft; per scale EO (re, im); sums; energy */
    double *buf = mc_malloc(n * (2 + 2 * NSCALE + 6) * sizeof(double), "phase congruency");
    if (!buf) return MC_ENOMEM;
    double *fr = buf, *fi = fr + n, *eo = fi + n, *sum_e = eo + 2 * NSCALE * n, *sum_o = sum_e + n,
           *sum_an = sum_o + n, *energy = sum_an + n, *energy_all = energy + n, *an_all = energy_all + n;
    memcpy(fr, img, n * sizeof(double));
    memset(fi, 0, n * sizeof(double));
    int rc = mc_fft2(p->fw, p->fh, fr, fi, w, h, 0);
    memset(energy_all, 0, 2 * n * sizeof(double));
    for (int o = 0; o < NORIENT && rc == 0; o++) {
        memset(sum_e, 0, 3 * n * sizeof(double));
        for (int s = 0; s < NSCALE && rc == 0; s++) {
            const double *f = p->filter + ((size_t)o * NSCALE + s) * n;
            double *er = eo + (size_t)s * 2 * n, *ei = er + n;
            for (size_t i = 0; i < n; i++) {
                er[i] = fr[i] * f[i];
                ei[i] = fi[i] * f[i];
            }
            rc = mc_fft2(p->fw, p->fh, er, ei, w, h, 1);
            for (size_t i = 0; i < n; i++) {
                sum_an[i] += sqrt(er[i] * er[i] + ei[i] * ei[i]);
                sum_e[i] += er[i];
                sum_o[i] += ei[i];
            }
        }
        if (rc < 0) break;
        for (size_t i = 0; i < n; i++) {
            double xe = sqrt(sum_e[i] * sum_e[i] + sum_o[i] * sum_o[i]) + 1e-4;
            double me = sum_e[i] / xe, mo = sum_o[i] / xe, e = 0.0;
            for (int s = 0; s < NSCALE; s++) {
                double E = eo[(size_t)s * 2 * n + i], O = eo[(size_t)s * 2 * n + n + i];
                e += E * me + O * mo - fabs(E * mo - O * me);
            }
            energy[i] = e;
        }
        /* noise threshold from the median of |EO| at the smallest scale (sum_e reused) */
        for (size_t i = 0; i < n; i++) sum_e[i] = eo[i] * eo[i] + eo[n + i] * eo[n + i];
        double mean_e2n = -median(sum_e, n) / log(0.5);
        double noise_power = mean_e2n / p->em_n[o];
        double est2 = 2.0 * noise_power * p->sum_an2[o] + 4.0 * noise_power * p->sum_aiaj[o];
        double tau = sqrt(est2 / 2.0);
        double t = (tau * sqrt(M_PI / 2.0) + 2.0 * sqrt((2.0 - M_PI / 2.0) * tau * tau)) / 1.7;
        for (size_t i = 0; i < n; i++) {
            energy_all[i] += fmax(energy[i] - t, 0.0);
            an_all[i] += sum_an[i];
        }
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++) pc[i] = an_all[i] > 0 ? energy_all[i] / an_all[i] : 0.0; /* 0/0: none */
    free(buf);
    return rc;
}

int mc_phase_congruency(const double *img, int w, int h, double *pc) {
    if (!img || !pc || w < 1 || h < 1)
        return mc_err(MC_EARG, "mc_phase_congruency: bad arguments (%dx%d)", w, h);
    pc_plan p;
    MC_TRY(pc_plan_new(&p, w, h));
    int rc = pc_compute(&p, img, pc);
    pc_plan_free(&p);
    return rc;
}

/* F×F box filter ("same", zeros outside) and every F-th sample from 0: [h][w] → [oh][ow] */
static void downsample(const double *in, int w, int h, int F, double *out, int ow, int oh) {
    if (F == 1) {
        memcpy(out, in, (size_t)w * h * sizeof(double));
        return;
    }
    double inv = 1.0 / ((double)F * F);
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            int y1 = oy * F + F / 2, x1 = ox * F + F / 2; /* the window's last row / column */
            double s = 0.0;
            for (int y = y1 - F + 1; y <= y1; y++) {
                if (y < 0 || y >= h) continue;
                for (int x = x1 - F + 1; x <= x1; x++)
                    if (x >= 0 && x < w) s += in[(size_t)y * w + x];
            }
            out[(size_t)oy * ow + ox] = s * inv;
        }
}

/* Scharr gradient magnitude, zeros outside */
static void gradient(const double *in, int w, int h, double *g) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
#define PX(yy, xx) (((yy) < 0 || (yy) >= h || (xx) < 0 || (xx) >= w) ? 0.0 : in[(size_t)(yy) * w + (xx)])
            double gx = (3.0 * (PX(y - 1, x - 1) - PX(y - 1, x + 1)) + 10.0 * (PX(y, x - 1) - PX(y, x + 1)) +
                         3.0 * (PX(y + 1, x - 1) - PX(y + 1, x + 1))) / 16.0;
            double gy = (3.0 * (PX(y - 1, x - 1) - PX(y + 1, x - 1)) + 10.0 * (PX(y - 1, x) - PX(y + 1, x)) +
                         3.0 * (PX(y - 1, x + 1) - PX(y + 1, x + 1))) / 16.0;
#undef PX
            g[(size_t)y * w + x] = sqrt(gx * gx + gy * gy);
        }
}

int mc_fsim(const uint8_t *a, const uint8_t *b, int w, int h, int channels, double *fsim, double *fsimc) {
    if (!a || !b || !fsim || w < 1 || h < 1 || (channels != 1 && channels != 3))
        return mc_err(MC_EARG, "mc_fsim: bad arguments (%dx%d, %d channels)", w, h, channels);
    int mn = w < h ? w : h;
    int F = (int)lround(mn / 256.0); /* half away from zero, as MATLAB's round */
    if (F < 1) F = 1;
    int ow = (w + F - 1) / F, oh = (h + F - 1) / F;
    if (ow < 2 || oh < 2) return mc_err(MC_ESHAPE, "FSIM: image %dx%d too small", w, h);
    size_t n = (size_t)w * h, on = (size_t)ow * oh;
    int nplanes = channels == 3 ? 3 : 1;
    /* full-size planes (one at a time), downsampled planes [2][nplanes], pc, gradients */
    double *full = mc_malloc((n + on * (2 * nplanes + 4)) * sizeof(double), "FSIM planes");
    if (!full) return MC_ENOMEM;
    double *ds = full + n, *pc1 = ds + on * 2 * nplanes, *pc2 = pc1 + on, *g1 = pc2 + on, *g2 = g1 + on;
    for (int im = 0; im < 2; im++) {
        const uint8_t *src = im ? b : a;
        for (int pl = 0; pl < nplanes; pl++) {
            for (size_t i = 0; i < n; i++) {
                if (channels == 1) {
                    full[i] = src[i];
                } else {
                    double R = src[3 * i], G = src[3 * i + 1], B = src[3 * i + 2];
                    full[i] = pl == 0   ? 0.299 * R + 0.587 * G + 0.114 * B
                              : pl == 1 ? 0.596 * R - 0.274 * G - 0.322 * B
                                        : 0.211 * R - 0.523 * G + 0.312 * B;
                }
            }
            downsample(full, w, h, F, ds + ((size_t)im * nplanes + pl) * on, ow, oh);
        }
    }
    const double *y1 = ds, *y2 = ds + (size_t)nplanes * on;
    pc_plan p;
    int rc = pc_plan_new(&p, ow, oh);
    if (rc == 0) {
        rc = pc_compute(&p, y1, pc1);
        if (rc == 0) rc = pc_compute(&p, y2, pc2);
        pc_plan_free(&p);
    }
    if (rc < 0) {
        free(full);
        return rc;
    }
    gradient(y1, ow, oh, g1);
    gradient(y2, ow, oh, g2);
    double num = 0.0, numc = 0.0, den = 0.0;
    for (size_t i = 0; i < on; i++) {
        double spc = (2.0 * pc1[i] * pc2[i] + 0.85) / (pc1[i] * pc1[i] + pc2[i] * pc2[i] + 0.85);
        double sg = (2.0 * g1[i] * g2[i] + 160.0) / (g1[i] * g1[i] + g2[i] * g2[i] + 160.0);
        double pcm = fmax(pc1[i], pc2[i]);
        num += spc * sg * pcm;
        den += pcm;
        if (nplanes == 3) {
            double i1 = ds[on + i], q1 = ds[2 * on + i], i2 = ds[4 * on + i], q2 = ds[5 * on + i];
            double si = (2.0 * i1 * i2 + 200.0) / (i1 * i1 + i2 * i2 + 200.0);
            double sq = (2.0 * q1 * q2 + 200.0) / (q1 * q1 + q2 * q2 + 200.0);
            double prod = si * sq;
            double c = prod >= 0 ? pow(prod, 0.03) : pow(-prod, 0.03) * cos(0.03 * M_PI);
            numc += spc * sg * c * pcm;
        }
    }
    free(full);
    if (!(den > 0))
        return mc_err(MC_ENUM, "FSIM is undefined: neither image has phase congruency anywhere (flat images?)");
    *fsim = num / den;
    if (fsimc) *fsimc = nplanes == 3 ? numc / den : *fsim;
    return MC_OK;
}
