/* test_dicom.c — DICOM decoding and windows (src/data/dicom.c, dicom_gdcm.cpp, image.c;
 * docs/dicom.md) against pydicom.
 *
 * tests/ref/dicom_ref.py writes DICOM files with pydicom (MONOCHROME1/2; 8, 10, 12, 14, 16 bits
 * stored; signed and unsigned; rescale, Modality LUT, VOI LUT, one or two windows, LINEAR,
 * LINEAR_EXACT and SIGMOID; implicit VR, big endian, no preamble, .dicom, a DICOM file named
 * .png; bits above Bits Stored set), compressed copies through gdcmconv (JPEG 2000 lossless, JPEG
 * lossless, RLE, JPEG-LS lossless; JPEG baseline and JPEG 2000 lossy, against PIL's decode of the
 * code stream inside, 1/255 and 1e-6), 16/8-bit PNGs and a grey JPEG with a user window, and the
 * files that must be refused (multi-frame, no Pixel Data, RGB, an unknown VOI LUT Function, a
 * zero window width, a slope without intercept, 32-bit samples, truncated, text, two damaged RLE
 * frames). References:
 * pydicom's apply_modality_lut + apply_voi_lut mapped to [0, 1] (dicom_ref.py says how).
 * Tolerance 1e-6: both sides compute in double, medcolor stores float32 (rounding <= 3e-8 in
 * [0, 1]); the observed maximum is printed. Each compressed copy must also decode to exactly the
 * floats of its uncompressed original (lossless: identical bits).
 *
 * Skips (77) when pydicom or gdcmconv is missing (the generator says which). In a build without
 * GDCM (make DICOM=0) every DICOM file must be refused with the message saying how to rebuild,
 * the PNG/JPEG cases still run, and the test skips the rest. */
#include <dirent.h>
#include <stdint.h>
#include <sys/wait.h>
#include "core/core.h"
#include "mc_image.h"
#include "test.h"

static void *read_all(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *v = malloc(n);
    if (v && fread(v, 1, n, f) != n) {
        free(v);
        v = NULL;
    }
    fclose(f);
    return v;
}

/* Open file descriptors of this process (entries of /proc/self/fd, less the directory's own). */
static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;
}

#define MAXCASE 128

int main(void) {
    char dir[512], cmd[1200], path[1024], line[1024];
    snprintf(dir, sizeof dir, "%s/dicom_ref", mc_test_tmp());
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/dicom_ref.py '%s'", dir);
    int src = system(cmd);
    if (WIFEXITED(src) && WEXITSTATUS(src) == 77) return 77; /* the generator printed the SKIP line */
    REQUIRE(src == 0, "reference generator failed: %s", cmd);
    const int dicom = mc_image_dicom_supported();
    if (!dicom) mc_test_skip("test_dicom", "built without GDCM (make DICOM=0): only the refusal of DICOM files is checked");

    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    REQUIRE(mf != NULL, "cannot open %s", path);
    mc_image img = {0};
    static char names[MAXCASE][64];
    static float *decoded[MAXCASE];
    static char files[MAXCASE][1024];
    static mc_image_window wins[MAXCASE];
    int ncase = 0, nok = 0, nerr = 0, nsame = 0, nrgb = 0, nany = 0, nrefused = 0;
    double worst = 0.0;
    char worst_name[64] = "";
    while (fgets(line, sizeof line, mf)) {
        char kind[8], name[64], file[128], ref[128], win[64], same[64], tols[32], key[128];
        int w = 0, h = 0;
        if (sscanf(line, "%7s %63s %127s", kind, name, file) != 3) continue;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        const int is_dicom = strstr(file, ".dcm") || strstr(file, ".dicom") || !strcmp(name, "magic_not_name");
        if (!dicom && is_dicom) { /* every DICOM file refused, saying how to rebuild */
            int rc = mc_image_load_grey(path, &img);
            CHECK(rc == MC_EUNSUP && strstr(mc_errmsg(), path) && strstr(mc_errmsg(), "DICOM=1"),
                  "%s: a build without GDCM must refuse it with how to rebuild: rc %d, %s", name, rc, mc_errmsg());
            nrefused++;
            continue;
        }
        if (!strcmp(kind, "ok") &&
            sscanf(line, "%*s %*s %*s %d %d %127s %31s %63s %63s", &w, &h, ref, tols, win, same) == 6) {
            nok++;
            mc_image_window uw = {0};
            if (strcmp(win, "-") != 0) {
                REQUIRE(sscanf(win, "%lf,%lf", &uw.center, &uw.width) == 2, "bad window %s", win);
                uw.on = 1;
            }
            int rc = mc_image_load_grey_window(path, &img, &uw);
            CHECK(rc == 0, "%s: %s", name, mc_errmsg());
            if (rc != 0) continue;
            CHECK(img.w == w && img.h == h, "%s: size %dx%d, expected %dx%d", name, img.w, img.h, w, h);
            if (img.w != w || img.h != h) continue;
            snprintf(path, sizeof path, "%s/%s", dir, ref);
            float *r = read_all(path, (size_t)w * h * sizeof(float));
            REQUIRE(r != NULL, "cannot read %s", path);
            double tol = atof(tols), maxd = 0.0;
            int at = 0;
            for (int i = 0; i < w * h; i++) {
                double d = fabs((double)img.px[i] - (double)r[i]);
                if (!(d <= maxd)) maxd = d, at = i;
            }
            CHECK(maxd <= tol, "%s: max |diff| %.3g > %.3g at (%d,%d): got %.8f, pydicom %.8f", name, maxd, tol,
                  at % w, at / w, (double)img.px[at], (double)r[at]);
            if (strstr(name, "lossy"))
                printf("  %-22s against PIL's decode of its code stream: max |diff| %.3g (tolerance %.3g)\n", name, maxd, tol);
            else if (maxd > worst)
                worst = maxd, snprintf(worst_name, sizeof worst_name, "%s", name);
            free(r);
            if (strcmp(same, "-") != 0) { /* bit-identical to the original's decode */
                int k = 0;
                while (k < ncase && strcmp(names[k], same) != 0) k++;
                CHECK(k < ncase && decoded[k], "%s: original %s not decoded before it", name, same);
                if (k < ncase && decoded[k]) {
                    CHECK(memcmp(decoded[k], img.px, (size_t)w * h * sizeof(float)) == 0,
                          "%s: not the same pixels as %s", name, same);
                    nsame++;
                }
            }
            if (ncase < MAXCASE) {
                snprintf(names[ncase], sizeof names[ncase], "%s", name);
                snprintf(files[ncase], sizeof files[ncase], "%s/%s", dir, file);
                wins[ncase] = uw;
                decoded[ncase] = malloc((size_t)w * h * sizeof(float));
                memcpy(decoded[ncase], img.px, (size_t)w * h * sizeof(float));
                ncase++;
            }
        } else if (!strcmp(kind, "err") && sscanf(line, "%*s %*s %*s %127[^\n]", key) == 1) {
            nerr++;
            int rc = mc_image_load_grey(path, &img);
            CHECK(rc < 0, "%s: decoding should fail but succeeded (%dx%d)", name, img.w, img.h);
            if (rc < 0) {
                const char *m = mc_errmsg();
                CHECK(strstr(m, path) != NULL, "%s: message does not name the file: %s", name, m);
                CHECK(strstr(m, key) != NULL, "%s: message does not say '%s': %s", name, key, m);
                CHECK(strchr(m, '\n') == NULL, "%s: message of more than one line: %s", name, m);
                CHECK(img.w == 0 && img.h == 0, "%s: failed load left size %dx%d", name, img.w, img.h);
                printf("  refused %-22s %s\n", name, m + strlen(dir) + 1);
            }
        } else if (!strcmp(kind, "any")) {
            nany++;
            int rc = mc_image_load_grey(path, &img);
            if (rc < 0) {
                CHECK(strstr(mc_errmsg(), path) != NULL, "%s: message does not name the file: %s", name, mc_errmsg());
                printf("  refused %-22s %s\n", name, mc_errmsg() + strlen(dir) + 1);
            } else {
                int bad = 0;
                for (size_t i = 0; i < (size_t)img.w * img.h; i++) bad += !(img.px[i] >= 0.0f && img.px[i] <= 1.0f);
                CHECK(bad == 0, "%s: %d pixels outside [0, 1]", name, bad);
                printf("  decoded %-22s (damaged data decoded without an error by GDCM)\n", name);
            }
        } else if (!strcmp(kind, "rgb8") && sscanf(line, "%*s %*s %*s %d %d %127s", &w, &h, ref) == 3) {
            nrgb++;
            mc_image8 c = {0};
            int rc = mc_image_load_rgb8(path, &c);
            CHECK(rc == 0 && c.w == w && c.h == h, "%s: rgb8 %dx%d: %s", name, c.w, c.h, rc ? mc_errmsg() : "wrong size");
            snprintf(path, sizeof path, "%s/%s", dir, ref);
            uint8_t *r = read_all(path, (size_t)w * h * 3);
            REQUIRE(r != NULL, "cannot read %s", path);
            if (rc == 0 && c.w == w && c.h == h) {
                int diff = 0;
                for (size_t i = 0; i < (size_t)w * h * 3; i++) diff += c.px[i] != r[i];
                CHECK(diff == 0, "%s: %d of %d bytes differ from round(255 y)", name, diff, w * h * 3);
            }
            free(r);
            mc_image8_free(&c);
        } else {
            CHECK(0, "malformed manifest line: %s", line);
        }
    }
    fclose(mf);
    /* the same decodes from 4 threads at once (the loader decodes in parallel; GDCM's readers and
     * codecs must not share state): the same bits */
    int par_bad = 0;
#pragma omp parallel for num_threads(4) schedule(dynamic, 1) reduction(+ : par_bad)
    for (int k = 0; k < 4 * ncase; k++) {
        int c = k % ncase;
        mc_image t = {0};
        if (mc_image_load_grey_window(files[c], &t, &wins[c]) != 0 ||
            memcmp(t.px, decoded[c], (size_t)t.w * t.h * sizeof(float)) != 0)
            par_bad++;
        mc_image_free(&t);
    }
    CHECK(par_bad == 0, "%d of %d decodes from 4 threads differ from the serial ones", par_bad, 4 * ncase);
    if (dicom) {
        CHECK(nok >= 40 && nerr >= 9 && nsame >= 15 && nrgb == 2 && nany == 2,
              "manifest incomplete: %d ok, %d err, %d same, %d rgb8, %d any", nok, nerr, nsame, nrgb, nany);
        printf("dicom: %d decodes against pydicom or, lossy copies, PIL (pydicom max |diff| %.3g, %s), %d lossless copies bit-identical, "
               "%d files refused\n", nok, worst, worst_name[0] ? worst_name : "all exact", nsame, nerr);
    } else {
        CHECK(nrefused >= 40 && nok >= 4, "without GDCM: %d DICOM files refused, %d PNG/JPEG cases", nrefused, nok);
    }

    /* GDCM's assertions (dicom.c, gdcm_guarded): a file on which Debian's GDCM asserts and that no
     * pre-check of dicom.c foresees (an ACR-NEMA file whose Recognition Code is neither "ACR-NEMA
     * 1.0" nor "2.0", found by fuzz_dicom) is refused with the assertion in the message, the file
     * named; 40 of them leave no file descriptor open; a good file decodes as before afterwards. */
    if (dicom) {
        size_t n = 0;
        const char *reg = "tests/regress/dicom/acr-nema-recognition-code-gdcm-assert";
        FILE *rf = fopen(reg, "rb");
        REQUIRE(rf != NULL, "cannot open %s", reg);
        static unsigned char buf[65536];
        n = fread(buf, 1, sizeof buf, rf);
        fclose(rf);
        snprintf(path, sizeof path, "%s/acr-nema.dcm", dir);
        FILE *wf = fopen(path, "wb");
        REQUIRE(wf != NULL && n > 1 && fwrite(buf + 1, 1, n - 1, wf) == n - 1 && fclose(wf) == 0, "cannot write %s", path);
        int fds0 = count_fds(), rc = 0;
        for (int i = 0; i < 40; i++) {
            rc = mc_image_load_grey(path, &img);
            if (rc != MC_EPARSE) break;
        }
        const char *m = mc_errmsg();
        CHECK(rc == MC_EPARSE && strstr(m, path) && strstr(m, "GDCM's internal check failed") && strstr(m, "ACR-NEMA"),
              "an input on which GDCM asserts: rc %d, %s", rc, m);
        printf("  GDCM assertion caught: %s\n", m + strlen(dir) + 1);
        int fds1 = count_fds();
        CHECK(fds1 == fds0, "40 guarded GDCM assertions: %d file descriptors open before, %d after", fds0, fds1);
        int again = -1;
        for (int c = 0; c < ncase && again < 0; c++)
            if (decoded[c] && strstr(files[c], ".dcm")) again = c;
        REQUIRE(again >= 0, "no decoded DICOM case to decode again");
        REQUIRE_OK(mc_image_load_grey_window(files[again], &img, &wins[again]));
        CHECK(memcmp(img.px, decoded[again], (size_t)img.w * img.h * sizeof(float)) == 0,
              "%s decodes differently after GDCM asserted", names[again]);
    }
    for (int k = 0; k < ncase; k++) free(decoded[k]);

    /* the process-wide window: applied by mc_image_load_grey, cleared by NULL; widths < 1 refused */
    mc_image_window bad = {1, 10.0, 0.5}, good = {1, 20000.0, 30001.0};
    CHECK(mc_image_set_window(&bad) == MC_EARG, "a window of width 0.5 accepted");
    CHECK(mc_image_get_window().on == 0, "a refused window was kept");
    snprintf(path, sizeof path, "%s/grey16.png", dir);
    mc_image a = {0}, b = {0};
    REQUIRE_OK(mc_image_load_grey_window(path, &a, &good));
    REQUIRE_OK(mc_image_set_window(&good));
    REQUIRE_OK(mc_image_load_grey(path, &b));
    CHECK(a.w == b.w && memcmp(a.px, b.px, (size_t)a.w * a.h * sizeof(float)) == 0,
          "mc_image_load_grey ignores the process's window");
    REQUIRE_OK(mc_image_set_window(NULL));
    REQUIRE_OK(mc_image_load_grey(path, &b));
    CHECK(memcmp(a.px, b.px, (size_t)a.w * a.h * sizeof(float)) != 0, "the window was not cleared");
    mc_image_free(&a);
    mc_image_free(&b);
    mc_image_free(&img);
    return mc_test_done("test_dicom");
}
