/* test_colordata.c — the colorization data pipeline (tests/ref/colordata_ref.py writes the inputs
 * and the references):
 *   mc_lab_load     PIL decoding (16-bit grey at full precision), PyTorch's bilinear resize
 *                   (align_corners=False, float32) and the spec's CIELAB in numpy, on 8-bit RGB and
 *                   grey PNGs, a 16-bit grey PNG and grey / colour JPEGs, down, up and native size:
 *                   ≤ 1e-4 in L, a, b units (float32 resize and output: measured ~1e-5);
 *   mc_imgfolder_load  Kaggle's layout (class subfolders): the seeded class-balanced draw equals
 *                   numpy.random.RandomState(seed).permutation(n)[:k] of each class's sorted names,
 *                   for three seeds; balanced; the same on a second load; other entries counted,
 *                   not read; per_class 0 keeps everything sorted; a flat folder is one class
 *                   "all"; errors (a class with too few images, images beside class folders, a
 *                   class folder without images, no folder, a file for a folder) name the path. */
#include <sys/stat.h>
#include "core/core.h"
#include "test.h"

static char dir[512];

static void case_lab(const char *file, int w, int h, int ow, int oh) {
    char path[1024];
    snprintf(path, sizeof path, "%s/lab/%s", dir, file);
    float *lab;
    int gw, gh;
    int rc = mc_lab_load(path, w, h, &lab, &gw, &gh);
    CHECK(rc == 0, "mc_lab_load %s %dx%d: %s", file, w, h, mc_errmsg());
    if (rc) return;
    CHECK(gw == ow && gh == oh, "%s: %dx%d, expected %dx%d", file, gw, gh, ow, oh);
    size_t n = (size_t)3 * ow * oh;
    float *want = malloc(n * sizeof(float));
    snprintf(path, sizeof path, "%s/lab/%s.%d.lab", dir, file, w);
    FILE *f = fopen(path, "rb");
    REQUIRE(f && fread(want, sizeof(float), n, f) == n, "cannot read %s", path);
    fclose(f);
    double e = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)lab[i] - (double)want[i]) > e) e = fabs((double)lab[i] - (double)want[i]), at = i;
    printf("  mc_lab_load %-10s -> %2dx%-2d: max |ours - PIL/torch/numpy| %.3g\n", file, ow, oh, e);
    CHECK(e <= 1e-4, "%s at %dx%d: %.3g at %zu (%g vs %g)", file, w, h, e, at, (double)lab[at], (double)want[at]);
    free(want);
    free(lab);
}

static int count_class(const mc_dataset *ds, int c) {
    int k = 0;
    for (int i = 0; i < ds->n; i++) k += mc_imgfolder_class(ds, i) == c;
    return k;
}

static void case_draw(uint32_t seed, int k) {
    char tree[1024], path[1024], line[2048];
    snprintf(tree, sizeof tree, "%s/tree/train", dir);
    mc_dataset *ds, *again;
    REQUIRE_OK(mc_imgfolder_load(&ds, tree, k, seed));
    REQUIRE_OK(mc_imgfolder_load(&again, tree, k, seed));
    CHECK(ds->n == 2 * k && ds->nlabels == 2, "draw %u/%d: %d images, %d classes", seed, k, ds->n, ds->nlabels);
    CHECK(!strcmp(ds->labels[0], "NORMAL") && !strcmp(ds->labels[1], "PNEUMONIA"), "classes %s, %s", ds->labels[0],
          ds->labels[1]);
    CHECK(count_class(ds, 0) == k && count_class(ds, 1) == k, "draw %u/%d not balanced: %d + %d", seed, k,
          count_class(ds, 0), count_class(ds, 1));
    snprintf(path, sizeof path, "%s/draw_%u_%d.txt", dir, seed, k);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL, "cannot open %s", path);
    int i = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (i >= ds->n || strcmp(ds->paths[i], line)) {
            if (!bad++) fprintf(stderr, "draw %u/%d row %d: %s, numpy %s\n", seed, k, i, i < ds->n ? ds->paths[i] : "-", line);
        }
        if (i < ds->n && strcmp(ds->paths[i], again->paths[i])) bad++;
        i++;
    }
    fclose(f);
    CHECK(bad == 0 && i == ds->n, "draw seed %u k %d: %d rows differ from numpy's (or the second load)", seed, k, bad);
    /* README.txt (beside the classes) and extra/ (inside PNEUMONIA) are counted, not read; .DS_Store is hidden */
    CHECK(ds->skipped == 2 && ds->skipped_first && strstr(ds->skipped_first, "README.txt"), "skipped %d (%s)",
          ds->skipped, ds->skipped_first ? ds->skipped_first : "-");
    printf("  draw seed %u, %d per class: as numpy's RandomState permutation, balanced, repeatable\n", seed, k);
    mc_dataset_free(ds);
    mc_dataset_free(again);
}

static void expect_error(const char *what, const char *d, int k, const char *needle) {
    mc_dataset *ds = NULL;
    int rc = mc_imgfolder_load(&ds, d, k, 0);
    CHECK(rc < 0 && ds == NULL, "%s: accepted", what);
    CHECK(rc >= 0 || strstr(mc_errmsg(), needle), "%s: the message does not say '%s': %s", what, needle, mc_errmsg());
    if (rc < 0) printf("  %-28s %s\n", what, mc_errmsg());
}

static void touch(const char *p) {
    FILE *f = fopen(p, "w");
    REQUIRE(f != NULL, "cannot create %s", p);
    fclose(f);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/colordata", mc_test_tmp());
    char cmd[1200], path[1024], p2[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/colordata_ref.py '%s'", dir);
    REQUIRE(system(cmd) == 0, "reference generator failed: %s (needs numpy, torch, PIL)", cmd);
    snprintf(path, sizeof path, "%s/lab/manifest.txt", dir);
    FILE *mf = fopen(path, "r");
    REQUIRE(mf != NULL, "cannot open %s", path);
    char file[256];
    int w, h, ow, oh, ncase = 0;
    while (fscanf(mf, "%255s %d %d %d %d", file, &w, &h, &ow, &oh) == 5) {
        case_lab(file, w, h, ow, oh);
        ncase++;
    }
    fclose(mf);
    CHECK(ncase == 6, "%d Lab cases, expected 6", ncase);
    /* 16-bit grey keeps its precision: values that differ below 1/255 stay apart */
    snprintf(path, sizeof path, "%s/lab/grey16.png", dir);
    float *px;
    REQUIRE_OK(mc_image_load_rgbf(path, &px, &w, &h));
    int fine = 0;
    for (int i = 0; i < w * h; i++) fine |= fabsf(px[3 * i] * 255.0f - roundf(px[3 * i] * 255.0f)) > 0.01f;
    CHECK(fine && px[0] == px[1] && px[1] == px[2], "16-bit grey lost its precision or is not replicated");
    free(px);
    snprintf(path, sizeof path, "%s/nothere.png", dir);
    CHECK(mc_lab_load(path, 8, 8, &px, &w, &h) < 0 && strstr(mc_errmsg(), "nothere.png"), "missing file: %s", mc_errmsg());

    case_draw(0, 10);
    case_draw(3, 30);
    case_draw(12345, 5);
    /* everything, sorted */
    mc_dataset *ds;
    snprintf(path, sizeof path, "%s/tree/train", dir);
    REQUIRE_OK(mc_imgfolder_load(&ds, path, 0, 0));
    int sorted = ds->n == 75;
    for (int i = 1; i < ds->n; i++)
        if (mc_imgfolder_class(ds, i) == mc_imgfolder_class(ds, i - 1)) sorted &= strcmp(ds->paths[i - 1], ds->paths[i]) < 0;
    CHECK(sorted && count_class(ds, 0) == 30 && count_class(ds, 1) == 45, "per_class 0: %d images", ds->n);
    mc_dataset_free(ds);
    /* a flat folder: one class "all" */
    snprintf(path, sizeof path, "%s/tree/train/NORMAL", dir);
    REQUIRE_OK(mc_imgfolder_load(&ds, path, 7, 1));
    CHECK(ds->n == 7 && ds->nlabels == 1 && !strcmp(ds->labels[0], "all"), "flat folder: %d images, %d classes", ds->n,
          ds->nlabels);
    mc_dataset_free(ds);

    snprintf(path, sizeof path, "%s/tree/train", dir);
    expect_error("too few in a class", path, 31, "NORMAL: 30 images, fewer than the 31");
    snprintf(path, sizeof path, "%s/mixed", dir);
    mkdir(path, 0777);
    snprintf(p2, sizeof p2, "%s/mixed/A", dir);
    mkdir(p2, 0777);
    snprintf(p2, sizeof p2, "%s/mixed/A/x.png", dir);
    touch(p2);
    snprintf(p2, sizeof p2, "%s/mixed/loose.JPG", dir);
    touch(p2);
    expect_error("an image beside classes", path, 0, "loose.JPG: an image next to class folders");
    snprintf(path, sizeof path, "%s/emptyclass", dir);
    mkdir(path, 0777);
    snprintf(p2, sizeof p2, "%s/emptyclass/B", dir);
    mkdir(p2, 0777);
    snprintf(p2, sizeof p2, "%s/emptyclass/B/notes.txt", dir);
    touch(p2);
    expect_error("a class without images", path, 0, "emptyclass/B: a class folder without images");
    snprintf(path, sizeof path, "%s/void", dir);
    mkdir(path, 0777);
    expect_error("an empty folder", path, 0, "void: no images");
    snprintf(path, sizeof path, "%s/nothere", dir);
    expect_error("no such folder", path, 0, "nothere: no such folder");
    snprintf(path, sizeof path, "%s/lab/rgb8.png", dir);
    expect_error("a file, not a folder", path, 0, "rgb8.png: not a folder");
    return mc_test_done("test_colordata");
}
