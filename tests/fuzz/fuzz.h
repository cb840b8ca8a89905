/* fuzz.h — shared by the harnesses in tests/fuzz/ (docs/robustness.md).
 *
 * A harness fuzz_NAME.c defines
 *     static int one(const uint8_t *data, size_t size)
 * which feeds the bytes to a reader through its public entry point (a file in a scratch folder
 * where the reader reads files) and returns 0 when the reader kept its promises, else non-zero
 * after printing why; the sanitizers catch the rest. It ends with MC_FUZZ_TARGET(NAME).
 *   - built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined) it is a libFuzzer target
 *     that aborts on a broken promise, so that libFuzzer keeps the input as a crash;
 *   - built with -DMC_FUZZ_REPLAY (gcc, make test) it becomes the function mc_fuzz_NAME, which
 *     tests/test_fuzz_replay.c runs on the seed corpus (tests/fuzz/seeds/NAME/) and on every
 *     input a fuzzer ever crashed on (tests/regress/NAME/).
 * The promises checked for every input: no crash, no hang, no leak (ASan), no undefined
 * behaviour (UBSan); an error is one non-empty line that names a file of the input (or is an
 * out-of-memory report); and whatever the harness knows about a successful result.
 */
#ifndef MC_FUZZ_H
#define MC_FUZZ_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "medcolor.h"

/* The scratch folder of this process (created on first use under $MC_TMP, /dev/shm or /tmp). */
static char mc_fuzz_dir_[512];
static void mc_fuzz_cleanup_(void) {
    if (!mc_fuzz_dir_[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", mc_fuzz_dir_);
    if (system(cmd) != 0) { /* best effort */ }
}
static inline const char *mc_fuzz_dir(void) {
    if (!mc_fuzz_dir_[0]) {
        const char *base = getenv("MC_TMP");
        if (!base || !base[0]) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(mc_fuzz_dir_, sizeof mc_fuzz_dir_, "%s/mc-fuzz.XXXXXX", base);
        if (!mkdtemp(mc_fuzz_dir_)) {
            fprintf(stderr, "fuzz: cannot create %s: %s\n", mc_fuzz_dir_, strerror(errno));
            abort();
        }
        atexit(mc_fuzz_cleanup_);
    }
    return mc_fuzz_dir_;
}

/* dir/name into buf (name may hold a folder: it is created) */
static inline const char *mc_fuzz_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", mc_fuzz_dir(), name);
    const char *slash = strrchr(name, '/');
    if (slash) {
        char dir[700];
        snprintf(dir, sizeof dir, "%s/%.*s", mc_fuzz_dir(), (int)(slash - name), name);
        char cmd[800];
        if (access(dir, F_OK) != 0) {
            snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
            if (system(cmd) != 0) abort();
        }
    }
    return buf;
}

/* Writes data[size] to dir/name; returns the path in buf. */
static inline const char *mc_fuzz_write(char *buf, size_t n, const char *name, const void *data, size_t size) {
    mc_fuzz_path(buf, n, name);
    FILE *f = fopen(buf, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", buf);
        abort();
    }
    return buf;
}

/* Splits data into at most max parts at the separator line "\n@@@@\n" (the files of one input:
 * a cfg and the files it includes, a dataset's label file and list files, ...). */
#define MC_FUZZ_SEP "\n@@@@\n"
typedef struct mc_fuzz_part { const uint8_t *p; size_t n; } mc_fuzz_part;
static inline int mc_fuzz_split(const uint8_t *data, size_t size, mc_fuzz_part *parts, int max) {
    int k = 0;
    size_t start = 0, sl = strlen(MC_FUZZ_SEP);
    for (size_t i = 0; k < max - 1 && i + sl <= size; i++)
        if (memcmp(data + i, MC_FUZZ_SEP, sl) == 0) {
            parts[k].p = data + start;
            parts[k++].n = i - start;
            start = i + sl;
            i = start - 1;
        }
    parts[k].p = data + start;
    parts[k++].n = size - start;
    for (int j = k; j < max; j++) parts[j].p = NULL, parts[j].n = 0;
    return k;
}

/* The promise about errors: rc >= 0, or a one-line message that names a file of the input (the
 * scratch folder, or one of the NULL-terminated names) or reports a failed allocation. */
static inline int mc_fuzz_check_error(int rc, const char *const *names) {
    if (rc >= 0) return 0;
    const char *m = mc_errmsg();
    if (getenv("MC_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: rc %d: %s\n", rc, m); /* to see what seeds reach */
    if (!m[0] || strcmp(m, "no error") == 0) {
        fprintf(stderr, "fuzz: error %d without a message\n", rc);
        return 1;
    }
    if (strchr(m, '\n')) {
        fprintf(stderr, "fuzz: error message of more than one line: %s\n", m);
        return 1;
    }
    if (strncmp(m, "out of memory", 13) == 0 || strstr(m, mc_fuzz_dir())) return 0;
    for (int i = 0; names && names[i]; i++)
        if (strstr(m, names[i])) return 0;
    fprintf(stderr, "fuzz: the error message names no file of the input: %s\n", m);
    return 1;
}
#define MC_FUZZ_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

#ifdef MC_FUZZ_REPLAY
#define MC_FUZZ_TARGET(name)                                                                       \
    int mc_fuzz_##name(const uint8_t *data, size_t size);                                          \
    int mc_fuzz_##name(const uint8_t *data, size_t size) { return one(data, size); }
#else
#define MC_FUZZ_TARGET(name)                                                                       \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                                 \
        if (one(data, size) != 0) abort(); /* a broken promise: keep the input */                  \
        return 0;                                                                                  \
    }
#endif
#endif
