/* plaincsv.c — label CSVs: a header line, a path column and one column per label holding
 * exactly 1 / 0 / -1 / empty (1.0 / 0.0 / -1.0 too; anything else is a bad row). Used for
 * format = csv (any data set) and, with CheXpert's rules (chexpert.c), for CheXpert's
 * train.csv / valid.csv.
 * Every row must have as many fields as the header; a bad row is an error naming file:line,
 * or skipped and counted with bad_rows = skip. */
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

static int parse_view(const char *s) {
    if (!s[0]) return 0;
    if (mc_strieq(s, "frontal") || mc_strieq(s, "pa") || mc_strieq(s, "ap")) return MC_VIEW_FRONTAL;
    if (mc_strieq(s, "lateral") || mc_strieq(s, "ll") || mc_strieq(s, "lat")) return MC_VIEW_LATERAL;
    return -1;
}

/* Finds a header column by label-name rules (case, '_' and aliases). */
static int find_col(const mc_csv *c, const char *name) {
    int k = mc_csv_col(c, name);
    if (k >= 0) return k;
    for (k = 0; k < c->nf; k++)
        if (mc_label_eq(c->f[k], name)) return k;
    return -1;
}

static int no_column(const mc_csv *c, const char *csv, const char *what, const char *name) {
    char cols[512];
    size_t u = 0;
    cols[0] = 0;
    for (int k = 0; k < c->nf && u + 8 < sizeof cols; k++) {
        int w = snprintf(cols + u, sizeof cols - u, "%s'%s'", k ? ", " : "", c->f[k]);
        if (w < 0) break;
        u += (size_t)w;
        if (u >= sizeof cols) {
            u = sizeof cols - 1;
            break;
        }
    }
    return mc_err(MC_EPARSE, "%s:%d: no %s column '%s' (the header has %s)", csv, c->line, what, name, cols);
}

int mc_read_labelcsv(mc_dataset *ds, const mc_datafile *df, const char *csv, const mc_labelcsv_spec *spec) {
    mc_csv c;
    int L = ds->nlabels, rc;
    int *lcol = NULL;
    int8_t *raw = NULL;
    char *base = NULL;
    MC_TRY(mc_csv_open(&c, csv));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected a header line)", csv);
    if (rc < 0) goto done;
    int nf = c.nf;
    int pcol = spec->path_col ? find_col(&c, spec->path_col) : 0;
    if (pcol < 0) { rc = no_column(&c, csv, "path", spec->path_col); goto done; }
    int patcol = -1, vcol = -1;
    if (spec->patient_col && (patcol = find_col(&c, spec->patient_col)) < 0) {
        rc = no_column(&c, csv, "patient", spec->patient_col);
        goto done;
    }
    if (spec->view_col && (vcol = find_col(&c, spec->view_col)) < 0 && df->view != MC_VIEW_ALL) {
        rc = no_column(&c, csv, "view", spec->view_col);
        goto done;
    }
    lcol = mc_malloc((size_t)L * sizeof *lcol, "label columns");
    raw = mc_malloc((size_t)L, "label values");
    if (!lcol || !raw) { rc = MC_ENOMEM; goto done; }
    for (int j = 0; j < L; j++)
        if ((lcol[j] = find_col(&c, ds->labels[j])) < 0) {
            rc = no_column(&c, csv, "label", ds->labels[j]);
            goto done;
        }
    if (df->image_base) base = mc_strdup(df->image_base);
    else base = mc_path_dirname(csv);
    if (!base) { rc = MC_ENOMEM; goto done; }
    /* Keep the header names of the label columns for messages (fields are overwritten). */
    char **hname = mc_calloc((size_t)L, sizeof *hname, "label names");
    if (!hname) { rc = MC_ENOMEM; goto done; }
    for (int j = 0; j < L && rc >= 0; j++)
        if (!(hname[j] = mc_strdup(c.f[lcol[j]]))) rc = MC_ENOMEM;
    for (int row = 0; rc >= 0; row++) {
        rc = mc_csv_next(&c);
        if (rc <= 0) break;
        int bad = 0;
        if (c.nf != nf) {
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", csv, c.line, nf, c.nf);
        } else if (!c.f[pcol][0]) {
            bad = mc_err(MC_EPARSE, "%s:%d: empty image path", csv, c.line);
        } else {
            for (int j = 0; j < L && !bad; j++) {
                int v = mc_parse_raw_label(c.f[lcol[j]]);
                if (v == -100)
                    bad = mc_err(MC_EPARSE, "%s:%d: column '%s': bad value '%s' (expected 1, 1.0, 0, 0.0, -1, -1.0 or empty)",
                                 csv, c.line, hname[j], c.f[lcol[j]]);
                raw[j] = (int8_t)v;
            }
        }
        int view = 0;
        if (!bad && vcol >= 0) {
            view = parse_view(c.f[vcol]);
            if (view < 0 || (spec->view_strict && view == 0))
                bad = mc_err(MC_EPARSE, "%s:%d: view '%s' is neither Frontal nor Lateral", csv, c.line,
                             c.f[vcol]);
        }
        const char *p = c.f[pcol];
        if (!bad && spec->strip_first && p[0] != '/' && !df->image_base) {
            const char *s = strchr(p, '/');
            if (!s || !s[1])
                bad = mc_err(MC_EPARSE, "%s:%d: image path '%s' does not start with the dataset folder",
                             csv, c.line, p);
            else
                p = s + 1;
        }
        char *patient = NULL;
        if (!bad && patcol >= 0 && c.f[patcol][0] && !(patient = mc_strdup(c.f[patcol]))) {
            rc = MC_ENOMEM;
            break;
        }
        if (!bad && spec->patient_from_path) {
            if ((rc = mc_patient_from_path(c.f[pcol], &patient)) < 0) break;
            if (!patient)
                bad = mc_err(MC_EPARSE, "%s:%d: image path '%s' has no patientNNNNN folder", csv,
                             c.line, c.f[pcol]);
        }
        if (bad) {
            free(patient);
            rc = mc_ds_bad_row(ds, df, bad);
            continue;
        }
        char *path = mc_path_join(base, p);
        if (!path) {
            free(patient);
            rc = MC_ENOMEM;
            break;
        }
        rc = mc_ds_push(ds, path, patient, raw, view, row);
    }
    for (int j = 0; j < L; j++) free(hname[j]);
    free(hname);
done:
    free(base);
    free(lcol);
    free(raw);
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}

int mc_read_plaincsv(mc_dataset *ds, const mc_datafile *df, const char *csv) {
    mc_labelcsv_spec spec = {
        .what = "CSV",
        .path_col = df->path_column,
        .patient_col = df->patient_column,
        .view_col = df->view_column,
    };
    return mc_read_labelcsv(ds, df, csv, &spec);
}

/* the column lookup and its error, for the other readers (mimic.c, padchest.c, vindr.c) */
int mc_csv_find_col(const mc_csv *c, const char *name) {
    return find_col(c, name);
}

int mc_csv_no_column(const mc_csv *c, const char *csv, const char *what, const char *name) {
    return no_column(c, csv, what, name);
}
