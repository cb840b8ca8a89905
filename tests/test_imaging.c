/* test_imaging.c — the 8-bit primitives of src/imaging/ against PIL, numpy and skimage
 * (tests/ref/imaging_ref.py writes the inputs and the references):
 *   luma            PIL convert("L") on 100,000 RGB pixels: exact;
 *   Lanczos         PIL Image.resize(LANCZOS) on 50 size pairs (grey and RGB; up, down, odd
 *                   sizes, 1-pixel edges, one axis only): bit-exact;
 *   D-hash          24 images against imagehash's definition run on PIL: identical hex;
 *                   Hamming distance and nearest-hash retrieval on hand-made hashes;
 *   YCbCr           PIL convert("YCbCr") and back on a 128³ RGB grid: ≤ 1 (Pillow's fixed-point
 *                   tables against our double formulas rounded half away from zero; the counts
 *                   of differing values are printed); the Y-only merge against the spec's
 *                   formulas in numpy: identical; against PIL's merge pipeline: ≤ 4 (PIL's ≤ 1
 *                   in Y, Cb and Cr: B = Y + 1.772(Cb − 128) moves by ≤ 1 + 1.772, plus ≤ 1 from
 *                   the final rounding: 3.8, so 4 at most);
 *   CIELAB          the spec's formulas in numpy on a 64³ grid (rgb2lab), the grid's Lab back
 *                   (lab2rgb, and the round trip to the grid), in double and float, and an L/a/b
 *                   grid (the inverse): ≤ 1e-4 (acceptance check 4; measured ≈1e-13 in double,
 *                   float ≈1e-5: float's 24 bits of L ≈ 100), and skimage.color when installed:
 *                   ≤ 1e-4;
 *   k-means         a numpy version of §2 step 3 on 10 grey images (k 2…6, noise, few levels, a
 *                   constant image): identical labels; masks partition the image. */
#include <stdint.h>
#include "core/core.h"
#include "mc_imaging.h"
#include "test.h"

static char dir[512];

static void *load(const char *name, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL, "cannot open %s", path);
    void *p = malloc(n ? n : 1);
    size_t got = fread(p, 1, n, f);
    fclose(f);
    REQUIRE(got == n, "%s: %zu bytes, expected %zu", path, got, n);
    return p;
}

static int nlanczos, ndhash;

static void case_lanczos(int k, int c, int sw, int sh, int dw, int dh) {
    char name[64];
    snprintf(name, sizeof name, "lanczos_%d.in", k);
    uint8_t *in = load(name, (size_t)sw * sh * c);
    snprintf(name, sizeof name, "lanczos_%d.out", k);
    uint8_t *want = load(name, (size_t)dw * dh * c);
    uint8_t *got = malloc((size_t)dw * dh * c);
    REQUIRE_OK(mc_resize_lanczos(in, sw, sh, c, got, dw, dh));
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < (size_t)dw * dh * c; i++)
        if (got[i] != want[i] && !bad++) first = i;
    CHECK(bad == 0, "Lanczos %s %dx%d -> %dx%d: %zu of %zu values differ from PIL (first at %zu: %d vs %d)",
          c == 1 ? "L" : "RGB", sw, sh, dw, dh, bad, (size_t)dw * dh * c, first, got[first], want[first]);
    nlanczos++;
    free(in);
    free(want);
    free(got);
}

static void case_dhash(int k, int c, int w, int h, const char *hex) {
    char name[64], mine[17];
    snprintf(name, sizeof name, "dhash_%d.in", k);
    uint8_t *in = load(name, (size_t)w * h * c);
    uint64_t hv;
    REQUIRE_OK(mc_dhash(in, w, h, c, &hv));
    mc_dhash_hex(hv, mine);
    CHECK(!strcmp(mine, hex), "dhash %d (%dx%d, %d channels): %s, imagehash %s", k, w, h, c, mine, hex);
    uint64_t back;
    CHECK(mc_dhash_parse(hex, &back) == 0 && back == hv, "dhash %d: parse(%s) != the hash", k, hex);
    ndhash++;
    free(in);
}

static void case_luma(size_t n) {
    uint8_t *in = load("luma.in", 3 * n), *want = load("luma.out", n), *got = malloc(n);
    mc_luma_pil(in, n, got);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
    CHECK(bad == 0, "luma: %zu of %zu pixels differ from PIL's L", bad, n);
    printf("luma: %zu pixels, %zu differ from PIL convert(\"L\")\n", n, bad);
    free(in);
    free(want);
    free(got);
}

static void case_ycbcr(size_t n) {
    uint8_t *rgb = load("ycbcr_rgb.in", 3 * n), *pil = load("ycbcr_pil.out", 3 * n);
    uint8_t *ycc = load("ycbcr_ycc.in", 3 * n), *pilback = load("ycbcr_back_pil.out", 3 * n);
    uint8_t *got = malloc(3 * n);
    mc_rgb_to_ycbcr(rgb, n, got);
    int maxd = 0;
    size_t ndiff = 0;
    for (size_t i = 0; i < 3 * n; i++) {
        int d = abs((int)got[i] - (int)pil[i]);
        maxd = d > maxd ? d : maxd;
        ndiff += d != 0;
    }
    printf("YCbCr from RGB: %zu pixels, max |ours - PIL| %d, %zu of %zu values differ\n", n, maxd, ndiff, 3 * n);
    CHECK(maxd <= 1, "RGB -> YCbCr: max difference from PIL %d > 1", maxd);
    mc_ycbcr_to_rgb(ycc, n, got);
    maxd = 0;
    ndiff = 0;
    for (size_t i = 0; i < 3 * n; i++) {
        int d = abs((int)got[i] - (int)pilback[i]);
        maxd = d > maxd ? d : maxd;
        ndiff += d != 0;
    }
    printf("RGB from YCbCr: %zu triples, max |ours - PIL| %d, %zu of %zu values differ\n", n, maxd, ndiff, 3 * n);
    CHECK(maxd <= 1, "YCbCr -> RGB: max difference from PIL %d > 1", maxd);
    /* in place gives the same */
    uint8_t *copy = malloc(3 * n);
    memcpy(copy, rgb, 3 * n);
    mc_rgb_to_ycbcr(copy, n, copy);
    mc_rgb_to_ycbcr(rgb, n, got);
    CHECK(!memcmp(copy, got, 3 * n), "RGB -> YCbCr in place differs");
    free(copy);
    free(rgb);
    free(pil);
    free(ycc);
    free(pilback);
    free(got);
}

static void case_merge(size_t n, double gain) {
    uint8_t *a = load("merge_a.in", 3 * n), *b = load("merge_b.in", 3 * n);
    char name[64];
    snprintf(name, sizeof name, "merge_%g.out", gain);
    uint8_t *want = load(name, 3 * n), *got = malloc(3 * n);
    mc_ycbcr_merge(a, b, n, gain, got);
    size_t bad = 0;
    for (size_t i = 0; i < 3 * n; i++) bad += got[i] != want[i];
    CHECK(bad == 0, "merge (gain %g): %zu of %zu values differ from the numpy formulas", gain, bad, 3 * n);
    if (gain == 1.0) {
        uint8_t *pil = load("merge_pil.out", 3 * n);
        int maxd = 0;
        for (size_t i = 0; i < 3 * n; i++) {
            int d = abs((int)got[i] - (int)pil[i]);
            maxd = d > maxd ? d : maxd;
        }
        printf("merge: max |ours - PIL's merge pipeline| %d\n", maxd);
        CHECK(maxd <= 4, "merge vs PIL: %d > 4", maxd);
        free(pil);
        /* out may be an input */
        uint8_t *c = malloc(3 * n);
        memcpy(c, b, 3 * n);
        mc_ycbcr_merge(a, c, n, 1.0, c);
        CHECK(!memcmp(c, got, 3 * n), "merge into its own input differs");
        free(c);
    }
    free(a);
    free(b);
    free(want);
    free(got);
}

static double maxdiff(const double *a, const double *b, size_t n, size_t *where) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) {
            m = d;
            *where = i;
        }
    }
    return m;
}

static void case_lab(size_t n, size_t nlab, int sk) {
    double *rgb = load("lab_rgb.in", 3 * n * sizeof(double)), *want = load("lab_np.out", 3 * n * sizeof(double));
    double *got = malloc(3 * n * sizeof(double));
    size_t at = 0;
    mc_srgb_to_lab(rgb, n, got);
    double e = maxdiff(got, want, 3 * n, &at);
    printf("rgb2lab: %zu colours, max |ours - numpy| %.3g\n", n, e);
    CHECK(e <= 1e-4, "rgb2lab vs numpy: %.3g at %zu (%g vs %g)", e, at, got[at], want[at]);
    if (sk) {
        double *s = load("lab_sk.out", 3 * n * sizeof(double));
        e = maxdiff(got, s, 3 * n, &at);
        printf("rgb2lab: max |ours - skimage.color.rgb2lab| %.3g\n", e);
        CHECK(e <= 1e-4, "rgb2lab vs skimage: %.3g at %zu", e, at);
        free(s);
    }
    /* float version */
    float *rf = malloc(3 * n * sizeof(float)), *lf = malloc(3 * n * sizeof(float));
    for (size_t i = 0; i < 3 * n; i++) rf[i] = (float)rgb[i];
    mc_srgb_to_lab_f(rf, n, lf);
    double ef = 0.0;
    for (size_t i = 0; i < 3 * n; i++) ef = fmax(ef, fabs((double)lf[i] - want[i]));
    printf("rgb2lab (float): max |ours - numpy| %.3g\n", ef);
    CHECK(ef <= 1e-4, "rgb2lab float vs numpy: %.3g", ef);
    /* the same grid back (acceptance: both ways on the 64^3 grid): numpy's Lab of the grid through
     * mc_lab_to_srgb against numpy's lab2rgb of it, and against the grid itself (the round trip) */
    double *gback = load("lab_grid_back_np.out", 3 * n * sizeof(double)), *back = malloc(3 * n * sizeof(double));
    mc_lab_to_srgb(want, n, back);
    e = maxdiff(back, gback, 3 * n, &at);
    printf("lab2rgb on the 64^3 grid's Lab: max |ours - numpy| %.3g\n", e);
    CHECK(e <= 1e-4, "lab2rgb of the grid vs numpy: %.3g at %zu (%g vs %g)", e, at, back[at], gback[at]);
    e = maxdiff(back, rgb, 3 * n, &at);
    printf("rgb -> lab -> rgb on the 64^3 grid: max |back - rgb| %.3g\n", e);
    CHECK(e <= 1e-4, "round trip of the grid: %.3g at %zu (%g vs %g)", e, at, back[at], rgb[at]);
    mc_lab_to_srgb_f(lf, n, rf);
    ef = 0.0;
    for (size_t i = 0; i < 3 * n; i++) ef = fmax(ef, fabs((double)rf[i] - gback[i]));
    printf("lab2rgb (float) on the grid: max |ours - numpy| %.3g\n", ef);
    CHECK(ef <= 1e-4, "lab2rgb float of the grid vs numpy: %.3g", ef);
    free(gback);
    free(back);
    free(rf);
    free(lf);
    free(rgb);
    free(want);
    free(got);

    double *lab = load("lab_lab.in", 3 * nlab * sizeof(double));
    want = load("lab_back_np.out", 3 * nlab * sizeof(double));
    got = malloc(3 * nlab * sizeof(double));
    mc_lab_to_srgb(lab, nlab, got);
    e = maxdiff(got, want, 3 * nlab, &at);
    printf("lab2rgb: %zu Lab triples, max |ours - numpy| %.3g\n", nlab, e);
    CHECK(e <= 1e-4, "lab2rgb vs numpy: %.3g at %zu", e, at);
    if (sk) {
        double *s = load("lab_back_sk.out", 3 * nlab * sizeof(double));
        e = maxdiff(got, s, 3 * nlab, &at);
        printf("lab2rgb: max |ours - skimage.color.lab2rgb| %.3g\n", e);
        CHECK(e <= 1e-4, "lab2rgb vs skimage: %.3g at %zu (%g vs %g)", e, at, got[at], s[at]);
        free(s);
    }
    free(lab);
    free(want);
    free(got);
}

static void case_kmeans(int k, size_t n, int nc) {
    char name[64];
    snprintf(name, sizeof name, "kmeans_%d.in", k);
    uint8_t *in = load(name, n);
    snprintf(name, sizeof name, "kmeans_%d.out", k);
    uint8_t *want = load(name, n), *got = malloc(n), *masks = malloc(n * (size_t)nc);
    double centres[16];
    int iters = -1;
    REQUIRE_OK(mc_kmeans_grey(in, n, nc, 0, got, centres, &iters));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
    CHECK(bad == 0, "k-means case %d (k %d): %zu of %zu labels differ from numpy", k, nc, bad, n);
    mc_kmeans_masks(got, n, nc, masks);
    size_t cover = 0;
    for (size_t i = 0; i < n; i++) {
        int s = 0;
        for (int c = 0; c < nc; c++) s += masks[(size_t)c * n + i];
        cover += s == 1 && masks[(size_t)got[i] * n + i] == 1;
    }
    CHECK(cover == n, "k-means case %d: masks do not partition the image", k);
    /* clusters dark → bright: a darker pixel never has a higher label */
    int ordered = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n && j < 64; j++)
            if (in[i] < in[j] && got[i] > got[j]) ordered = 0;
    CHECK(ordered, "k-means case %d: labels not ordered by grey level", k);
    printf("k-means case %d: %zu pixels, k %d, %d rounds, centres", k, n, nc, iters);
    for (int c = 0; c < nc; c++) printf(" %.2f", centres[c]);
    printf("\n");
    free(in);
    free(want);
    free(got);
    free(masks);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/imaging_ref", mc_test_tmp());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/imaging_ref.py '%s'", dir);
    int src = system(cmd);
    REQUIRE(src == 0, "reference generator failed: %s (needs python3-numpy, python3-pil)", cmd);
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    REQUIRE(mf != NULL, "cannot open %s", path);
    int sk_seen = -1;
    while (fgets(line, sizeof line, mf)) {
        int k, c, a1, a2, a3, a4;
        size_t n, n2;
        char hex[32];
        double gain;
        if (sscanf(line, "lanczos %d %d %d %d %d %d", &k, &c, &a1, &a2, &a3, &a4) == 6)
            case_lanczos(k, c, a1, a2, a3, a4);
        else if (sscanf(line, "dhash %d %d %d %d %31s", &k, &c, &a1, &a2, hex) == 5)
            case_dhash(k, c, a1, a2, hex);
        else if (sscanf(line, "luma %zu", &n) == 1)
            case_luma(n);
        else if (sscanf(line, "ycbcr %zu", &n) == 1)
            case_ycbcr(n);
        else if (sscanf(line, "merge %zu %lf", &n, &gain) == 2)
            case_merge(n, gain);
        else if (sscanf(line, "lab %zu %zu %d", &n, &n2, &k) == 3) {
            case_lab(n, n2, k);
            sk_seen = k;
        } else if (sscanf(line, "kmeans %d %zu %d", &k, &n, &c) == 3)
            case_kmeans(k, n, c);
        else
            CHECK(0, "manifest line not understood: %s", line);
    }
    fclose(mf);
    printf("Lanczos: %d size pairs bit-exact checked; D-hash: %d images\n", nlanczos, ndhash);
    CHECK(nlanczos == 50, "%d Lanczos cases, expected 50", nlanczos);
    CHECK(ndhash == 24, "%d D-hash cases, expected 24", ndhash);

    /* Hamming distance, hex and retrieval on hand-made hashes */
    char hx[17];
    mc_dhash_hex(0x0123456789abcdefULL, hx);
    CHECK(!strcmp(hx, "0123456789abcdef"), "hex: %s", hx);
    CHECK(mc_hamming64(0, ~0ULL) == 64 && mc_hamming64(0xF0, 0x0F) == 8 && mc_hamming64(5, 5) == 0,
          "Hamming distance wrong");
    uint64_t refs[] = {0xFFFF000000000000ULL, 0x00000000000000FFULL, 0x000000000000000FULL, 0x000000000000000FULL};
    int d = -1;
    size_t best = mc_dhash_nearest(0x0000000000000007ULL, refs, 4, &d);
    CHECK(best == 2 && d == 1, "nearest: %zu at distance %d, want 2 at 1 (the first of two ties)", best, d);
    best = mc_dhash_nearest(0xFFFF0000000000F0ULL, refs, 4, &d);
    CHECK(best == 0 && d == 4, "nearest: %zu at %d, want 0 at 4", best, d);
    uint64_t hv;
    CHECK(mc_dhash_parse("0123456789abcdeg", &hv) == MC_EPARSE && strstr(mc_errmsg(), "0123456789abcdeg"),
          "bad hex accepted or not named: %s", mc_errmsg());
    CHECK(mc_dhash_parse("0123456789abcde", &hv) == MC_EPARSE, "15 digits accepted");
    CHECK(mc_dhash_parse("0123456789abcdef0", &hv) == MC_EPARSE, "17 digits accepted");
    CHECK(mc_dhash_parse("0123456789ABCDEF", &hv) == 0 && hv == 0x0123456789abcdefULL, "upper-case hex refused");
    /* argument errors */
    uint8_t px[4] = {0};
    CHECK(mc_resize_lanczos(px, 0, 2, 1, px, 2, 2) == MC_EARG, "zero width accepted");
    CHECK(mc_resize_lanczos(px, 2, 2, 2, px, 2, 2) == MC_EARG, "2 channels accepted");
    CHECK(mc_kmeans_grey(px, 4, 0, 0, px, NULL, NULL) == MC_EARG, "k = 0 accepted");
    if (sk_seen == 0) mc_test_skip("test_imaging", "skimage.color comparison: python3-skimage is not installed");
    return mc_test_done("test_imaging");
}
