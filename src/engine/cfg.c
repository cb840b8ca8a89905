/* cfg.c — parser for the darknet-style INI network description (see cfg.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/cfg.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_INCLUDES 1024 /* in all: bounds the work of a cfg that includes files many times */

static const char *cfg_keep(mc_cfg *c, const char *s) {
    if (c->nstrings == c->capstrings) {
        int nc = c->capstrings ? c->capstrings * 2 : 16;
        char **ns = mc_realloc(c->strings, (size_t)nc * sizeof *ns, "cfg strings");
        if (!ns) return NULL;
        c->strings = ns;
        c->capstrings = nc;
    }
    char *d = mc_strdup(s);
    if (!d) return NULL;
    c->strings[c->nstrings++] = d;
    return d;
}

static char *trim(char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static mc_cfg_section *new_section(mc_cfg *c, const char *type, const char *file, int line) {
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 32;
        mc_cfg_section *ns = mc_realloc(c->s, (size_t)nc * sizeof *ns, "cfg sections");
        if (!ns) return NULL;
        c->s = ns;
        c->cap = nc;
    }
    mc_cfg_section *s = &c->s[c->n];
    memset(s, 0, sizeof *s);
    s->type = mc_strdup(type);
    if (!s->type) return NULL;
    for (char *p = s->type; *p; p++) *p = (char)tolower((unsigned char)*p);
    s->file = file;
    s->line = line;
    c->n++;
    return s;
}

static int add_kv(mc_cfg_section *s, const char *key, const char *val, const char *file, int line) {
    for (int i = 0; i < s->nkv; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return mc_err(MC_EPARSE, "%s:%d: key '%s' given twice in [%s] (first at line %d)", file,
                          line, key, s->type, s->kv[i].line);
    if (s->nkv == s->cap) {
        int nc = s->cap ? s->cap * 2 : 8;
        mc_cfg_kv *nk = mc_realloc(s->kv, (size_t)nc * sizeof *nk, "cfg keys");
        if (!nk) return MC_ENOMEM;
        s->kv = nk;
        s->cap = nc;
    }
    mc_cfg_kv *kv = &s->kv[s->nkv];
    kv->key = mc_strdup(key);
    kv->val = mc_strdup(val);
    if (!kv->key || !kv->val) {
        free(kv->key);
        free(kv->val);
        return MC_ENOMEM;
    }
    kv->file = file;
    kv->line = line;
    kv->used = 0;
    s->nkv++;
    return MC_OK;
}

static int parse_text(mc_cfg *c, char *text, const char *file, int depth, const char *group,
                      const char *prefix);

/* The key's value in section s, without marking it used (NULL when absent). */
static const char *peek(const mc_cfg_section *s, const char *key) {
    for (int i = 0; i < s->nkv; i++)
        if (strcmp(s->kv[i].key, key) == 0) return s->kv[i].val;
    return NULL;
}

static void free_section(mc_cfg_section *s) {
    for (int i = 0; i < s->nkv; i++) {
        free(s->kv[i].key);
        free(s->kv[i].val);
    }
    free(s->kv);
    free(s->type);
}

/* [include] until=NAME: of the sections an include added (from index first on), keeps those up
 * to the layer whose full name (its prefix, then name=) is prefix + NAME, and drops the rest. */
static int cut_after(mc_cfg *c, int first, const char *prefix, const char *until, const char *inc_file,
                     int inc_line, const char *path) {
    const size_t pl = prefix ? strlen(prefix) : 0;
    for (int i = first; i < c->n; i++) {
        const mc_cfg_section *s = &c->s[i];
        const char *nm = peek(s, "name"), *sp = s->prefix ? s->prefix : "";
        if (!nm || strncmp(sp, prefix ? prefix : "", pl) != 0) continue;
        /* the name as the included file sees it: its own sections' prefix is exactly `prefix` */
        char full[1024];
        snprintf(full, sizeof full, "%s%s", sp + pl, nm);
        if (strcmp(full, until) != 0) continue;
        for (int j = i + 1; j < c->n; j++) free_section(&c->s[j]);
        c->n = i + 1;
        return MC_OK;
    }
    return mc_err(MC_EPARSE, "%s:%d: [include] until=%s: %s has no layer named '%s'", inc_file, inc_line, until, path,
                  until);
}

/* Expands the [include] section that was just completed (the last section of c). */
static int expand_include(mc_cfg *c, int depth, const char *outer_group, const char *outer_prefix) {
    mc_cfg_section *inc = &c->s[c->n - 1];
    char where[512];
    const char *file = NULL, *group = NULL, *prefix = NULL, *until = NULL;
    MC_TRY(mc_cfg_str(inc, "file", NULL, &file));
    if (!file) return mc_err(MC_EPARSE, "%s: [include] needs file=", mc_cfg_where(inc, NULL, where, sizeof where));
    MC_TRY(mc_cfg_str(inc, "group", NULL, &group));
    MC_TRY(mc_cfg_str(inc, "prefix", NULL, &prefix));
    MC_TRY(mc_cfg_str(inc, "until", NULL, &until));
    MC_TRY(mc_cfg_check_unused(inc));
    if (depth >= MAX_INCLUDE_DEPTH)
        return mc_err(MC_EPARSE, "%s: includes nested deeper than %d (a cycle?)",
                      mc_cfg_where(inc, NULL, where, sizeof where), MAX_INCLUDE_DEPTH);
    if (++c->nincludes > MAX_INCLUDES)
        return mc_err(MC_EPARSE, "%s: more than %d [include]s in all", mc_cfg_where(inc, NULL, where, sizeof where),
                      MAX_INCLUDES);
    /* resolve relative to the including file's folder */
    char path[4096];
    int pl;
    if (file[0] == '/') {
        pl = snprintf(path, sizeof path, "%s", file);
    } else {
        const char *slash = strrchr(inc->file, '/');
        int dirlen = slash ? (int)(slash - inc->file) + 1 : 0;
        pl = snprintf(path, sizeof path, "%.*s%s", dirlen, inc->file, file);
    }
    if (pl < 0 || (size_t)pl >= sizeof path)
        return mc_err(MC_EPARSE, "%s: file=%.80s...: the path is longer than %zu bytes",
                      mc_cfg_where(inc, "file", where, sizeof where), file, sizeof path - 1);
    /* the group/prefix of an include inside an include: inner group wins, prefixes concatenate */
    const char *g = group ? group : outer_group;
    char pbuf[512];
    pl = snprintf(pbuf, sizeof pbuf, "%s%s", outer_prefix ? outer_prefix : "", prefix ? prefix : "");
    if (pl < 0 || (size_t)pl >= sizeof pbuf)
        return mc_err(MC_EPARSE, "%s: the name prefix (with the enclosing includes' prefixes) is longer than %zu bytes",
                      mc_cfg_where(inc, "prefix", where, sizeof where), sizeof pbuf - 1);
    const char *gk = g ? cfg_keep(c, g) : NULL, *pk = pbuf[0] ? cfg_keep(c, pbuf) : NULL;
    const char *fk = cfg_keep(c, path), *uk = until ? cfg_keep(c, until) : NULL;
    if ((g && !gk) || (pbuf[0] && !pk) || !fk || (until && !uk)) return MC_ENOMEM;
    int inc_line = inc->line, first = c->n - 1;
    const char *inc_file = inc->file;
    /* drop the [include] section itself */
    for (int i = 0; i < inc->nkv; i++) {
        free(inc->kv[i].key);
        free(inc->kv[i].val);
    }
    free(inc->kv);
    free(inc->type);
    c->n--;
    char *text = NULL;
    size_t len;
    int rc = mc_fread_all(fk, &text, &len);
    if (rc == MC_OK && (rc = mc_text_no_nul(fk, text, len)) < 0) {
        free(text);
        text = NULL;
    }
    if (rc == MC_OK && c->bytes + len > MC_TEXT_MAX) {
        free(text);
        char lim[32];
        rc = mc_err(MC_EPARSE, "%s: with its includes the cfg is over the %s limit for a text file", fk,
                    mc_size_str(MC_TEXT_MAX, lim, sizeof lim));
    }
    if (rc < 0) return mc_err_context(rc, "%s:%d: [include]", inc_file, inc_line);
    c->bytes += len;
    rc = parse_text(c, text, fk, depth + 1, gk, pk);
    free(text);
    if (rc < 0 || !uk) return rc;
    return cut_after(c, first, pk, uk, inc_file, inc_line, fk);
}

/* Drops the last section of c (an [include] or [scope] once read). */
static void drop_last_section(mc_cfg *c) {
    free_section(&c->s[c->n - 1]);
    c->n--;
}

/* The [scope] section that was just completed (written by mc_cfg_write): the sections after it
 * in this text take its group= and prefix= as an [include]'s sections do (prefix appended to
 * the enclosing include's, group instead of it); a [scope] without keys goes back to the
 * enclosing include's (or none). */
static int apply_scope(mc_cfg *c, const char *outer_group, const char *outer_prefix, const char **group,
                       const char **prefix) {
    mc_cfg_section *sc = &c->s[c->n - 1];
    const char *g = NULL, *p = NULL;
    MC_TRY(mc_cfg_str(sc, "group", NULL, &g));
    MC_TRY(mc_cfg_str(sc, "prefix", NULL, &p));
    MC_TRY(mc_cfg_check_unused(sc));
    char pbuf[512];
    snprintf(pbuf, sizeof pbuf, "%s%s", outer_prefix ? outer_prefix : "", p ? p : "");
    const char *gk = g ? cfg_keep(c, g) : outer_group, *pk = pbuf[0] ? cfg_keep(c, pbuf) : NULL;
    if ((g && !gk) || (pbuf[0] && !pk)) return MC_ENOMEM;
    drop_last_section(c);
    *group = gk;
    *prefix = pk;
    return MC_OK;
}

/* group/prefix: those of the text (its [include]'s), cur_group/cur_prefix: those in effect
 * after the last [scope] */
static int finish_section(mc_cfg *c, int depth, const char *group, const char *prefix, const char **cur_group,
                          const char **cur_prefix) {
    if (c->n == 0) return MC_OK;
    mc_cfg_section *s = &c->s[c->n - 1];
    if (strcmp(s->type, "include") == 0) return expand_include(c, depth, *cur_group, *cur_prefix);
    if (strcmp(s->type, "scope") == 0) return apply_scope(c, group, prefix, cur_group, cur_prefix);
    return MC_OK;
}

static int parse_text(mc_cfg *c, char *text, const char *file, int depth, const char *group,
                      const char *prefix) {
    int lineno = 0, in_section = 0;
    const char *cur_group = group, *cur_prefix = prefix; /* changed by [scope] */
    char *p = text;
    /* a UTF-8 byte-order mark (editors on Windows write one) is not part of the first line */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;
    while (*p) {
        char *line = p, *nl = strchr(p, '\n');
        if (nl) {
            *nl = 0;
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#' || *t == ';') continue;
        /* strip a trailing comment introduced by whitespace + '#' */
        for (char *h = t; *h; h++)
            if (*h == '#' && h > t && isspace((unsigned char)h[-1])) {
                *h = 0;
                t = trim(t);
                break;
            }
        if (*t == '[') {
            char *e = strchr(t, ']');
            if (!e || trim(e + 1)[0] != 0)
                return mc_err(MC_EPARSE, "%s:%d: malformed section header '%s' (expected [name])",
                              file, lineno, t);
            *e = 0;
            char *name = trim(t + 1);
            if (!*name) return mc_err(MC_EPARSE, "%s:%d: empty section name", file, lineno);
            MC_TRY(finish_section(c, depth, group, prefix, &cur_group, &cur_prefix));
            mc_cfg_section *s = new_section(c, name, file, lineno);
            if (!s) return MC_ENOMEM;
            s->group = cur_group;
            s->prefix = cur_prefix;
            s->included = depth > 0;
            in_section = 1;
            continue;
        }
        if (!in_section)
            return mc_err(MC_EPARSE, "%s:%d: '%s' is outside any [section]", file, lineno, t);
        char *eq = strchr(t, '=');
        if (!eq) return mc_err(MC_EPARSE, "%s:%d: expected key=value, got '%s'", file, lineno, trim(t));
        *eq = 0;
        char *key = trim(t), *val = trim(eq + 1);
        if (!*key) return mc_err(MC_EPARSE, "%s:%d: empty key before '='", file, lineno);
        if (!*val) return mc_err(MC_EPARSE, "%s:%d: key '%s' has no value", file, lineno, key);
        for (char *k = key; *k; k++) *k = (char)tolower((unsigned char)*k);
        MC_TRY(add_kv(&c->s[c->n - 1], key, val, file, lineno));
    }
    return finish_section(c, depth, group, prefix, &cur_group, &cur_prefix);
}

static int parse_common(mc_cfg **out, char *text, const char *name) {
    mc_cfg *c = mc_calloc(1, sizeof *c, "cfg");
    if (!c) return MC_ENOMEM;
    c->bytes = strlen(text);
    const char *fk = cfg_keep(c, name);
    int rc = fk ? parse_text(c, text, fk, 0, NULL, NULL) : MC_ENOMEM;
    if (rc == MC_OK && c->n == 0) rc = mc_err(MC_EPARSE, "%s: no sections (expected [net] and layers)", name);
    if (rc < 0) {
        mc_cfg_free(c);
        return rc;
    }
    *out = c;
    return MC_OK;
}

int mc_cfg_parse_file(mc_cfg **out, const char *path) {
    char *text;
    size_t len;
    MC_TRY(mc_fread_all(path, &text, &len));
    int rc = mc_text_no_nul(path, text, len);
    if (rc == MC_OK) rc = parse_common(out, text, path);
    free(text);
    return rc;
}

int mc_cfg_parse_string(mc_cfg **out, const char *text, const char *name) {
    char *copy = mc_strdup(text);
    if (!copy) return MC_ENOMEM;
    int rc = parse_common(out, copy, name ? name : "<string>");
    free(copy);
    return rc;
}

void mc_cfg_free(mc_cfg *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < c->s[i].nkv; j++) {
            free(c->s[i].kv[j].key);
            free(c->s[i].kv[j].val);
        }
        free(c->s[i].kv);
        free(c->s[i].type);
    }
    free(c->s);
    for (int i = 0; i < c->nstrings; i++) free(c->strings[i]);
    free(c->strings);
    free(c);
}

/* ---- accessors ------------------------------------------------------------------------- */
static void note_asked(mc_cfg_section *s, const char *key) {
    for (int i = 0; i < s->nasked; i++)
        if (strcmp(s->asked[i], key) == 0) return;
    if (s->nasked < (int)(sizeof s->asked / sizeof s->asked[0])) s->asked[s->nasked++] = key;
}

mc_cfg_kv *mc_cfg_find(mc_cfg_section *s, const char *key) {
    note_asked(s, key);
    for (int i = 0; i < s->nkv; i++)
        if (strcmp(s->kv[i].key, key) == 0) {
            s->kv[i].used = 1;
            return &s->kv[i];
        }
    return NULL;
}

int mc_cfg_has(mc_cfg_section *s, const char *key) { return mc_cfg_find(s, key) != NULL; }

const char *mc_cfg_where(const mc_cfg_section *s, const char *key, char *buf, size_t n) {
    if (key)
        for (int i = 0; i < s->nkv; i++)
            if (strcmp(s->kv[i].key, key) == 0) {
                snprintf(buf, n, "%s:%d", s->kv[i].file, s->kv[i].line);
                return buf;
            }
    snprintf(buf, n, "%s:%d", s->file, s->line);
    return buf;
}

static int bad_value(mc_cfg_section *s, mc_cfg_kv *kv, const char *expected) {
    return mc_err(MC_EPARSE, "%s:%d: [%s] %s=%s: expected %s", kv->file, kv->line, s->type, kv->key,
                  kv->val, expected);
}

static int parse_int(const char *v, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < INT_MIN || x > INT_MAX) return -1;
    *out = (int)x;
    return 0;
}

int mc_cfg_int(mc_cfg_section *s, const char *key, int def, int *out) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return MC_OK;
    }
    if (parse_int(kv->val, out) < 0) return bad_value(s, kv, "an integer");
    return MC_OK;
}

int mc_cfg_int_req(mc_cfg_section *s, const char *key, int *out) {
    char where[512];
    if (!mc_cfg_find(s, key)) {
        for (int i = 0; i < s->nkv; i++)
            if (!s->kv[i].used && mc_edit_distance(s->kv[i].key, key, 0) <= 2)
                return mc_err(MC_EPARSE, "%s: [%s] needs %s= (line %d has unknown key '%s': a typo?)",
                              mc_cfg_where(s, NULL, where, sizeof where), s->type, key, s->kv[i].line,
                              s->kv[i].key);
        return mc_err(MC_EPARSE, "%s: [%s] needs %s=", mc_cfg_where(s, NULL, where, sizeof where),
                      s->type, key);
    }
    return mc_cfg_int(s, key, 0, out);
}

int mc_cfg_int_range(mc_cfg_section *s, const char *key, int def, int lo, int hi, int *out) {
    MC_TRY(mc_cfg_int(s, key, def, out));
    if (*out < lo || *out > hi) {
        mc_cfg_kv *kv = mc_cfg_find(s, key);
        char buf[96];
        if (hi == INT_MAX)
            snprintf(buf, sizeof buf, "an integer >= %d", lo);
        else
            snprintf(buf, sizeof buf, "an integer in [%d, %d]", lo, hi);
        if (kv) return bad_value(s, kv, buf);
        char where[512];
        return mc_err(MC_EPARSE, "%s: [%s] %s: default %d is not %s", mc_cfg_where(s, NULL, where, sizeof where),
                      s->type, key, *out, buf);
    }
    return MC_OK;
}

int mc_cfg_float(mc_cfg_section *s, const char *key, float def, float *out) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return MC_OK;
    }
    char *end;
    errno = 0;
    double x = strtod(kv->val, &end);
    if (errno || end == kv->val || *end || !isfinite(x)) return bad_value(s, kv, "a finite number");
    *out = (float)x;
    return MC_OK;
}

int mc_cfg_double(mc_cfg_section *s, const char *key, double def, double *out) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return MC_OK;
    }
    char *end;
    errno = 0;
    double x = strtod(kv->val, &end);
    if (errno || end == kv->val || *end || !isfinite(x)) return bad_value(s, kv, "a finite number");
    *out = x;
    return MC_OK;
}

int mc_cfg_double_min(mc_cfg_section *s, const char *key, double def, double lo, int strict, double *out) {
    MC_TRY(mc_cfg_double(s, key, def, out));
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    if (kv && (strict ? !(*out > lo) : !(*out >= lo))) {
        char buf[64];
        snprintf(buf, sizeof buf, "a number %s %g", strict ? ">" : ">=", lo);
        return bad_value(s, kv, buf);
    }
    return MC_OK;
}

int mc_cfg_str(mc_cfg_section *s, const char *key, const char *def, const char **out) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    *out = kv ? kv->val : def;
    return MC_OK;
}

int mc_cfg_enum(mc_cfg_section *s, const char *key, const char *const *choices, int def, int *out) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    if (!kv) {
        *out = def;
        return MC_OK;
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(kv->val, choices[i]) == 0) {
            *out = i;
            return MC_OK;
        }
    char buf[512];
    size_t o = snprintf(buf, sizeof buf, "one of");
    for (int i = 0; choices[i] && o < sizeof buf; i++)
        o += snprintf(buf + o, sizeof buf - o, "%s %s", i ? "," : "", choices[i]);
    return bad_value(s, kv, buf);
}

int mc_cfg_overrides(mc_cfg_section *s, char **dst, int *n, int max) {
    char **items, where[600];
    int k, m, rc = mc_cfg_list(s, "set", &items, &m);
    for (k = 0; k < m && rc == MC_OK; k++) {
        if (*n >= max) {
            rc = mc_err(MC_EPARSE, "%s: at most %d set= overrides", mc_cfg_where(s, "set", where, sizeof where), max);
            break;
        }
        dst[*n] = mc_strdup(items[k]);
        rc = dst[(*n)++] ? MC_OK : MC_ENOMEM;
    }
    free(items); /* NULL when the list failed */
    return rc;
}

int mc_cfg_list(mc_cfg_section *s, const char *key, char ***items, int *n) {
    mc_cfg_kv *kv = mc_cfg_find(s, key);
    *items = NULL;
    *n = 0;
    if (!kv) return MC_OK;
    int count = 1;
    for (const char *p = kv->val; *p; p++) count += *p == ',';
    size_t len = strlen(kv->val) + 1;
    char **arr = mc_malloc((size_t)count * sizeof(char *) + len, "cfg list");
    if (!arr) return MC_ENOMEM;
    char *buf = (char *)(arr + count);
    memcpy(buf, kv->val, len);
    int k = 0;
    for (char *tok = buf;; k++) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = 0;
        arr[k] = trim(tok);
        if (!arr[k][0]) {
            free(arr);
            return bad_value(s, kv, "a comma-separated list without empty items");
        }
        if (!comma) break;
        tok = comma + 1;
    }
    *items = arr;
    *n = count;
    return MC_OK;
}

int mc_cfg_check_unused(mc_cfg_section *s) {
    for (int i = 0; i < s->nkv; i++) {
        if (s->kv[i].used) continue;
        char buf[768];
        size_t o = 0;
        buf[0] = 0;
        for (int j = 0; j < s->nasked && o < sizeof buf; j++)
            o += snprintf(buf + o, sizeof buf - o, "%s%s", j ? ", " : "", s->asked[j]);
        return mc_err(MC_EPARSE, "%s:%d: unknown key '%s' in [%s] (known keys: %s)", s->kv[i].file,
                      s->kv[i].line, s->kv[i].key, s->type, buf[0] ? buf : "none");
    }
    return MC_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */
/* A key or value that reads back as written: no control characters, no leading or trailing
 * blank, no ' #' (a comment), and a key that cannot pass for a section header or a comment. */
static int writable(const char *s, int is_key) {
    size_t n = strlen(s);
    if (!n || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1])) return 0;
    if (is_key && (s[0] == '[' || s[0] == '#' || s[0] == ';' || strchr(s, '='))) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f) return 0;
        if (ch == '#' && i > 0 && isspace((unsigned char)s[i - 1])) return 0;
    }
    return 1;
}

int mc_cfg_value_writable(const char *s) { return s[0] != '#' && writable(s, 0); }

static int same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

int mc_cfg_write(const mc_cfg *cfg, char **text, size_t *len) {
    *text = NULL;
    size_t n = 0;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return mc_err(MC_ENOMEM, "out of memory writing a cfg");
    int rc = MC_OK;
    const char *group = NULL, *prefix = NULL; /* the [scope] in effect */
    for (int i = 0; i < cfg->n && rc == MC_OK; i++) {
        const mc_cfg_section *s = &cfg->s[i];
        int is_net = !strcmp(s->type, "net") || !strcmp(s->type, "network");
        if (i > 0 && is_net && s->included) continue; /* ignored by the network as well */
        if (!is_net && (!same_str(group, s->group) || !same_str(prefix, s->prefix))) {
            if ((s->group && !writable(s->group, 0)) || (s->prefix && !writable(s->prefix, 0))) {
                rc = mc_err(MC_EARG, "%s:%d: [%s]: its include's group or prefix cannot be written into a cfg",
                            s->file, s->line, s->type);
                break;
            }
            fprintf(f, "[scope]\n");
            if (s->group) fprintf(f, "group=%s\n", s->group);
            if (s->prefix) fprintf(f, "prefix=%s\n", s->prefix);
            group = s->group;
            prefix = s->prefix;
        }
        fprintf(f, "[%s]\n", s->type);
        for (int k = 0; k < s->nkv; k++) {
            if (!writable(s->kv[k].key, 1) || !writable(s->kv[k].val, 0)) {
                rc = mc_err(MC_EARG,
                            "%s:%d: [%s] %s=%s cannot be written into a cfg (a control character, a leading or "
                            "trailing blank, or ' #')",
                            s->kv[k].file, s->kv[k].line, s->type, s->kv[k].key, s->kv[k].val);
                break;
            }
            fprintf(f, "%s=%s\n", s->kv[k].key, s->kv[k].val);
        }
    }
    if (fclose(f) != 0 && rc == MC_OK) rc = mc_err(MC_ENOMEM, "out of memory writing a cfg");
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    if (len) *len = n;
    return MC_OK;
}
