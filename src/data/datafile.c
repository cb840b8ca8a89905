/* datafile.c — the `.data` file parser (docs/data.md).
 *
 * Darknet-style lines `key = value`; `#` starts a comment (at the start of a line or after
 * white space). Strict: an unknown key, a key given twice, a malformed value, a key that does
 * not apply to the format and a missing required key are errors naming file:line.
 * Paths are resolved against the root folder: --root (root_override) beats $MEDCOLOR_DATA,
 * which beats root= (relative to the .data file's folder); the default is the current
 * directory. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

/* Which formats a key applies to (bit 1 << MC_FORMAT_*; ALL = every format). */
#define F_CHX (1 << MC_FORMAT_CHEXPERT)
#define F_NIH (1 << MC_FORMAT_NIH)
#define F_MURA (1 << MC_FORMAT_MURA)
#define F_CSV (1 << MC_FORMAT_CSV)
#define F_MIMIC (1 << MC_FORMAT_MIMIC)
#define F_PADCHEST (1 << MC_FORMAT_PADCHEST)
#define F_VINDR (1 << MC_FORMAT_VINDR)
#define F_ALL (F_CHX | F_NIH | F_MURA | F_CSV | F_MIMIC | F_PADCHEST | F_VINDR)
#define FORMATS "chexpert, nih, mura, csv, mimic, padchest or vindr"

enum {
    K_FORMAT, K_ROOT, K_TRAIN, K_VALID, K_TEST, K_LABELS, K_POLICY, K_VIEW, K_BODY_PART, K_SUBSET,
    K_SUBSET_SEED, K_VALID_FRAC, K_TEST_FRAC, K_SPLIT_SEED, K_ENTRIES, K_IMAGES, K_IMAGE_BASE,
    K_PATH_COLUMN, K_PATIENT_COLUMN, K_VIEW_COLUMN, K_TRAIN_STUDIES, K_VALID_STUDIES,
    K_TEST_STUDIES, K_BAD_ROWS, K_STUDY_LABELS, K_METADATA, K_AGGREGATE, K_LABELLED_BY, K_COUNT
};

static const struct { const char *name; int formats; } keys[K_COUNT] = {
    [K_FORMAT] = {"format", F_ALL},           [K_ROOT] = {"root", F_ALL},
    [K_TRAIN] = {"train", F_ALL},             [K_VALID] = {"valid", F_ALL},
    [K_TEST] = {"test", F_ALL},               [K_LABELS] = {"labels", F_ALL},
    [K_POLICY] = {"policy", F_ALL},           [K_VIEW] = {"view", F_ALL},
    [K_BODY_PART] = {"body_part", F_MURA},    [K_SUBSET] = {"subset", F_ALL},
    [K_SUBSET_SEED] = {"subset_seed", F_ALL}, [K_VALID_FRAC] = {"valid_frac", F_ALL},
    [K_TEST_FRAC] = {"test_frac", F_ALL},     [K_SPLIT_SEED] = {"split_seed", F_ALL},
    [K_ENTRIES] = {"entries", F_NIH},         [K_IMAGES] = {"images", F_NIH | F_MIMIC | F_PADCHEST | F_VINDR},
    [K_IMAGE_BASE] = {"image_base", F_CHX | F_CSV},
    [K_PATH_COLUMN] = {"path_column", F_CSV}, [K_PATIENT_COLUMN] = {"patient_column", F_CSV},
    [K_VIEW_COLUMN] = {"view_column", F_CSV}, [K_TRAIN_STUDIES] = {"train_studies", F_MURA},
    [K_VALID_STUDIES] = {"valid_studies", F_MURA}, [K_TEST_STUDIES] = {"test_studies", F_MURA},
    [K_BAD_ROWS] = {"bad_rows", F_ALL},
    [K_STUDY_LABELS] = {"study_labels", F_MIMIC}, [K_METADATA] = {"metadata", F_MIMIC},
    [K_AGGREGATE] = {"aggregate", F_VINDR},   [K_LABELLED_BY] = {"labelled_by", F_PADCHEST},
};

const char *mc_format_name(int format) {
    switch (format) {
    case MC_FORMAT_CHEXPERT: return "chexpert";
    case MC_FORMAT_NIH: return "nih";
    case MC_FORMAT_MURA: return "mura";
    case MC_FORMAT_CSV: return "csv";
    case MC_FORMAT_MIMIC: return "mimic";
    case MC_FORMAT_PADCHEST: return "padchest";
    case MC_FORMAT_VINDR: return "vindr";
    default: return "?";
    }
}

const char *mc_policy_name(int policy) {
    switch (policy) {
    case MC_POLICY_ONES: return "ones";
    case MC_POLICY_ZEROS: return "zeros";
    case MC_POLICY_IGNORE: return "ignore";
    default: return "?";
    }
}

void mc_datafile_free(mc_datafile *df) {
    if (!df) return;
    char **strs[] = {&df->path, &df->root, &df->root_from, &df->train, &df->valid, &df->test,
                     &df->body_part, &df->entries, &df->images, &df->image_base, &df->path_column,
                     &df->patient_column, &df->view_column, &df->train_studies,
                     &df->valid_studies, &df->test_studies, &df->study_labels, &df->metadata};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) free(*strs[i]);
    if (df->labels)
        for (int i = 0; i < df->nlabels; i++) free(df->labels[i]);
    free(df->labels);
    free(df->policy);
    free(df);
}

int mc_datafile_has_split(const mc_datafile *df, const char *split) {
    if (strcmp(split, "train") == 0) return 1;
    if (strcmp(split, "valid") == 0) return df->valid != NULL || df->valid_frac > 0;
    if (strcmp(split, "test") == 0) return df->test != NULL || df->test_frac > 0;
    return 0;
}

static int parse_policy(const char *s) {
    if (strncmp(s, "u-", 2) == 0 || strncmp(s, "U-", 2) == 0) s += 2;
    if (mc_strieq(s, "ones")) return MC_POLICY_ONES;
    if (mc_strieq(s, "zeros")) return MC_POLICY_ZEROS;
    if (mc_strieq(s, "ignore")) return MC_POLICY_IGNORE;
    return -1;
}

static int parse_frac(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *s, uint32_t *out) {
    if (!isdigit((unsigned char)s[0])) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > 4294967295ULL) return -1;
    *out = (uint32_t)v;
    return 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

typedef struct parsed {
    char *val[K_COUNT]; /* trimmed values (point into the text copy), NULL = not given */
    int line[K_COUNT];
} parsed;

/* Splits text into key/value lines. */
static int parse_lines(char *text, const char *name, parsed *p) {
    int line = 0;
    char *s = text;
    /* a UTF-8 byte-order mark (editors on Windows write one) is not part of the first key */
    if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
    while (s) {
        line++;
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        char *cur = s;
        s = nl ? nl + 1 : NULL;
        /* Strip the comment: '#' at the start or after white space. */
        for (char *h = cur; (h = strchr(h, '#')) != NULL; h++)
            if (h == cur || h[-1] == ' ' || h[-1] == '\t') {
                *h = 0;
                break;
            }
        cur = trim(cur);
        if (!*cur) continue;
        char *eq = strchr(cur, '=');
        if (!eq) return mc_err(MC_EPARSE, "%s:%d: expected 'key = value', got '%s'", name, line, cur);
        *eq = 0;
        char *key = trim(cur), *val = trim(eq + 1);
        int k = 0;
        while (k < K_COUNT && strcmp(keys[k].name, key) != 0) k++;
        if (k == K_COUNT) {
            int best = -1, bd = 3;
            for (int i = 0; i < K_COUNT; i++) {
                int d = mc_edit_distance(key, keys[i].name, 1);
                if (d < bd) { bd = d; best = i; }
            }
            if (best >= 0)
                return mc_err(MC_EPARSE, "%s:%d: unknown key '%s' (did you mean '%s'?)", name, line,
                              key, keys[best].name);
            return mc_err(MC_EPARSE, "%s:%d: unknown key '%s' (see docs/data.md)", name, line, key);
        }
        if (p->val[k])
            return mc_err(MC_EPARSE, "%s:%d: '%s' given twice (first at line %d)", name, line, key,
                          p->line[k]);
        if (!*val) return mc_err(MC_EPARSE, "%s:%d: '%s' has no value", name, line, key);
        p->val[k] = val;
        p->line[k] = line;
    }
    return MC_OK;
}

/* labels = Name[:policy], Name[:policy], ... */
static int parse_labels(mc_datafile *df, char *v, const char *name, int line, int defpolicy) {
    int cap = 1;
    for (const char *c = v; *c; c++) cap += *c == ',';
    df->labels = mc_calloc((size_t)cap, sizeof *df->labels, "labels");
    df->policy = mc_calloc((size_t)cap, sizeof *df->policy, "labels");
    if (!df->labels || !df->policy) return MC_ENOMEM;
    char *save = NULL;
    for (char *tok = strtok_r(v, ",", &save); tok || df->nlabels < cap; tok = strtok_r(NULL, ",", &save)) {
        if (!tok) return mc_err(MC_EPARSE, "%s:%d: labels: empty label name", name, line);
        char *t = trim(tok);
        int pol = defpolicy;
        char *colon = strrchr(t, ':');
        if (colon) {
            *colon = 0;
            char *ps = trim(colon + 1);
            pol = parse_policy(ps);
            if (pol < 0)
                return mc_err(MC_EPARSE, "%s:%d: labels: unknown policy '%s' for '%s' (ones, zeros or ignore)",
                              name, line, ps, trim(t));
            t = trim(t);
        }
        if (!*t) return mc_err(MC_EPARSE, "%s:%d: labels: empty label name", name, line);
        for (int i = 0; i < df->nlabels; i++)
            if (mc_label_eq(df->labels[i], t))
                return mc_err(MC_EPARSE, "%s:%d: labels: '%s' listed twice", name, line, t);
        df->labels[df->nlabels] = mc_strdup(t);
        if (!df->labels[df->nlabels]) return MC_ENOMEM;
        df->policy[df->nlabels++] = pol;
    }
    return MC_OK;
}

/* The 15 names of ChestX-ray14's Finding Labels (No Finding included). */
static const char *nih_names[] = {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion",
                                  "Emphysema", "Fibrosis", "Hernia", "Infiltration", "Mass",
                                  "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
                                  "No Finding"};

static int is_abs_or_join(mc_datafile *df, char **dst, const char *val) {
    *dst = mc_path_join(df->root, val);
    return *dst ? MC_OK : MC_ENOMEM;
}

static int build(mc_datafile *df, parsed *p, const char *name, const char *root_override) {
    char lbuf[64];
    /* format */
    if (!p->val[K_FORMAT]) return mc_err(MC_EPARSE, "%s: missing required key 'format' (" FORMATS ")", name);
    const char *fv = p->val[K_FORMAT];
    df->format = mc_strieq(fv, "chexpert") ? MC_FORMAT_CHEXPERT
               : mc_strieq(fv, "nih") || mc_strieq(fv, "chestx-ray14") ? MC_FORMAT_NIH
               : mc_strieq(fv, "mura") ? MC_FORMAT_MURA
               : mc_strieq(fv, "csv") ? MC_FORMAT_CSV
               : mc_strieq(fv, "mimic") || mc_strieq(fv, "mimic-cxr-jpg") ? MC_FORMAT_MIMIC
               : mc_strieq(fv, "padchest") ? MC_FORMAT_PADCHEST
               : mc_strieq(fv, "vindr") || mc_strieq(fv, "vindr-cxr") ? MC_FORMAT_VINDR : 0;
    if (!df->format)
        return mc_err(MC_EPARSE, "%s:%d: unknown format '%s' (" FORMATS ")", name,
                      p->line[K_FORMAT], fv);
    for (int k = 0; k < K_COUNT; k++)
        if (p->val[k] && !(keys[k].formats & (1 << df->format)))
            return mc_err(MC_EPARSE, "%s:%d: '%s' does not apply to format %s", name, p->line[k],
                          keys[k].name, mc_format_name(df->format));

    /* root */
    const char *env = getenv("MEDCOLOR_DATA");
    if (root_override && root_override[0]) {
        df->root = mc_strdup(root_override);
        df->root_from = mc_strdup("--root");
    } else if (env && env[0]) {
        df->root = mc_strdup(env);
        df->root_from = mc_strdup("MEDCOLOR_DATA");
    } else if (p->val[K_ROOT]) {
        char *dir = mc_path_dirname(name);
        if (!dir) return MC_ENOMEM;
        df->root = mc_path_join(dir, p->val[K_ROOT]);
        free(dir);
        snprintf(lbuf, sizeof lbuf, "%s:%d", name, p->line[K_ROOT]);
        df->root_from = mc_strdup(lbuf);
    } else {
        df->root = mc_strdup(".");
        df->root_from = mc_strdup("default");
    }
    if (!df->root || !df->root_from) return MC_ENOMEM;

    /* sources */
    if (p->val[K_TRAIN]) MC_TRY(is_abs_or_join(df, &df->train, p->val[K_TRAIN]));
    if (p->val[K_VALID]) MC_TRY(is_abs_or_join(df, &df->valid, p->val[K_VALID]));
    if (p->val[K_TEST]) MC_TRY(is_abs_or_join(df, &df->test, p->val[K_TEST]));
    if (!df->train && df->format != MC_FORMAT_NIH)
        return mc_err(MC_EPARSE, "%s: missing required key 'train'", name);
    if (df->format == MC_FORMAT_NIH) {
        if (!p->val[K_ENTRIES])
            return mc_err(MC_EPARSE, "%s: missing required key 'entries' (the Data_Entry_2017 CSV)", name);
        MC_TRY(is_abs_or_join(df, &df->entries, p->val[K_ENTRIES]));
        if (p->val[K_IMAGES]) MC_TRY(is_abs_or_join(df, &df->images, p->val[K_IMAGES]));
        else if (!(df->images = mc_path_dirname(df->entries))) return MC_ENOMEM;
    }
    if (df->format != MC_FORMAT_NIH && p->val[K_IMAGES]) MC_TRY(is_abs_or_join(df, &df->images, p->val[K_IMAGES]));
    if (df->format == MC_FORMAT_MIMIC) {
        if (!p->val[K_STUDY_LABELS])
            return mc_err(MC_EPARSE, "%s: missing required key 'study_labels' (mimic-cxr-2.0.0-chexpert.csv.gz)", name);
        MC_TRY(is_abs_or_join(df, &df->study_labels, p->val[K_STUDY_LABELS]));
        if (p->val[K_METADATA]) MC_TRY(is_abs_or_join(df, &df->metadata, p->val[K_METADATA]));
    }
    if (p->val[K_AGGREGATE]) {
        const char *v = p->val[K_AGGREGATE];
        df->aggregate = mc_strieq(v, "any") ? MC_AGG_ANY : mc_strieq(v, "majority") ? MC_AGG_MAJORITY
                      : mc_strieq(v, "all") ? MC_AGG_ALL : mc_strieq(v, "uncertain") ? MC_AGG_UNCERTAIN : -1;
        if (df->aggregate < 0)
            return mc_err(MC_EPARSE, "%s:%d: unknown aggregate '%s' (any, majority, all or uncertain)", name,
                          p->line[K_AGGREGATE], v);
    }
    if (p->val[K_LABELLED_BY]) {
        const char *v = p->val[K_LABELLED_BY];
        df->labelled_by = mc_strieq(v, "all") ? MC_LABELLED_ALL : mc_strieq(v, "physician") ? MC_LABELLED_PHYSICIAN
                        : mc_strieq(v, "model") ? MC_LABELLED_MODEL : -1;
        if (df->labelled_by < 0)
            return mc_err(MC_EPARSE, "%s:%d: unknown labelled_by '%s' (all, physician or model)", name,
                          p->line[K_LABELLED_BY], v);
    }
    if (p->val[K_IMAGE_BASE]) MC_TRY(is_abs_or_join(df, &df->image_base, p->val[K_IMAGE_BASE]));
    if (p->val[K_TRAIN_STUDIES]) MC_TRY(is_abs_or_join(df, &df->train_studies, p->val[K_TRAIN_STUDIES]));
    if (p->val[K_VALID_STUDIES]) MC_TRY(is_abs_or_join(df, &df->valid_studies, p->val[K_VALID_STUDIES]));
    if (p->val[K_TEST_STUDIES]) MC_TRY(is_abs_or_join(df, &df->test_studies, p->val[K_TEST_STUDIES]));
    if (p->val[K_PATH_COLUMN] && !(df->path_column = mc_strdup(p->val[K_PATH_COLUMN]))) return MC_ENOMEM;
    if (p->val[K_PATIENT_COLUMN] && !(df->patient_column = mc_strdup(p->val[K_PATIENT_COLUMN]))) return MC_ENOMEM;
    if (p->val[K_VIEW_COLUMN] && !(df->view_column = mc_strdup(p->val[K_VIEW_COLUMN]))) return MC_ENOMEM;

    /* labels and policies */
    int defpolicy = MC_POLICY_ZEROS;
    if (p->val[K_POLICY]) {
        defpolicy = parse_policy(p->val[K_POLICY]);
        if (defpolicy < 0)
            return mc_err(MC_EPARSE, "%s:%d: unknown policy '%s' (ones, zeros or ignore)", name,
                          p->line[K_POLICY], p->val[K_POLICY]);
    }
    if (p->val[K_LABELS]) {
        MC_TRY(parse_labels(df, p->val[K_LABELS], name, p->line[K_LABELS], defpolicy));
    } else if (df->format == MC_FORMAT_MURA) {
        df->labels = mc_calloc(1, sizeof *df->labels, "labels");
        df->policy = mc_calloc(1, sizeof *df->policy, "labels");
        if (!df->labels || !df->policy || !(df->labels[0] = mc_strdup("Abnormal"))) return MC_ENOMEM;
        df->nlabels = 1;
        df->policy[0] = defpolicy;
    } else {
        return mc_err(MC_EPARSE, "%s: missing required key 'labels'", name);
    }
    if (df->format == MC_FORMAT_MURA && df->nlabels != 1)
        return mc_err(MC_EPARSE, "%s:%d: MURA has one label (abnormal), got %d", name,
                      p->line[K_LABELS], df->nlabels);
    if (df->format == MC_FORMAT_NIH)
        for (int i = 0; i < df->nlabels; i++) {
            size_t j = 0, nn = sizeof nih_names / sizeof nih_names[0];
            while (j < nn && !mc_label_eq(df->labels[i], nih_names[j])) j++;
            if (j == nn)
                return mc_err(MC_EPARSE, "%s:%d: '%s' is not a ChestX-ray14 finding (Atelectasis, "
                              "Cardiomegaly, Consolidation, Edema, Effusion, Emphysema, Fibrosis, Hernia, "
                              "Infiltration, Mass, Nodule, Pleural_Thickening, Pneumonia, Pneumothorax, No Finding)",
                              name, p->line[K_LABELS], df->labels[i]);
        }

    /* view */
    df->view = MC_VIEW_ALL;
    if (p->val[K_VIEW]) {
        const char *v = p->val[K_VIEW];
        df->view = mc_strieq(v, "all") ? MC_VIEW_ALL : mc_strieq(v, "frontal") ? MC_VIEW_FRONTAL
                 : mc_strieq(v, "lateral") ? MC_VIEW_LATERAL : -1;
        if (df->view < 0)
            return mc_err(MC_EPARSE, "%s:%d: unknown view '%s' (all, frontal or lateral)", name, p->line[K_VIEW], v);
        if (df->format == MC_FORMAT_MURA && df->view != MC_VIEW_ALL)
            return mc_err(MC_EPARSE, "%s:%d: MURA has no view labels (use view = all)", name, p->line[K_VIEW]);
        if (df->format == MC_FORMAT_NIH && df->view == MC_VIEW_LATERAL)
            return mc_err(MC_EPARSE, "%s:%d: ChestX-ray14 has frontal (PA/AP) views only", name, p->line[K_VIEW]);
        if (df->format == MC_FORMAT_CSV && df->view != MC_VIEW_ALL && !df->view_column)
            return mc_err(MC_EPARSE, "%s:%d: view = %s needs view_column=", name, p->line[K_VIEW], v);
        if (df->format == MC_FORMAT_MIMIC && df->view != MC_VIEW_ALL && !df->metadata)
            return mc_err(MC_EPARSE, "%s:%d: view = %s needs metadata= (mimic-cxr-2.0.0-metadata.csv.gz, its "
                          "ViewPosition column)", name, p->line[K_VIEW], v);
        if (df->format == MC_FORMAT_VINDR && df->view == MC_VIEW_LATERAL)
            return mc_err(MC_EPARSE, "%s:%d: VinDr-CXR has postero-anterior views only", name, p->line[K_VIEW]);
    }

    /* body part */
    if (p->val[K_BODY_PART] && !mc_strieq(p->val[K_BODY_PART], "all")) {
        const char *v = p->val[K_BODY_PART];
        static const char *parts[] = {"ELBOW", "FINGER", "FOREARM", "HAND", "HUMERUS", "SHOULDER", "WRIST"};
        const char *b = (strncmp(v, "XR_", 3) == 0 || strncmp(v, "xr_", 3) == 0) ? v + 3 : v;
        size_t j = 0;
        while (j < 7 && !mc_strieq(b, parts[j])) j++;
        if (j == 7)
            return mc_err(MC_EPARSE, "%s:%d: unknown body part '%s' (XR_ELBOW, XR_FINGER, XR_FOREARM, "
                          "XR_HAND, XR_HUMERUS, XR_SHOULDER, XR_WRIST or all)", name, p->line[K_BODY_PART], v);
        df->body_part = mc_malloc(strlen(parts[j]) + 4, "body part");
        if (!df->body_part) return MC_ENOMEM;
        sprintf(df->body_part, "XR_%s", parts[j]);
    }

    /* subset and drawn splits */
    if (p->val[K_SUBSET]) {
        if (parse_frac(p->val[K_SUBSET], &df->subset) < 0 || !(df->subset > 0 && df->subset <= 1))
            return mc_err(MC_EPARSE, "%s:%d: subset must be a fraction in (0, 1], got '%s'", name,
                          p->line[K_SUBSET], p->val[K_SUBSET]);
        if (!p->val[K_SUBSET_SEED])
            return mc_err(MC_EPARSE, "%s:%d: subset needs subset_seed= (the thesis used 8, 8829, 2901)",
                          name, p->line[K_SUBSET]);
    }
    if (p->val[K_SUBSET_SEED]) {
        if (!p->val[K_SUBSET])
            return mc_err(MC_EPARSE, "%s:%d: subset_seed without subset=", name, p->line[K_SUBSET_SEED]);
        if (parse_seed(p->val[K_SUBSET_SEED], &df->subset_seed) < 0)
            return mc_err(MC_EPARSE, "%s:%d: subset_seed must be an integer in 0..4294967295, got '%s'",
                          name, p->line[K_SUBSET_SEED], p->val[K_SUBSET_SEED]);
    }
    int fk[2] = {K_VALID_FRAC, K_TEST_FRAC}, sk[2] = {K_VALID, K_TEST};
    double *fd[2] = {&df->valid_frac, &df->test_frac};
    for (int i = 0; i < 2; i++) {
        int k = fk[i];
        if (!p->val[k]) continue;
        if (parse_frac(p->val[k], fd[i]) < 0 || !(*fd[i] >= 0 && *fd[i] < 1))
            return mc_err(MC_EPARSE, "%s:%d: %s must be a fraction in [0, 1), got '%s'", name,
                          p->line[k], keys[k].name, p->val[k]);
        if (*fd[i] > 0 && p->val[sk[i]])
            return mc_err(MC_EPARSE, "%s:%d: %s and %s= (line %d) exclude each other", name,
                          p->line[k], keys[k].name, keys[sk[i]].name, p->line[sk[i]]);
    }
    if (df->valid_frac + df->test_frac >= 1)
        return mc_err(MC_EPARSE, "%s:%d: valid_frac + test_frac must be below 1", name,
                      p->line[K_VALID_FRAC] ? p->line[K_VALID_FRAC] : p->line[K_TEST_FRAC]);
    if (p->val[K_SPLIT_SEED] && parse_seed(p->val[K_SPLIT_SEED], &df->split_seed) < 0)
        return mc_err(MC_EPARSE, "%s:%d: split_seed must be an integer in 0..4294967295, got '%s'",
                      name, p->line[K_SPLIT_SEED], p->val[K_SPLIT_SEED]);

    /* bad rows */
    if (p->val[K_BAD_ROWS]) {
        if (mc_strieq(p->val[K_BAD_ROWS], "skip")) df->skip_bad = 1;
        else if (mc_strieq(p->val[K_BAD_ROWS], "error")) df->skip_bad = 0;
        else
            return mc_err(MC_EPARSE, "%s:%d: bad_rows must be 'error' or 'skip', got '%s'", name,
                          p->line[K_BAD_ROWS], p->val[K_BAD_ROWS]);
    }
    return MC_OK;
}

int mc_datafile_parse(mc_datafile **out, const char *text, const char *name, const char *root_override) {
    *out = NULL;
    parsed p;
    memset(&p, 0, sizeof p);
    char *copy = mc_strdup(text);
    if (!copy) return MC_ENOMEM;
    mc_datafile *df = mc_calloc(1, sizeof *df, "data file");
    if (!df) { free(copy); return MC_ENOMEM; }
    int rc = parse_lines(copy, name, &p);
    if (rc == MC_OK) rc = build(df, &p, name, root_override);
    if (rc == MC_OK && !(df->path = mc_strdup(name))) rc = MC_ENOMEM;
    free(copy);
    if (rc < 0) {
        mc_datafile_free(df);
        return rc;
    }
    *out = df;
    return MC_OK;
}

int mc_datafile_load(mc_datafile **out, const char *path, const char *root_override) {
    char *text;
    *out = NULL;
    size_t len;
    MC_TRY(mc_fread_all(path, &text, &len));
    int rc = mc_text_no_nul(path, text, len);
    if (rc == MC_OK) rc = mc_datafile_parse(out, text, path, root_override);
    free(text);
    return rc;
}
