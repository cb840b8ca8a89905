/* netmeta.c — what a trained network's .weights carry besides the floats (docs/weights.md, "The
 * metadata trailer"): the network as trained (its cfg with includes expanded and overrides
 * applied), the overrides as given, the input shape, the label names, the stage, the data, the
 * medcolor version. darknet reads a .weights file's layers and ignores what follows them, so
 * the trailer goes after the last layer's floats:
 *
 *     "MCMETA1\n"   8 bytes   the opening tag
 *     N             uint64    the length of the JSON text
 *     JSON          N bytes   one object (UTF-8)
 *     T             uint64    the length of the whole trailer, N + 32
 *     "MCMETEND"    8 bytes   the closing tag: the file's last 16 bytes find the trailer
 *
 * Integers little-endian. medcolor's loader accepts exactly one such trailer after the last
 * layer and still refuses any other byte there (src/engine/weights.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "engine/netmeta.h"
#include "mc_io.h"

#define OPEN_TAG "MCMETA1\n"
#define CLOSE_TAG "MCMETEND"
#define FRAME 32u                  /* the two tags and the two lengths */
#define MAX_JSON ((uint64_t)64 << 20) /* a DenseNet121's flattened cfg is ~60 kB */

/* ---- the struct ----------------------------------------------------------------------------- */
void mc_netmeta_free(mc_netmeta *m) {
    if (!m) return;
    free(m->cfg);
    free(m->cfg_file);
    for (int i = 0; i < m->nset; i++) free(m->set[i]);
    free(m->set);
    for (int i = 0; i < m->nlabels; i++) free(m->labels[i]);
    free(m->labels);
    free(m->stage);
    free(m->data);
    free(m->root);
    free(m->version);
    memset(m, 0, sizeof *m);
}

static int dup_opt(char **dst, const char *s) {
    *dst = NULL;
    if (!s) return MC_OK;
    *dst = mc_strdup(s);
    return *dst ? MC_OK : MC_ENOMEM;
}

static int dup_list(char ***dst, int *ndst, char *const *src, int n) {
    *dst = NULL;
    *ndst = 0;
    if (n <= 0) return MC_OK;
    char **v = mc_calloc((size_t)n, sizeof *v, "metadata list");
    if (!v) return MC_ENOMEM;
    *dst = v;
    for (int i = 0; i < n; i++) {
        if (!(v[i] = mc_strdup(src[i]))) return MC_ENOMEM;
        *ndst = i + 1;
    }
    return MC_OK;
}

static int meta_copy(mc_netmeta *d, const mc_netmeta *s) {
    memset(d, 0, sizeof *d);
    d->c = s->c;
    d->h = s->h;
    d->w = s->w;
    d->stage_index = s->stage_index;
    int rc = dup_opt(&d->cfg, s->cfg);
    if (rc == MC_OK) rc = dup_opt(&d->cfg_file, s->cfg_file);
    if (rc == MC_OK) rc = dup_list(&d->set, &d->nset, s->set, s->nset);
    if (rc == MC_OK) rc = dup_list(&d->labels, &d->nlabels, s->labels, s->nlabels);
    if (rc == MC_OK) rc = dup_opt(&d->stage, s->stage);
    if (rc == MC_OK) rc = dup_opt(&d->data, s->data);
    if (rc == MC_OK) rc = dup_opt(&d->root, s->root);
    if (rc == MC_OK) rc = dup_opt(&d->version, s->version);
    if (rc < 0) mc_netmeta_free(d);
    return rc;
}

void mc_netmeta_drop(mc_net *net) {
    if (!net->meta) return;
    mc_netmeta_free(net->meta);
    free(net->meta);
    net->meta = NULL;
}

int mc_net_set_meta(mc_net *net, const mc_netmeta *m) {
    mc_netmeta_drop(net);
    if (!m) return MC_OK;
    mc_netmeta *copy = mc_malloc(sizeof *copy, "network metadata");
    if (!copy) return MC_ENOMEM;
    int rc = meta_copy(copy, m);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    net->meta = copy;
    return MC_OK;
}

const mc_netmeta *mc_net_meta(const mc_net *net) { return net->meta; }

/* ---- writing -------------------------------------------------------------------------------- */
/* a JSON string; a byte that is not part of valid UTF-8 is written as the code point of the same
 * value (Latin-1), so that any label reads back as text */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    while (*u) {
        if (*u == '"' || *u == '\\') {
            fputc('\\', f);
            fputc(*u++, f);
        } else if (*u == '\n') {
            fputs("\\n", f);
            u++;
        } else if (*u < 0x20 || *u == 0x7f) {
            fprintf(f, "\\u%04x", *u++);
        } else if (*u < 0x80) {
            fputc(*u++, f);
        } else {
            size_t len = *u >= 0xf0 ? 4 : *u >= 0xe0 ? 3 : *u >= 0xc0 ? 2 : 1;
            size_t have = strnlen((const char *)u, len);
            if (len > 1 && have == len && mc_utf8_valid((const char *)u, len)) {
                fwrite(u, 1, len, f);
                u += len;
            } else {
                fprintf(f, "\\u%04x", *u++);
            }
        }
    }
    fputc('"', f);
}

static void json_str_list(FILE *f, char *const *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', f);
        json_str(f, v[i]);
    }
    fputc(']', f);
}

/* the JSON object of net's metadata, malloc'd */
static int meta_json(const mc_net *net, char **text, size_t *len) {
    const mc_netmeta *m = net->meta;
    char *cfg;
    MC_TRY(mc_cfg_write(net->cfg, &cfg, NULL));
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) {
        free(cfg);
        return mc_err(MC_ENOMEM, "out of memory writing the weights' metadata");
    }
    fputs("{\"format\":\"medcolor-net-1\",\"medcolor\":", f);
    json_str(f, MC_VERSION);
    fputs(",\n\"input\":", f);
    fprintf(f, "{\"c\":%d,\"h\":%d,\"w\":%d}", net->in_c, net->in_h, net->in_w);
    fputs(",\n\"labels\":", f);
    json_str_list(f, m->labels, m->nlabels);
    if (m->stage) {
        fputs(",\n\"stage\":", f);
        json_str(f, m->stage);
        fprintf(f, ",\"stage_index\":%d", m->stage_index);
    }
    if (m->data) {
        fputs(",\n\"data\":", f);
        json_str(f, m->data);
    }
    if (m->root) {
        fputs(",\n\"root\":", f);
        json_str(f, m->root);
    }
    if (m->cfg_file) {
        fputs(",\n\"cfg_file\":", f);
        json_str(f, m->cfg_file);
    }
    fputs(",\n\"set\":", f);
    json_str_list(f, m->set, m->nset);
    fputs(",\n\"cfg\":", f);
    json_str(f, cfg);
    fputs("}\n", f);
    free(cfg);
    if (fclose(f) != 0) {
        free(buf);
        return mc_err(MC_ENOMEM, "out of memory writing the weights' metadata");
    }
    *text = buf;
    *len = n;
    return MC_OK;
}

int mc_netmeta_write_trailer(const mc_net *net, FILE *f, const char *path) {
    if (!net->meta) return MC_OK;
    char *json = NULL;
    size_t n = 0;
    MC_TRY(meta_json(net, &json, &n));
    uint64_t len = n, total = (uint64_t)n + FRAME;
    int rc = mc_fwrite(OPEN_TAG, 1, 8, f, path);
    if (rc == MC_OK) rc = mc_fwrite(&len, sizeof len, 1, f, path);
    if (rc == MC_OK) rc = mc_fwrite(json, 1, n, f, path);
    if (rc == MC_OK) rc = mc_fwrite(&total, sizeof total, 1, f, path);
    if (rc == MC_OK) rc = mc_fwrite(CLOSE_TAG, 1, 8, f, path);
    free(json);
    return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */
/* The trailer's JSON text (malloc'd, NUL-terminated) if the file [from, end) is exactly one
 * trailer: MC_ENOTFOUND when there is none (no closing tag), MC_EPARSE when it is malformed. */
static int read_frame(FILE *f, const char *path, long from, long end, char **json, size_t *len) {
    unsigned char tail[16];
    if (end - from < (long)FRAME || fseek(f, end - 16, SEEK_SET) != 0 || fread(tail, 1, 16, f) != 16 ||
        memcmp(tail + 8, CLOSE_TAG, 8) != 0)
        return mc_err(MC_ENOTFOUND, "%s: no medcolor metadata (a plain darknet .weights file)", path);
    uint64_t total, n;
    memcpy(&total, tail, 8);
    if (total < FRAME || total > MAX_JSON + FRAME || (uint64_t)(end - from) < total)
        return mc_err(MC_EPARSE, "%s: the metadata trailer's length %llu does not fit the file", path,
                      (unsigned long long)total);
    long start = end - (long)total;
    unsigned char head[16];
    if (fseek(f, start, SEEK_SET) != 0 || fread(head, 1, 16, f) != 16 || memcmp(head, OPEN_TAG, 8) != 0)
        return mc_err(MC_EPARSE, "%s: the metadata trailer has no opening tag where its length says", path);
    memcpy(&n, head + 8, 8);
    if (n + FRAME != total) return mc_err(MC_EPARSE, "%s: the metadata trailer's two lengths disagree", path);
    char *text = mc_malloc((size_t)n + 1, "weights metadata");
    if (!text) return MC_ENOMEM;
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        return mc_err(MC_EIO, "%s: read error in the metadata trailer", path);
    }
    text[n] = 0;
    *json = text;
    *len = (size_t)n;
    return MC_OK;
}

int mc_netmeta_is_trailer(FILE *f, const char *path, long from, long end) {
    char *json = NULL;
    size_t n = 0;
    if (read_frame(f, path, from, end, &json, &n) < 0) return 0;
    /* the trailer must start right at `from` */
    uint64_t total = (uint64_t)n + FRAME;
    mc_json *j = NULL;
    int ok = (uint64_t)(end - from) == total && mc_json_parse(&j, json, n, path) == MC_OK && j->type == MC_JSON_OBJECT;
    mc_json_free(j);
    free(json);
    mc_clear_error();
    return ok;
}

static int get_str(const mc_json *o, const char *key, int required, char **out, const char *path) {
    const mc_json *v = mc_json_get(o, key);
    *out = NULL;
    if (!v) return required ? mc_err(MC_EPARSE, "%s: metadata: '%s' is missing", path, key) : MC_OK;
    if (v->type != MC_JSON_STRING || strlen(v->str) != v->len)
        return mc_err(MC_EPARSE, "%s: metadata: '%s' is not a string", path, key);
    *out = mc_strdup(v->str);
    return *out ? MC_OK : MC_ENOMEM;
}

static int get_list(const mc_json *o, const char *key, char ***out, int *n, const char *path) {
    const mc_json *v = mc_json_get(o, key);
    *out = NULL;
    *n = 0;
    if (!v) return MC_OK;
    if (v->type != MC_JSON_ARRAY || v->n > 100000)
        return mc_err(MC_EPARSE, "%s: metadata: '%s' is not a list of strings", path, key);
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i].type != MC_JSON_STRING || strlen(v->items[i].str) != v->items[i].len)
            return mc_err(MC_EPARSE, "%s: metadata: '%s' is not a list of strings", path, key);
    if (!v->n) return MC_OK;
    char **l = mc_calloc(v->n, sizeof *l, "metadata list");
    if (!l) return MC_ENOMEM;
    *out = l;
    for (size_t i = 0; i < v->n; i++) {
        if (!(l[i] = mc_strdup(v->items[i].str))) return MC_ENOMEM;
        *n = (int)i + 1;
    }
    return MC_OK;
}

static int get_int(const mc_json *o, const char *key, int lo, int hi, int *out, const char *path) {
    const mc_json *v = mc_json_get(o, key);
    if (!v || v->type != MC_JSON_NUMBER || !v->is_int || v->i < lo || v->i > hi)
        return mc_err(MC_EPARSE, "%s: metadata: '%s' is %s (expected an integer in %d..%d)", path, key,
                      v ? "not a fitting integer" : "missing", lo, hi);
    *out = (int)v->i;
    return MC_OK;
}

int mc_weights_meta(const char *path, mc_netmeta *m) {
    memset(m, 0, sizeof *m);
    FILE *f = mc_fopen(path, "rb");
    if (!f) return MC_EIO;
    char *json = NULL;
    size_t n = 0;
    int rc = fseek(f, 0, SEEK_END) == 0 ? MC_OK : mc_err(MC_EIO, "%s: cannot seek (%s)", path, strerror(errno));
    long end = rc == MC_OK ? ftell(f) : -1;
    /* the smallest .weights: a 16-byte header, no layer */
    if (rc == MC_OK) rc = read_frame(f, path, end >= 16 ? 16 : end, end, &json, &n);
    fclose(f);
    if (rc < 0) return rc;
    mc_json *j;
    char what[4200];
    snprintf(what, sizeof what, "%s: metadata", path);
    rc = mc_json_parse(&j, json, n, what);
    free(json);
    if (rc < 0) return rc;
    if (j->type != MC_JSON_OBJECT) rc = mc_err(MC_EPARSE, "%s: metadata is not a JSON object", path);
    char *format = NULL;
    if (rc == MC_OK) rc = get_str(j, "format", 1, &format, path);
    if (rc == MC_OK && strcmp(format, "medcolor-net-1"))
        rc = mc_err(MC_EPARSE, "%s: metadata format '%s' is not one this medcolor reads (medcolor-net-1)", path, format);
    free(format);
    const mc_json *in = rc == MC_OK ? mc_json_get(j, "input") : NULL;
    if (rc == MC_OK && (!in || in->type != MC_JSON_OBJECT)) rc = mc_err(MC_EPARSE, "%s: metadata: no 'input'", path);
    if (rc == MC_OK) rc = get_int(in, "c", 1, 1 << 20, &m->c, path);
    if (rc == MC_OK) rc = get_int(in, "h", 1, 1 << 20, &m->h, path);
    if (rc == MC_OK) rc = get_int(in, "w", 1, 1 << 20, &m->w, path);
    if (rc == MC_OK) rc = get_str(j, "cfg", 1, &m->cfg, path);
    if (rc == MC_OK) rc = get_str(j, "medcolor", 0, &m->version, path);
    if (rc == MC_OK) rc = get_str(j, "cfg_file", 0, &m->cfg_file, path);
    if (rc == MC_OK) rc = get_str(j, "stage", 0, &m->stage, path);
    if (rc == MC_OK && m->stage) rc = get_int(j, "stage_index", 0, 1000, &m->stage_index, path);
    if (rc == MC_OK) rc = get_str(j, "data", 0, &m->data, path);
    if (rc == MC_OK) rc = get_str(j, "root", 0, &m->root, path);
    if (rc == MC_OK) rc = get_list(j, "labels", &m->labels, &m->nlabels, path);
    if (rc == MC_OK) rc = get_list(j, "set", &m->set, &m->nset, path);
    mc_json_free(j);
    if (rc < 0) mc_netmeta_free(m);
    return rc;
}

/* ---- using it ------------------------------------------------------------------------------- */
int mc_net_from_weights(mc_net **out, const char *path, const mc_net_opts *opts, mc_netmeta *mout) {
    *out = NULL;
    mc_netmeta m;
    int rc = mc_weights_meta(path, &m);
    if (rc == MC_ENOTFOUND)
        return mc_err(MC_ENOTFOUND, "%s carries no network (a plain darknet .weights file): give the cfg it was "
                                    "trained with",
                      path);
    if (rc < 0) return rc;
    mc_net_opts o = {0};
    if (opts) o = *opts;
    o.no_init = 1;
    char name[4200];
    snprintf(name, sizeof name, "%s (its cfg)", path);
    mc_net *net = NULL;
    rc = mc_net_from_string(&net, m.cfg, name, &o);
    if (rc == MC_OK && !(opts && opts->set && opts->set[0]) && (net->in_c != m.c || net->in_h != m.h || net->in_w != m.w))
        rc = mc_err(MC_EPARSE, "%s: its metadata says input %dx%dx%d but its cfg builds %dx%dx%d", path, m.c, m.h, m.w,
                    net->in_c, net->in_h, net->in_w);
    if (rc == MC_OK) rc = mc_net_load_weights(net, path);
    if (rc == MC_OK) rc = mc_net_set_meta(net, &m);
    if (rc < 0) {
        mc_net_free(net);
        mc_netmeta_free(&m);
        return rc;
    }
    *out = net;
    if (mout)
        *mout = m;
    else
        mc_netmeta_free(&m);
    return MC_OK;
}

/* ---- comparing a cfg with the network as trained ------------------------------------------ */
/* [net] keys that do not change what the network computes */
static const char *const net_ignored[] = {"batch",        "max_lr", "epochs",    "checkpoint_every",
                                          "weight_decay", "seed",   "frozen_bn", "decoupled_wd",
                                          "freeze",       "labels", NULL};

static int is_net(const mc_cfg_section *s) { return !strcmp(s->type, "net") || !strcmp(s->type, "network"); }

static int ignored(const mc_cfg_section *s, const char *key) {
    if (!strcmp(key, "init") || !strcmp(key, "name") || !strcmp(key, "group")) return 1; /* name, group: below */
    if (!is_net(s)) return 0;
    for (int i = 0; net_ignored[i]; i++)
        if (!strcmp(key, net_ignored[i])) return 1;
    return 0;
}

static const char *kv_get(const mc_cfg_section *s, const char *key) {
    for (int i = 0; i < s->nkv; i++)
        if (!strcmp(s->kv[i].key, key)) return s->kv[i].val;
    return NULL;
}

static int same_value(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    return ea != a && !*ea && eb != b && !*eb && x == y;
}

/* the sections that make the network: an included [net] after the first is ignored by it */
static int sections(const mc_cfg *c, const mc_cfg_section ***out) {
    const mc_cfg_section **v = mc_malloc((size_t)(c->n ? c->n : 1) * sizeof *v, "cfg sections");
    if (!v) return MC_ENOMEM;
    int n = 0;
    for (int i = 0; i < c->n; i++)
        if (!(i > 0 && c->s[i].included && is_net(&c->s[i]))) v[n++] = &c->s[i];
    *out = v;
    return n;
}

/* "net", a layer's full name, or "layer K [type]" */
static const char *sec_name(const mc_cfg_section *s, int layer, char *buf, size_t n) {
    const char *name = kv_get(s, "name");
    if (is_net(s))
        snprintf(buf, n, "net");
    else if (name)
        snprintf(buf, n, "%s%s", s->prefix ? s->prefix : "", name);
    else
        snprintf(buf, n, "layer %d [%s]", layer, s->type);
    return buf;
}

/* "e [convolutional]", or "an unnamed [maxpool]" */
static const char *describe(const mc_cfg_section *s, char *buf, size_t n) {
    const char *name = kv_get(s, "name");
    if (name)
        snprintf(buf, n, "%s%s [%s]", s->prefix ? s->prefix : "", name, s->type);
    else
        snprintf(buf, n, "an unnamed [%s]", s->type);
    return buf;
}

static const char *sec_group(const mc_cfg_section *s) {
    const char *g = kv_get(s, "group");
    return g ? g : s->group ? s->group : "main";
}

typedef struct differ {
    int n;          /* differences found */
    char first[1024];
} differ;

MC_PRINTF(2, 3) static void diff(differ *d, const char *fmt, ...) {
    if (d->n++) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->first, sizeof d->first, fmt, ap);
    va_end(ap);
}

static void diff_key(differ *d, const char *who, const mc_cfg_section *s, const char *key, const char *w,
                     const char *c) {
    const char *how = is_net(s) && (!strcmp(key, "width") || !strcmp(key, "height")) ? "at" : "with";
    if (w && c)
        diff(d, "%s.%s: the weights were trained %s %s, the cfg says %s", who, key, how, w, c);
    else if (w)
        diff(d, "%s.%s: the weights were trained %s %s, the cfg does not set it", who, key, how, w);
    else
        diff(d, "%s.%s: the weights were trained without it, the cfg says %s", who, key, c);
}

int mc_net_check_meta(const mc_net *net, const mc_netmeta *m) {
    if (!m || !m->cfg) return MC_OK;
    mc_cfg *trained;
    MC_TRY(mc_cfg_parse_string(&trained, m->cfg, "the weights' cfg"));
    const mc_cfg_section **a = NULL, **b = NULL;
    int na = sections(trained, &a), nb = na >= 0 ? sections(net->cfg, &b) : 0;
    if (na < 0 || nb < 0) {
        free(a);
        mc_cfg_free(trained);
        return MC_ENOMEM;
    }
    differ d = {0};
    int layer = 0;
    for (int i = 0; i < na && i < nb; i++) {
        const mc_cfg_section *sa = a[i], *sb = b[i];
        char wa[256], wb[256];
        sec_name(sa, layer, wa, sizeof wa);
        sec_name(sb, layer, wb, sizeof wb);
        if (!is_net(sa)) layer++;
        if (strcmp(sa->type, sb->type) || strcmp(wa, wb)) {
            char da[300], db[300];
            diff(&d, "layer %d: the weights were trained with %s there, the cfg has %s", layer - 1,
                 describe(sa, da, sizeof da), describe(sb, db, sizeof db));
            continue;
        }
        for (int k = 0; k < sa->nkv; k++) {
            const char *key = sa->kv[k].key, *vb = kv_get(sb, key);
            if (ignored(sa, key)) continue;
            if (!vb || !same_value(sa->kv[k].val, vb)) diff_key(&d, wa, sa, key, sa->kv[k].val, vb);
        }
        for (int k = 0; k < sb->nkv; k++)
            if (!ignored(sb, sb->kv[k].key) && !kv_get(sa, sb->kv[k].key))
                diff_key(&d, wa, sb, sb->kv[k].key, NULL, sb->kv[k].val);
        if (!is_net(sa) && strcmp(sec_group(sa), sec_group(sb)))
            diff(&d, "%s: the weights were trained with it in group %s, the cfg puts it in group %s", wa,
                 sec_group(sa), sec_group(sb));
    }
    if (na != nb)
        diff(&d, "the weights were trained as a network of %d sections, the cfg has %d", na, nb);
    free(a);
    free(b);
    mc_cfg_free(trained);
    if (!d.n) return MC_OK;
    if (d.n > 1) return mc_err(MC_EARG, "%s (%d differences in all)", d.first, d.n);
    return mc_err(MC_EARG, "%s", d.first);
}

int mc_netmeta_check_labels(const mc_netmeta *m, const char *const *labels, int n, const char *what) {
    if (!m || m->nlabels == 0) return MC_OK;
    int same = m->nlabels == n;
    for (int i = 0; same && i < n; i++) same = !strcmp(m->labels[i], labels[i]);
    if (same) return MC_OK;
    char a[1024] = "", b[1024] = "";
    size_t o = 0;
    for (int i = 0; i < m->nlabels && o < sizeof a; i++)
        o += (size_t)snprintf(a + o, sizeof a - o, "%s%s", i ? ", " : "", m->labels[i]);
    o = 0;
    for (int i = 0; i < n && o < sizeof b; i++) o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", i ? ", " : "", labels[i]);
    return mc_err(MC_EARG, "the weights were trained for the labels %s; %s has %s", a, what, b);
}
