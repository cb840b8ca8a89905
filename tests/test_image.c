/* test_image.c — PNG/JPEG decoding to grey floats (src/data/image.c).
 *
 * tests/torch/image_ref.py writes every kind of file the decoder must read (8/16-bit and
 * 1/2/4-bit grey, grey+alpha, RGB, RGBA, 16-bit RGB, palette with and without tRNS, Adam7
 * interlaced, grey / progressive / colour JPEG) with their true grey values, and corrupt or
 * truncated files. PNG references are the encoded sample values / maxval (colour: 601 luma),
 * tolerance 1e-6 (float32 rounding of x / maxval and of the luma sum). JPEG references are
 * PIL's decode of the same file (JCS_GRAYSCALE via draft('L') for colour), tolerance 1/255:
 * one grey level, the spread allowed between IDCT implementations; with the same libjpeg the
 * observed difference is printed (expected 0). Every corrupt file must give an error whose
 * message names the file. */
#include <stdint.h>
#include "core/core.h"
#include "mc_image.h"
#include "test.h"

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof(float));
    if (v && fread(v, sizeof(float), n, f) != n) {
        free(v);
        v = NULL;
    }
    fclose(f);
    return v;
}

int main(void) {
    char dir[512], cmd[1200], path[1024];
    snprintf(dir, sizeof dir, "%s/image_ref", mc_test_tmp());
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/torch/image_ref.py '%s'", dir);
    int src = system(cmd); /* not inside REQUIRE: it evaluates its condition twice */
    REQUIRE(src == 0, "reference generator failed: %s (needs python3-numpy, python3-pil)", cmd);

    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    REQUIRE(mf != NULL, "cannot open %s", path);
    mc_image img = {0};
    int ncase = 0, nok = 0, nerr = 0;
    double jpeg_max = 0.0;
    char name[128], file[256], kind[8], ws[16], hs[16], ref[256], tols[32], what[512];
    while (fscanf(mf, "%127s %255s %7s %15s %15s %255s %31s %511[^\n]", name, file, kind, ws, hs,
                  ref, tols, what) == 8) {
        ncase++;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        int rc = mc_image_load_grey(path, &img);
        if (strcmp(kind, "err") == 0) {
            nerr++;
            CHECK(rc < 0, "%s (%s): decoding should fail but succeeded (%dx%d)", name, what, img.w,
                  img.h);
            if (rc < 0) {
                CHECK(strstr(mc_errmsg(), path) != NULL, "%s: message does not name the file: %s",
                      name, mc_errmsg());
                CHECK(img.w == 0 && img.h == 0, "%s: failed load left size %dx%d", name, img.w,
                      img.h);
            }
            continue;
        }
        nok++;
        int w = atoi(ws), h = atoi(hs);
        double tol = atof(tols);
        CHECK(rc == 0, "%s (%s): %s", name, what, mc_errmsg());
        if (rc != 0) continue;
        CHECK(img.w == w && img.h == h, "%s: size %dx%d, expected %dx%d", name, img.w, img.h, w, h);
        if (img.w != w || img.h != h) continue;
        snprintf(path, sizeof path, "%s/%s", dir, ref);
        float *r = read_f32(path, (size_t)w * h);
        REQUIRE(r != NULL, "cannot read %s", path);
        double maxd = 0.0;
        int worst = 0;
        for (int i = 0; i < w * h; i++) {
            double d = fabs((double)img.px[i] - (double)r[i]);
            if (d > maxd) {
                maxd = d;
                worst = i;
            }
        }
        CHECK(maxd <= tol, "%s (%s): max |diff| %.3g > %.3g at (%d,%d): got %.7f want %.7f", name,
              what, maxd, tol, worst % w, worst / w, (double)img.px[worst], (double)r[worst]);
        if (strncmp(name, "jpeg", 4) == 0 && strstr(name, "luma") == NULL && maxd > jpeg_max)
            jpeg_max = maxd;
        free(r);
    }
    fclose(mf);
    CHECK(ncase >= 30 && nok >= 18 && nerr >= 12, "manifest incomplete: %d cases (%d ok, %d err)",
          ncase, nok, nerr);
    printf("image: %d decodes checked, %d corrupt files rejected; JPEG vs PIL max |diff| = %.3g\n",
           nok, nerr, jpeg_max);

    /* Buffer reuse: a large image, then a small one into the same mc_image, then an error,
     * then a good one again. */
    snprintf(path, sizeof path, "%s/grey.jpg", dir);
    REQUIRE_OK(mc_image_load_grey(path, &img));
    size_t cap = img.cap;
    float *buf = img.px;
    CHECK(cap >= 390 * 320, "capacity %zu", cap);
    snprintf(path, sizeof path, "%s/grey8.png", dir);
    REQUIRE_OK(mc_image_load_grey(path, &img));
    CHECK(img.px == buf && img.cap == cap, "buffer not reused for a smaller image");
    snprintf(path, sizeof path, "%s/grey8.f32", dir);
    float *r = read_f32(path, 37 * 23);
    REQUIRE(r != NULL, "cannot read %s", path);
    CHECK(img.w == 37 && img.h == 23 && fabsf(img.px[37 * 23 - 1] - r[37 * 23 - 1]) < 1e-6f,
          "reused buffer gives wrong pixels");
    snprintf(path, sizeof path, "%s/trunc60.jpg", dir);
    CHECK(mc_image_load_grey(path, &img) < 0, "truncated JPEG accepted");
    snprintf(path, sizeof path, "%s/grey8.png", dir);
    REQUIRE_OK(mc_image_load_grey(path, &img));
    CHECK(fabsf(img.px[5] - r[5]) < 1e-6f, "decode after an error is wrong");
    free(r);
    mc_image_free(&img);
    CHECK(img.px == NULL && img.cap == 0, "mc_image_free did not reset");
    CHECK(mc_image_load_grey(NULL, &img) == MC_EARG, "NULL path accepted");

    return mc_test_done("image");
}
