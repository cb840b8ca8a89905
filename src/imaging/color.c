/* color.c — PIL's luma, JFIF YCbCr and sRGB ↔ CIELAB (include/mc_imaging.h has the formulas).
 * Sources: Pillow's documentation of convert("L") (ITU-R 601-2 luma) and its 16-bit fixed-point
 * form; the JFIF 1.02 full-range YCbCr equations; scikit-image's rgb2lab/lab2rgb conventions
 * (D65 white, CIE 1976 with the 0.008856 / 7.787 linear segment). */
#include <math.h>
#include <string.h>
#include "core/core.h"
#include "mc_imaging.h"

void mc_luma_pil(const uint8_t *rgb, size_t npix, uint8_t *grey) {
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = rgb + 3 * i;
        grey[i] = (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
    }
}

/* round half away from zero, then clip to 0…255 */
static uint8_t round_clip(double v) {
    double r = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static void ycc_from_rgb(const uint8_t *p, uint8_t *o) {
    double r = p[0], g = p[1], b = p[2];
    uint8_t y = round_clip(0.299 * r + 0.587 * g + 0.114 * b);
    uint8_t cb = round_clip(128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b);
    uint8_t cr = round_clip(128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    o[0] = y;
    o[1] = cb;
    o[2] = cr;
}

static void rgb_from_ycc(const uint8_t *p, uint8_t *o) {
    double y = p[0], cb = p[1] - 128.0, cr = p[2] - 128.0;
    uint8_t r = round_clip(y + 1.402 * cr);
    uint8_t g = round_clip(y - 0.344136 * cb - 0.714136 * cr);
    uint8_t b = round_clip(y + 1.772 * cb);
    o[0] = r;
    o[1] = g;
    o[2] = b;
}

void mc_rgb_to_ycbcr(const uint8_t *rgb, size_t npix, uint8_t *ycc) {
    for (size_t i = 0; i < npix; i++) ycc_from_rgb(rgb + 3 * i, ycc + 3 * i);
}

void mc_ycbcr_to_rgb(const uint8_t *ycc, size_t npix, uint8_t *rgb) {
    for (size_t i = 0; i < npix; i++) rgb_from_ycc(ycc + 3 * i, rgb + 3 * i);
}

void mc_ycbcr_merge(const uint8_t *orig, const uint8_t *result, size_t npix, double gain, uint8_t *out) {
    for (size_t i = 0; i < npix; i++) {
        uint8_t a[3], b[3], m[3];
        ycc_from_rgb(orig + 3 * i, a);
        ycc_from_rgb(result + 3 * i, b);
        m[0] = a[0];
        m[1] = b[1];
        m[2] = b[2];
        if (gain != 1.0) {
            m[1] = round_clip(128.0 + gain * (b[1] - 128.0));
            m[2] = round_clip(128.0 + gain * (b[2] - 128.0));
        }
        rgb_from_ycc(m, out + 3 * i);
    }
}

/* ---- CIELAB ------------------------------------------------------------------------------ */
static const double XYZ_FROM_RGB[3][3] = {{0.412453, 0.357580, 0.180423},
                                          {0.212671, 0.715160, 0.072169},
                                          {0.019334, 0.119193, 0.950227}};
static const double WHITE[3] = {0.95047, 1.0, 1.08883};

/* the inverse of XYZ_FROM_RGB (skimage: linalg.inv), by cofactors */
static void rgb_from_xyz(double inv[3][3]) {
    const double(*m)[3] = XYZ_FROM_RGB;
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                 m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            /* inv[i][j] = cofactor(j, i) / det */
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
}

static double lab_f(double t) { return t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0; }

static double lab_finv(double f) { return f > 0.2068966 ? f * f * f : (f - 16.0 / 116.0) / 7.787; }

void mc_srgb_to_lab(const double *rgb, size_t n, double *lab) {
    for (size_t i = 0; i < n; i++) {
        double lin[3], xyz[3];
        for (int c = 0; c < 3; c++) {
            double v = rgb[3 * i + c];
            lin[c] = v > 0.04045 ? pow((v + 0.055) / 1.055, 2.4) : v / 12.92;
        }
        for (int r = 0; r < 3; r++)
            xyz[r] = (XYZ_FROM_RGB[r][0] * lin[0] + XYZ_FROM_RGB[r][1] * lin[1] + XYZ_FROM_RGB[r][2] * lin[2]) /
                     WHITE[r];
        double fx = lab_f(xyz[0]), fy = lab_f(xyz[1]), fz = lab_f(xyz[2]);
        lab[3 * i + 0] = 116.0 * fy - 16.0;
        lab[3 * i + 1] = 500.0 * (fx - fy);
        lab[3 * i + 2] = 200.0 * (fy - fz);
    }
}

void mc_lab_to_srgb(const double *lab, size_t n, double *rgb) {
    double inv[3][3];
    rgb_from_xyz(inv);
    for (size_t i = 0; i < n; i++) {
        double fy = (lab[3 * i] + 16.0) / 116.0;
        double fx = lab[3 * i + 1] / 500.0 + fy;
        double fz = fy - lab[3 * i + 2] / 200.0;
        if (fz < 0) fz = 0;
        double xyz[3] = {lab_finv(fx) * WHITE[0], lab_finv(fy) * WHITE[1], lab_finv(fz) * WHITE[2]};
        for (int c = 0; c < 3; c++) {
            double v = inv[c][0] * xyz[0] + inv[c][1] * xyz[1] + inv[c][2] * xyz[2];
            v = v > 0.0031308 ? 1.055 * pow(v, 1.0 / 2.4) - 0.055 : 12.92 * v;
            rgb[3 * i + c] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
}

void mc_srgb_to_lab_f(const float *rgb, size_t n, float *lab) {
    for (size_t i = 0; i < n; i++) {
        double in[3] = {rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]}, out[3];
        mc_srgb_to_lab(in, 1, out);
        for (int c = 0; c < 3; c++) lab[3 * i + c] = (float)out[c];
    }
}

void mc_lab_to_srgb_f(const float *lab, size_t n, float *rgb) {
    for (size_t i = 0; i < n; i++) {
        double in[3] = {lab[3 * i], lab[3 * i + 1], lab[3 * i + 2]}, out[3];
        mc_lab_to_srgb(in, 1, out);
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = (float)out[c];
    }
}
