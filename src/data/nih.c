/* nih.c — ChestX-ray14 (Wang et al. 2017).
 *
 * entries = Data_Entry_2017_v2020.csv or the older Data_Entry_2017.csv (whose lines end with a
 * comma). Header: Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,
 * View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y] — the bracketed
 * commas are not quoted, so a row has 11 fields (12 with the trailing comma). Finding Labels
 * is '|'-separated or "No Finding"; names are matched with the CheXpert aliases
 * (Effusion = Pleural Effusion, Pleural_Thickening = Pleural Thickening).
 * Splits: train= / valid= / test= are list files (train_val_list.txt, test_list.txt: one
 * image name a line). Without train= the train pool is every entry in no other list.
 * Images are found under images= in images/ or images_NNN/images/ (as distributed) or
 * directly in it; a file found nowhere gets images/NAME so the missing-file check names it. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

static const char *nih_findings[] = {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion",
                                     "Emphysema", "Fibrosis", "Hernia", "Infiltration", "Mass",
                                     "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
                                     "No Finding"};
#define NFINDINGS ((int)(sizeof nih_findings / sizeof nih_findings[0]))

static int finding_index(const char *tok) {
    for (int i = 0; i < NFINDINGS; i++)
        if (strcmp(tok, nih_findings[i]) == 0) return i;
    for (int i = 0; i < NFINDINGS; i++)
        if (mc_label_eq(tok, nih_findings[i])) return i;
    return -1;
}

static int read_entries(mc_dataset *ds, const mc_datafile *df, mc_strmap *byname) {
    const char *file = df->entries;
    mc_csv c;
    int rc, L = ds->nlabels;
    int8_t raw[64];
    int lab_of_label[64]; /* finding index of each requested label */
    if (L > 64) return mc_err(MC_EARG, "%s: too many labels (%d)", df->path, L);
    for (int j = 0; j < L; j++)
        if ((lab_of_label[j] = finding_index(ds->labels[j])) < 0)
            return mc_err(MC_EPARSE, "%s: '%s' is not a ChestX-ray14 finding", df->path, ds->labels[j]);
    MC_TRY(mc_csv_open(&c, file));
    rc = mc_csv_next(&c);
    if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected the Data_Entry header)", file);
    if (rc < 0) goto done;
    int hn = c.nf - (c.nf > 0 && !c.f[c.nf - 1][0]); /* header fields without a trailing empty one */
    int cimg = mc_csv_col(&c, "Image Index"), cfind = mc_csv_col(&c, "Finding Labels");
    int cpat = mc_csv_col(&c, "Patient ID"), cview = mc_csv_col(&c, "View Position");
    if (cimg < 0 || cfind < 0 || cpat < 0) {
        rc = mc_err(MC_EPARSE, "%s:%d: not a ChestX-ray14 Data_Entry file (needs the columns 'Image Index', "
                    "'Finding Labels', 'Patient ID')", file, c.line);
        goto done;
    }
    if ((rc = mc_strmap_init(byname, 131072)) < 0) goto done;
    for (int row = 0;; row++) {
        if ((rc = mc_csv_next(&c)) <= 0) break;
        int bad = 0;
        int n = c.nf - (c.nf > 0 && !c.f[c.nf - 1][0]);
        if (n != hn) {
            bad = mc_err(MC_EPARSE, "%s:%d: expected %d fields, got %d", file, c.line, hn, n);
        } else if (!c.f[cimg][0]) {
            bad = mc_err(MC_EPARSE, "%s:%d: empty Image Index", file, c.line);
        } else if (!c.f[cpat][0]) {
            bad = mc_err(MC_EPARSE, "%s:%d: empty Patient ID", file, c.line);
        }
        int view = MC_VIEW_FRONTAL;
        if (!bad && cview >= 0 && !mc_strieq(c.f[cview], "PA") && !mc_strieq(c.f[cview], "AP"))
            bad = mc_err(MC_EPARSE, "%s:%d: View Position '%s' is neither PA nor AP", file, c.line, c.f[cview]);
        if (!bad) {
            int has[NFINDINGS];
            memset(has, 0, sizeof has);
            char *s = c.f[cfind];
            if (!*s) bad = mc_err(MC_EPARSE, "%s:%d: empty Finding Labels", file, c.line);
            while (!bad && s) {
                char *bar = strchr(s, '|');
                if (bar) *bar = 0;
                int fi = finding_index(s);
                if (fi < 0)
                    bad = mc_err(MC_EPARSE, "%s:%d: unknown finding '%s'", file, c.line, s);
                else
                    has[fi] = 1;
                s = bar ? bar + 1 : NULL;
            }
            for (int j = 0; j < L; j++) raw[j] = (int8_t)(has[lab_of_label[j]] ? MC_RAW_POS : MC_RAW_NEG);
        }
        if (!bad) {
            int r = mc_strmap_put(byname, c.f[cimg], ds->n, NULL);
            if (r < 0) { rc = r; break; }
            if (r == 0) bad = mc_err(MC_EPARSE, "%s:%d: image '%s' listed twice", file, c.line, c.f[cimg]);
        }
        if (bad) {
            if ((rc = mc_ds_bad_row(ds, df, bad)) < 0) break;
            continue;
        }
        char *name = mc_strdup(c.f[cimg]), *pat = mc_strdup(c.f[cpat]);
        if (!name || !pat) { free(name); free(pat); rc = MC_ENOMEM; break; }
        if ((rc = mc_ds_push(ds, name, pat, raw, view, row)) < 0) break;
    }
done:
    mc_csv_close(&c);
    return rc < 0 ? rc : MC_OK;
}

/* Marks the rows named by a list file with tag in part[]; a row already tagged otherwise is
 * an error (the same image in two splits). */
static int mark_list(mc_dataset *ds, const mc_datafile *df, const char *list, const mc_strmap *byname,
                     unsigned char *part, unsigned char tag) {
    char *text;
    size_t len;
    MC_TRY(mc_text_read(list, &text, &len));
    int rc = MC_OK, line = 0;
    char *s = text;
    while (s && rc >= 0) {
        line++;
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        char *name = s;
        s = nl ? nl + 1 : NULL;
        while (*name == ' ' || *name == '\t') name++;
        size_t n = strlen(name);
        while (n > 0 && (name[n - 1] == '\r' || name[n - 1] == ' ' || name[n - 1] == '\t')) name[--n] = 0;
        if (!n) continue;
        int i = mc_strmap_get(byname, name);
        int bad = 0;
        if (i < 0)
            bad = mc_err(MC_EPARSE, "%s:%d: '%s' is not in %s", list, line, name, df->entries);
        else if (part[i] == tag)
            bad = mc_err(MC_EPARSE, "%s:%d: '%s' listed twice", list, line, name);
        else if (part[i])
            bad = mc_err(MC_EPARSE, "%s:%d: '%s' is also in another split's list", list, line, name);
        if (bad) rc = mc_ds_bad_row(ds, df, bad);
        else part[i] = tag;
    }
    free(text);
    return rc;
}

static int has_png_suffix(const char *s) {
    size_t n = strlen(s);
    return n > 4 && (strcmp(s + n - 4, ".png") == 0 || strcmp(s + n - 4, ".PNG") == 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists PNG files of dir into map (name -> dir index), first found wins. */
static int scan_dir(const char *dir, int di, mc_strmap *map) {
    DIR *d = opendir(dir);
    if (!d) return MC_OK;
    struct dirent *e;
    int rc = MC_OK;
    while ((e = readdir(d)) != NULL)
        if (has_png_suffix(e->d_name) && (rc = mc_strmap_put(map, e->d_name, di, NULL)) < 0) break;
    closedir(d);
    return rc < 0 ? rc : MC_OK;
}

/* Replaces each row's image name by its located path. */
static int locate_images(mc_dataset *ds, const mc_datafile *df) {
    if (ds->n == 0) return MC_OK;
    char **dirs = NULL;
    int nd = 0, capd = 16, rc = MC_OK;
    mc_strmap found = {0};
    dirs = mc_calloc((size_t)capd, sizeof *dirs, "image folders");
    if (!dirs || mc_strmap_init(&found, (size_t)ds->n) < 0) { rc = MC_ENOMEM; goto done; }
    if (!(dirs[nd++] = mc_path_join(df->images, "images"))) { rc = MC_ENOMEM; goto done; }
    /* images_NNN/images (as distributed) and images_NNN, in name order */
    DIR *d = opendir(df->images);
    if (d) {
        struct dirent *e;
        char **subs = NULL;
        int ns = 0, caps = 0;
        while (rc == MC_OK && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "images_", 7) != 0) continue;
            if (ns == caps) {
                caps = caps ? caps * 2 : 16;
                char **t = mc_realloc(subs, (size_t)caps * sizeof *t, "image folders");
                if (!t) { rc = MC_ENOMEM; break; }
                subs = t;
            }
            if (!(subs[ns] = mc_strdup(e->d_name))) rc = MC_ENOMEM;
            else ns++;
        }
        closedir(d);
        if (rc == MC_OK && ns > 1) qsort(subs, (size_t)ns, sizeof *subs, cmp_str); /* subs is NULL when ns == 0 */
        for (int i = 0; i < ns && rc == MC_OK; i++) {
            if (nd + 2 > capd) {
                capd *= 2;
                char **t = mc_realloc(dirs, (size_t)capd * sizeof *t, "image folders");
                if (!t) { rc = MC_ENOMEM; break; }
                dirs = t;
            }
            char *sub = mc_path_join(df->images, subs[i]);
            if (!sub) { rc = MC_ENOMEM; break; }
            dirs[nd] = mc_path_join(sub, "images");
            dirs[nd + 1] = sub;
            if (!dirs[nd]) { free(sub); rc = MC_ENOMEM; break; }
            nd += 2;
        }
        for (int i = 0; i < ns; i++) free(subs[i]);
        free(subs);
        if (rc < 0) goto done;
    }
    if (nd + 1 > capd) {
        char **t = mc_realloc(dirs, (size_t)(capd + 1) * sizeof *t, "image folders");
        if (!t) { rc = MC_ENOMEM; goto done; }
        dirs = t;
    }
    if (!(dirs[nd++] = mc_strdup(df->images))) { rc = MC_ENOMEM; goto done; }
    for (int i = 0; i < nd; i++)
        if ((rc = scan_dir(dirs[i], i, &found)) < 0) goto done;
    for (int i = 0; i < ds->n; i++) {
        int di = mc_strmap_get(&found, ds->paths[i]);
        char *p = mc_path_join(dirs[di < 0 ? 0 : di], ds->paths[i]);
        if (!p) { rc = MC_ENOMEM; goto done; }
        free(ds->paths[i]);
        ds->paths[i] = p;
    }
done:
    if (dirs)
        for (int i = 0; i < nd; i++) free(dirs[i]);
    free(dirs);
    mc_strmap_free(&found);
    return rc;
}

int mc_read_nih(mc_dataset *ds, const mc_datafile *df, const char *split) {
    mc_strmap byname = {0};
    unsigned char *part = NULL;
    int *idx = NULL;
    int rc = read_entries(ds, df, &byname);
    if (rc < 0) goto done;
    part = mc_calloc((size_t)(ds->n ? ds->n : 1), 1, "split parts");
    idx = mc_malloc((size_t)(ds->n ? ds->n : 1) * sizeof *idx, "row list");
    if (!part || !idx) { rc = MC_ENOMEM; goto done; }
    /* 1 train, 2 valid, 3 test */
    if (df->train && (rc = mark_list(ds, df, df->train, &byname, part, 1)) < 0) goto done;
    if (df->valid && (rc = mark_list(ds, df, df->valid, &byname, part, 2)) < 0) goto done;
    if (df->test && (rc = mark_list(ds, df, df->test, &byname, part, 3)) < 0) goto done;
    int want = strcmp(split, "train") == 0 ? 1 : strcmp(split, "valid") == 0 ? 2 : 3;
    int k = 0;
    for (int i = 0; i < ds->n; i++)
        if (part[i] == want || (want == 1 && !df->train && part[i] == 0)) idx[k++] = i;
    if ((rc = mc_dataset_select(ds, idx, k)) < 0) goto done;
    rc = locate_images(ds, df);
done:
    mc_strmap_free(&byname);
    free(part);
    free(idx);
    return rc;
}
