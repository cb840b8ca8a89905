/* test.h — the tiny test harness shared by every tests/test_*.c.
 *
 * CHECK(cond, fmt, ...) records a failure (and prints it) without stopping; REQUIRE stops the
 * test binary at once. Every binary ends with `return mc_test_done("name");`, which prints a
 * summary and returns non-zero when any check failed — a test that cannot fail is a defect.
 */
#ifndef MC_TEST_H
#define MC_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "medcolor.h"

static int mc_test_checks, mc_test_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        mc_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            mc_test_failures++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        int req_ok_ = !!(cond); /* evaluated once: cond may have side effects */                   \
        CHECK(req_ok_, __VA_ARGS__);                                                               \
        if (!req_ok_) {                                                                            \
            fprintf(stderr, "(fatal; stopping)\n");                                                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* REQUIRE that an mc_* call returned MC_OK, printing mc_errmsg() otherwise. */
#define REQUIRE_OK(call)                                                                           \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        REQUIRE(rc_ == 0, "%s -> %d: %s", #call, rc_, mc_errmsg());                                \
    } while (0)

static inline int mc_test_done(const char *name) {
    printf("%-28s %5d checks, %d failed\n", name, mc_test_checks, mc_test_failures);
    return mc_test_failures ? 1 : 0;
}

/* Directory of generated PyTorch fixtures (set by `make test`). */
static inline const char *mc_test_fixtures(void) {
    const char *d = getenv("MC_FIXTURES");
    return d ? d : "build/fixtures";
}

/* Calls fn(dir, name) for every line of the fixture index dir/index_name (written by the
 * PyTorch scripts); returns the number of cases. Stops the test when the index is missing. */
static inline int mc_test_each_fixture(const char *index_name, void (*fn)(const char *dir, const char *name)) {
    char path[1024], line[256];
    snprintf(path, sizeof path, "%s/%s", mc_test_fixtures(), index_name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "FAIL: %s missing: run `make fixtures` (needs /usr/bin/python3 with torch)\n", path);
        exit(1);
    }
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        fn(mc_test_fixtures(), line);
        n++;
    }
    fclose(f);
    return n;
}

/* Directory for scratch files of a test (created by run_all.sh). */
static inline const char *mc_test_tmp(void) {
    const char *d = getenv("MC_TMP");
    return d ? d : "/tmp";
}
#endif
