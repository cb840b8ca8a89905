/* mura.c — MURA v1.1 (Rajpurkar et al. 2018).
 *
 * MURA-v1.1/{train,valid}_image_paths.csv: no header, one image path a line, e.g.
 *   MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/image1.png
 * MURA-v1.1/{train,valid}_labeled_studies.csv: no header, "study folder/,label" (1 = abnormal).
 * An image's label is its study's label. Paths are relative to the folder containing
 * MURA-v1.1/: their first component is replaced by the folder holding the image-paths CSV.
 * The labeled-studies file defaults to the image-paths name with "image_paths" replaced by
 * "labeled_studies" ({train,valid,test}_studies= override it). body_part= keeps one study
 * type (the XR_* folder). The patient id is the patientNNNNN folder. */
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

static int derive_studies(const char *paths_csv, char **out) {
    const char *slash = strrchr(paths_csv, '/');
    const char *bn = slash ? slash + 1 : paths_csv;
    const char *hit = strstr(bn, "image_paths");
    if (!hit)
        return mc_err(MC_EARG, "%s: cannot derive the labeled-studies file from this name "
                      "(set train_studies= / valid_studies= / test_studies=)", paths_csv);
    size_t pre = (size_t)(hit - paths_csv), n = strlen(paths_csv);
    char *s = mc_malloc(n + 8, "file name");
    if (!s) return MC_ENOMEM;
    memcpy(s, paths_csv, pre);
    strcpy(s + pre, "labeled_studies");
    strcat(s, hit + strlen("image_paths"));
    *out = s;
    return MC_OK;
}

/* The XR_* component of a path: start and length, or 0. */
static size_t body_part_of(const char *p, const char **start) {
    for (const char *s = p; s; s = strchr(s, '/')) {
        if (*s == '/') s++;
        if (strncmp(s, "XR_", 3) == 0) {
            *start = s;
            return strcspn(s, "/");
        }
    }
    return 0;
}

static int read_studies(const mc_datafile *df, mc_dataset *ds, const char *file, mc_strmap *m) {
    mc_csv c;
    int rc;
    MC_TRY(mc_csv_open(&c, file));
    rc = mc_strmap_init(m, 16384);
    char *key = NULL;
    size_t kcap = 0;
    while (rc >= 0 && (rc = mc_csv_next(&c)) > 0) {
        int bad = 0;
        if (c.nf != 2)
            bad = mc_err(MC_EPARSE, "%s:%d: expected 2 fields (study folder, label), got %d", file, c.line, c.nf);
        else if (strcmp(c.f[1], "0") != 0 && strcmp(c.f[1], "1") != 0)
            bad = mc_err(MC_EPARSE, "%s:%d: label '%s' is not 0 or 1", file, c.line, c.f[1]);
        else if (!c.f[0][0])
            bad = mc_err(MC_EPARSE, "%s:%d: empty study folder", file, c.line);
        if (!bad) {
            size_t n = strlen(c.f[0]);
            if (n + 2 > kcap) {
                kcap = n + 64;
                char *k = mc_realloc(key, kcap, "study name");
                if (!k) { rc = MC_ENOMEM; break; }
                key = k;
            }
            memcpy(key, c.f[0], n + 1);
            if (key[n - 1] != '/') strcpy(key + n, "/");
            int old = -1, r = mc_strmap_put(m, key, c.f[1][0] - '0', &old);
            if (r < 0) { rc = r; break; }
            if (r == 0 && old != c.f[1][0] - '0')
                bad = mc_err(MC_EPARSE, "%s:%d: study '%s' listed again with another label", file, c.line, key);
        }
        if (bad) rc = mc_ds_bad_row(ds, df, bad);
    }
    free(key);
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}

int mc_read_mura(mc_dataset *ds, const mc_datafile *df, const char *paths_csv, const char *studies_csv) {
    char *derived = NULL, *base = NULL, *study = NULL;
    mc_strmap m = {0};
    mc_csv c;
    int rc, have_csv = 0;
    if (!studies_csv) {
        MC_TRY(derive_studies(paths_csv, &derived));
        studies_csv = derived;
    }
    if ((rc = read_studies(df, ds, studies_csv, &m)) < 0) goto done;
    if ((rc = mc_csv_open(&c, paths_csv)) < 0) goto done;
    have_csv = 1;
    if (!(base = mc_path_dirname(paths_csv))) { rc = MC_ENOMEM; goto done; }
    size_t scap = 0;
    for (int row = 0;; row++) {
        if ((rc = mc_csv_next(&c)) <= 0) break;
        const char *p = c.f[0], *bp = NULL;
        int bad = 0, label = -1;
        size_t bl = 0;
        if (c.nf != 1) {
            bad = mc_err(MC_EPARSE, "%s:%d: expected 1 field (an image path), got %d", paths_csv, c.line, c.nf);
        } else if (!(bl = body_part_of(p, &bp))) {
            bad = mc_err(MC_EPARSE, "%s:%d: image path '%s' has no XR_* folder", paths_csv, c.line, p);
        } else {
            const char *ls = strrchr(p, '/');
            size_t sl = ls ? (size_t)(ls - p) + 1 : 0;
            if (sl + 1 > scap) {
                scap = sl + 64;
                char *s = mc_realloc(study, scap, "study name");
                if (!s) { rc = MC_ENOMEM; break; }
                study = s;
            }
            memcpy(study, p, sl);
            study[sl] = 0;
            label = mc_strmap_get(&m, study);
            if (label < 0)
                bad = mc_err(MC_EPARSE, "%s:%d: the study of '%s' is not in %s", paths_csv, c.line, p, studies_csv);
        }
        if (!bad && df->body_part && (strlen(df->body_part) != bl || strncmp(df->body_part, bp, bl) != 0))
            continue; /* another study type */
        char *patient = NULL;
        if (!bad) {
            if ((rc = mc_patient_from_path(p, &patient)) < 0) break;
            if (!patient)
                bad = mc_err(MC_EPARSE, "%s:%d: image path '%s' has no patientNNNNN folder", paths_csv, c.line, p);
        }
        const char *rest = p[0] == '/' ? p : strchr(p, '/');
        if (!bad && rest != p) {
            if (!rest || !rest[1])
                bad = mc_err(MC_EPARSE, "%s:%d: image path '%s' does not start with the dataset folder",
                             paths_csv, c.line, p);
            else
                rest++;
        }
        if (bad) {
            free(patient);
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        char *path = mc_path_join(base, rest);
        if (!path) { free(patient); rc = MC_ENOMEM; break; }
        int8_t raw = (int8_t)label;
        if ((rc = mc_ds_push(ds, path, patient, &raw, 0, row)) < 0) break;
    }
done:
    if (have_csv) mc_csv_close(&c);
    mc_strmap_free(&m);
    free(derived);
    free(base);
    free(study);
    return rc < 0 ? rc : MC_OK;
}
