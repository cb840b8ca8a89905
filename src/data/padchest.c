/* padchest.c — PadChest (Bustos et al. 2020), read as BIMCV ships it.
 *
 * PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv(.gz): one row per image, with (among 35
 * columns) ImageID (the PNG's name), ImageDir (the numbered folder, 0 … 54, of the zip the image
 * came in), PatientID, Projection (PA, L, AP, AP_horizontal, COSTAL, EXCLUDE, UNK), MethodLabel
 * (Physician: the report was labelled by hand; RNN_model: by the authors' network) and Labels,
 * the report's findings as a Python list literal in one field: "['pleural effusion', 'cardiomegaly']".
 * Images: images=/<ImageDir>/<ImageID> (16-bit grey PNGs), or images=/<ImageID> when only that
 * exists (a download unpacked into one folder); images= by default the CSV's folder.
 *
 * A label of the .data file is positive when one of the row's findings has its name (matched
 * like every label name: case, '_' = space, Effusion = pleural effusion), negative otherwise;
 * PadChest has no uncertain values. A label named in no row of the file is an error (a typo: the
 * message names the closest finding). A row whose list holds no finding (blank Labels, [] or
 * ['']) is left out and counted. labelled_by = physician keeps the hand-labelled rows,
 * model the network-labelled ones. Views: PA, AP, AP_horizontal frontal; L lateral; COSTAL,
 * EXCLUDE, UNK and blank neither; any other Projection is a bad row. The patient is PatientID. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/data_internal.h"

#define MAX_TERMS 256

static int pad_view(const char *v) {
    if (!v[0] || strcmp(v, "COSTAL") == 0 || strcmp(v, "EXCLUDE") == 0 || strcmp(v, "UNK") == 0) return 0;
    if (strcmp(v, "PA") == 0 || strcmp(v, "AP") == 0 || strcmp(v, "AP_horizontal") == 0) return MC_VIEW_FRONTAL;
    if (strcmp(v, "L") == 0) return MC_VIEW_LATERAL;
    return -1;
}

static void trim_in_place(char **s) {
    char *p = *s;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) p[--n] = 0;
    *s = p;
}

/* Parses a Python list literal of strings in place ("['a', \"b's\"]", backslash escapes \\ \' \"):
 * term[0..*n) point into s (trimmed; empty names dropped). Returns 0, or -1 with *why set. */
static int parse_list(char *s, char **term, int *n, const char **why) {
    *n = 0;
    char *p = s;
    while (*p == ' ') p++;
    if (*p != '[') { *why = "does not start with '['"; return -1; }
    p++;
    while (*p == ' ') p++;
    if (*p == ']') goto end;
    for (;;) {
        char q = *p;
        if (q != '\'' && q != '"') { *why = "expected a quoted name"; return -1; }
        char *start = ++p, *w = p;
        for (;;) {
            if (!*p) { *why = "unterminated quoted name"; return -1; }
            if (*p == '\\') {
                if (p[1] != '\\' && p[1] != '\'' && p[1] != '"') { *why = "unknown escape in a name"; return -1; }
                *w++ = p[1];
                p += 2;
                continue;
            }
            if (*p == q) break;
            if ((unsigned char)*p < 0x20) { *why = "control character in a name"; return -1; }
            *w++ = *p++;
        }
        p++; /* closing quote */
        *w = 0;
        char *t = start;
        trim_in_place(&t);
        if (t[0]) {
            if (*n == MAX_TERMS) { *why = "more than 256 names"; return -1; }
            term[(*n)++] = t;
        }
        while (*p == ' ') p++;
        if (*p == ',') {
            p++;
            while (*p == ' ') p++;
            continue;
        }
        if (*p == ']') break;
        *why = "expected ',' or ']' after a name";
        return -1;
    }
end:
    p++;
    while (*p == ' ') p++;
    if (*p) { *why = "text after the closing ']'"; return -1; }
    return 0;
}

int mc_read_padchest(mc_dataset *ds, const mc_datafile *df, const char *csv) {
    int L = ds->nlabels, rc;
    mc_csv c;
    mc_strmap seen = {0};
    char *base = NULL, **term = NULL, *lcopy = NULL;
    int *count = NULL;
    int8_t *raw = NULL;
    MC_TRY(mc_csv_open(&c, csv));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the PadChest header)", csv);
    if (rc < 0) goto done;
    int nf = c.nf;
    static const char *cols[6] = {"ImageID", "ImageDir", "PatientID", "Projection", "MethodLabel", "Labels"};
    int col[6];
    for (int k = 0; k < 6; k++)
        if ((col[k] = mc_csv_col(&c, cols[k])) < 0) { rc = mc_csv_no_column(&c, csv, "PadChest", cols[k]); goto done; }
    base = df->images ? mc_strdup(df->images) : mc_path_dirname(csv);
    term = mc_malloc(MAX_TERMS * sizeof *term, "finding names");
    count = mc_calloc((size_t)L, sizeof *count, "label counts");
    raw = mc_malloc((size_t)L, "label values");
    if (!base || !term || !count || !raw || mc_strmap_init(&seen, 1024) < 0) { rc = MC_ENOMEM; goto done; }
    for (int row = 0;; row++) {
        if ((rc = mc_csv_next(&c)) <= 0) break;
        int bad = 0, nt = 0, view = 0;
        const char *why = NULL;
        if (c.nf != nf) {
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", csv, c.line, nf, c.nf);
            goto row_done;
        }
        const char *id = c.f[col[0]], *dir = c.f[col[1]], *pat = c.f[col[2]], *proj = c.f[col[3]], *meth = c.f[col[4]];
        const char *labels = c.f[col[5]];
        free(lcopy);
        if (!(lcopy = mc_strdup(labels))) { rc = MC_ENOMEM; break; }
        size_t dl = strlen(dir);
        if (!mc_safe_file_name(id))
            bad = mc_err(MC_EPARSE, "%s:%d: ImageID '%s' is not a file name", csv, c.line, id);
        else if (dl == 0 || dl > 4 || strspn(dir, "0123456789") != dl)
            bad = mc_err(MC_EPARSE, "%s:%d: ImageDir '%s' is not a folder number", csv, c.line, dir);
        else if (!pat[0])
            bad = mc_err(MC_EPARSE, "%s:%d: empty PatientID", csv, c.line);
        else if ((view = pad_view(proj)) < 0)
            bad = mc_err(MC_EPARSE, "%s:%d: Projection '%s' is not one PadChest uses (PA, L, AP, AP_horizontal, "
                         "COSTAL, EXCLUDE, UNK or empty)", csv, c.line, proj);
        else if (meth[0] && strcmp(meth, "Physician") != 0 && strcmp(meth, "RNN_model") != 0)
            bad = mc_err(MC_EPARSE, "%s:%d: MethodLabel '%s' is neither Physician nor RNN_model", csv, c.line, meth);
        else if (labels[0] && parse_list(lcopy, term, &nt, &why) < 0)
            bad = mc_err(MC_EPARSE, "%s:%d: Labels '%s': %s (expected a list such as ['pleural effusion', "
                         "'cardiomegaly'])", csv, c.line, labels, why);
        if (bad) goto row_done;
        for (int j = 0; j < L; j++) raw[j] = MC_RAW_NEG;
        for (int t = 0; t < nt; t++) {
            int r = mc_strmap_put(&seen, term[t], 0, NULL);
            if (r < 0) { rc = r; break; }
            for (int j = 0; j < L; j++)
                if (raw[j] != MC_RAW_POS && mc_label_eq(term[t], ds->labels[j])) {
                    raw[j] = MC_RAW_POS;
                    count[j]++;
                }
        }
        if (rc < 0) break;
        if ((df->labelled_by == MC_LABELLED_PHYSICIAN && strcmp(meth, "Physician") != 0) ||
            (df->labelled_by == MC_LABELLED_MODEL && strcmp(meth, "RNN_model") != 0))
            continue; /* labelled the other way */
        if (nt == 0) {
            if ((rc = mc_ds_left_out(ds, "%s:%d: image %s has no findings in Labels ('%s')", csv, c.line, id,
                                     labels)) < 0)
                break;
            continue;
        }
        size_t need = strlen(base) + dl + strlen(id) + 3;
        char *path = mc_malloc(need, "image path"), *patient = mc_strdup(pat);
        if (!path || !patient) { free(path); free(patient); rc = MC_ENOMEM; break; }
        snprintf(path, need, "%s/%s/%s", base, dir, id);
        if (access(path, F_OK) != 0) { /* unpacked into one folder: images/<ImageID> */
            char *flat = mc_path_join(base, id);
            if (!flat) { free(path); free(patient); rc = MC_ENOMEM; break; }
            if (access(flat, F_OK) == 0) {
                free(path);
                path = flat;
            } else {
                free(flat);
            }
        }
        if ((rc = mc_ds_push(ds, path, patient, raw, view, row)) < 0) break;
        continue;
    row_done:
        if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
    }
    if (rc < 0) goto done;
    /* a label no row names is a typo or a name PadChest does not use */
    for (int j = 0; j < L; j++) {
        if (count[j]) continue;
        const char *best = NULL;
        int bd = 1 << 30;
        for (size_t i = 0; i < seen.cap; i++)
            if (seen.keys[i]) {
                int d = mc_edit_distance(ds->labels[j], seen.keys[i], 1);
                if (d < bd || (d == bd && best && strcmp(seen.keys[i], best) < 0)) { bd = d; best = seen.keys[i]; }
            }
        rc = mc_err(MC_EPARSE, "%s: label '%s' is in no row's Labels (PadChest's findings are lower case, e.g. "
                    "'pleural effusion'; closest here: '%s')", csv, ds->labels[j], best ? best : "none");
        break;
    }
done:
    mc_csv_close(&c);
    mc_strmap_free(&seen);
    free(base);
    free(term);
    free(lcopy);
    free(count);
    free(raw);
    return rc < 0 ? rc : MC_OK;
}
