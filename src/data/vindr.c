/* vindr.c — VinDr-CXR 1.0.0 (Nguyen et al. 2022), read as PhysioNet ships it.
 *
 *   annotations/image_labels_train.csv   image_id,rad_id,<22 findings>,<6 diagnoses>: one row per
 *                                        radiologist (R1 … R17), 3 per training image; 0 / 1
 *   annotations/image_labels_test.csv    image_id,<the same 28 columns>: one row per image, the
 *                                        consensus of 5 radiologists ("Other disease" there,
 *                                        "Other diseases" in train: either name finds either)
 *   train/<image_id>.dicom, test/<image_id>.dicom
 *
 * The rows of one image (rad_id column present) become one value per label by df->aggregate:
 * any (positive when one radiologist marks it: the Kaggle competition's reading), majority (more
 * than half of the image's radiologists), all (every one), uncertain (unanimous → that value,
 * split → uncertain, so that the label policies decide: ones = any, zeros = all, ignore leaves
 * disagreements out). Without a rad_id column an image_id may appear once. Values: 1, 0 (1.0 /
 * 0.0) or empty (not marked); anything else is a bad row. A radiologist listed twice for an image
 * is a bad row. Images are in order of first appearance; all views are PA (frontal); VinDr has no
 * patient ids, so drawn splits are image-disjoint only.
 * Image folder: images= holds train/ and test/; by default the folder above annotations/ (or
 * the CSV's own folder when it is not in annotations/). The subfolder is test/ when the CSV's
 * name contains "test", else train/. */
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

/* the folder holding train/ and test/ for this CSV */
static char *image_root(const mc_datafile *df, const char *csv) {
    if (df->images) return mc_strdup(df->images);
    char *dir = mc_path_dirname(csv);
    if (!dir) return NULL;
    const char *bn = strrchr(dir, '/');
    bn = bn ? bn + 1 : dir;
    if (strcmp(bn, "annotations") == 0) {
        char *up = mc_path_dirname(dir);
        free(dir);
        return up;
    }
    return dir;
}

static const char *sub_folder(const char *csv) {
    const char *bn = strrchr(csv, '/');
    return strstr(bn ? bn + 1 : csv, "test") ? "test" : "train";
}

/* The label column of name, also under VinDr's other spelling ("Other disease" / "Other diseases"). */
static int vindr_col(const mc_csv *c, const char *name) {
    int k = mc_csv_find_col(c, name);
    if (k >= 0) return k;
    char alt[256];
    size_t n = strlen(name);
    if (n + 2 > sizeof alt) return -1;
    memcpy(alt, name, n + 1);
    if (n > 1 && (alt[n - 1] == 's' || alt[n - 1] == 'S')) alt[n - 1] = 0;
    else strcpy(alt + n, "s");
    return mc_csv_find_col(c, alt);
}

typedef struct vimg {
    int first_record; /* data-record index of the image's first row */
    int rows;         /* radiologists */
} vimg;

int mc_read_vindr(mc_dataset *ds, const mc_datafile *df, const char *csv) {
    int L = ds->nlabels, rc, n = 0, cap = 0;
    mc_csv c;
    mc_strmap byid = {0}, pairs = {0};
    int *lcol = NULL, *pos = NULL, *marked = NULL;
    vimg *img = NULL;
    char **ids = NULL, **hname = NULL, *root = NULL;
    int8_t *raw = NULL;
    MC_TRY(mc_csv_open(&c, csv));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the header image_id,rad_id,<labels>)", csv);
    if (rc < 0) goto done;
    int nf = c.nf, cid = mc_csv_col(&c, "image_id"), crad = mc_csv_col(&c, "rad_id");
    if (cid < 0) { rc = mc_csv_no_column(&c, csv, "image", "image_id"); goto done; }
    lcol = mc_malloc((size_t)L * sizeof *lcol, "label columns");
    hname = mc_calloc((size_t)L, sizeof *hname, "label names");
    raw = mc_malloc((size_t)L, "label values");
    if (!lcol || !hname || !raw) { rc = MC_ENOMEM; goto done; }
    for (int j = 0; j < L; j++) {
        if ((lcol[j] = vindr_col(&c, ds->labels[j])) < 0) { rc = mc_csv_no_column(&c, csv, "label", ds->labels[j]); goto done; }
        if (!(hname[j] = mc_strdup(c.f[lcol[j]]))) { rc = MC_ENOMEM; goto done; }
    }
    if (mc_strmap_init(&byid, 4096) < 0 || mc_strmap_init(&pairs, 4096) < 0) { rc = MC_ENOMEM; goto done; }
    for (int rec = 0;; rec++) {
        if ((rc = mc_csv_next(&c)) <= 0) break;
        int bad = 0;
        if (c.nf != nf)
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", csv, c.line, nf, c.nf);
        else if (!mc_safe_file_name(c.f[cid]))
            bad = mc_err(MC_EPARSE, "%s:%d: image_id '%s' is not a file name", csv, c.line, c.f[cid]);
        else if (crad >= 0 && !c.f[crad][0])
            bad = mc_err(MC_EPARSE, "%s:%d: empty rad_id", csv, c.line);
        for (int j = 0; j < L && !bad; j++) {
            int v = mc_parse_raw_label(c.f[lcol[j]]);
            if (v != MC_RAW_POS && v != MC_RAW_NEG && v != MC_RAW_BLANK)
                bad = mc_err(MC_EPARSE, "%s:%d: column '%s': bad value '%s' (expected 1, 0 or empty)", csv, c.line,
                             hname[j], c.f[lcol[j]]);
            raw[j] = (int8_t)v;
        }
        if (!bad) {
            /* the radiologist may read an image once; without rad_id, the image appears once */
            size_t kl = strlen(c.f[cid]) + (crad >= 0 ? strlen(c.f[crad]) : 0) + 2;
            char *key = mc_malloc(kl, "image key");
            if (!key) { rc = MC_ENOMEM; break; }
            snprintf(key, kl, "%s\t%s", c.f[cid], crad >= 0 ? c.f[crad] : "");
            int r = mc_strmap_put(&pairs, key, rec, NULL);
            free(key);
            if (r < 0) { rc = r; break; }
            if (r == 0)
                bad = crad >= 0 ? mc_err(MC_EPARSE, "%s:%d: radiologist %s listed twice for image %s", csv, c.line,
                                         c.f[crad], c.f[cid])
                                : mc_err(MC_EPARSE, "%s:%d: image %s listed twice (and the file has no rad_id column)",
                                         csv, c.line, c.f[cid]);
        }
        if (bad) {
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        int old = -1, r = mc_strmap_put(&byid, c.f[cid], n, &old);
        if (r < 0) { rc = r; break; }
        int i = r ? n : old;
        if (r) {
            if (n == cap) {
                cap = cap ? 2 * cap : 4096;
                vimg *ni = mc_realloc(img, (size_t)cap * sizeof *ni, "images");
                if (ni) img = ni;
                char **nid = ni ? mc_realloc(ids, (size_t)cap * sizeof *nid, "images") : NULL;
                if (nid) ids = nid;
                int *np = nid ? mc_realloc(pos, (size_t)cap * (size_t)L * sizeof *np, "label counts") : NULL;
                if (np) pos = np;
                int *nm = np ? mc_realloc(marked, (size_t)cap * (size_t)L * sizeof *nm, "label counts") : NULL;
                if (nm) marked = nm;
                if (!nm) { rc = MC_ENOMEM; break; }
            }
            if (!(ids[n] = mc_strdup(c.f[cid]))) { rc = MC_ENOMEM; break; }
            img[n].first_record = rec;
            img[n].rows = 0;
            memset(pos + (size_t)n * L, 0, (size_t)L * sizeof *pos);
            memset(marked + (size_t)n * L, 0, (size_t)L * sizeof *marked);
            n++;
        }
        img[i].rows++;
        for (int j = 0; j < L; j++) {
            pos[(size_t)i * L + j] += raw[j] == MC_RAW_POS;
            marked[(size_t)i * L + j] += raw[j] != MC_RAW_BLANK;
        }
    }
    if (rc < 0) goto done;
    if (!(root = image_root(df, csv))) { rc = MC_ENOMEM; goto done; }
    const char *sub = sub_folder(csv);
    for (int i = 0; i < n; i++) {
        int r = img[i].rows;
        for (int j = 0; j < L; j++) {
            int p = pos[(size_t)i * L + j], m = marked[(size_t)i * L + j], v;
            if (m == 0) v = MC_RAW_BLANK; /* nobody wrote a value */
            else if (df->aggregate == MC_AGG_MAJORITY) v = 2 * p > r ? MC_RAW_POS : MC_RAW_NEG;
            else if (df->aggregate == MC_AGG_ALL) v = p == r ? MC_RAW_POS : MC_RAW_NEG;
            else if (df->aggregate == MC_AGG_UNCERTAIN) v = p == r ? MC_RAW_POS : p == 0 ? MC_RAW_NEG : MC_RAW_UNCERTAIN;
            else v = p > 0 ? MC_RAW_POS : MC_RAW_NEG;
            raw[j] = (int8_t)v;
        }
        size_t need = strlen(root) + strlen(sub) + strlen(ids[i]) + 10;
        char *path = mc_malloc(need, "image path");
        if (!path) { rc = MC_ENOMEM; break; }
        snprintf(path, need, "%s/%s/%s.dicom", root, sub, ids[i]);
        if ((rc = mc_ds_push(ds, path, NULL, raw, MC_VIEW_FRONTAL, img[i].first_record)) < 0) break;
    }
done:
    mc_csv_close(&c);
    mc_strmap_free(&byid);
    mc_strmap_free(&pairs);
    if (hname)
        for (int j = 0; j < L; j++) free(hname[j]);
    if (ids)
        for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(hname);
    free(lcol);
    free(pos);
    free(marked);
    free(img);
    free(root);
    free(raw);
    return rc < 0 ? rc : MC_OK;
}

int mc_vindr_records(const char *csv, const int *first, int k, int **rows, int *nrows) {
    *rows = NULL;
    *nrows = 0;
    mc_csv c;
    MC_TRY(mc_csv_open(&c, csv));
    mc_strmap byid = {0};
    int rc = mc_csv_next(&c), total = 0, cid = -1, nrec = 0, cap = 1024;
    char **idof = NULL; /* [record] its image id */
    int *order = NULL, *cnt = NULL, *start = NULL, *out = NULL;
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file", csv);
    if (rc < 0) goto done;
    if ((cid = mc_csv_col(&c, "image_id")) < 0) { rc = mc_csv_no_column(&c, csv, "image", "image_id"); goto done; }
    if (!(idof = mc_malloc((size_t)cap * sizeof *idof, "records"))) { rc = MC_ENOMEM; goto done; }
    while ((rc = mc_csv_next(&c)) > 0) {
        if (nrec == cap) {
            cap *= 2;
            char **t = mc_realloc(idof, (size_t)cap * sizeof *t, "records");
            if (!t) { rc = MC_ENOMEM; break; }
            idof = t;
        }
        idof[nrec] = mc_strdup(cid < c.nf ? c.f[cid] : "");
        if (!idof[nrec++]) { rc = MC_ENOMEM; break; }
    }
    if (rc < 0) goto done;
    /* chosen image (by its first record) -> slot in the output order */
    if ((rc = mc_strmap_init(&byid, (size_t)k + 16)) < 0) goto done;
    for (int i = 0; i < k; i++) {
        if (first[i] < 0 || first[i] >= nrec) { rc = mc_err(MC_EARG, "%s: record %d does not exist", csv, first[i]); goto done; }
        if ((rc = mc_strmap_put(&byid, idof[first[i]], i, NULL)) < 0) goto done;
    }
    cnt = mc_calloc((size_t)(k ? k : 1), sizeof *cnt, "records");
    start = mc_calloc((size_t)(k ? k : 1) + 1, sizeof *start, "records");
    if (!cnt || !start) { rc = MC_ENOMEM; goto done; }
    for (int r = 0; r < nrec; r++) {
        int s = mc_strmap_get(&byid, idof[r]);
        if (s >= 0) cnt[s]++, total++;
    }
    for (int i = 0; i < k; i++) start[i + 1] = start[i] + cnt[i];
    out = mc_malloc((size_t)(total ? total : 1) * sizeof *out, "records");
    if (!out) { rc = MC_ENOMEM; goto done; }
    memset(cnt, 0, (size_t)(k ? k : 1) * sizeof *cnt);
    for (int r = 0; r < nrec; r++) {
        int s = mc_strmap_get(&byid, idof[r]);
        if (s >= 0) out[start[s] + cnt[s]++] = r;
    }
    *rows = out;
    *nrows = total;
    out = NULL;
    rc = MC_OK;
done:
    if (idof)
        for (int r = 0; r < nrec; r++) free(idof[r]);
    free(idof);
    free(order);
    free(cnt);
    free(start);
    free(out);
    mc_strmap_free(&byid);
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}
