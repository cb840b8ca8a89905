/* mimic.c — MIMIC-CXR-JPG 2.0.0 / 2.1.0 (Johnson et al. 2019), read as PhysioNet ships it.
 *
 *   mimic-cxr-2.0.0-split.csv(.gz)     dicom_id,study_id,subject_id,split   (one row per image;
 *                                      split = train / validate / test)
 *   mimic-cxr-2.0.0-chexpert.csv(.gz)  subject_id,study_id,Atelectasis,...,Support Devices
 *                                      (one row per STUDY: the CheXpert labeller on the report;
 *                                      1.0 / 0.0 / -1.0 / blank; -negbio.csv has the same form)
 *   mimic-cxr-2.0.0-metadata.csv(.gz)  dicom_id,subject_id,study_id,...,ViewPosition,...
 *   files/p1X/pXXXXXXXX/sYYYYYYYY/<dicom_id>.jpg   (p1X = "p" + the first two digits)
 *
 * The rows of a split are the split file's rows whose split column names it ("valid" reads
 * "validate"); train= / valid= / test= may each name the official split file (or a subset of
 * it written by `medcolor subset`). An image takes its study's labels (joined on subject_id and
 * study_id); an image whose study has no row in the label file is left out and counted (the
 * labeller wrote no row for it). The view comes from metadata's ViewPosition: PA and AP are
 * frontal, LATERAL and LL lateral, the other known positions (decubitus, oblique, ...) and a
 * blank one neither; any other value is a bad row. The patient is subject_id. Images are under
 * images= (the folder holding files/), by default the split file's folder. */
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

static int all_digits(const char *s, size_t minlen) {
    size_t n = strlen(s);
    if (n < minlen || n > 20) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* ViewPosition -> MC_VIEW_*; -1 when the value is not one MIMIC-CXR uses */
static int mimic_view(const char *v) {
    static const char *other[] = {"AP AXIAL", "AP LLD", "AP RLD", "PA LLD", "PA RLD", "LAO", "RAO", "LPO",
                                  "XTABLE LATERAL", "SWIMMERS"};
    if (!v[0]) return 0;
    if (strcmp(v, "PA") == 0 || strcmp(v, "AP") == 0) return MC_VIEW_FRONTAL;
    if (strcmp(v, "LATERAL") == 0 || strcmp(v, "LL") == 0) return MC_VIEW_LATERAL;
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (strcmp(v, other[i]) == 0) return 0;
    return -1;
}

static int study_key(char *buf, size_t cap, const char *subject, const char *study) {
    int n = snprintf(buf, cap, "%s/%s", subject, study);
    return n > 0 && (size_t)n < cap;
}

/* The label file: key "subject/study" -> index into *raw ([nstudies][L]). */
static int read_study_labels(mc_dataset *ds, const mc_datafile *df, mc_strmap *map, int8_t **raw) {
    const char *file = df->study_labels;
    int L = ds->nlabels, rc, n = 0, cap = 0;
    int *lcol = NULL;
    char **hname = NULL;
    mc_csv c;
    *raw = NULL;
    MC_TRY(mc_csv_open(&c, file));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the header subject_id,study_id,<labels>)", file);
    if (rc < 0) goto done;
    int nf = c.nf;
    int csub = mc_csv_col(&c, "subject_id"), cstu = mc_csv_col(&c, "study_id");
    if (csub < 0) { rc = mc_csv_no_column(&c, file, "patient", "subject_id"); goto done; }
    if (cstu < 0) { rc = mc_csv_no_column(&c, file, "study", "study_id"); goto done; }
    lcol = mc_malloc((size_t)(L ? L : 1) * sizeof *lcol, "label columns");
    hname = mc_calloc((size_t)(L ? L : 1), sizeof *hname, "label names");
    if (!lcol || !hname) { rc = MC_ENOMEM; goto done; }
    for (int j = 0; j < L; j++) {
        if ((lcol[j] = mc_csv_find_col(&c, ds->labels[j])) < 0) {
            rc = mc_csv_no_column(&c, file, "label", ds->labels[j]);
            goto done;
        }
        if (!(hname[j] = mc_strdup(c.f[lcol[j]]))) { rc = MC_ENOMEM; goto done; }
    }
    if ((rc = mc_strmap_init(map, 16384)) < 0) goto done;
    char key[64];
    while ((rc = mc_csv_next(&c)) > 0) {
        int bad = 0;
        if (c.nf != nf)
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", file, c.line, nf, c.nf);
        else if (!all_digits(c.f[csub], 2))
            bad = mc_err(MC_EPARSE, "%s:%d: subject_id '%s' is not a number", file, c.line, c.f[csub]);
        else if (!all_digits(c.f[cstu], 1))
            bad = mc_err(MC_EPARSE, "%s:%d: study_id '%s' is not a number", file, c.line, c.f[cstu]);
        if (bad) {
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            int8_t *r = mc_realloc(*raw, (size_t)cap * (size_t)(L ? L : 1), "study labels");
            if (!r) { rc = MC_ENOMEM; break; }
            *raw = r;
        }
        int8_t *row = *raw + (size_t)n * (size_t)L;
        for (int j = 0; j < L && !bad; j++) {
            int v = mc_parse_raw_label(c.f[lcol[j]]);
            if (v == -100)
                bad = mc_err(MC_EPARSE, "%s:%d: column '%s': bad value '%s' (expected 1, 1.0, 0, 0.0, -1, -1.0 or empty)",
                             file, c.line, hname[j], c.f[lcol[j]]);
            row[j] = (int8_t)v;
        }
        if (!bad) {
            study_key(key, sizeof key, c.f[csub], c.f[cstu]);
            int old = -1, r = mc_strmap_put(map, key, n, &old);
            if (r < 0) { rc = r; break; }
            if (r == 0) bad = mc_err(MC_EPARSE, "%s:%d: study %s of subject %s listed twice", file, c.line, c.f[cstu], c.f[csub]);
        }
        if (bad) {
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        n++;
    }
done:
    if (hname)
        for (int j = 0; j < L; j++) free(hname[j]);
    free(hname);
    free(lcol);
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}

/* The metadata file: dicom_id -> view (MC_VIEW_*). */
static int read_metadata(mc_dataset *ds, const mc_datafile *df, mc_strmap *map) {
    const char *file = df->metadata;
    mc_csv c;
    int rc;
    MC_TRY(mc_csv_open(&c, file));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the metadata header)", file);
    if (rc < 0) goto done;
    int nf = c.nf, cdic = mc_csv_col(&c, "dicom_id"), cview = mc_csv_col(&c, "ViewPosition");
    if (cdic < 0) { rc = mc_csv_no_column(&c, file, "image", "dicom_id"); goto done; }
    if (cview < 0) { rc = mc_csv_no_column(&c, file, "view", "ViewPosition"); goto done; }
    if ((rc = mc_strmap_init(map, 16384)) < 0) goto done;
    while ((rc = mc_csv_next(&c)) > 0) {
        int bad = 0, view = -1;
        if (c.nf != nf)
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", file, c.line, nf, c.nf);
        else if (!mc_safe_file_name(c.f[cdic]))
            bad = mc_err(MC_EPARSE, "%s:%d: dicom_id '%s' is not a file name", file, c.line, c.f[cdic]);
        else if ((view = mimic_view(c.f[cview])) < 0)
            bad = mc_err(MC_EPARSE, "%s:%d: ViewPosition '%s' is not one MIMIC-CXR uses (PA, AP, LATERAL, LL, AP AXIAL, "
                         "AP LLD, AP RLD, PA LLD, PA RLD, LAO, RAO, LPO, XTABLE LATERAL, SWIMMERS or empty)",
                         file, c.line, c.f[cview]);
        if (!bad) {
            int r = mc_strmap_put(map, c.f[cdic], view, NULL);
            if (r < 0) { rc = r; break; }
            if (r == 0) bad = mc_err(MC_EPARSE, "%s:%d: dicom_id '%s' listed twice", file, c.line, c.f[cdic]);
        }
        if (bad && (rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
    }
done:
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}

int mc_read_mimic(mc_dataset *ds, const mc_datafile *df, const char *split_csv, const char *split) {
    const char *want = strcmp(split, "valid") == 0 ? "validate" : split;
    int L = ds->nlabels, rc, have_csv = 0;
    mc_strmap studies = {0}, views = {0};
    int8_t *sraw = NULL;
    char *base = NULL;
    mc_csv c;
    if ((rc = read_study_labels(ds, df, &studies, &sraw)) < 0) goto done;
    if (df->metadata && (rc = read_metadata(ds, df, &views)) < 0) goto done;
    if ((rc = mc_csv_open(&c, split_csv)) < 0) goto done;
    have_csv = 1;
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the header dicom_id,study_id,subject_id,split)", split_csv);
    if (rc < 0) goto done;
    int nf = c.nf;
    int cdic = mc_csv_col(&c, "dicom_id"), cstu = mc_csv_col(&c, "study_id"), csub = mc_csv_col(&c, "subject_id"),
        cspl = mc_csv_col(&c, "split");
    const char *need[4] = {"dicom_id", "study_id", "subject_id", "split"};
    int have[4] = {cdic, cstu, csub, cspl};
    for (int k = 0; k < 4; k++)
        if (have[k] < 0) { rc = mc_csv_no_column(&c, split_csv, "split-file", need[k]); goto done; }
    if (df->images) base = mc_path_join(df->images, "files");
    else {
        char *dir = mc_path_dirname(split_csv);
        base = dir ? mc_path_join(dir, "files") : NULL;
        free(dir);
    }
    if (!base) { rc = MC_ENOMEM; goto done; }
    char key[64];
    for (int row = 0;; row++) {
        if ((rc = mc_csv_next(&c)) <= 0) break;
        int bad = 0;
        const char *dic = c.nf == nf ? c.f[cdic] : "", *stu = c.nf == nf ? c.f[cstu] : "",
                   *sub = c.nf == nf ? c.f[csub] : "", *spl = c.nf == nf ? c.f[cspl] : "";
        if (c.nf != nf)
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", split_csv, c.line, nf, c.nf);
        else if (strcmp(spl, "train") != 0 && strcmp(spl, "validate") != 0 && strcmp(spl, "test") != 0)
            bad = mc_err(MC_EPARSE, "%s:%d: split '%s' is not train, validate or test", split_csv, c.line, spl);
        else if (!mc_safe_file_name(dic))
            bad = mc_err(MC_EPARSE, "%s:%d: dicom_id '%s' is not a file name", split_csv, c.line, dic);
        else if (!all_digits(sub, 2))
            bad = mc_err(MC_EPARSE, "%s:%d: subject_id '%s' is not a number", split_csv, c.line, sub);
        else if (!all_digits(stu, 1))
            bad = mc_err(MC_EPARSE, "%s:%d: study_id '%s' is not a number", split_csv, c.line, stu);
        if (bad) {
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        if (strcmp(spl, want) != 0) continue; /* another split's image */
        int view = 0;
        if (df->metadata && (view = mc_strmap_get(&views, dic)) < 0) {
            bad = mc_err(MC_EPARSE, "%s:%d: dicom_id '%s' is not in %s", split_csv, c.line, dic, df->metadata);
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        study_key(key, sizeof key, sub, stu);
        int si = mc_strmap_get(&studies, key);
        if (si < 0) {
            if ((rc = mc_ds_left_out(ds, "%s:%d: study s%s of patient p%s has no row in %s (the labeller wrote none)",
                                     split_csv, c.line, stu, sub, df->study_labels)) < 0)
                break;
            continue;
        }
        /* files/p1X/pXXXXXXXX/sYYYYYYYY/<dicom_id>.jpg */
        size_t need_len = strlen(base) + strlen(sub) * 2 + strlen(stu) + strlen(dic) + 16;
        char *path = mc_malloc(need_len, "image path"), *patient = mc_strdup(sub);
        if (!path || !patient) { free(path); free(patient); rc = MC_ENOMEM; break; }
        snprintf(path, need_len, "%s/p%.2s/p%s/s%s/%s.jpg", base, sub, sub, stu, dic);
        if ((rc = mc_ds_push(ds, path, patient, sraw + (size_t)si * (size_t)L, view, row)) < 0) break;
    }
done:
    if (have_csv) mc_csv_close(&c);
    mc_strmap_free(&studies);
    mc_strmap_free(&views);
    free(sraw);
    free(base);
    return rc < 0 ? rc : MC_OK;
}
