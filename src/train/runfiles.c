/* runfiles.c — the CSV files a training run writes, each written and read back here and nowhere
 * else (docs/training.md "What a run writes"):
 *
 *   <run>/log.csv            one row per iteration:  stage,epoch,iter,loss,lr,momentum,seconds
 *   <run>/K-STAGE/valid.csv  one row per validation: stage,iter,epoch,loss,"<label>"...,mean
 *   <run>/results.csv        per finished stage, a row per label and a "mean" row:
 *                            stage_index,stage,data,label,auc,best_iter,iters,seconds
 *
 * Fields are RFC 4180 CSV (a field holding a comma, quote or line break is quoted); labels are
 * always quoted in valid.csv's header and results.csv, and results.csv's "mean" row is the one
 * whose label is the unquoted word mean (a label called "mean" stays a label). Readers are strict:
 * every error names file:line. log.csv and valid.csv are appended to during a run (a resumed
 * stage first cuts the rows it wrote after its checkpoint); results.csv is rewritten atomically
 * after every stage. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"

static const char LOG_HEADER[] = "stage,epoch,iter,loss,lr,momentum,seconds";
static const char *const RESULT_COLS[] = {"stage_index", "stage", "data", "label", "auc", "best_iter", "iters", "seconds"};

/* ---- CSV fields ------------------------------------------------------------------------------ */
/* s as a CSV field: quoted when quote = 1 or when it holds a comma, quote, CR or LF */
static int put_field(FILE *f, const char *s, int quote) {
    if (!quote && !strpbrk(s, ",\"\r\n")) return fputs(s, f) < 0 ? -1 : 0;
    if (fputc('"', f) == EOF) return -1;
    for (; *s; s++) {
        if (*s == '"' && fputc('"', f) == EOF) return -1;
        if (fputc(*s, f) == EOF) return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

static int write_error(const char *path) {
    return mc_err(MC_EIO, "%s: write error (%s)", path ? path : "run file", errno ? strerror(errno) : "I/O error");
}

/* The lines of a whole file read into memory, split in place into fields (RFC 4180 quotes; a
 * quoted field may not span lines here: none of these files writes one). */
typedef struct lines {
    const char *path;
    char *text, *next;
    int lineno;
    char *f[MC_MAX_LABELS + 16];
    int quoted[MC_MAX_LABELS + 16];
    int nf;
} lines;

static int lines_open(lines *L, const char *path) {
    memset(L, 0, sizeof *L);
    L->path = path;
    size_t len;
    MC_TRY(mc_fread_all(path, &L->text, &len));
    if (memchr(L->text, 0, len)) {
        free(L->text);
        L->text = NULL;
        return mc_err(MC_EPARSE, "%s: holds a NUL byte (not a CSV file)", path);
    }
    L->next = L->text;
    return MC_OK;
}

static void lines_close(lines *L) {
    free(L->text);
    L->text = NULL;
}

/* the next non-blank line split into L->f[L->nf]: 1, 0 at the end, or an error */
static int lines_next(lines *L) {
    for (;;) {
        if (!L->next || !*L->next) return 0;
        char *line = L->next, *nl = strchr(line, '\n');
        L->next = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        L->lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (!l) continue;
        int n = 0, max = (int)(sizeof L->f / sizeof L->f[0]);
        char *p = line;
        for (;;) {
            if (n >= max) return mc_err(MC_EPARSE, "%s:%d: more than %d fields", L->path, L->lineno, max);
            L->quoted[n] = *p == '"';
            if (*p == '"') {
                char *w = ++p;
                L->f[n++] = w;
                for (;;) {
                    if (!*p) return mc_err(MC_EPARSE, "%s:%d: a quoted field is not closed", L->path, L->lineno);
                    if (*p == '"' && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                    } else if (*p == '"') {
                        p++;
                        break;
                    } else {
                        *w++ = *p++;
                    }
                }
                *w = 0;
                if (*p && *p != ',')
                    return mc_err(MC_EPARSE, "%s:%d: field %d: text after the closing quote", L->path, L->lineno, n);
            } else {
                L->f[n++] = p;
                p += strcspn(p, ",");
            }
            if (*p != ',') break;
            *p++ = 0;
        }
        L->nf = n;
        return 1;
    }
}

static int bad_field(const lines *L, const char *name, const char *val, const char *expected) {
    return mc_err(MC_EPARSE, "%s:%d: %s '%s' is not %s", L->path, L->lineno, name, val, expected);
}

static int get_long(const lines *L, int k, const char *name, long lo, long hi, long *out) {
    const char *s = L->f[k];
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char what[80];
        snprintf(what, sizeof what, "an integer in %ld..%ld", lo, hi);
        return bad_field(L, name, s, what);
    }
    *out = v;
    return MC_OK;
}

/* a number; "nan" allowed (an AUC of a label without both classes) when nan_ok */
static int get_double(const lines *L, int k, const char *name, int nan_ok, double *out) {
    const char *s = L->f[k];
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || isinf(v) || (isnan(v) && !nan_ok)) return bad_field(L, name, s, "a number");
    *out = v;
    return MC_OK;
}

static int get_stage(const lines *L, int k, int *stage) {
    int s = mc_stage_from_name(L->f[k]);
    if (s < 0)
        return mc_err(MC_EPARSE, "%s:%d: stage '%s' is not one of baseline, baseline-all, color, all, last", L->path,
                      L->lineno, L->f[k]);
    *stage = s;
    return MC_OK;
}

static int check_nf(const lines *L, int want) {
    if (L->nf != want)
        return mc_err(MC_EPARSE, "%s:%d: %d fields, the header has %d", L->path, L->lineno, L->nf, want);
    return MC_OK;
}

/* ---- appending: log.csv and valid.csv --------------------------------------------------------- */
/* opens path for appending (and reading, for the cut on resume); a new file gets its header */
static int open_append(FILE **out, const char *path, const char *const *labels, int nlabels, int valid) {
    *out = NULL;
    int fresh = access(path, F_OK) != 0;
    FILE *f = mc_fopen(path, "a+");
    if (!f) return MC_EIO;
    if (fresh) {
        int bad = 0;
        if (!valid) {
            bad = fprintf(f, "%s\n", LOG_HEADER) < 0;
        } else {
            bad = fputs("stage,iter,epoch,loss", f) < 0;
            for (int j = 0; j < nlabels && !bad; j++) bad = fputc(',', f) == EOF || put_field(f, labels[j], 1) < 0;
            bad = bad || fputs(",mean\n", f) < 0;
        }
        if (bad || fflush(f) != 0) {
            int rc = write_error(path);
            fclose(f);
            return rc;
        }
    }
    *out = f;
    return MC_OK;
}

int mc_log_open(FILE **f, const char *path) { return open_append(f, path, NULL, 0, 0); }

int mc_valid_open(FILE **f, const char *path, const char *const *labels, int nlabels) {
    if (nlabels < 0 || nlabels > MC_MAX_LABELS) return mc_err(MC_EARG, "%s: %d labels (at most %d)", path, nlabels, MC_MAX_LABELS);
    return open_append(f, path, labels, nlabels, 1);
}

int mc_log_append(FILE *f, const char *path, const mc_log_row *r) {
    errno = 0;
    if (fprintf(f, "%s,%d,%ld,%.6f,%.6e,%.6f,%.3f\n", mc_stage_name(r->stage), r->epoch, r->iter, r->loss, r->lr,
                r->momentum, r->seconds) < 0)
        return write_error(path);
    return MC_OK;
}

int mc_valid_append(FILE *f, const char *path, const mc_valid_row *r) {
    errno = 0;
    int bad = fprintf(f, "%s,%ld,%d,%.6f", mc_stage_name(r->stage), r->iter, r->epoch, r->loss) < 0;
    for (int j = 0; j < r->nlabels && j < MC_MAX_LABELS && !bad; j++) bad = fprintf(f, ",%.6f", r->auc[j]) < 0;
    bad = bad || fprintf(f, ",%.6f\n", r->mean) < 0;
    return bad ? write_error(path) : MC_OK;
}

/* ---- the cut on resume ------------------------------------------------------------------------- */
/* The rows are "stage,<n1>,<n2>,..." with the iteration in field `field` (1-based after the
 * stage). The rows this stage wrote after its checkpoint at iteration `it` (an interrupted run
 * goes on writing between checkpoints) are cut, so that every iteration is logged once: among
 * the stage's rows at the end of the file (back to its iteration-1 row), the first row with an
 * iteration above `it` and everything after it are truncated. */
static int cut_rows(FILE *f, const char *name, int stage, int field, long it) {
    if (!f) return MC_OK;
    if (!name) name = "log";
    const char *sname = mc_stage_name(stage);
    if (fflush(f) != 0) return mc_err(MC_EIO, "%s: write error (%s)", name, strerror(errno));
    int fd = fileno(f);
    struct stat st;
    if (fstat(fd, &st) != 0) return mc_err(MC_EIO, "%s: cannot stat (%s)", name, strerror(errno));
    size_t n = (size_t)st.st_size;
    if (n == 0) return MC_OK;
    char *buf = mc_malloc(n + 1, name);
    if (!buf) return MC_ENOMEM;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            free(buf);
            return mc_err(MC_EIO, "%s: read error (%s)", name, k < 0 ? strerror(errno) : "short read");
        }
        got += (size_t)k;
    }
    buf[n] = 0;
    /* walk the lines backwards: the tail of rows of this stage, back to its first iteration */
    size_t sl = strlen(sname), cut = n, end = n;
    while (end > 0) {
        size_t b = end - 1; /* end is one past the line's '\n' (or the file's end) */
        if (buf[b] == '\n' && b > 0) b--;
        while (b > 0 && buf[b - 1] != '\n') b--;
        const char *line = buf + b;
        if (strncmp(line, sname, sl) != 0 || line[sl] != ',') break;
        const char *q = line + sl;
        for (int k = 1; k < field && q; k++) q = strchr(q + 1, ',');
        if (!q) break;
        long li = strtol(q + 1, NULL, 10);
        if (li > it) cut = b;
        if (li == 1) break;
        end = b;
    }
    free(buf);
    if (cut < n && ftruncate(fd, (off_t)cut) != 0)
        return mc_err(MC_EIO, "%s: cannot cut the rows after the checkpoint (%s)", name, strerror(errno));
    return MC_OK;
}

int mc_log_cut(FILE *f, const char *path, int stage, long it) { return cut_rows(f, path, stage, 2, it); }
int mc_valid_cut(FILE *f, const char *path, int stage, long it) { return cut_rows(f, path, stage, 1, it); }

/* ---- reading log.csv and valid.csv -------------------------------------------------------------- */
int mc_log_read(const char *path, mc_log_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    lines L;
    MC_TRY(lines_open(&L, path));
    int rc = lines_next(&L), cap = 0;
    mc_log_row *v = NULL;
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty (no header)", path);
    if (rc > 0) {
        /* the header, exactly */
        char hdr[128] = "";
        size_t o = 0;
        for (int k = 0; k < L.nf && o < sizeof hdr; k++)
            o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%s%s", k ? "," : "", L.f[k]);
        rc = strcmp(hdr, LOG_HEADER) ? mc_err(MC_EPARSE, "%s:%d: the header is not %s", path, L.lineno, LOG_HEADER)
                                     : MC_OK;
    }
    while (rc >= 0 && (rc = lines_next(&L)) > 0) {
        if ((rc = check_nf(&L, 7)) < 0) break;
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            mc_log_row *nv = mc_realloc(v, (size_t)cap * sizeof *v, path);
            if (!nv) {
                rc = MC_ENOMEM;
                break;
            }
            v = nv;
        }
        mc_log_row *r = &v[*n];
        long ep, it;
        if ((rc = get_stage(&L, 0, &r->stage)) < 0 || (rc = get_long(&L, 1, "epoch", 1, 1000000, &ep)) < 0 ||
            (rc = get_long(&L, 2, "iter", 1, 1L << 40, &it)) < 0 || (rc = get_double(&L, 3, "loss", 1, &r->loss)) < 0 ||
            (rc = get_double(&L, 4, "lr", 0, &r->lr)) < 0 || (rc = get_double(&L, 5, "momentum", 0, &r->momentum)) < 0 ||
            (rc = get_double(&L, 6, "seconds", 0, &r->seconds)) < 0)
            break;
        r->epoch = (int)ep;
        r->iter = it;
        (*n)++;
    }
    lines_close(&L);
    if (rc < 0) {
        free(v);
        *n = 0;
        return rc;
    }
    *rows = v;
    return MC_OK;
}

void mc_valid_log_free(mc_valid_log *v) {
    for (int j = 0; j < v->nlabels; j++) free(v->labels[j]);
    free(v->rows);
    memset(v, 0, sizeof *v);
}

int mc_valid_read(const char *path, mc_valid_log *v) {
    memset(v, 0, sizeof *v);
    lines L;
    MC_TRY(lines_open(&L, path));
    int rc = lines_next(&L), cap = 0;
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty (no header)", path);
    if (rc > 0) {
        static const char *const first[] = {"stage", "iter", "epoch", "loss"};
        rc = L.nf >= 5 && !strcmp(L.f[L.nf - 1], "mean") ? MC_OK : -1;
        for (int k = 0; k < 4 && rc == MC_OK; k++)
            if (strcmp(L.f[k], first[k])) rc = -1;
        if (rc < 0)
            rc = mc_err(MC_EPARSE, "%s:%d: the header is not stage,iter,epoch,loss,<labels>...,mean", path, L.lineno);
        else if (L.nf - 5 > MC_MAX_LABELS)
            rc = mc_err(MC_EPARSE, "%s:%d: %d labels (at most %d)", path, L.lineno, L.nf - 5, MC_MAX_LABELS);
        for (int j = 0; rc == MC_OK && j < L.nf - 5; j++) {
            v->labels[j] = mc_strdup(L.f[4 + j]);
            if (!v->labels[j]) rc = MC_ENOMEM;
            v->nlabels = j + 1;
        }
    }
    int ncol = v->nlabels + 5;
    while (rc >= 0 && (rc = lines_next(&L)) > 0) {
        if ((rc = check_nf(&L, ncol)) < 0) break;
        if (v->n == cap) {
            cap = cap ? 2 * cap : 64;
            mc_valid_row *nr = mc_realloc(v->rows, (size_t)cap * sizeof *nr, path);
            if (!nr) {
                rc = MC_ENOMEM;
                break;
            }
            v->rows = nr;
        }
        mc_valid_row *r = &v->rows[v->n];
        memset(r, 0, sizeof *r);
        long it, ep;
        if ((rc = get_stage(&L, 0, &r->stage)) < 0 || (rc = get_long(&L, 1, "iter", 1, 1L << 40, &it)) < 0 ||
            (rc = get_long(&L, 2, "epoch", 1, 1000000, &ep)) < 0 || (rc = get_double(&L, 3, "loss", 1, &r->loss)) < 0)
            break;
        for (int j = 0; j < v->nlabels && rc >= 0; j++) rc = get_double(&L, 4 + j, v->labels[j], 1, &r->auc[j]);
        if (rc < 0 || (rc = get_double(&L, ncol - 1, "mean", 1, &r->mean)) < 0) break;
        r->iter = it;
        r->epoch = (int)ep;
        r->nlabels = v->nlabels;
        v->n++;
    }
    lines_close(&L);
    if (rc < 0) {
        mc_valid_log_free(v);
        return rc;
    }
    return MC_OK;
}

/* ---- results.csv ---------------------------------------------------------------------------------- */
static int pjoin(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return mc_err(MC_EARG, "path too long: %s/%s", a, b);
    return MC_OK;
}

typedef struct results_job {
    const mc_stage_result *res;
    int n;
} results_job;

static int write_results(FILE *f, const char *path, void *arg) {
    const results_job *j = (const results_job *)arg;
    errno = 0;
    int bad = fprintf(f, "stage_index,stage,data,label,auc,best_iter,iters,seconds\n") < 0;
    for (int k = 0; k < j->n && !bad; k++) {
        const mc_stage_result *r = &j->res[k];
        for (int l = 0; l <= r->nlabels && !bad; l++) { /* the labels, then the mean */
            int mean = l == r->nlabels;
            bad = fprintf(f, "%d,%s,", r->stage_index, mc_stage_name(r->stage)) < 0 || put_field(f, r->data, 0) < 0 ||
                  fputc(',', f) == EOF || put_field(f, mean ? "mean" : r->labels[l], !mean) < 0 ||
                  fprintf(f, ",%.6f,%ld,%ld,%.1f\n", mean ? r->mean_auc : r->auc[l], r->best_iter, r->iters,
                          r->seconds) < 0;
        }
    }
    return bad || ferror(f) ? write_error(path) : MC_OK;
}

int mc_results_write(const char *rundir, const mc_stage_result *res, int n) {
    char path[4096];
    MC_TRY(pjoin(path, sizeof path, rundir, "results.csv"));
    for (int k = 0; k < n; k++) {
        if (res[k].stage_index != k + 1)
            return mc_err(MC_EARG, "%s: stage %d has stage_index %d", path, k + 1, res[k].stage_index);
        if (res[k].nlabels < 0 || res[k].nlabels > MC_MAX_LABELS)
            return mc_err(MC_EARG, "%s: stage %d has %d labels", path, k + 1, res[k].nlabels);
        if (strpbrk(res[k].data, "\r\n"))
            return mc_err(MC_EARG, "%s: the data path of stage %d holds a line break", path, k + 1);
        for (int l = 0; l < res[k].nlabels; l++)
            if (!res[k].labels[l] || strpbrk(res[k].labels[l], "\r\n"))
                return mc_err(MC_EARG, "%s: label %d of stage %d is missing or holds a line break", path, l + 1, k + 1);
    }
    results_job j = {res, n};
    return mc_write_atomic(path, write_results, &j);
}

void mc_results_free(mc_stage_result *res, int n) {
    for (int i = 0; res && i < n; i++)
        for (int j = 0; j < res[i].nlabels; j++) free(res[i].labels[j]);
    free(res);
}

int mc_results_load(const char *rundir, mc_stage_result **res, int *n) {
    *res = NULL;
    *n = 0;
    char path[4096];
    MC_TRY(pjoin(path, sizeof path, rundir, "results.csv"));
    lines L;
    MC_TRY(lines_open(&L, path));
    int col[8] = {0}, ncol = 0, rc = MC_OK, have_mean[MC_MAX_STAGES] = {0};
    mc_stage_result *v = mc_calloc(MC_MAX_STAGES, sizeof *v, "results");
    if (!v) {
        lines_close(&L);
        return MC_ENOMEM;
    }
    while ((rc = lines_next(&L)) > 0) {
        if (!ncol) {
            for (int c = 0; c < 8; c++) {
                col[c] = -1;
                for (int j = 0; j < L.nf; j++)
                    if (!strcmp(L.f[j], RESULT_COLS[c])) col[c] = j;
                if (col[c] < 0) {
                    rc = mc_err(MC_EPARSE, "%s:%d: no column '%s' in the header", path, L.lineno, RESULT_COLS[c]);
                    break;
                }
            }
            if (rc < 0) break;
            ncol = L.nf;
            continue;
        }
        if ((rc = check_nf(&L, ncol)) < 0) break;
        long k = 0, best = 0, iters = 0;
        int st = 0;
        double auc = 0, secs = 0;
        if ((rc = get_long(&L, col[0], "stage_index", 1, MC_MAX_STAGES, &k)) < 0 || (rc = get_stage(&L, col[1], &st)) < 0 ||
            (rc = get_double(&L, col[4], "auc", 1, &auc)) < 0 ||
            (rc = get_long(&L, col[5], "best_iter", -1, 1L << 40, &best)) < 0 ||
            (rc = get_long(&L, col[6], "iters", 0, 1L << 40, &iters)) < 0 ||
            (rc = get_double(&L, col[7], "seconds", 0, &secs)) < 0)
            break;
        const char *data = L.f[col[2]], *label = L.f[col[3]];
        mc_stage_result *r = &v[k - 1];
        if (r->stage_index && (r->stage != st || strcmp(r->data, data))) {
            rc = mc_err(MC_EPARSE, "%s:%d: stage %ld is %s on %s in an earlier row", path, L.lineno, k,
                        mc_stage_name(r->stage), r->data);
            break;
        }
        if (!r->stage_index) {
            if (strlen(data) >= sizeof r->data) {
                rc = mc_err(MC_EPARSE, "%s:%d: data path longer than %zu characters", path, L.lineno, sizeof r->data - 1);
                break;
            }
            r->stage_index = (int)k;
            r->stage = st;
            r->mean_auc = NAN;
            snprintf(r->data, sizeof r->data, "%s", data);
        }
        if (!strcmp(label, "mean") && !L.quoted[col[3]]) {
            if (have_mean[k - 1]) {
                rc = mc_err(MC_EPARSE, "%s:%d: a second \"mean\" row for stage %ld", path, L.lineno, k);
                break;
            }
            have_mean[k - 1] = 1;
            r->mean_auc = auc;
            r->best_iter = best;
            r->iters = iters;
            r->seconds = secs;
        } else {
            if (r->nlabels >= MC_MAX_LABELS) {
                rc = mc_err(MC_EPARSE, "%s:%d: more than %d labels", path, L.lineno, MC_MAX_LABELS);
                break;
            }
            r->labels[r->nlabels] = mc_strdup(label);
            if (!r->labels[r->nlabels]) {
                rc = MC_ENOMEM;
                break;
            }
            r->auc[r->nlabels++] = auc;
        }
    }
    lines_close(&L);
    if (rc == MC_OK && !ncol) rc = mc_err(MC_EPARSE, "%s: empty (no header)", path);
    /* stages in order, without gaps; every stage has its mean row */
    int m = 0;
    for (int k = 0; rc == MC_OK && k < MC_MAX_STAGES; k++) {
        if (!v[k].stage_index) continue;
        if (k != m)
            rc = mc_err(MC_EPARSE, "%s: stage %d has results but stage %d has none", path, k + 1, m + 1);
        else if (!have_mean[k])
            rc = mc_err(MC_EPARSE, "%s: stage %d has no \"mean\" row", path, k + 1);
        m++;
    }
    if (rc < 0) {
        mc_results_free(v, MC_MAX_STAGES);
        return rc;
    }
    *res = v;
    *n = m;
    return MC_OK;
}
