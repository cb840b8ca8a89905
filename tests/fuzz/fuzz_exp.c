/* fuzz_exp.c — experiment files (x.exp, and inc1.cfg .. inc2.cfg it may [include]). A loaded
 * experiment is written back (mc_experiment_write, resolved) and read again: the second
 * writing must equal the first. */
#include "fuzz.h"

static int write_exp(const mc_experiment *e, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = mc_experiment_write(f, e, 1);
    return fclose(f) != 0 ? -1 : rc;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096;
    char *s = malloc(cap);
    *n = 0;
    size_t got;
    while ((got = fread(s + *n, 1, cap - *n, f)) > 0)
        if ((*n += got) == cap) s = realloc(s, cap *= 2);
    fclose(f);
    return s;
}

static int one(const uint8_t *data, size_t size) {
    mc_fuzz_part part[3];
    mc_fuzz_split(data, size, part, 3);
    char path[700], p[700], w1[700], w2[700];
    mc_fuzz_write(p, sizeof p, "inc1.cfg", part[1].p, part[1].n);
    mc_fuzz_write(p, sizeof p, "inc2.cfg", part[2].p, part[2].n);
    mc_fuzz_write(path, sizeof path, "x.exp", part[0].p, part[0].n);
    mc_experiment e;
    mc_experiment_init(&e);
    int rc = mc_experiment_load(&e, path), bad = 0;
    if (rc < 0) {
        bad = mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.exp", "inc1.cfg", "inc2.cfg"));
        mc_experiment_clear(&e);
        return bad;
    }
    mc_fuzz_path(w1, sizeof w1, "w1.exp");
    mc_fuzz_path(w2, sizeof w2, "w2.exp");
    if ((rc = write_exp(&e, w1)) < 0) {
        /* a value that would not read back (e.g. one starting with '#') is refused by the writer,
         * naming it: fine; any other failure is not */
        if (rc != MC_EARG || strncmp(mc_errmsg(), "experiment: ", 12) != 0) {
            fprintf(stderr, "fuzz: a loaded experiment does not write: %s\n", mc_errmsg());
            bad = 1;
        }
        mc_experiment_clear(&e);
        return bad;
    }
    mc_experiment_clear(&e);
    if (!bad) {
        mc_experiment_init(&e);
        if ((rc = mc_experiment_load(&e, w1)) < 0) {
            fprintf(stderr, "fuzz: the experiment as written does not load: %s\n", mc_errmsg());
            bad = 1;
        } else if (write_exp(&e, w2) < 0) {
            bad = 1;
        }
        mc_experiment_clear(&e);
    }
    if (!bad) {
        size_t n1 = 0, n2 = 0;
        char *a = slurp(w1, &n1), *b = slurp(w2, &n2);
        if (!a || !b || n1 != n2 || memcmp(a, b, n1) != 0) {
            fprintf(stderr, "fuzz: writing a loaded .exp is not stable:\n%.*s\n---\n%.*s\n", (int)n1, a ? a : "",
                    (int)n2, b ? b : "");
            bad = 1;
        }
        free(a);
        free(b);
    }
    return bad;
}
MC_FUZZ_TARGET(exp)
