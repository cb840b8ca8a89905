/* colormap.c — matplotlib's "jet" colour map as 8-bit RGB (the heatmaps of `medcolor explain`,
 * docs/explain.md), exactly what matplotlib 3.6 gives for cm.jet(v, bytes=True).
 *
 * The map is defined by matplotlib's segment data for jet (_cm.py, _jet_data): per channel, the
 * points (x, y) below, linearly interpolated. matplotlib turns them into a table of N = 256 colours
 * (LinearSegmentedColormap._create_lookup_table): entry i is the channel's value at
 * xind = (N - 1) * linspace(0, 1, N)[i], with the points' x scaled by N - 1, interpolated between
 * the two points around it (the first point whose x is >= xind and the one before), entry 0 the
 * first point's y and entry N-1 the last's, clipped to [0, 1]; as bytes (uint8)(value * 255),
 * truncated. A value v picks entry (int)(v * N) (float32 arithmetic), v = 1 entry N - 1; below 0
 * entry 0, above 1 entry N - 1 (the under / over colours default to the ends), NaN entry 0. */
#include <stddef.h>
#include <stdint.h>
#include "mc_imaging.h"

typedef struct {
    double x, y;
} seg_point;

static const seg_point jet_r[] = {{0.0, 0.0}, {0.35, 0.0}, {0.66, 1.0}, {0.89, 1.0}, {1.0, 0.5}};
static const seg_point jet_g[] = {{0.0, 0.0}, {0.125, 0.0}, {0.375, 1.0}, {0.64, 1.0}, {0.91, 0.0}, {1.0, 0.0}};
static const seg_point jet_b[] = {{0.0, 0.5}, {0.11, 1.0}, {0.34, 1.0}, {0.65, 0.0}, {1.0, 0.0}};

#define LUT_N 256

static void channel_table(const seg_point *p, int np, uint8_t *out, int stride) {
    for (int i = 0; i < LUT_N; i++) {
        double v;
        if (i == 0) {
            v = p[0].y;
        } else if (i == LUT_N - 1) {
            v = p[np - 1].y;
        } else {
            /* numpy's linspace(0, 1, N)[i] = i * (1 / (N - 1)), times N - 1 */
            double xind = (double)(LUT_N - 1) * ((double)i * (1.0 / (double)(LUT_N - 1)));
            int k = 0; /* searchsorted (left): the first point with x * (N - 1) >= xind */
            while (k < np - 1 && p[k].x * (double)(LUT_N - 1) < xind) k++;
            double x0 = p[k - 1].x * (double)(LUT_N - 1), x1 = p[k].x * (double)(LUT_N - 1);
            double d = (xind - x0) / (x1 - x0);
            v = d * (p[k].y - p[k - 1].y) + p[k - 1].y;
        }
        if (v < 0) v = 0;
        if (v > 1) v = 1;
        out[i * stride] = (uint8_t)(v * 255.0);
    }
}

void mc_colormap_jet_table(uint8_t lut[256 * 3]) {
    channel_table(jet_r, (int)(sizeof jet_r / sizeof jet_r[0]), lut + 0, 3);
    channel_table(jet_g, (int)(sizeof jet_g / sizeof jet_g[0]), lut + 1, 3);
    channel_table(jet_b, (int)(sizeof jet_b / sizeof jet_b[0]), lut + 2, 3);
}

void mc_colormap_jet(const float *v, size_t n, uint8_t *rgb) {
    uint8_t lut[LUT_N * 3];
    mc_colormap_jet_table(lut);
    for (size_t k = 0; k < n; k++) {
        float t = v[k] * (float)LUT_N;
        int i = t >= (float)LUT_N ? LUT_N - 1 : t > 0 ? (int)t : 0; /* NaN: entry 0 */
        rgb[3 * k] = lut[3 * i];
        rgb[3 * k + 1] = lut[3 * i + 1];
        rgb[3 * k + 2] = lut[3 * i + 2];
    }
}
