/* json.c — a small strict JSON parser (RFC 8259) building a DOM of mc_json values.
 *
 * Written for safetensors headers (up to 100 MB of JSON with thousands of tensors) and other
 * small metadata files. Recursive descent with an explicit depth limit; every allocation is
 * checked; every error names the source, the line and column, and what was expected.
 * Arrays and objects keep their members in one contiguous block (items[n]) grown by doubling.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_io.h"

typedef struct jparser {
    const char *s;     /* text[len], not necessarily NUL-terminated */
    size_t len;
    size_t pos;
    const char *what;  /* source name for messages */
} jparser;

void mc_json_linecol(const char *text, size_t len, size_t offset, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') { l++; c = 1; } else c++;
    }
    *line = l;
    *col = c;
}

static int jerr(jparser *p, size_t at, const char *fmt, ...) MC_PRINTF(3, 4);
static int jerr(jparser *p, size_t at, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    mc_json_linecol(p->s, p->len, at, &line, &col);
    return mc_err(MC_EPARSE, "%s: invalid JSON at line %d, column %d (byte %zu): %s", p->what,
                  line, col, at, msg);
}

/* A printable description of the byte at pos for messages. */
static const char *describe(jparser *p, size_t pos, char *buf, size_t n) {
    if (pos >= p->len) return "end of text";
    unsigned char ch = (unsigned char)p->s[pos];
    if (ch >= 0x20 && ch < 0x7f) snprintf(buf, n, "'%c'", ch);
    else snprintf(buf, n, "byte 0x%02x", ch);
    return buf;
}

static void skip_ws(jparser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') p->pos++;
        else break;
    }
}

/* Length of the UTF-8 sequence at s[0..n) and its code point, or 0 when malformed. */
static int utf8_seq(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

int mc_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int k = utf8_seq(u + i, len - i, &cp);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(jparser *p, size_t at, uint32_t *v) {
    if (at + 4 > p->len) return jerr(p, at, "truncated \\u escape");
    uint32_t r = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[at + (size_t)k];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return jerr(p, at + (size_t)k, "\\u escape needs 4 hex digits");
        r = (r << 4) | d;
    }
    *v = r;
    return MC_OK;
}

/* Parses a string starting at the opening quote; *out (malloc'ed, NUL-terminated), *outlen. */
static int parse_string(jparser *p, char **out, size_t *outlen) {
    size_t start = p->pos++; /* skip '"' */
    /* First pass: find the closing quote to size the buffer (decoded text is never longer). */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\') end++;
        end++;
    }
    if (end >= p->len) return jerr(p, start, "string is not terminated");
    char *buf = mc_malloc(end - p->pos + 1, "JSON string");
    if (!buf) return MC_ENOMEM;
    size_t n = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(buf);
            return jerr(p, p->pos, "control character 0x%02x inside a string (must be escaped)", c);
        }
        if (c == '\\') {
            size_t at = p->pos;
            char e = p->s[p->pos + 1];
            p->pos += 2;
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                int rc = hex4(p, p->pos, &cp);
                if (rc < 0) { free(buf); return rc; }
                p->pos += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    free(buf);
                    return jerr(p, at, "lone low surrogate \\u%04X", (unsigned)cp);
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->pos + 2 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        free(buf);
                        return jerr(p, at, "high surrogate \\u%04X not followed by a low one",
                                    (unsigned)cp);
                    }
                    rc = hex4(p, p->pos + 2, &lo);
                    if (rc < 0) { free(buf); return rc; }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(buf);
                        return jerr(p, at, "high surrogate \\u%04X followed by \\u%04X",
                                    (unsigned)cp, (unsigned)lo);
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                /* A \uXXXX escape (6 bytes) never decodes to more than 4 bytes. */
                n += put_utf8(buf + n, cp);
                break;
            }
            default:
                free(buf);
                return jerr(p, at, "unknown escape '\\%c'", (e >= 0x20 && e < 0x7f) ? e : '?');
            }
            continue;
        }
        if (c < 0x80) {
            buf[n++] = (char)c;
            p->pos++;
            continue;
        }
        uint32_t cp;
        int k = utf8_seq((const unsigned char *)p->s + p->pos, end - p->pos, &cp);
        if (!k) {
            free(buf);
            return jerr(p, p->pos, "invalid UTF-8 in a string");
        }
        memcpy(buf + n, p->s + p->pos, (size_t)k);
        n += (size_t)k;
        p->pos += (size_t)k;
    }
    p->pos++; /* closing quote */
    buf[n] = 0;
    *out = buf;
    *outlen = n;
    return MC_OK;
}

static int parse_number(jparser *p, mc_json *v) {
    size_t start = p->pos, i = p->pos;
    const char *s = p->s;
    int integral = 1;
    if (i < p->len && s[i] == '-') i++;
    if (i >= p->len || s[i] < '0' || s[i] > '9') return jerr(p, i, "a digit must follow '-'");
    if (s[i] == '0') {
        i++;
        if (i < p->len && s[i] >= '0' && s[i] <= '9')
            return jerr(p, start, "numbers may not have leading zeros");
    } else {
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') return jerr(p, i, "a digit must follow '.'");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || s[i] < '0' || s[i] > '9') return jerr(p, i, "a digit must follow the exponent");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t n = i - start;
    char small[64], *tmp = small;
    if (n >= sizeof small) {
        tmp = mc_malloc(n + 1, "JSON number");
        if (!tmp) return MC_ENOMEM;
    }
    memcpy(tmp, s + start, n);
    tmp[n] = 0;
    v->type = MC_JSON_NUMBER;
    v->is_int = 0;
    if (integral) {
        errno = 0;
        char *endp;
        long long ll = strtoll(tmp, &endp, 10);
        if (errno == 0 && *endp == 0) {
            v->is_int = 1;
            v->i = ll;
            v->num = (double)ll;
        }
    }
    if (!v->is_int) {
        errno = 0;
        v->num = strtod(tmp, NULL);
        if (!isfinite(v->num)) {
            if (tmp != small) free(tmp);
            return jerr(p, start, "number out of range");
        }
    }
    if (tmp != small) free(tmp);
    p->pos = i;
    return MC_OK;
}

static int parse_value(jparser *p, mc_json *v, int depth);

/* Appends a zeroed slot to items (and keys); returns its index via *slot. */
static int grow(mc_json *v, size_t *cap, int with_keys) {
    if (v->n < *cap) return MC_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    mc_json *ni = mc_realloc(v->items, nc * sizeof *ni, "JSON array");
    if (!ni) return MC_ENOMEM;
    v->items = ni;
    if (with_keys) {
        char **nk = mc_realloc(v->keys, nc * sizeof *nk, "JSON object keys");
        if (!nk) return MC_ENOMEM;
        v->keys = nk;
    }
    *cap = nc;
    return MC_OK;
}

static int parse_array(jparser *p, mc_json *v, int depth) {
    size_t cap = 0;
    v->type = MC_JSON_ARRAY;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return MC_OK; }
    for (;;) {
        MC_TRY(grow(v, &cap, 0));
        mc_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        v->n++;
        MC_TRY(parse_value(p, item, depth + 1));
        skip_ws(p);
        char d[24];
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ']') return jerr(p, p->pos, "trailing comma in array");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return MC_OK; }
        return jerr(p, p->pos, "expected ',' or ']' in array, found %s", describe(p, p->pos, d, sizeof d));
    }
}

static int parse_object(jparser *p, mc_json *v, int depth) {
    size_t cap = 0;
    char d[24];
    v->type = MC_JSON_OBJECT;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return MC_OK; }
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return jerr(p, p->pos, "expected a string key in object, found %s", describe(p, p->pos, d, sizeof d));
        MC_TRY(grow(v, &cap, 1));
        size_t at = p->pos, klen;
        char *key;
        MC_TRY(parse_string(p, &key, &klen));
        if (strlen(key) != klen) {
            free(key);
            return jerr(p, at, "object key contains a NUL character");
        }
        mc_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        v->keys[v->n] = key;
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return jerr(p, p->pos, "expected ':' after key \"%.60s\", found %s", key, describe(p, p->pos, d, sizeof d));
        p->pos++;
        MC_TRY(parse_value(p, item, depth + 1));
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '}') return jerr(p, p->pos, "trailing comma in object");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return MC_OK; }
        return jerr(p, p->pos, "expected ',' or '}' in object, found %s", describe(p, p->pos, d, sizeof d));
    }
}

static int literal(jparser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int parse_value(jparser *p, mc_json *v, int depth) {
    char d[24];
    if (depth > MC_JSON_MAX_DEPTH)
        return jerr(p, p->pos, "nesting deeper than %d levels", MC_JSON_MAX_DEPTH);
    skip_ws(p);
    v->offset = p->pos;
    if (p->pos >= p->len) return jerr(p, p->pos, "expected a value, found end of text");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_object(p, v, depth);
    case '[': return parse_array(p, v, depth);
    case '"': v->type = MC_JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't':
        if (literal(p, "true")) { v->type = MC_JSON_BOOL; v->boolean = 1; return MC_OK; }
        break;
    case 'f':
        if (literal(p, "false")) { v->type = MC_JSON_BOOL; v->boolean = 0; return MC_OK; }
        break;
    case 'n':
        if (literal(p, "null")) { v->type = MC_JSON_NULL; return MC_OK; }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        break;
    }
    return jerr(p, p->pos, "expected a value, found %s", describe(p, p->pos, d, sizeof d));
}

static void free_members(mc_json *v) {
    if (!v) return;
    free(v->str);
    for (size_t k = 0; k < v->n; k++) {
        free_members(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
}

void mc_json_free(mc_json *v) {
    free_members(v);
    free(v);
}

int mc_json_parse(mc_json **out, const char *text, size_t len, const char *what) {
    *out = NULL;
    if (!what) what = "JSON";
    if (!text) return mc_err(MC_EARG, "%s: no text to parse", what);
    if (len > MC_JSON_MAX_TEXT)
        return mc_err(MC_EPARSE, "%s: JSON text of %zu bytes is over the %zu-byte limit", what, len,
                      MC_JSON_MAX_TEXT);
    jparser p = {text, len, 0, what};
    mc_json *root = mc_calloc(1, sizeof *root, "JSON value");
    if (!root) return MC_ENOMEM;
    int rc = parse_value(&p, root, 1);
    if (rc == MC_OK) {
        skip_ws(&p);
        char d[24];
        if (p.pos < p.len) rc = jerr(&p, p.pos, "unexpected %s after the value", describe(&p, p.pos, d, sizeof d));
    }
    if (rc < 0) {
        mc_json_free(root);
        return rc;
    }
    *out = root;
    return MC_OK;
}

const mc_json *mc_json_get(const mc_json *obj, const char *key) {
    if (!obj || obj->type != MC_JSON_OBJECT) return NULL;
    for (size_t k = 0; k < obj->n; k++)
        if (strcmp(obj->keys[k], key) == 0) return &obj->items[k];
    return NULL;
}
