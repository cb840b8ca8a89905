/* subset.c — subsets drawn exactly as the thesis drew them with pandas:
 * DataFrame.sample(frac=f, random_state=seed) on n rows = the first round(f·n) entries of
 * numpy's legacy RandomState(seed).permutation(n).
 *   - MT19937 seeded with init_genrand(seed) (numpy's legacy integer seeding);
 *   - permutation = Fisher–Yates on 0..n-1, i from n-1 down to 1, swapping i with
 *     j = random_interval(i): mask = smallest all-ones bit mask >= i, draw 32-bit outputs,
 *     AND with the mask, reject while > i (numpy's legacy _shuffle_raw / random_interval);
 *   - round() is Python's: half to even (pandas: n = round(frac * axis_length)). */
#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include "data/data_internal.h"

void mc_mt19937_seed(mc_mt19937 *s, uint32_t seed) {
    s->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (uint32_t)i;
    s->mti = 624;
}

uint32_t mc_mt19937_next(mc_mt19937 *s) {
    if (s->mti >= 624) {
        uint32_t *mt = s->mt;
        for (int k = 0; k < 624; k++) {
            uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        s->mti = 0;
    }
    uint32_t y = s->mt[s->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* Uniform integer in [0, max] by masked rejection (max < 2^32: 32-bit draws). */
static uint32_t random_interval(mc_mt19937 *s, uint32_t max) {
    if (max == 0) return 0;
    uint32_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    while ((v = mc_mt19937_next(s) & mask) > max) {}
    return v;
}

int mc_np_permutation(uint32_t seed, int n, int *perm) {
    if (n < 0) return mc_err(MC_EARG, "permutation of %d elements", n);
    mc_mt19937 *s = mc_malloc(sizeof *s, "MT19937 state");
    if (!s) return MC_ENOMEM;
    mc_mt19937_seed(s, seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i >= 1; i--) {
        int j = (int)random_interval(s, (uint32_t)i);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    free(s);
    return MC_OK;
}

int mc_sample_size(double frac, int n) {
    if (!(frac >= 0 && frac <= 1) || n < 0) return -1;
    /* Python's round(): the nearest integer, ties to even — rint() in the default rounding mode. */
    int saved = fegetround();
    if (saved != FE_TONEAREST) fesetround(FE_TONEAREST);
    double r = rint(frac * (double)n);
    if (saved != FE_TONEAREST) fesetround(saved);
    return (int)r;
}

int mc_pandas_sample(int n, double frac, uint32_t seed, int **idx, int *k) {
    *idx = NULL;
    *k = 0;
    int size = mc_sample_size(frac, n);
    if (size < 0) return mc_err(MC_EARG, "sample fraction %g is not in [0, 1] (or %d rows)", frac, n);
    int *perm = mc_malloc((size_t)(n ? n : 1) * sizeof *perm, "permutation");
    if (!perm) return MC_ENOMEM;
    int rc = mc_np_permutation(seed, n, perm);
    if (rc < 0) {
        free(perm);
        return rc;
    }
    *idx = perm; /* the first size entries are the sample, in the permutation's order */
    *k = size;
    return MC_OK;
}
