/* runindex.c — a grid folder's index, runs.tsv, written and read back here and nowhere else
 * (docs/study.md): a header line, then one tab-separated row per run, in the order of the grid:
 *
 *     index  name  backbone  module  stages  subset  subset_seed  seed  net  data  weights
 *
 * index is 1-based (row N is the SLURM array task N), subset 0 for the whole training split,
 * weights "-" when the run starts from a fresh initialisation. Fields hold no tab or line
 * break (the writer refuses them). The reader finds the columns by the header's names (net,
 * data and weights may be absent), checks every value and names file:line in its errors. */
#include "core/core.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { C_INDEX, C_NAME, C_BACKBONE, C_MODULE, C_STAGES, C_SUBSET, C_SSEED, C_SEED, C_NET, C_DATA, C_WEIGHTS, NCOLS };
static const char *const COLS[NCOLS] = {"index",  "name",        "backbone", "module", "stages", "subset",
                                        "subset_seed", "seed", "net",      "data",   "weights"};
#define NREQUIRED 8 /* the columns before net */

static int pjoin(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return mc_err(MC_EARG, "path too long: %s/%s", a, b);
    return MC_OK;
}

/* ---- writing ----------------------------------------------------------------------------------- */
typedef struct tsv_job {
    const mc_grid_entry *e;
    int n;
} tsv_job;

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static int write_tsv(FILE *f, const char *path, void *arg) {
    const tsv_job *j = (const tsv_job *)arg;
    errno = 0;
    int bad = 0;
    for (int c = 0; c < NCOLS && !bad; c++) bad = fprintf(f, "%s%s", c ? "\t" : "", COLS[c]) < 0;
    bad = bad || fputc('\n', f) == EOF;
    for (int i = 0; i < j->n && !bad; i++) {
        const mc_grid_entry *e = &j->e[i];
        bad = fprintf(f, "%d\t%s\t%s\t%s\t%s\t%.17g\t%u\t%llu\t%s\t%s\t%s\n", e->index, e->name, e->backbone, e->module,
                      e->chain, e->subset, e->subset_seed, (unsigned long long)e->seed, or_dash(e->net),
                      or_dash(e->data), or_dash(e->weights)) < 0;
    }
    return bad || ferror(f) ? mc_err(MC_EIO, "%s: write error (%s)", path, errno ? strerror(errno) : "I/O error")
                            : MC_OK;
}

int mc_grid_index_write(const char *dir, const mc_grid_entry *entries, int n) {
    char path[4096];
    MC_TRY(pjoin(path, sizeof path, dir, "runs.tsv"));
    for (int i = 0; i < n; i++) {
        const mc_grid_entry *e = &entries[i];
        const char *text[] = {e->name, e->backbone, e->module, e->chain, e->net, e->data, e->weights};
        const char *what[] = {"name", "backbone", "module", "stages", "net", "data", "weights"};
        for (int k = 0; k < 7; k++) {
            if (k < 4 && (!text[k] || !text[k][0]))
                return mc_err(MC_EARG, "%s: run %d has no %s", path, i + 1, what[k]);
            if (text[k] && strpbrk(text[k], "\t\r\n"))
                return mc_err(MC_EARG, "%s: the %s of run %d holds a tab or a line break", path, what[k], i + 1);
        }
        if (e->index < 1) return mc_err(MC_EARG, "%s: run %d has index %d (1-based)", path, i + 1, e->index);
        if (!(e->subset >= 0 && e->subset <= 1))
            return mc_err(MC_EARG, "%s: run %d has subset %g (0..1)", path, i + 1, e->subset);
        if (strchr(e->name, '/') || !strcmp(e->name, ".") || !strcmp(e->name, ".."))
            return mc_err(MC_EARG, "%s: run name '%s' is not a folder name", path, e->name);
    }
    tsv_job j = {entries, n};
    return mc_write_atomic(path, write_tsv, &j);
}

/* ---- reading ------------------------------------------------------------------------------------ */
void mc_grid_index_free(mc_grid_entry *entries, int n) {
    for (int i = 0; entries && i < n; i++) {
        free(entries[i].name);
        free(entries[i].backbone);
        free(entries[i].module);
        free(entries[i].chain);
        free(entries[i].net);
        free(entries[i].data);
        free(entries[i].weights);
    }
    free(entries);
}

/* splits line at tabs in place: fields[*n]; more than max fields: max + 1 */
static int split_tabs(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line;; n++) {
        if (n >= max) return max + 1;
        fields[n] = p;
        char *t = strchr(p, '\t');
        if (!t) return n + 1;
        *t = 0;
        p = t + 1;
    }
}

static int bad_value(const char *path, int line, const char *col, const char *val, const char *expected) {
    return mc_err(MC_EPARSE, "%s:%d: %s '%s' is not %s", path, line, col, val, expected);
}

static int parse_u(const char *path, int line, const char *col, const char *s, unsigned long long max,
                   unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v > max) {
        char what[64];
        snprintf(what, sizeof what, "an integer in 0..%llu", max);
        return bad_value(path, line, col, s, what);
    }
    *out = v;
    return MC_OK;
}

static char *dup_field(const char *s, int dash_is_null, int *rc) {
    if (dash_is_null && !strcmp(s, "-")) return NULL;
    char *d = mc_strdup(s);
    if (!d) *rc = MC_ENOMEM;
    return d;
}

int mc_grid_index_load(const char *dir, mc_grid_entry **entries, int *n) {
    *entries = NULL;
    *n = 0;
    char path[4096];
    MC_TRY(pjoin(path, sizeof path, dir, "runs.tsv"));
    char *text;
    size_t len;
    MC_TRY(mc_fread_all(path, &text, &len));
    int col[NCOLS], ncol = 0, lineno = 0, rc = MC_OK, cap = 0;
    mc_grid_entry *v = NULL;
    char *next = memchr(text, 0, len) ? NULL : text;
    if (!next) rc = mc_err(MC_EPARSE, "%s: holds a NUL byte (not a runs.tsv)", path);
    while (rc == MC_OK && next && *next) {
        char *line = next, *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (!l) continue;
        char *f[64];
        int nf = split_tabs(line, f, 64);
        if (nf > 64) {
            rc = mc_err(MC_EPARSE, "%s:%d: more than 64 fields", path, lineno);
            break;
        }
        if (ncol == 0) {
            for (int c = 0; c < NCOLS; c++) {
                col[c] = -1;
                for (int k = 0; k < nf; k++)
                    if (!strcmp(f[k], COLS[c])) col[c] = k;
                if (col[c] < 0 && c < NREQUIRED) {
                    rc = mc_err(MC_EPARSE, "%s:%d: no column '%s' in the header", path, lineno, COLS[c]);
                    break;
                }
            }
            ncol = nf;
            continue;
        }
        if (nf != ncol) {
            rc = mc_err(MC_EPARSE, "%s:%d: %d fields, the header has %d", path, lineno, nf, ncol);
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            mc_grid_entry *nv = mc_realloc(v, (size_t)cap * sizeof *v, "runs.tsv");
            if (!nv) {
                rc = MC_ENOMEM;
                break;
            }
            v = nv;
        }
        mc_grid_entry *e = &v[*n];
        memset(e, 0, sizeof *e);
        (*n)++; /* counted at once so that an error frees it */
        unsigned long long idx, ss, seed;
        if ((rc = parse_u(path, lineno, "index", f[col[C_INDEX]], 2147483647ULL, &idx)) < 0) break;
        if (idx < 1) {
            rc = bad_value(path, lineno, "index", f[col[C_INDEX]], "a 1-based row number");
            break;
        }
        const char *sub = f[col[C_SUBSET]];
        char *end;
        double subset = strtod(sub, &end);
        if (end == sub || *end || !(subset >= 0 && subset <= 1)) {
            rc = bad_value(path, lineno, "subset", sub, "a fraction in [0, 1]");
            break;
        }
        if ((rc = parse_u(path, lineno, "subset_seed", f[col[C_SSEED]], 4294967295ULL, &ss)) < 0) break;
        if ((rc = parse_u(path, lineno, "seed", f[col[C_SEED]], ~0ULL, &seed)) < 0) break;
        const char *name = f[col[C_NAME]];
        if (!name[0] || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, ".")) {
            rc = mc_err(MC_EPARSE, "%s:%d: run name '%s' is not a folder name", path, lineno, name);
            break;
        }
        for (int c = C_BACKBONE; c <= C_STAGES; c++)
            if (!f[col[c]][0]) {
                rc = mc_err(MC_EPARSE, "%s:%d: empty %s", path, lineno, COLS[c]);
                break;
            }
        if (rc < 0) break;
        e->index = (int)idx;
        e->subset = subset;
        e->subset_seed = (uint32_t)ss;
        e->seed = (uint64_t)seed;
        e->name = dup_field(name, 0, &rc);
        e->backbone = dup_field(f[col[C_BACKBONE]], 0, &rc);
        e->module = dup_field(f[col[C_MODULE]], 0, &rc);
        e->chain = dup_field(f[col[C_STAGES]], 0, &rc);
        if (col[C_NET] >= 0) e->net = dup_field(f[col[C_NET]], 1, &rc);
        if (col[C_DATA] >= 0) e->data = dup_field(f[col[C_DATA]], 1, &rc);
        if (col[C_WEIGHTS] >= 0) e->weights = dup_field(f[col[C_WEIGHTS]], 1, &rc);
    }
    free(text);
    if (rc == MC_OK && ncol == 0) rc = mc_err(MC_EPARSE, "%s: empty (no header)", path);
    if (rc < 0) {
        mc_grid_index_free(v, *n);
        *n = 0;
        return rc;
    }
    *entries = v;
    return MC_OK;
}
