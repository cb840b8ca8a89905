/* dataset.c — mc_dataset: building rows, selecting rows, the label policy, loading one split of
 * a .data file (source -> filters -> patient-disjoint drawn splits -> subset -> policy), the
 * all-at-once missing-file check, and freeing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/data_internal.h"

void mc_dataset_free(mc_dataset *ds) {
    if (!ds) return;
    if (ds->labels)
        for (int i = 0; i < ds->nlabels; i++) free(ds->labels[i]);
    if (ds->paths)
        for (int i = 0; i < ds->n; i++) free(ds->paths[i]);
    if (ds->patients)
        for (int i = 0; i < ds->n; i++) free(ds->patients[i]);
    free(ds->labels);
    free(ds->paths);
    free(ds->patients);
    free(ds->y);
    free(ds->mask);
    free(ds->raw);
    free(ds->view);
    free(ds->policy);
    free(ds->split);
    free(ds->source);
    free(ds->source_row);
    free(ds->skipped_first);
    free(ds->left_out_first);
    free(ds);
}

int mc_ds_new(mc_dataset **out, const mc_datafile *df, const char *split, const char *source,
              int source_header) {
    *out = NULL;
    mc_dataset *ds = mc_calloc(1, sizeof *ds, "dataset");
    if (!ds) return MC_ENOMEM;
    ds->nlabels = df->nlabels;
    ds->labels = mc_calloc((size_t)df->nlabels, sizeof *ds->labels, "dataset labels");
    ds->policy = mc_malloc((size_t)df->nlabels * sizeof *ds->policy, "dataset labels");
    ds->split = mc_strdup(split);
    ds->source = mc_strdup(source ? source : "");
    if (!ds->labels || !ds->policy || !ds->split || !ds->source) goto oom;
    for (int j = 0; j < df->nlabels; j++) {
        if (!(ds->labels[j] = mc_strdup(df->labels[j]))) goto oom;
        ds->policy[j] = df->policy[j];
    }
    ds->source_header = source_header;
    *out = ds;
    return MC_OK;
oom:
    mc_dataset_free(ds);
    return MC_ENOMEM;
}

static int ds_reserve(mc_dataset *ds, int need) {
    if (need <= ds->capacity) return MC_OK;
    int cap = ds->capacity ? ds->capacity : 1024;
    while (cap < need) cap *= 2;
    size_t c = (size_t)cap, L = (size_t)(ds->nlabels ? ds->nlabels : 1);
    char **p = mc_realloc(ds->paths, c * sizeof *p, "dataset paths");
    if (!p) return MC_ENOMEM;
    ds->paths = p;
    char **q = mc_realloc(ds->patients, c * sizeof *q, "dataset patients");
    if (!q) return MC_ENOMEM;
    ds->patients = q;
    int8_t *r = mc_realloc(ds->raw, c * L, "dataset labels");
    if (!r) return MC_ENOMEM;
    ds->raw = r;
    int8_t *v = mc_realloc(ds->view, c, "dataset views");
    if (!v) return MC_ENOMEM;
    ds->view = v;
    int *s = mc_realloc(ds->source_row, c * sizeof *s, "dataset rows");
    if (!s) return MC_ENOMEM;
    ds->source_row = s;
    ds->capacity = cap;
    return MC_OK;
}

int mc_ds_push(mc_dataset *ds, char *path, char *patient, const int8_t *raw, int view, int source_row) {
    int rc = ds_reserve(ds, ds->n + 1);
    if (rc < 0) {
        free(path);
        free(patient);
        return rc;
    }
    int i = ds->n++;
    ds->paths[i] = path;
    ds->patients[i] = patient;
    memcpy(ds->raw + (size_t)i * (size_t)ds->nlabels, raw, (size_t)ds->nlabels);
    ds->view[i] = (int8_t)view;
    ds->source_row[i] = source_row;
    return MC_OK;
}

int mc_ds_left_out(mc_dataset *ds, const char *fmt, ...) {
    ds->left_out++;
    if (ds->left_out_first) return MC_OK;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&ds->left_out_first, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        ds->left_out_first = NULL;
        return mc_err(MC_ENOMEM, "out of memory (left-out row note)");
    }
    return MC_OK;
}

int mc_ds_bad_row(mc_dataset *ds, const mc_datafile *df, int code) {
    if (!df->skip_bad || code == MC_ENOMEM) return code;
    if (!ds->skipped_first && !(ds->skipped_first = mc_strdup(mc_errmsg()))) return MC_ENOMEM;
    ds->skipped++;
    mc_clear_error();
    return MC_OK;
}

int mc_dataset_select(mc_dataset *ds, const int *idx, int k) {
    if (k < 0 || k > ds->n) return mc_err(MC_EARG, "dataset select: %d rows of %d", k, ds->n);
    size_t L = (size_t)ds->nlabels, n = (size_t)ds->n;
    unsigned char *kept = mc_calloc(n ? n : 1, 1, "row flags");
    if (!kept) return MC_ENOMEM;
    for (int i = 0; i < k; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n || kept[idx[i]]) {
            free(kept);
            return mc_err(MC_EARG, "dataset select: bad or repeated row %d", idx[i]);
        }
        kept[idx[i]] = 1;
    }
    size_t kk = (size_t)(k ? k : 1);
    char **paths = mc_malloc(kk * sizeof *paths, "dataset paths");
    char **pats = ds->patients ? mc_malloc(kk * sizeof *pats, "dataset patients") : NULL;
    int8_t *raw = ds->raw ? mc_malloc(kk * (L ? L : 1), "dataset labels") : NULL;
    int8_t *view = ds->view ? mc_malloc(kk, "dataset views") : NULL;
    int *srow = ds->source_row ? mc_malloc(kk * sizeof *srow, "dataset rows") : NULL;
    float *y = ds->y ? mc_malloc(kk * (L ? L : 1) * sizeof *y, "dataset targets") : NULL;
    float *mask = ds->mask ? mc_malloc(kk * (L ? L : 1) * sizeof *mask, "dataset masks") : NULL;
    if (!paths || (ds->patients && !pats) || (ds->raw && !raw) || (ds->view && !view) ||
        (ds->source_row && !srow) || (ds->y && !y) || (ds->mask && !mask)) {
        free(kept); free(paths); free(pats); free(raw); free(view); free(srow); free(y); free(mask);
        return MC_ENOMEM;
    }
    for (int i = 0; i < k; i++) {
        size_t s = (size_t)idx[i];
        paths[i] = ds->paths[s];
        if (pats) pats[i] = ds->patients[s];
        if (raw) memcpy(raw + (size_t)i * L, ds->raw + s * L, L);
        if (view) view[i] = ds->view[s];
        if (srow) srow[i] = ds->source_row[s];
        if (y) memcpy(y + (size_t)i * L, ds->y + s * L, L * sizeof *y);
        if (mask) memcpy(mask + (size_t)i * L, ds->mask + s * L, L * sizeof *mask);
    }
    for (size_t s = 0; s < n; s++)
        if (!kept[s]) {
            free(ds->paths[s]);
            if (ds->patients) free(ds->patients[s]);
        }
    free(kept);
    free(ds->paths); free(ds->patients); free(ds->raw); free(ds->view);
    free(ds->source_row); free(ds->y); free(ds->mask);
    ds->paths = paths;
    ds->patients = pats;
    ds->raw = raw;
    ds->view = view;
    ds->source_row = srow;
    ds->y = y;
    ds->mask = mask;
    ds->n = k;
    ds->capacity = k;
    return MC_OK;
}

int mc_dataset_subset(mc_dataset *ds, double frac, uint32_t seed) {
    int *idx, k;
    MC_TRY(mc_pandas_sample(ds->n, frac, seed, &idx, &k));
    int rc = mc_dataset_select(ds, idx, k);
    free(idx);
    return rc;
}

int mc_dataset_source_records(const mc_datafile *df, const mc_dataset *ds, const int *idx, int k, int **rows,
                              int *nrows) {
    *rows = NULL;
    *nrows = 0;
    if (k < 0 || !ds->source_row) return mc_err(MC_EARG, "dataset has no source records");
    int *first = mc_malloc((size_t)(k ? k : 1) * sizeof *first, "row list");
    if (!first) return MC_ENOMEM;
    for (int i = 0; i < k; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n) {
            free(first);
            return mc_err(MC_EARG, "dataset row %d does not exist (%d rows)", idx[i], ds->n);
        }
        first[i] = ds->source_row[idx[i]];
    }
    if (df && df->format == MC_FORMAT_VINDR) {
        int rc = mc_vindr_records(ds->source, first, k, rows, nrows);
        free(first);
        return rc;
    }
    *rows = first;
    *nrows = k;
    return MC_OK;
}

int mc_dataset_apply_policy(mc_dataset *ds, const int *policy) {
    size_t L = (size_t)ds->nlabels, N = (size_t)ds->n;
    if (!ds->raw && N > 0) return mc_err(MC_EARG, "dataset has no raw labels to apply a policy to");
    if (N == 0) return MC_OK; /* an empty split: nothing to apply (mc_dataset_load names it) */
    if (!ds->y && !(ds->y = mc_malloc((N ? N : 1) * (L ? L : 1) * sizeof(float), "dataset targets")))
        return MC_ENOMEM;
    if (!ds->mask && !(ds->mask = mc_malloc((N ? N : 1) * (L ? L : 1) * sizeof(float), "dataset masks")))
        return MC_ENOMEM;
    for (size_t j = 0; j < L; j++)
        if (policy[j] < MC_POLICY_ZEROS || policy[j] > MC_POLICY_IGNORE)
            return mc_err(MC_EARG, "label %zu: bad policy %d", j, policy[j]);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < L; j++) {
            int r = ds->raw[i * L + j];
            float y = 0, m = 1;
            if (r == MC_RAW_POS) y = 1;
            else if (r == MC_RAW_UNCERTAIN) {
                if (policy[j] == MC_POLICY_ONES) y = 1;
                else if (policy[j] == MC_POLICY_IGNORE) m = 0;
            }
            ds->y[i * L + j] = y;
            ds->mask[i * L + j] = m;
        }
    if (ds->policy && ds->policy != policy) memcpy(ds->policy, policy, L * sizeof *policy);
    return MC_OK;
}

int mc_dataset_check_files(const mc_dataset *ds, int max_show, int *nmissing) {
    if (max_show <= 0) max_show = 5;
    int missing = 0, first = -1;
    size_t cap = 1024, used = 0;
    char *list = mc_malloc(cap, "missing-file list");
    if (!list) return MC_ENOMEM;
    list[0] = 0;
    for (int i = 0; i < ds->n; i++) {
        if (access(ds->paths[i], R_OK) == 0) continue;
        if (missing++ == 0) first = i;
        if (missing > max_show) continue;
        size_t need = used + strlen(ds->paths[i]) + 3;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *nl = mc_realloc(list, cap, "missing-file list");
            if (!nl) { free(list); return MC_ENOMEM; }
            list = nl;
        }
        used += (size_t)sprintf(list + used, "%s%s", missing > 1 ? ", " : "", ds->paths[i]);
    }
    if (nmissing) *nmissing = missing;
    int rc = MC_OK;
    if (missing) {
        const char *src = ds->source && ds->source[0] ? ds->source : "dataset";
        rc = mc_err(MC_ENOTFOUND, "%s: %d of %d image files are missing or unreadable: %s%s%s", src,
                    missing, ds->n, list, missing > max_show ? ", ..." : "",
                    missing == ds->n ? " (none found: is the root folder right? set --root, "
                                       "MEDCOLOR_DATA or root=)" : "");
        (void)first;
    }
    free(list);
    return rc;
}

/* ---- loading one split ------------------------------------------------------------------- */

static const char *studies_for(const mc_datafile *df, const char *split) {
    if (strcmp(split, "train") == 0) return df->train_studies;
    if (strcmp(split, "valid") == 0) return df->valid_studies;
    return df->test_studies;
}

/* The rows of a split's own source (for "train": the train pool before drawn splits). */
static int load_source(mc_dataset **out, const mc_datafile *df, const char *split) {
    const char *src = strcmp(split, "train") == 0 ? df->train
                    : strcmp(split, "valid") == 0 ? df->valid : df->test;
    int header = df->format != MC_FORMAT_MURA;
    const char *source = df->format == MC_FORMAT_NIH ? df->entries : src;
    MC_TRY(mc_ds_new(out, df, split, source, header));
    int rc;
    switch (df->format) {
    case MC_FORMAT_CHEXPERT: rc = mc_read_chexpert(*out, df, src); break;
    case MC_FORMAT_CSV: rc = mc_read_plaincsv(*out, df, src); break;
    case MC_FORMAT_MURA: rc = mc_read_mura(*out, df, src, studies_for(df, split)); break;
    case MC_FORMAT_NIH: rc = mc_read_nih(*out, df, split); break;
    case MC_FORMAT_MIMIC: rc = mc_read_mimic(*out, df, src, split); break;
    case MC_FORMAT_PADCHEST: rc = mc_read_padchest(*out, df, src); break;
    case MC_FORMAT_VINDR: rc = mc_read_vindr(*out, df, src); break;
    default: rc = mc_err(MC_EARG, "%s: unknown format %d", df->path, df->format);
    }
    if (rc < 0) {
        mc_dataset_free(*out);
        *out = NULL;
        return rc;
    }
    /* No patient ids at all (a plain CSV without patient_column): patients = NULL. */
    mc_dataset *ds = *out;
    int any = 0;
    for (int i = 0; i < ds->n && !any; i++) any = ds->patients[i] != NULL;
    if (!any) {
        free(ds->patients);
        ds->patients = NULL;
    }
    return MC_OK;
}

static int filter_view(mc_dataset *ds, int view) {
    if (view == MC_VIEW_ALL) return MC_OK;
    int *idx = mc_malloc((size_t)(ds->n ? ds->n : 1) * sizeof *idx, "row list");
    if (!idx) return MC_ENOMEM;
    int k = 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->view[i] == view) idx[k++] = i;
    int rc = mc_dataset_select(ds, idx, k);
    free(idx);
    return rc;
}

/* Patient-disjoint drawn splits. part[i] of each row: 0 train, 1 valid, 2 test. Patients are
 * taken in order of first appearance; the test patients are the first round(test_frac * P)
 * of numpy's RandomState(split_seed).permutation(P); the valid patients likewise from the
 * patients that remain. Rows without a patient id count as their own patient. */
static int draw_parts(const mc_dataset *ds, const mc_datafile *df, unsigned char *part) {
    int n = ds->n, rc = MC_OK, np = 0;
    memset(part, 0, (size_t)n);
    if (!(df->test_frac > 0 && !df->test) && !(df->valid_frac > 0 && !df->valid)) return MC_OK;
    int *pid = mc_malloc((size_t)(n ? n : 1) * sizeof *pid, "patient ids");
    int *ord = mc_malloc((size_t)(n ? n : 1) * sizeof *ord, "patient ids");
    unsigned char *ppart = mc_calloc((size_t)(n ? n : 1), 1, "patient parts");
    mc_strmap m = {0};
    if (!pid || !ord || !ppart || mc_strmap_init(&m, (size_t)n) < 0) { rc = MC_ENOMEM; goto done; }
    for (int i = 0; i < n; i++) {
        const char *key = ds->patients && ds->patients[i] ? ds->patients[i] : ds->paths[i];
        int old = -1, r = mc_strmap_put(&m, key, np, &old);
        if (r < 0) { rc = r; goto done; }
        pid[i] = r ? np++ : old;
    }
    for (int pass = 0; pass < 2; pass++) {
        int tag = pass == 0 ? 2 : 1;
        double frac = pass == 0 ? (df->test ? 0 : df->test_frac) : (df->valid ? 0 : df->valid_frac);
        if (!(frac > 0)) continue;
        int m_left = 0;
        for (int p = 0; p < np; p++)
            if (!ppart[p]) ord[m_left++] = p; /* remaining patients, first-appearance order */
        int *idx, k;
        if ((rc = mc_pandas_sample(m_left, frac, df->split_seed, &idx, &k)) < 0) goto done;
        for (int j = 0; j < k; j++) ppart[ord[idx[j]]] = (unsigned char)tag;
        free(idx);
    }
    for (int i = 0; i < n; i++) part[i] = ppart[pid[i]];
done:
    free(pid);
    free(ord);
    free(ppart);
    mc_strmap_free(&m);
    return rc;
}

int mc_dataset_load(mc_dataset **out, const mc_datafile *df, const char *split) {
    *out = NULL;
    int want;
    if (strcmp(split, "train") == 0) want = 0;
    else if (strcmp(split, "valid") == 0) want = 1;
    else if (strcmp(split, "test") == 0) want = 2;
    else return mc_err(MC_EARG, "unknown split '%s' (train, valid or test)", split);
    if (!mc_datafile_has_split(df, split))
        return mc_err(MC_ENOTFOUND, "%s: no %s split (set %s= or %s_frac=)", df->path, split, split, split);
    int own = want == 0 || (want == 1 && df->valid) || (want == 2 && df->test);
    mc_dataset *ds;
    int rc = load_source(&ds, df, own ? split : "train");
    if (rc == MC_EIO && df->root_from && !strcmp(df->root_from, "default")) {
        /* relative paths with no root given: most likely the datasets are elsewhere */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mc_errmsg());
        return mc_err(rc, "%s (no dataset root was given, so paths are relative to the current folder: set --root "
                          "DIR or MEDCOLOR_DATA to the folder holding the datasets, or root= in %s)",
                      msg, df->path);
    }
    if (rc < 0) return rc;
    rc = filter_view(ds, df->view);
    if (rc == MC_OK && (want == 0 || !own)) {
        /* Train keeps what the drawn splits leave; a drawn split keeps its own part. */
        unsigned char *part = mc_malloc((size_t)(ds->n ? ds->n : 1), "split parts");
        int *idx = mc_malloc((size_t)(ds->n ? ds->n : 1) * sizeof *idx, "row list");
        if (!part || !idx) rc = MC_ENOMEM;
        if (rc == MC_OK) rc = draw_parts(ds, df, part);
        if (rc == MC_OK) {
            int k = 0;
            for (int i = 0; i < ds->n; i++)
                if (part[i] == want) idx[k++] = i;
            rc = mc_dataset_select(ds, idx, k);
        }
        free(part);
        free(idx);
        if (rc == MC_OK && !own) {
            free(ds->split);
            if (!(ds->split = mc_strdup(split))) rc = MC_ENOMEM;
        }
    }
    if (rc == MC_OK && want == 0 && df->subset > 0) rc = mc_dataset_subset(ds, df->subset, df->subset_seed);
    /* before the policy: a source of skipped rows only has no labels to apply it to */
    if (rc == MC_OK && ds->n == 0)
        rc = mc_err(MC_ENOTFOUND, "%s: the %s split is empty (after skipped rows, the view / body-part filter, "
                    "drawn splits and subset)", ds->source, split);
    if (rc == MC_OK) rc = mc_dataset_apply_policy(ds, df->policy);
    if (rc < 0) {
        mc_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MC_OK;
}
