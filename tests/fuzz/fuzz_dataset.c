/* fuzz_dataset.c — the dataset readers as a .data file drives them. The first input byte picks
 * the format (bits 0-1: CheXpert, ChestX-ray14, MURA, plain CSV) and options (bit 2: bad_rows =
 * skip, bit 3: view = frontal, bit 4: a drawn valid split, bit 5: subset = 0.5, bit 6: policy =
 * ignore); the rest, split at "\n@@@@\n" lines, are the files:
 *   CheXpert  CheXpert-v1.0-small/train.csv, CheXpert-v1.0-small/valid.csv
 *   NIH       Data_Entry_2017.csv, train_val_list.txt, test_list.txt (an images/ folder holds
 *             00000001_000.png and 00000002_000.png)
 *   MURA      MURA-v1.1/train_image_paths.csv, MURA-v1.1/train_labeled_studies.csv
 *   CSV       labels.csv (path_column = Path, patient_column = Patient, view_column = View)
 * Every split that exists is loaded; a loaded dataset must be consistent (targets 0/1, masks
 * 0/1, a path per row, n within the rows of the files). */
#include "fuzz.h"

static int check_ds(const mc_dataset *ds, size_t bytes) {
    if (ds->n < 0 || (size_t)ds->n > bytes || ds->nlabels < 1) {
        fprintf(stderr, "fuzz: %d rows from %zu bytes\n", ds->n, bytes);
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
    return 0;
}

static int one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int sel = data[0], fmt = sel & 3;
    mc_fuzz_part part[3];
    mc_fuzz_split(data + 1, size - 1, part, 3);
    char p[700], text[2048];
    const char *files[3];
    const char *head = "";
    switch (fmt) {
    case 0:
        files[0] = "CheXpert-v1.0-small/train.csv", files[1] = "CheXpert-v1.0-small/valid.csv", files[2] = NULL;
        head = "format = chexpert\ntrain = CheXpert-v1.0-small/train.csv\n"
               "valid = CheXpert-v1.0-small/valid.csv\nlabels = Cardiomegaly, Edema:ones, Pleural Effusion\n";
        break;
    case 1:
        files[0] = "Data_Entry_2017.csv", files[1] = "train_val_list.txt", files[2] = "test_list.txt";
        head = "format = nih\nentries = Data_Entry_2017.csv\nimages = .\ntrain = train_val_list.txt\n"
               "test = test_list.txt\nlabels = Atelectasis, Effusion, Pleural_Thickening\n";
        mc_fuzz_write(p, sizeof p, "images/00000001_000.png", "", 0);
        mc_fuzz_write(p, sizeof p, "images/00000002_000.png", "", 0);
        break;
    case 2:
        files[0] = "MURA-v1.1/train_image_paths.csv", files[1] = "MURA-v1.1/train_labeled_studies.csv",
        files[2] = NULL;
        head = "format = mura\ntrain = MURA-v1.1/train_image_paths.csv\n";
        break;
    default:
        files[0] = "labels.csv", files[1] = files[2] = NULL;
        head = "format = csv\ntrain = labels.csv\npath_column = Path\npatient_column = Patient\n"
               "view_column = View\nlabels = A, B\n";
        break;
    }
    for (int i = 0; i < 3; i++)
        if (files[i]) mc_fuzz_write(p, sizeof p, files[i], part[i].p, part[i].n);
    int drawn = (sel & 16) && fmt != 0; /* CheXpert has valid= here */
    snprintf(text, sizeof text, "%s%s%s%s%s%s", head, sel & 4 ? "bad_rows = skip\n" : "",
             (sel & 8) && fmt != 2 ? "view = frontal\n" : "", drawn ? "valid_frac = 0.3\nsplit_seed = 5\n" : "",
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
        else bad = check_ds(ds, size);
        mc_dataset_free(ds);
    }
    mc_datafile_free(df);
    return bad;
}
MC_FUZZ_TARGET(dataset)
