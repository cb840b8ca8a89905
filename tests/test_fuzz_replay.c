/* test_fuzz_replay.c — every fuzz harness of tests/fuzz/ (built here with gcc and
 * -DMC_FUZZ_REPLAY, see tests/fuzz/fuzz.h) run on its committed seed corpus
 * (tests/fuzz/seeds/NAME/) and on every input a fuzzer ever crashed on (tests/regress/NAME/):
 * the crashes' regression tests, and a check that each harness's promises hold on ordinary
 * inputs. Under make asan, ASan and UBSan watch them too. */
#include "test.h"
#include <dirent.h>
#include <stdint.h>

#define TARGETS(X) X(cfg) X(datafile) X(csv) X(gzip) X(dataset) X(safetensors) X(weights) X(image) X(json) \
    X(exp) X(grid) X(runfiles) X(colorexp) X(predictions) X(pth) X(dicom) X(cxr)
#define DECLARE(name) int mc_fuzz_##name(const uint8_t *data, size_t size);
TARGETS(DECLARE)
#define ENTRY(name) {#name, mc_fuzz_##name},
static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} targets[] = {TARGETS(ENTRY)};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* runs fn on every file of dir (in name order); returns the number of files */
static int replay(const char *name, int (*fn)(const uint8_t *, size_t), const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *files[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.') files[n++] = strdup(e->d_name);
    closedir(d);
    qsort(files, (size_t)n, sizeof *files, cmp_str);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        REQUIRE(f, "cannot read %s", path);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        REQUIRE(buf && fread(buf, 1, (size_t)len, f) == (size_t)len, "cannot read %s", path);
        fclose(f);
        int rc = fn(buf, (size_t)len);
        CHECK(rc == 0, "fuzz_%s on %s: a promise broken (see above)", name, path);
        free(buf);
        free(files[i]);
    }
    return n;
}

int main(void) {
    int total = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/seeds/%s", targets[t].name);
        int ns = replay(targets[t].name, targets[t].fn, dir);
        CHECK(ns > 0, "fuzz_%s has no seeds in %s", targets[t].name, dir);
        snprintf(dir, sizeof dir, "tests/regress/%s", targets[t].name);
        int nr = replay(targets[t].name, targets[t].fn, dir);
        printf("  fuzz_%-12s %4d seeds, %3d crash inputs replayed\n", targets[t].name, ns, nr);
        total += ns + nr;
    }
    printf("  %d inputs\n", total);
    return mc_test_done("test_fuzz_replay");
}
