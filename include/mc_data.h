/* mc_data.h — datasets as users have them on disk (CheXpert, ChestX-ray14, MURA, MIMIC-CXR-JPG,
 * PadChest, VinDr-CXR, plain CSV).
 * Part of the public API; included by medcolor.h.
 *
 * A dataset is described by a darknet-style `.data` file (docs/data.md):
 *
 *     mc_datafile *df;
 *     if (mc_datafile_load(&df, "data/chexpert.data", NULL) < 0) { puts(mc_errmsg()); ... }
 *     mc_dataset *train;
 *     if (mc_dataset_load(&train, df, "train") < 0) { ... }     // labels after the policy
 *     if (mc_dataset_check_files(train, 5, NULL) < 0) { ... }    // all missing files at once
 *     ... train->paths[i], train->y[i * train->nlabels + j], train->mask[...] ...
 *     mc_dataset_free(train);
 *     mc_datafile_free(df);
 */
#ifndef MC_DATA_H
#define MC_DATA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ---------------------------------------------------------------------------- */
enum { MC_FORMAT_CHEXPERT = 1, MC_FORMAT_NIH = 2, MC_FORMAT_MURA = 3, MC_FORMAT_CSV = 4, MC_FORMAT_MIMIC = 5,
       MC_FORMAT_PADCHEST = 6, MC_FORMAT_VINDR = 7 };
/* VinDr-CXR: how the labels of several radiologists of one image become one value (docs/data.md). */
enum { MC_AGG_ANY = 0, MC_AGG_MAJORITY = 1, MC_AGG_ALL = 2, MC_AGG_UNCERTAIN = 3 };
/* PadChest: which rows by who labelled the report (the MethodLabel column). */
enum { MC_LABELLED_ALL = 0, MC_LABELLED_PHYSICIAN = 1, MC_LABELLED_MODEL = 2 };
/* Uncertainty policy of a label: what an uncertain (-1) value becomes. */
enum { MC_POLICY_ZEROS = 0, MC_POLICY_ONES = 1, MC_POLICY_IGNORE = 2 };
/* View filter of a .data file, and the per-image view (0 = unknown). */
enum { MC_VIEW_ALL = 0, MC_VIEW_FRONTAL = 1, MC_VIEW_LATERAL = 2 };
/* A label as written in the source, before the policy. */
enum { MC_RAW_NEG = 0, MC_RAW_POS = 1, MC_RAW_UNCERTAIN = -1, MC_RAW_BLANK = -2 };

/* One split of a dataset after the label policy, ready for the loader. */
typedef struct mc_dataset {
    int n;              /* images */
    int nlabels;        /* outputs per image */
    char **labels;      /* [nlabels] label names */
    char **paths;       /* [n] image paths, openable as given (root already joined) */
    char **patients;    /* [n] patient ids, or NULL when the format has none */
    float *y;           /* [n][nlabels] targets after the uncertainty policy: 0 or 1 */
    float *mask;        /* [n][nlabels] 1 = counts, 0 = ignored (U-Ignore) */
    /* ---- added by the readers (all may be NULL / 0 in a hand-made dataset) ---- */
    int8_t *raw;        /* [n][nlabels] value as written: MC_RAW_POS/NEG/UNCERTAIN/BLANK */
    int8_t *view;       /* [n] MC_VIEW_FRONTAL / MC_VIEW_LATERAL / 0 unknown */
    int *policy;        /* [nlabels] MC_POLICY_* that produced y and mask */
    char *split;        /* "train", "valid" or "test" */
    char *source;       /* the file whose records are the rows (train.csv, Data_Entry, ...) */
    int source_header;  /* 1: source starts with a header line */
    int *source_row;    /* [n] 0-based index of the row's record among source's data records */
    int skipped;        /* malformed rows skipped (bad_rows = skip) */
    char *skipped_first;/* message of the first skipped row, or NULL */
    int left_out;       /* well-formed rows the reader's rules leave out (MIMIC: images of studies
                           without labels; PadChest: rows without labels) */
    char *left_out_first;/* why the first one was left out, or NULL */
    int capacity;       /* rows allocated (internal) */
} mc_dataset;

/* A parsed .data file. Paths are resolved: root already joined. Read-only for callers except
 * skip_bad, which a command-line option may switch on after loading. */
typedef struct mc_datafile {
    char *path;            /* the .data file (or the name given to mc_datafile_parse) */
    int format;            /* MC_FORMAT_* */
    char *root;            /* the root folder in use */
    char *root_from;       /* where root came from: "--root", "MEDCOLOR_DATA", "FILE:LINE", "default" */
    char *train, *valid, *test; /* sources (CSV or, for nih, list files); NULL when absent */
    int nlabels;
    char **labels;         /* [nlabels] names as written in the .data file */
    int *policy;           /* [nlabels] MC_POLICY_* */
    int view;              /* MC_VIEW_* filter */
    char *body_part;       /* mura: "XR_SHOULDER" etc.; NULL = all */
    double subset;         /* fraction of the train split to keep; 0 = all */
    uint32_t subset_seed;
    double valid_frac;     /* >0: valid split drawn patient-disjoint from train (no valid=) */
    double test_frac;      /* >0: test split drawn patient-disjoint from train (no test=) */
    uint32_t split_seed;
    char *entries;         /* nih: Data_Entry_2017[_v2020].csv */
    char *images;          /* nih: folder holding images/ or images_NNN/images/; mimic: holding files/;
                              padchest: holding the ImageDir folders; vindr: holding train/ and test/
                              (NULL for mimic/padchest/vindr = derived from each source, docs/data.md) */
    char *image_base;      /* chexpert/csv: folder image paths are relative to; NULL = default */
    char *path_column;     /* csv: NULL = first column */
    char *patient_column;  /* csv: NULL = none */
    char *view_column;     /* csv: NULL = none */
    char *train_studies, *valid_studies, *test_studies; /* mura: *_labeled_studies.csv */
    char *study_labels;    /* mimic: mimic-cxr-2.0.0-chexpert.csv(.gz) (or -negbio), labels per study */
    char *metadata;        /* mimic: mimic-cxr-2.0.0-metadata.csv(.gz) (ViewPosition); NULL = none */
    int aggregate;         /* vindr: MC_AGG_* */
    int labelled_by;       /* padchest: MC_LABELLED_* */
    int skip_bad;          /* 1: malformed rows are skipped and counted, 0: an error */
} mc_datafile;

/* ---- .data files -------------------------------------------------------------------------- */
/* Parses a .data file. root_override (e.g. from --root) beats $MEDCOLOR_DATA, which beats
 * root= in the file; the default is the current directory. NULL/"" = no override. */
int mc_datafile_load(mc_datafile **out, const char *path, const char *root_override);
/* The same from text; name is used in messages and locates a relative root=. */
int mc_datafile_parse(mc_datafile **out, const char *text, const char *name, const char *root_override);
void mc_datafile_free(mc_datafile *df);
/* 1 when the split ("train", "valid", "test") exists: it has a source or is drawn. */
int mc_datafile_has_split(const mc_datafile *df, const char *split);
const char *mc_format_name(int format);
const char *mc_policy_name(int policy);

/* ---- datasets ----------------------------------------------------------------------------- */
/* Loads one split ("train", "valid", "test"): reads the sources, applies the view / body-part
 * filter, draws patient-disjoint splits, the subset (train only), then the label policy. */
int mc_dataset_load(mc_dataset **out, const mc_datafile *df, const char *split);
void mc_dataset_free(mc_dataset *ds);
/* Checks that every image file exists and is readable. Returns MC_OK, or MC_ENOTFOUND with a
 * message giving the count and the first max_show (<= 0: 5) missing paths. *nmissing
 * (may be NULL) receives the count. */
int mc_dataset_check_files(const mc_dataset *ds, int max_show, int *nmissing);
/* Opens every image file of ds and reads its header (mc_image_probe: a PNG or JPEG the decoder
 * reads, of a size within its limit), or with decode = 1 decodes it whole (a file damaged after
 * its header, truncated data). *bad[*nbad] lists each bad file, in dataset order, with the reason
 * (free with mc_bad_images_free); MC_OK also when some are bad. progress (may be NULL) is called
 * with the files checked so far. Runs on the OpenMP threads. */
typedef struct mc_bad_image {
    int index;          /* in ds */
    const char *path;   /* ds->paths[index] (owned by ds) */
    char *why;          /* the error, naming the file */
} mc_bad_image;
int mc_dataset_check_images(const mc_dataset *ds, int decode, mc_bad_image **bad, int *nbad,
                            void (*progress)(long done, long total, void *ctx), void *ctx);
void mc_bad_images_free(mc_bad_image *bad, int n);
/* Keeps rows idx[0..k) in that order (indices must be distinct and < n). */
int mc_dataset_select(mc_dataset *ds, const int *idx, int k);
/* Keeps pandas' DataFrame.sample(frac, random_state=seed) of the rows, in its order. */
int mc_dataset_subset(mc_dataset *ds, double frac, uint32_t seed);
/* Recomputes y and mask from raw and the given policies ([nlabels]). */
int mc_dataset_apply_policy(mc_dataset *ds, const int *policy);

/* Counts per label after the policy. */
typedef struct mc_label_stats {
    int positive, negative; /* counted targets (mask 1) after the policy */
    int uncertain;          /* -1 in the source (before the policy) */
    int ignored;            /* mask 0 */
    int blank;              /* not mentioned in the source (counted as negative) */
} mc_label_stats;
typedef struct mc_dataset_stats {
    int images;
    int patients;           /* distinct patient ids; -1 when the format has none */
    int frontal, lateral;   /* images by view (unknown views count in neither) */
    int nlabels;
    mc_label_stats *label;  /* [nlabels] */
} mc_dataset_stats;
int mc_dataset_stats_compute(const mc_dataset *ds, mc_dataset_stats *st);
void mc_dataset_stats_free(mc_dataset_stats *st);

/* ---- image folders (src/data/imagefolder.c; the colorization data, docs/colorize.md) ---------
 * A folder of PNG/JPEG/DICOM files (names ending .png, .jpg, .jpeg, .dcm, .dicom in any case; hidden files and
 * folders skipped), or of class subfolders holding them, as Kaggle's "Chest X-Ray Images
 * (Pneumonia)" ships (chest_xray/train/NORMAL/x.jpeg, .../PNEUMONIA/y.jpeg). Classes are the
 * subfolders sorted by name (byte order); without subfolders there is one class, "all". Images
 * next to class folders, a class folder without images, or a folder without any image are
 * errors naming the folder or file; other files (and folders inside class folders) are not
 * read: counted in ds->skipped, the first named in ds->skipped_first.
 * per_class > 0 draws that many images of every class — the files of a class sorted by name,
 * then numpy.random.RandomState(seed).permutation(n)[:per_class] (the same seed for each class),
 * in that order, class after class — and a class with fewer files is an error naming it;
 * per_class = 0 keeps every file, sorted. The dataset: labels = the class names, y one-hot
 * (mask 1), source = dir. */
int mc_imgfolder_load(mc_dataset **out, const char *dir, int per_class, uint32_t seed);
/* The class (label index) of row i of such a dataset. */
int mc_imgfolder_class(const mc_dataset *ds, int i);

/* ---- subsets exactly as numpy / pandas draw them ------------------------------------------ */
typedef struct mc_mt19937 { uint32_t mt[624]; int mti; } mc_mt19937;
void mc_mt19937_seed(mc_mt19937 *s, uint32_t seed); /* init_genrand(seed) */
uint32_t mc_mt19937_next(mc_mt19937 *s);            /* genrand_int32 */
/* numpy.random.RandomState(seed).permutation(n) into perm[n]. */
int mc_np_permutation(uint32_t seed, int n, int *perm);
/* pandas' sample size: round(frac * n), Python's round half to even. -1 if frac is not in [0, 1]. */
int mc_sample_size(double frac, int n);
/* DataFrame.sample(frac=frac, random_state=seed) on n rows: *idx (malloc'd, caller frees)
 * gets the chosen row indices in pandas' order, *k their number. */
int mc_pandas_sample(int n, double frac, uint32_t seed, int **idx, int *k);
/* Writes src's header (if has_header) and data records rows[0..k) byte-identical, in that order,
 * to out ("-" = stdout; a name ending in .gz is gzip-compressed). src may be gzip. */
int mc_csv_write_rows(const char *src, int has_header, const int *rows, int k, const char *out);
/* The source records (0-based data-record indices of ds->source) of rows idx[0..k) of ds, in that
 * order: one per row, except VinDr-CXR's train file, where an image has one record per
 * radiologist (all of them, grouped). *rows is malloc'd; *nrows its length. */
int mc_dataset_source_records(const mc_datafile *df, const mc_dataset *ds, const int *idx, int k, int **rows,
                              int *nrows);
/* Number of data records of a CSV (blank lines are not records), for a subset of a plain CSV. */
int mc_csv_count_records(const char *src, int has_header, int *n);

#ifdef __cplusplus
}
#endif
#endif
