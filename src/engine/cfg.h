/* cfg.h — the darknet-style INI language of network descriptions (internal).
 *
 *     # comment            (also ';' at the start of a line; ' #' after a value)
 *     [net]
 *     batch=16
 *     [convolutional]
 *     filters=64
 *     ...
 *     [include]            splices the layer sections of another cfg here
 *     file=resnet18.cfg    path relative to the including file
 *     group=backbone       optional: the group of the included layers that set none
 *     prefix=backbone.     optional: prepended to the included layers' names
 *
 *     [scope]            written by mc_cfg_write: the sections after it take this group= and
 *     group=color        prefix= as an [include]'s sections would (a [scope] without keys: none
 *     prefix=color.      again), so that a cfg with its includes expanded reads back the same
 *
 * Limits: includes nest at most 16 deep, 1024 in all, and the cfg with its includes is at
 * most MC_TEXT_MAX bytes; a NUL byte is an error (docs/robustness.md).
 *
 * Strict: a line outside a section, a line without '=', an empty key or value, or a key given
 * twice is an error naming file:line. Accessors mark keys as used; after a section has been
 * read, mc_cfg_check_unused() refuses any key nobody asked for, listing the keys that exist.
 */
#ifndef MC_CFG_H
#define MC_CFG_H

#include "core/core.h"

typedef struct mc_cfg_kv {
    char *key, *val;
    const char *file; /* owned by the mc_cfg */
    int line;
    int used;
} mc_cfg_kv;

typedef struct mc_cfg_section {
    char *type;        /* "net", "convolutional", ... (lower case) */
    const char *file;  /* owned by the mc_cfg */
    int line;
    mc_cfg_kv *kv;
    int nkv, cap;
    const char *group;  /* group from an enclosing [include] (or NULL) */
    const char *prefix; /* name prefix from enclosing [include]s (or NULL) */
    int included;       /* 1 when it comes from an included file */
    /* keys queried by accessors, for the "expected one of" message */
    const char *asked[48];
    int nasked;
} mc_cfg_section;

typedef struct mc_cfg {
    mc_cfg_section *s;
    int n, cap;
    char **strings; /* file names, groups, prefixes: owned here */
    int nstrings, capstrings;
    int nincludes;  /* [include]s expanded so far (at most 1024) */
    size_t bytes;   /* text read so far, the cfg and its includes (at most MC_TEXT_MAX) */
} mc_cfg;

int mc_cfg_parse_file(mc_cfg **out, const char *path);
/* The cfg as text that parses back to the same sections, keys and values: includes expanded
 * (their group and prefix as [scope] sections), overrides as they were applied, an included
 * [net] left out; comments and blank lines are not kept. *text is malloc'd (NUL-terminated),
 * *len its length (len may be NULL). MC_EARG when a value cannot be written (a newline in it). */
int mc_cfg_write(const mc_cfg *cfg, char **text, size_t *len);
/* 1 when the value, written as "key = value", reads back as itself (not starting with '#', no " #",
 * no control characters, no leading or trailing blank) */
int mc_cfg_value_writable(const char *s);
int mc_cfg_parse_string(mc_cfg **out, const char *text, const char *name);
void mc_cfg_free(mc_cfg *cfg);

/* Accessors. Each returns MC_OK (value in *out, or def when absent) or MC_EPARSE with a
 * file:line message. The _req forms make the key mandatory. */
int mc_cfg_int(mc_cfg_section *s, const char *key, int def, int *out);
int mc_cfg_int_req(mc_cfg_section *s, const char *key, int *out);
int mc_cfg_int_range(mc_cfg_section *s, const char *key, int def, int lo, int hi, int *out);
int mc_cfg_float(mc_cfg_section *s, const char *key, float def, float *out);
int mc_cfg_double(mc_cfg_section *s, const char *key, double def, double *out);
/* a double that, when given, is > lo (strict) or >= lo */
int mc_cfg_double_min(mc_cfg_section *s, const char *key, double def, double lo, int strict, double *out);
int mc_cfg_str(mc_cfg_section *s, const char *key, const char *def, const char **out);
/* choices: NULL-terminated; *out = index of the value */
int mc_cfg_enum(mc_cfg_section *s, const char *key, const char *const *choices, int def, int *out);
/* comma-separated items (whitespace trimmed): *items is one allocation (pointers and strings)
 * that the caller releases with free(); *n = count. Absent key: *items = NULL, *n = 0. */
int mc_cfg_list(mc_cfg_section *s, const char *key, char ***items, int *n);
/* The section's set= list (cfg overrides layer.key=value, comma-separated) appended to
 * dst[*n..max-1] as malloc'd strings; more than max in all is an error naming file:line. */
int mc_cfg_overrides(mc_cfg_section *s, char **dst, int *n, int max);
int mc_cfg_has(mc_cfg_section *s, const char *key);
/* The kv of a key (marks it used), or NULL. */
mc_cfg_kv *mc_cfg_find(mc_cfg_section *s, const char *key);
/* Error for the first key in s that no accessor asked for. */
int mc_cfg_check_unused(mc_cfg_section *s);
/* Formats "file:line" of a key (or of the section when key is NULL/absent) into buf. */
const char *mc_cfg_where(const mc_cfg_section *s, const char *key, char *buf, size_t n);

#endif
