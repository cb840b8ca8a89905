/* test.h — the tiny test harness shared by every tests/test_*.c.
 *
 * CHECK(cond, fmt, ...) records a failure (and prints it) without stopping; REQUIRE stops the
 * test binary at once. Every binary ends with `return mc_test_done("name");`, which prints a
 * summary and returns non-zero when any check failed — a test that cannot fail is a defect.
 *
 * Exit status (what tests/run_all.sh reads; automake's convention):
 *   0   every check passed and the test ran in full;
 *   1   a check failed (also after a skip), or no check ran at all;
 *   77  skipped: what the test is for cannot run here (no real label files, no libdarknet, no
 *       GPU). The test calls mc_test_skip("name", "reason", ...) — which prints
 *       "SKIP name: reason", the line the runner reports — and may still run the checks that
 *       do not need the missing thing; mc_test_done then returns 1 if one of them failed,
 *       else 77. A skipped test never counts as passed.
 */
#ifndef MC_TEST_H
#define MC_TEST_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "medcolor.h"

static int mc_test_checks, mc_test_failures, mc_test_skipped;

#define MC_TEST_SKIP 77

/* stdout line-buffered even into a pipe or file (the runner tees it), so that the order of
 * printed lines and FAIL messages (stderr) is kept. */
__attribute__((constructor)) static void mc_test_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }

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

/* Marks the test skipped: prints "SKIP name: reason" (reason from fmt, ...). The test may go on
 * with the checks that can run here; mc_test_done then returns 77 unless one of them failed. */
__attribute__((format(printf, 2, 3))) static inline void mc_test_skip(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP %s: ", name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    mc_test_skipped++;
}

/* The summary line, and the exit status: 1 when a check failed or none ran (and nothing was
 * skipped), else 77 when mc_test_skip was called, else 0. */
static inline int mc_test_done(const char *name) {
    printf("%-28s %5d checks, %d failed%s\n", name, mc_test_checks, mc_test_failures,
           mc_test_skipped ? ", skipped (see SKIP above)" : "");
    if (mc_test_failures) return 1;
    if (mc_test_skipped) return MC_TEST_SKIP;
    if (mc_test_checks == 0) {
        fprintf(stderr, "FAIL %s: no check ran\n", name);
        return 1;
    }
    return 0;
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
