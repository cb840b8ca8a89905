/* ds_util.c — small helpers of the dataset readers: an open-addressing string -> int hash map
 * (file names, study folders, patient ids), path joining, label-name matching with the
 * ChestX-ray14 / CheXpert aliases, label-value parsing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int mc_strmap_init(mc_strmap *m, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    m->cap = cap;
    m->n = 0;
    m->keys = mc_calloc(cap, sizeof *m->keys, "hash map");
    m->vals = mc_malloc(cap * sizeof *m->vals, "hash map");
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return MC_ENOMEM;
    }
    return MC_OK;
}

void mc_strmap_free(mc_strmap *m) {
    if (m->keys)
        for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(char *const *keys, size_t cap, const char *key) {
    size_t i = (size_t)hash_str(key) & (cap - 1);
    while (keys[i] && strcmp(keys[i], key) != 0) i = (i + 1) & (cap - 1);
    return i;
}

static int rehash(mc_strmap *m) {
    size_t cap = m->cap * 2;
    char **keys = mc_calloc(cap, sizeof *keys, "hash map");
    int *vals = mc_malloc(cap * sizeof *vals, "hash map");
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return MC_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = find_slot(keys, cap, m->keys[i]);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return MC_OK;
}

int mc_strmap_put(mc_strmap *m, const char *key, int val, int *old) {
    if ((m->n + 1) * 2 > m->cap) MC_TRY(rehash(m));
    size_t i = find_slot(m->keys, m->cap, key);
    if (m->keys[i]) {
        if (old) *old = m->vals[i];
        return 0;
    }
    m->keys[i] = mc_strdup(key);
    if (!m->keys[i]) return MC_ENOMEM;
    m->vals[i] = val;
    m->n++;
    return 1;
}

int mc_strmap_get(const mc_strmap *m, const char *key) {
    if (!m->cap) return -1;
    size_t i = find_slot(m->keys, m->cap, key);
    return m->keys[i] ? m->vals[i] : -1;
}

char *mc_path_join(const char *dir, const char *rel) {
    if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0) return mc_strdup(rel);
    size_t a = strlen(dir), b = strlen(rel);
    while (a > 1 && dir[a - 1] == '/') a--;
    while (rel[0] == '.' && rel[1] == '/') { /* "./x" -> "x" */
        rel += 2;
        b -= 2;
    }
    char *p = mc_malloc(a + b + 2, "path");
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, rel, b + 1);
    return p;
}

char *mc_path_dirname(const char *path) {
    const char *s = strrchr(path, '/');
    if (!s) return mc_strdup(".");
    if (s == path) return mc_strdup("/");
    size_t n = (size_t)(s - path);
    char *p = mc_malloc(n + 1, "path");
    if (!p) return NULL;
    memcpy(p, path, n);
    p[n] = 0;
    return p;
}

int mc_strieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* Lower case, '_' -> ' ', runs of spaces collapsed, trimmed; then the aliases. */
static void canon(const char *in, char *out, size_t cap) {
    size_t n = 0;
    int space = 0;
    while (*in == ' ' || *in == '_' || *in == '\t') in++;
    for (; *in && n + 1 < cap; in++) {
        char ch = *in == '_' || *in == '\t' ? ' ' : (char)tolower((unsigned char)*in);
        if (ch == ' ') {
            space = 1;
            continue;
        }
        if (space && n > 0 && n + 2 < cap) out[n++] = ' ';
        space = 0;
        out[n++] = ch;
    }
    out[n] = 0;
    if (strcmp(out, "effusion") == 0) snprintf(out, cap, "pleural effusion");
}

int mc_label_eq(const char *a, const char *b) {
    char x[256], y[256];
    canon(a, x, sizeof x);
    canon(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* Exactly the spellings CheXpert and pandas write: strtod would also take "0x1", "+1", "1e0",
 * " 1" and "nan" (and count the first four as positive). */
int mc_parse_raw_label(const char *s) {
    if (!s[0]) return MC_RAW_BLANK;
    if (strcmp(s, "1.0") == 0 || strcmp(s, "1") == 0) return MC_RAW_POS;
    if (strcmp(s, "0.0") == 0 || strcmp(s, "0") == 0) return MC_RAW_NEG;
    if (strcmp(s, "-1.0") == 0 || strcmp(s, "-1") == 0) return MC_RAW_UNCERTAIN;
    return -100;
}

int mc_patient_from_path(const char *path, char **out) {
    const char *p = path;
    *out = NULL;
    for (;;) {
        if (strncmp(p, "patient", 7) == 0) {
            size_t n = strcspn(p, "/");
            char *s = mc_malloc(n + 1, "patient id");
            if (!s) return MC_ENOMEM;
            memcpy(s, p, n);
            s[n] = 0;
            *out = s;
            return MC_OK;
        }
        p = strchr(p, '/');
        if (!p) return MC_OK;
        p++;
    }
}

int mc_safe_file_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
              ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}
