/* fuzz_colorexp.c — colorization experiment files (x.exp: a [colorize] section, and inc1.cfg it
 * may [include]) and a colorization run's log.csv (mc_colorlog_read). A loaded experiment that
 * resolves is written back (mc_colorexp_write) and read again: the second writing must equal the
 * first. A log read back holds rows numbered from epoch 0 with increasing iterations. */
#include "fuzz.h"

static int write_exp(const mc_colorexp *e, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = mc_colorexp_write(f, e);
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

/* as fuzz_exp.c: a value starting with '#' (a comment when written back) skips the round trip */
static int has_hash(const mc_colorexp *e) {
    const char *v[] = {e->net, e->train, e->valid, e->weights, e->out};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] && strchr(v[i], '#')) return 1;
    for (int i = 0; i < e->nset; i++)
        if (strchr(e->set[i], '#')) return 1;
    return 0;
}

static int load_resolved(mc_colorexp *e, const char *path, int *bad) {
    int rc = mc_colorexp_load(e, path);
    if (rc == MC_OK && (rc = mc_colorexp_resolve(e)) < 0) mc_colorexp_clear(e);
    if (rc < 0) *bad = mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.exp", "inc1.cfg", "w1.exp"));
    return rc;
}

static int one(const uint8_t *data, size_t size) {
    mc_fuzz_part part[3];
    mc_fuzz_split(data, size, part, 3);
    char path[700], p[700], w1[700], w2[700], lp[700];
    mc_fuzz_write(p, sizeof p, "inc1.cfg", part[1].p, part[1].n);
    mc_fuzz_write(lp, sizeof lp, "log.csv", part[2].p, part[2].n);
    mc_fuzz_write(path, sizeof path, "x.exp", part[0].p, part[0].n);
    int bad = 0;
    mc_colorlog_row *rows;
    int n;
    int rc = mc_colorlog_read(lp, &rows, &n);
    if (rc < 0) {
        bad |= mc_fuzz_check_error(rc, MC_FUZZ_NAMES("log.csv"));
    } else {
        for (int i = 0; i < n; i++)
            if (rows[i].epoch != i || (i && rows[i].iter <= rows[i - 1].iter)) {
                fprintf(stderr, "fuzz: log row %d: epoch %d iteration %ld\n", i, rows[i].epoch, rows[i].iter);
                bad = 1;
            }
        free(rows);
    }
    mc_colorexp e;
    mc_colorexp_init(&e);
    if (load_resolved(&e, path, &bad) < 0) return bad;
    if (has_hash(&e)) {
        mc_colorexp_clear(&e);
        return bad;
    }
    mc_fuzz_path(w1, sizeof w1, "w1.exp");
    mc_fuzz_path(w2, sizeof w2, "w2.exp");
    if (write_exp(&e, w1) < 0) {
        fprintf(stderr, "fuzz: a loaded experiment does not write: %s\n", mc_errmsg());
        bad = 1;
    }
    mc_colorexp_clear(&e);
    if (!bad) {
        int b2 = 0;
        if (load_resolved(&e, w1, &b2) < 0) {
            fprintf(stderr, "fuzz: the experiment as written does not load: %s\n", mc_errmsg());
            bad = 1;
        } else {
            if (write_exp(&e, w2) < 0) bad = 1;
            mc_colorexp_clear(&e);
        }
    }
    if (!bad) {
        size_t n1 = 0, n2 = 0;
        char *a = slurp(w1, &n1), *b = slurp(w2, &n2);
        if (!a || !b || n1 != n2 || memcmp(a, b, n1) != 0) {
            fprintf(stderr, "fuzz: writing a loaded [colorize] .exp is not stable:\n%.*s\n---\n%.*s\n", (int)n1,
                    a ? a : "", (int)n2, b ? b : "");
            bad = 1;
        }
        free(a);
        free(b);
    }
    return bad;
}
MC_FUZZ_TARGET(colorexp)
