/* kmeans.c — 1-D k-means on the grey levels of an image (§2 step 3 of the transfer: the
 * segmentation into k clusters, dark to bright, whose masks pair target and reference). It
 * works on the 256-bin histogram: every pixel of one level goes to the same cluster. */
#include <math.h>
#include <string.h>
#include "core/core.h"
#include "mc_imaging.h"

int mc_kmeans_grey(const uint8_t *grey, size_t n, int k, int max_iter, uint8_t *labels, double *centres,
                   int *iters) {
    if (!grey || !labels || n == 0 || k < 1 || k > 255 || max_iter < 0)
        return mc_err(MC_EARG, "mc_kmeans_grey: bad arguments (n %zu, k %d, max_iter %d)", n, k, max_iter);
    if (max_iter == 0) max_iter = 1000;
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[grey[i]]++;
    int lo = 0, hi = 255;
    while (!hist[lo]) lo++;
    while (!hist[hi]) hi--;
    /* shifted levels v' = v − lo + 1 run 1 … maxs */
    double maxs = (double)(hi - lo + 1);
    double c[256];
    for (int i = 0; i < k; i++) c[i] = (i + 1) * (maxs + 1.0) / (k + 1);
    int assign[256], round = 0;
    for (int v = 0; v < 256; v++) assign[v] = -1;
    for (;;) {
        int changed = 0;
        for (int v = lo; v <= hi; v++) {
            if (!hist[v]) continue;
            double vs = (double)(v - lo + 1), bd = INFINITY;
            int bi = 0;
            for (int i = 0; i < k; i++) {
                double d = fabs(vs - c[i]);
                if (d < bd) {
                    bd = d;
                    bi = i;
                }
            }
            if (assign[v] != bi) changed = 1;
            assign[v] = bi;
        }
        if (!changed || round >= max_iter) break;
        round++;
        double sum[256] = {0}, cnt[256] = {0};
        for (int v = lo; v <= hi; v++) {
            if (!hist[v]) continue;
            sum[assign[v]] += (double)hist[v] * (double)(v - lo + 1);
            cnt[assign[v]] += (double)hist[v];
        }
        for (int i = 0; i < k; i++)
            if (cnt[i] > 0) c[i] = sum[i] / cnt[i];
    }
    for (size_t i = 0; i < n; i++) labels[i] = (uint8_t)assign[grey[i]];
    if (centres)
        for (int i = 0; i < k; i++) centres[i] = c[i] + lo - 1;
    if (iters) *iters = round;
    return MC_OK;
}

void mc_kmeans_masks(const uint8_t *labels, size_t n, int k, uint8_t *masks) {
    for (int i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) masks[(size_t)i * n + j] = labels[j] == i;
}
