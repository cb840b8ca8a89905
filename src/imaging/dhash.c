/* dhash.c — the difference hash of imagehash.dhash (hash_size 8) and retrieval by Hamming
 * distance (§2 step 1 of the transfer: reference retrieval). */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_imaging.h"

int mc_dhash(const uint8_t *px, int w, int h, int channels, uint64_t *hash) {
    if (!px || !hash || w < 1 || h < 1 || (channels != 1 && channels != 3))
        return mc_err(MC_EARG, "mc_dhash: bad arguments (%dx%d, %d channels)", w, h, channels);
    const uint8_t *grey = px;
    uint8_t *tmp = NULL;
    if (channels == 3) {
        tmp = mc_malloc((size_t)w * h, "grey image for the D-hash");
        if (!tmp) return MC_ENOMEM;
        mc_luma_pil(px, (size_t)w * h, tmp);
        grey = tmp;
    }
    uint8_t small[8][9];
    int rc = mc_resize_lanczos(grey, w, h, 1, &small[0][0], 9, 8);
    free(tmp);
    if (rc < 0) return rc;
    uint64_t v = 0;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) v = (v << 1) | (uint64_t)(small[y][x + 1] > small[y][x]);
    *hash = v;
    return MC_OK;
}

int mc_hamming64(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }

void mc_dhash_hex(uint64_t hash, char out[17]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) out[i] = digits[(hash >> (60 - 4 * i)) & 15];
    out[16] = 0;
}

int mc_dhash_parse(const char *hex, uint64_t *hash) {
    uint64_t v = 0;
    int i = 0;
    for (; hex && hex[i] && i < 17; i++) {
        char ch = hex[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F'                 ? ch - 'A' + 10
                                                         : -1;
        if (d < 0) break;
        v = (v << 4) | (uint64_t)d;
    }
    if (!hex || i != 16 || hex[16])
        return mc_err(MC_EPARSE, "'%.40s' is not a D-hash (16 hex digits)", hex ? hex : "(null)");
    *hash = v;
    return MC_OK;
}

size_t mc_dhash_nearest(uint64_t q, const uint64_t *refs, size_t n, int *dist) {
    size_t best = 0;
    int bd = 65;
    for (size_t i = 0; i < n; i++) {
        int d = mc_hamming64(q, refs[i]);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    if (dist) *dist = n ? bd : -1;
    return best;
}
