/* test_image_rgb.c — mc_image_load_rgb8 (src/data/image.c) against PIL's
 * Image.open(f).convert("RGB") on files of every mode (tests/ref/rgb_ref.py): 8-bit grey, 1/2/4-bit
 * grey, 16-bit grey (not PIL's: full precision, round(255 x / 65535)) with and without tRNS, grey+alpha 8 and 16
 * bits, RGB and RGBA 8 and 16 bits, palettes of 4 and 8 bits with and without tRNS, grey with tRNS,
 * and JPEGs (grey, 4:2:0, 4:2:2, 4:4:4, progressive, odd size). Expected: identical bytes (the same
 * libpng/libjpeg decode, the same conversions). CMYK, truncated, empty, missing and non-image files
 * must fail with a message naming the file; a failed load leaves w = h = 0 and the buffer reusable. */
#include <stdint.h>
#include "core/core.h"
#include "mc_image.h"
#include "test.h"

int main(void) {
    char dir[512], cmd[1200], path[1024], line[512];
    snprintf(dir, sizeof dir, "%s/rgb_ref", mc_test_tmp());
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/rgb_ref.py '%s'", dir);
    int src = system(cmd);
    REQUIRE(src == 0, "reference generator failed: %s (needs python3-numpy, python3-pil)", cmd);
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    REQUIRE(mf != NULL, "cannot open %s", path);
    mc_image8 img = {0};
    int nok = 0, nerr = 0;
    while (fgets(line, sizeof line, mf)) {
        char file[128], mode[32];
        int w, h;
        if (sscanf(line, "ok %127s %d %d %31s", file, &w, &h, mode) == 4) {
            snprintf(path, sizeof path, "%s/%s", dir, file);
            int rc = mc_image_load_rgb8(path, &img);
            CHECK(rc == 0, "%s (PIL mode %s): %s", file, mode, mc_errmsg());
            if (rc) continue;
            CHECK(img.w == w && img.h == h && img.c == 3, "%s: %dx%dx%d, PIL %dx%dx3", file, img.w, img.h, img.c, w, h);
            if (img.w != w || img.h != h) continue;
            snprintf(path, sizeof path, "%s/%s.rgb", dir, file);
            FILE *rf = fopen(path, "rb");
            REQUIRE(rf != NULL, "cannot open %s", path);
            size_t n = (size_t)w * h * 3;
            uint8_t *want = malloc(n);
            REQUIRE(fread(want, 1, n, rf) == n, "%s: short", path);
            fclose(rf);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (img.px[i] != want[i] && !bad++) first = i;
            CHECK(bad == 0, "%s (PIL mode %s): %zu of %zu bytes differ from PIL's convert(\"RGB\"), first at pixel %zu "
                  "channel %zu: %d vs %d", file, mode, bad, n, first / 3, first % 3, img.px[first], want[first]);
            printf("  %-14s PIL mode %-5s %dx%d: %zu bytes differ\n", file, mode, w, h, bad);
            free(want);
            nok++;
        } else if (sscanf(line, "err %127s %31s", file, mode) == 2) {
            snprintf(path, sizeof path, "%s/%s", dir, file);
            int rc = mc_image_load_rgb8(path, &img);
            CHECK(rc < 0, "%s (%s): decoding should fail", file, mode);
            CHECK(rc >= 0 || strstr(mc_errmsg(), path) != NULL, "%s: message does not name the file: %s", file,
                  mc_errmsg());
            CHECK(img.w == 0 && img.h == 0, "%s: failed load left %dx%d", file, img.w, img.h);
            if (rc < 0) printf("  %-14s refused: %s\n", file, mc_errmsg());
            nerr++;
        }
    }
    fclose(mf);
    CHECK(nok == 26 && nerr == 6, "%d files decoded, %d refused; expected 26 and 6", nok, nerr);
    /* the buffer is reused after an error */
    snprintf(path, sizeof path, "%s/rgb8.png", dir);
    REQUIRE_OK(mc_image_load_rgb8(path, &img));
    CHECK(img.w == 37 && img.h == 23, "reload after errors: %dx%d", img.w, img.h);
    CHECK(mc_image_load_rgb8(NULL, &img) == MC_EARG, "NULL path accepted");
    mc_image8_free(&img);
    mc_image8_free(&img); /* twice is fine */
    return mc_test_done("test_image_rgb");
}
