/* fuzz_image.c — PNG and JPEG decoding (x.img; the format is found from the content). The
 * chunk CRCs of a PNG are recomputed first (when the first input byte is even), so that the
 * fuzzer gets past libpng's checks into the image data; a decoded image must have a size and
 * every pixel in [0, 1]. */
#include "fuzz.h"
#include <zlib.h>

static void fix_png_crcs(uint8_t *b, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(b, sig, 8) != 0) return;
    size_t o = 8;
    while (o + 12 <= n) {
        uint32_t len = (uint32_t)b[o] << 24 | (uint32_t)b[o + 1] << 16 | (uint32_t)b[o + 2] << 8 | b[o + 3];
        if (len > n - o - 12) break;
        uint32_t crc = (uint32_t)crc32(0, b + o + 4, len + 4);
        uint8_t *c = b + o + 8 + len;
        c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8), c[3] = (uint8_t)crc;
        o += 12 + (size_t)len;
    }
}

static int one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    if (!(data[0] & 1)) fix_png_crcs(copy, size - 1);
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.img", copy, size - 1);
    free(copy);
    mc_image img = {0};
    int rc = mc_image_load_grey(path, &img), bad = 0;
    if (rc < 0) {
        bad = mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.img"));
    } else if (img.w < 1 || img.h < 1) {
        fprintf(stderr, "fuzz: decoded a %dx%d image\n", img.w, img.h);
        bad = 1;
    } else {
        for (size_t i = 0; i < (size_t)img.w * img.h; i++)
            if (!(img.px[i] >= 0.0f && img.px[i] <= 1.0f)) {
                fprintf(stderr, "fuzz: pixel %zu is %g\n", i, (double)img.px[i]);
                bad = 1;
                break;
            }
    }
    mc_image_free(&img);
    return bad;
}
MC_FUZZ_TARGET(image)
