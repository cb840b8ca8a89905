/* data_internal.h — helpers shared by the dataset readers in src/data (not installed):
 * whole-file text reading (gzip transparent), a strict CSV tokenizer, a string hash map,
 * path joining, label-name matching, and the row builder the readers fill. */
#ifndef MC_DATA_INTERNAL_H
#define MC_DATA_INTERNAL_H

#include "core/core.h"
#include "mc_data.h"

/* ---- text and CSV (csv.c) -------------------------------------------------------------- */
/* Reads a whole regular file, gunzipping it when it is gzip (by content, not by name). *out is
 * NUL-terminated; free() it. At most MC_CSV_MAX bytes, compressed and decompressed; a NUL byte
 * is an error (path:line). */
int mc_text_read(const char *path, char **out, size_t *len);
/* Decompresses the gzip file in[0..n) (one or more members, each checked against its CRC-32
 * and length trailer; a truncated member or trailing non-gzip bytes are errors naming path) into
 * a NUL-terminated *out of *outlen <= max bytes. */
int mc_gunzip(const char *path, const unsigned char *in, size_t n, size_t max, char **out, size_t *outlen);

/* A CSV being read record by record (at most MC_CSV_MAX_FIELDS fields a record; a NUL byte in
 * a field is an error). Fields are unquoted copies (NUL-terminated) valid until
 * the next call. Blank lines are not records (pandas' skip_blank_lines). */
typedef struct mc_csv {
    const char *path;   /* for messages (not owned) */
    char *buf;          /* whole file, NUL-terminated (owned) */
    size_t len, pos;    /* bytes; next byte to read */
    int lineno;         /* physical line (1-based) at pos */
    int line;           /* line where the current record starts */
    size_t rec_start, rec_end; /* raw bytes of the current record, terminator excluded */
    int nf;             /* fields of the current record */
    char **f;           /* [nf] fields */
    int capf;
    size_t *foff;       /* [capf] field offsets into scratch */
    char *scratch;      /* unquoted field text */
    size_t scap;
    char eol[3];        /* terminator of the first record ("\n" or "\r\n"); "\n" if none */
} mc_csv;
#define MC_CSV_MAX_FIELDS 65536
int mc_csv_open(mc_csv *c, const char *path);
/* Takes ownership of buf (malloc'd, NUL-terminated at buf[len]). */
void mc_csv_init_buffer(mc_csv *c, const char *path, char *buf, size_t len);
/* 1: a record was read; 0: end of file; < 0: error (unterminated quote etc., file:line). */
int mc_csv_next(mc_csv *c);
void mc_csv_close(mc_csv *c);
/* Index of the header field equal to name (exact), or -1. */
int mc_csv_col(const mc_csv *c, const char *name);

/* ---- string map (ds_util.c) --------------------------------------------------------------- */
typedef struct mc_strmap {
    size_t cap, n;      /* slots (power of two), used */
    char **keys;        /* [cap] owned copies, NULL = empty */
    int *vals;          /* [cap] */
} mc_strmap;
int mc_strmap_init(mc_strmap *m, size_t expected);
/* Inserts key -> val. If present, leaves it and sets *old (may be NULL) to its value; returns
 * 1 when inserted, 0 when it existed, < 0 on error. */
int mc_strmap_put(mc_strmap *m, const char *key, int val, int *old);
int mc_strmap_get(const mc_strmap *m, const char *key); /* value, or -1 when absent */
void mc_strmap_free(mc_strmap *m);

/* ---- paths and names (ds_util.c) ---------------------------------------------------------- */
/* dir/rel; rel absolute -> a copy of rel; dir NULL, "" or "." -> a copy of rel. */
char *mc_path_join(const char *dir, const char *rel);
char *mc_path_dirname(const char *path); /* "." when there is no slash */
/* Case-insensitive label-name equality after mapping '_' to ' ' and the ChestX-ray14 /
 * CheXpert aliases (Effusion = Pleural Effusion). */
int mc_label_eq(const char *a, const char *b);
int mc_strieq(const char *a, const char *b);
/* Parses a label value: exactly "1", "1.0", "0", "0.0", "-1", "-1.0" or "" -> MC_RAW_*;
 * anything else (" 1", "1.00", "+1", "0x1", "1e0", "nan") -> -100. */
int mc_parse_raw_label(const char *s);
/* 1 when s is a plain file name taken from a label file: letters, digits, '-', '_', '.', at most
 * 255 bytes, not starting with '.' (so no folder and no ".."). */
int mc_safe_file_name(const char *s);
/* *out = a copy of the path component that starts with "patient", or NULL when none. */
int mc_patient_from_path(const char *path, char **out);

/* ---- building a dataset (dataset.c) ------------------------------------------------------- */
/* An empty dataset with df's labels and the given split/source. */
int mc_ds_new(mc_dataset **out, const mc_datafile *df, const char *split, const char *source,
              int source_header);
/* Appends a row. Takes ownership of path and patient (freed on failure). raw: [nlabels]. */
int mc_ds_push(mc_dataset *ds, char *path, char *patient, const int8_t *raw, int view, int source_row);
/* A malformed row: with df->skip_bad it is counted (the current message is kept as the first)
 * and MC_OK is returned; otherwise code is returned with the message as set. */
int mc_ds_bad_row(mc_dataset *ds, const mc_datafile *df, int code);

/* ---- readers ------------------------------------------------------------------------------ */
/* A label CSV: a header, a path column, one column per label (1/0/-1/blank). */
typedef struct mc_labelcsv_spec {
    const char *what;        /* "CheXpert" or "CSV", for messages */
    const char *path_col;    /* NULL = the first column */
    const char *patient_col; /* NULL = none */
    int patient_from_path;   /* 1: the patientNNNNN folder of the path (required) */
    const char *view_col;    /* NULL = none */
    int view_strict;         /* 1: the view column must say Frontal or Lateral */
    int strip_first;         /* 1: image = CSV folder + path minus its first component */
} mc_labelcsv_spec;
int mc_read_labelcsv(mc_dataset *ds, const mc_datafile *df, const char *csv, const mc_labelcsv_spec *spec);
/* Label CSVs (CheXpert's train.csv/valid.csv or a plain CSV): rows appended to ds. */
int mc_read_chexpert(mc_dataset *ds, const mc_datafile *df, const char *csv);
int mc_read_plaincsv(mc_dataset *ds, const mc_datafile *df, const char *csv);
/* MURA: image_paths CSV + labeled_studies CSV (NULL = derived from the name). */
int mc_read_mura(mc_dataset *ds, const mc_datafile *df, const char *paths_csv, const char *studies_csv);
/* ChestX-ray14: the rows of split ("train" = the train pool before drawn splits). */
int mc_read_nih(mc_dataset *ds, const mc_datafile *df, const char *split);
/* MIMIC-CXR-JPG: the rows of split_csv (mimic-cxr-2.0.0-split.csv) whose split column names
 * split ("valid" = "validate"), joined with df->study_labels and df->metadata (mimic.c). */
int mc_read_mimic(mc_dataset *ds, const mc_datafile *df, const char *split_csv, const char *split);
/* PadChest: PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv (padchest.c). */
int mc_read_padchest(mc_dataset *ds, const mc_datafile *df, const char *csv);
/* VinDr-CXR: annotations/image_labels_{train,test}.csv, one row per radiologist (vindr.c). */
int mc_read_vindr(mc_dataset *ds, const mc_datafile *df, const char *csv);
/* Every record of csv (a VinDr label file) whose image is that of record first[i], grouped by i
 * in that order, each group in file order: *rows (malloc'd) of *nrows. */
int mc_vindr_records(const char *csv, const int *first, int k, int **rows, int *nrows);
/* A well-formed row the reader's rules leave out (MIMIC study without labels, ...): counted in
 * ds->left_out, the message of the first kept in ds->left_out_first. */
int mc_ds_left_out(mc_dataset *ds, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Finds a header column by label-name rules (exact, else case, '_' = space and the aliases). */
int mc_csv_find_col(const mc_csv *c, const char *name);
/* "csv:line: no WHAT column 'name' (the header has 'a', 'b', ...)" as the error; returns MC_EPARSE. */
int mc_csv_no_column(const mc_csv *c, const char *csv, const char *what, const char *name);

#endif
