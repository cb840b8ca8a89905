/* fuzz_cxr.c — the MIMIC-CXR-JPG, PadChest and VinDr-CXR readers as a .data file drives them. The
 * first input byte picks the format (bits 0-1: MIMIC, PadChest, VinDr, VinDr with aggregate =
 * uncertain) and options (bit 2: bad_rows = skip, bit 3: view = frontal, bit 4: a drawn valid
 * split, bit 5: subset = 0.5, bit 6: policy = ignore; bit 7: MIMIC without its metadata file,
 * PadChest labelled_by = physician, VinDr aggregate = majority); the rest, split at "\n@@@@\n"
 * lines, are the files:
 *   MIMIC     split.csv (train=, valid= and test=), chexpert.csv (study_labels=), metadata.csv
 *   PadChest  padchest.csv
 *   VinDr     annotations/image_labels_train.csv, annotations/image_labels_test.csv
 * Every split that exists is loaded; a loaded dataset must be consistent (targets 0/1, masks
 * 0/1, a path per row, no more rows than bytes of input), and for each split loaded, the source
 * records of all its rows (as `medcolor subset` writes them) must exist. */
#include "fuzz.h"

static int check_ds(const mc_datafile *df, const mc_dataset *ds, size_t bytes) {
    if (ds->n < 0 || (size_t)ds->n > bytes || ds->nlabels < 1 || ds->left_out < 0) {
        fprintf(stderr, "fuzz: %d rows (%d left out) from %zu bytes\n", ds->n, ds->left_out, bytes);
        return 1;
    }
    for (int i = 0; i < ds->n; i++) {
        if (!ds->paths[i] || !ds->paths[i][0]) {
            fprintf(stderr, "fuzz: row %d has no path\n", i);
            return 1;
        }
        for (int j = 0; j < ds->nlabels; j++) {
            float y = ds->y[(size_t)i * ds->nlabels + j], m = ds->mask[(size_t)i * ds->nlabels + j];
            if ((y != 0 && y != 1) || (m != 0 && m != 1)) {
                fprintf(stderr, "fuzz: row %d label %d: target %g mask %g\n", i, j, (double)y, (double)m);
                return 1;
            }
        }
    }
    int *idx = malloc(sizeof(int) * (size_t)(ds->n ? ds->n : 1)), *rows = NULL, nrows = 0;
    if (!idx) return 1;
    for (int i = 0; i < ds->n; i++) idx[i] = i;
    int rc = mc_dataset_source_records(df, ds, idx, ds->n, &rows, &nrows);
    free(idx);
    if (rc < 0) return mc_fuzz_check_error(rc, NULL);
    int bad = nrows < ds->n;
    for (int i = 0; i < nrows && !bad; i++) bad = rows[i] < 0 || (size_t)rows[i] > bytes;
    if (bad) fprintf(stderr, "fuzz: %d source records for %d rows\n", nrows, ds->n);
    free(rows);
    return bad;
}

static int one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int sel = data[0], fmt = sel & 3, alt = (sel & 128) != 0;
    mc_fuzz_part part[3];
    mc_fuzz_split(data + 1, size - 1, part, 3);
    char p[700], text[2048];
    const char *files[3] = {NULL, NULL, NULL};
    char head[1024];
    switch (fmt) {
    case 0:
        files[0] = "split.csv", files[1] = "chexpert.csv", files[2] = alt ? NULL : "metadata.csv";
        snprintf(head, sizeof head, "format = mimic\ntrain = split.csv\n%sstudy_labels = chexpert.csv\n%s"
                 "labels = Atelectasis:ones, Edema, Pleural Effusion\n",
                 sel & 16 ? "" : "valid = split.csv\ntest = split.csv\n", alt ? "" : "metadata = metadata.csv\n");
        break;
    case 1:
        files[0] = "padchest.csv";
        snprintf(head, sizeof head, "format = padchest\ntrain = padchest.csv\nimages = img\n%s"
                 "labels = pleural effusion, Cardiomegaly\n", alt ? "labelled_by = physician\n" : "");
        break;
    default:
        files[0] = "annotations/image_labels_train.csv", files[1] = "annotations/image_labels_test.csv";
        snprintf(head, sizeof head, "format = vindr\ntrain = annotations/image_labels_train.csv\n"
                 "test = annotations/image_labels_test.csv\nlabels = Cardiomegaly, Effusion, Other diseases\n%s",
                 fmt == 3 ? "aggregate = uncertain\n" : alt ? "aggregate = majority\n" : "");
        break;
    }
    for (int i = 0; i < 3; i++)
        if (files[i]) mc_fuzz_write(p, sizeof p, files[i], part[i].p, part[i].n);
    int drawn = (sel & 16) != 0;
    int frontal = (sel & 8) && !(fmt == 0 && alt); /* MIMIC's view filter needs the metadata */
    snprintf(text, sizeof text, "%s%s%s%s%s%s", head, sel & 4 ? "bad_rows = skip\n" : "",
             frontal ? "view = frontal\n" : "", drawn ? "valid_frac = 0.3\nsplit_seed = 5\n" : "",
             sel & 32 ? "subset = 0.5\nsubset_seed = 8\n" : "", sel & 64 ? "policy = ignore\n" : "");
    mc_datafile *df = NULL;
    mc_fuzz_path(p, sizeof p, "x.data");
    int rc = mc_datafile_parse(&df, text, p, mc_fuzz_dir());
    if (rc < 0) {
        fprintf(stderr, "fuzz: the harness's .data does not parse: %s\n", mc_errmsg());
        return 1;
    }
    int bad = 0;
    static const char *const splits[] = {"train", "valid", "test"};
    for (int s = 0; s < 3 && !bad; s++) {
        if (!mc_datafile_has_split(df, splits[s])) continue;
        mc_dataset *ds = NULL;
        rc = mc_dataset_load(&ds, df, splits[s]);
        if (rc < 0) bad = mc_fuzz_check_error(rc, NULL);
        else bad = check_ds(df, ds, size);
        mc_dataset_free(ds);
    }
    mc_datafile_free(df);
    return bad;
}
MC_FUZZ_TARGET(cxr)
