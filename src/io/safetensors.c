/* safetensors.c — read and write the safetensors format (Hugging Face; the format timm and
 * torchvision weights are published in).
 *
 * Layout: uint64 little-endian N; N bytes of UTF-8 JSON (an object: tensor name ->
 * {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
 * string -> string); then the data buffer. Offsets are relative to the buffer start; data is
 * little-endian, C order. The reader maps the file (a regular file only; read() when mmap is
 * refused) and validates the whole header at open, so later reads cannot go out of bounds.
 * A mapped file must not be truncated by another process while it is open (that would raise
 * SIGBUS on access); files are replaced atomically by rename, which is safe.
 * The writer reproduces the reference implementation's output byte for byte for float32
 * tensors: compact JSON, "__metadata__" first, tensors sorted by name at contiguous offsets,
 * header padded with spaces to a multiple of 8 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"
#include "mc_io.h"

/* ---- dtypes ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int size;
} dtypes[MC_ST_NUM_DTYPES] = {
    [MC_ST_BOOL] = {"BOOL", 1},   [MC_ST_U8] = {"U8", 1},       [MC_ST_I8] = {"I8", 1},
    [MC_ST_F8_E5M2] = {"F8_E5M2", 1}, [MC_ST_F8_E4M3] = {"F8_E4M3", 1},
    [MC_ST_I16] = {"I16", 2},     [MC_ST_U16] = {"U16", 2},     [MC_ST_F16] = {"F16", 2},
    [MC_ST_BF16] = {"BF16", 2},   [MC_ST_I32] = {"I32", 4},     [MC_ST_U32] = {"U32", 4},
    [MC_ST_F32] = {"F32", 4},     [MC_ST_F64] = {"F64", 8},     [MC_ST_I64] = {"I64", 8},
    [MC_ST_U64] = {"U64", 8},
};

const char *mc_st_dtype_name(int dtype) {
    return (dtype >= 0 && dtype < MC_ST_NUM_DTYPES) ? dtypes[dtype].name : "?";
}

int mc_st_dtype_size(int dtype) {
    return (dtype >= 0 && dtype < MC_ST_NUM_DTYPES) ? dtypes[dtype].size : 0;
}

int mc_st_dtype_from_name(const char *name) {
    for (int d = 0; d < MC_ST_NUM_DTYPES; d++)
        if (strcmp(dtypes[d].name, name) == 0) return d;
    return -1;
}

/* ---- little-endian loads and conversions ------------------------------------------------- */

static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b) | ((uint64_t)le32(b + 4) << 32); }

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* IEEE binary16 -> float: exact (every half is a float). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

/* float8 e4m3fn (no infinities; S.1111.111 is NaN), bias 7. */
static float e4m3_to_float(uint8_t b) {
    int sign = b & 0x80, exp = (b >> 3) & 0xf, man = b & 7;
    float v;
    if (exp == 15 && man == 7) return NAN;
    if (exp == 0) v = (float)man * 0x1p-9f;
    else v = ldexpf(1.0f + (float)man / 8.0f, exp - 7);
    return sign ? -v : v;
}

/* Converts count elements of dtype at src to float32 dst. */
static void convert(int dtype, const uint8_t *src, float *dst, size_t count) {
    size_t i;
    switch (dtype) {
    case MC_ST_BOOL: for (i = 0; i < count; i++) dst[i] = src[i] ? 1.0f : 0.0f; break;
    case MC_ST_U8: for (i = 0; i < count; i++) dst[i] = (float)src[i]; break;
    case MC_ST_I8: for (i = 0; i < count; i++) dst[i] = (float)(int8_t)src[i]; break;
    case MC_ST_F8_E5M2: for (i = 0; i < count; i++) dst[i] = half_to_float((uint16_t)(src[i] << 8)); break;
    case MC_ST_F8_E4M3: for (i = 0; i < count; i++) dst[i] = e4m3_to_float(src[i]); break;
    case MC_ST_I16: for (i = 0; i < count; i++) dst[i] = (float)(int16_t)le16(src + 2 * i); break;
    case MC_ST_U16: for (i = 0; i < count; i++) dst[i] = (float)le16(src + 2 * i); break;
    case MC_ST_F16: for (i = 0; i < count; i++) dst[i] = half_to_float(le16(src + 2 * i)); break;
    case MC_ST_BF16: for (i = 0; i < count; i++) dst[i] = f32_from_bits((uint32_t)le16(src + 2 * i) << 16); break;
    case MC_ST_I32: for (i = 0; i < count; i++) dst[i] = (float)(int32_t)le32(src + 4 * i); break;
    case MC_ST_U32: for (i = 0; i < count; i++) dst[i] = (float)le32(src + 4 * i); break;
    case MC_ST_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, src, count * 4);
#else
        for (i = 0; i < count; i++) dst[i] = f32_from_bits(le32(src + 4 * i));
#endif
        break;
    case MC_ST_F64:
        for (i = 0; i < count; i++) {
            uint64_t u = le64(src + 8 * i);
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
        }
        break;
    case MC_ST_I64: for (i = 0; i < count; i++) dst[i] = (float)(int64_t)le64(src + 8 * i); break;
    case MC_ST_U64: for (i = 0; i < count; i++) dst[i] = (float)le64(src + 8 * i); break;
    default: break;
    }
}

/* ---- reader ------------------------------------------------------------------------------ */

typedef struct st_entry {
    char *name;
    int dtype;
    int ndim;
    int64_t shape[MC_ST_MAX_DIMS];
    size_t numel;
    uint64_t begin, end; /* relative to the data buffer */
} st_entry;

struct mc_st {
    char *path;
    uint8_t *base;     /* the whole file: mapped, or read into memory */
    size_t size;
    int mapped;
    const uint8_t *data; /* data buffer = base + 8 + header length */
    size_t data_len;
    int n;
    st_entry *t;       /* [n], sorted by name */
    int nmeta;
    char **meta_key;   /* [nmeta], sorted by key */
    char **meta_val;
};

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_entry_ptr_begin(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

void mc_st_close(mc_st *st) {
    if (!st) return;
    if (st->base) {
        if (st->mapped) munmap(st->base, st->size);
        else free(st->base);
    }
    for (int i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    for (int i = 0; i < st->nmeta; i++) {
        free(st->meta_key[i]);
        free(st->meta_val[i]);
    }
    free(st->meta_key);
    free(st->meta_val);
    free(st->path);
    free(st);
}

/* Maps (or reads) the whole file into st->base / st->size. Only a regular file: a FIFO or a
 * device (/dev/zero) would block or never end. */
static int load_file(mc_st *st, const char *path) {
    size_t size;
    int fd = mc_open_regular(path, &size);
    if (fd < 0) return fd;
    if (size > 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            st->base = m;
            st->size = size;
            st->mapped = 1;
            return MC_OK;
        }
    }
    close(fd);
    /* mmap refused (or an empty file): read it, no more than its size said */
    char *buf;
    MC_TRY(mc_fread_all_max(path, size, &buf, &st->size));
    st->base = (uint8_t *)buf;
    st->mapped = 0;
    return MC_OK;
}

/* Formats a shape as "[2, 3]" for messages. */
static void shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Parses one tensor entry of the header into e (name already set). */
static int parse_entry(const char *path, const mc_json *v, st_entry *e, size_t data_len) {
    const char *nm = e->name;
    if (v->type != MC_JSON_OBJECT)
        return mc_err(MC_EPARSE, "%s: tensor '%s': header entry is not an object", path, nm);
    const mc_json *dt = mc_json_get(v, "dtype"), *sh = mc_json_get(v, "shape"),
                  *off = mc_json_get(v, "data_offsets");
    if (!dt || !sh || !off)
        return mc_err(MC_EPARSE, "%s: tensor '%s': header entry lacks \"%s\"", path, nm,
                      !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (dt->type != MC_JSON_STRING)
        return mc_err(MC_EPARSE, "%s: tensor '%s': \"dtype\" is not a string", path, nm);
    e->dtype = mc_st_dtype_from_name(dt->str);
    if (e->dtype < 0)
        return mc_err(MC_EUNSUP, "%s: tensor '%s': unsupported dtype \"%.40s\"", path, nm, dt->str);
    if (sh->type != MC_JSON_ARRAY)
        return mc_err(MC_EPARSE, "%s: tensor '%s': \"shape\" is not an array", path, nm);
    if (sh->n > MC_ST_MAX_DIMS)
        return mc_err(MC_EUNSUP, "%s: tensor '%s': %zu dimensions (at most %d supported)", path, nm,
                      sh->n, MC_ST_MAX_DIMS);
    e->ndim = (int)sh->n;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t d = 0; d < sh->n; d++) {
        const mc_json *x = &sh->items[d];
        if (x->type != MC_JSON_NUMBER || !x->is_int || x->i < 0)
            return mc_err(MC_EPARSE, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                          path, nm, d);
        e->shape[d] = x->i;
        if (x->i != 0 && numel > UINT64_MAX / (uint64_t)x->i) overflow = 1;
        else numel *= (uint64_t)x->i;
    }
    if (off->type != MC_JSON_ARRAY || off->n != 2)
        return mc_err(MC_EPARSE, "%s: tensor '%s': \"data_offsets\" is not a [begin, end] pair", path, nm);
    for (int k = 0; k < 2; k++)
        if (off->items[k].type != MC_JSON_NUMBER || !off->items[k].is_int || off->items[k].i < 0)
            return mc_err(MC_EPARSE, "%s: tensor '%s': data_offsets[%d] is not a non-negative integer",
                          path, nm, k);
    e->begin = (uint64_t)off->items[0].i;
    e->end = (uint64_t)off->items[1].i;
    char sbuf[160];
    shape_str(e->shape, e->ndim, sbuf, sizeof sbuf);
    if (e->begin > e->end)
        return mc_err(MC_EPARSE, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                      path, nm, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return mc_err(MC_EPARSE,
                      "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the data buffer "
                      "(%zu bytes; file truncated?)",
                      path, nm, (unsigned long long)e->begin, (unsigned long long)e->end, data_len);
    int esz = dtypes[e->dtype].size;
    if (overflow || numel > UINT64_MAX / (uint64_t)esz || numel * (uint64_t)esz != e->end - e->begin)
        return mc_err(MC_EPARSE,
                      "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s x %s needs %s%llu",
                      path, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                      (unsigned long long)(e->end - e->begin), dtypes[e->dtype].name, sbuf,
                      overflow || numel > UINT64_MAX / (uint64_t)esz ? "more than " : "",
                      overflow || numel > UINT64_MAX / (uint64_t)esz ? (unsigned long long)UINT64_MAX
                                                                      : (unsigned long long)(numel * (uint64_t)esz));
    e->numel = (size_t)numel;
    return MC_OK;
}

typedef struct kv {
    char *key, *val;
} kv;

static int cmp_kv(const void *a, const void *b) { return strcmp(((const kv *)a)->key, ((const kv *)b)->key); }

static int parse_metadata(mc_st *st, const mc_json *v) {
    const char *path = st->path;
    if (v->type != MC_JSON_OBJECT)
        return mc_err(MC_EPARSE, "%s: \"__metadata__\" is not an object of strings", path);
    if (v->n > (size_t)INT32_MAX) return mc_err(MC_EPARSE, "%s: too many metadata entries", path);
    st->meta_key = mc_calloc(v->n, sizeof(char *), "metadata keys");
    st->meta_val = mc_calloc(v->n, sizeof(char *), "metadata values");
    kv *pairs = mc_calloc(v->n, sizeof *pairs, "metadata");
    if (!st->meta_key || !st->meta_val || !pairs) {
        free(pairs);
        return MC_ENOMEM;
    }
    int rc = MC_OK;
    for (size_t k = 0; k < v->n; k++) {
        const mc_json *x = &v->items[k];
        if (x->type != MC_JSON_STRING) {
            rc = mc_err(MC_EPARSE, "%s: metadata \"%.60s\" is not a string", path, v->keys[k]);
            break;
        }
        char *key = mc_strdup(v->keys[k]);
        char *val = key ? mc_malloc(x->len + 1, "metadata value") : NULL;
        if (!val) {
            free(key);
            rc = MC_ENOMEM;
            break;
        }
        memcpy(val, x->str, x->len + 1);
        pairs[k].key = key;
        pairs[k].val = val;
        st->nmeta++;
    }
    /* Sorted by key (byte order); a key given twice is an error. */
    if (rc == MC_OK) {
        qsort(pairs, (size_t)st->nmeta, sizeof *pairs, cmp_kv);
        for (int i = 1; i < st->nmeta && rc == MC_OK; i++)
            if (strcmp(pairs[i - 1].key, pairs[i].key) == 0)
                rc = mc_err(MC_EPARSE, "%s: metadata key \"%.60s\" appears twice", path, pairs[i].key);
    }
    for (int i = 0; i < st->nmeta; i++) {
        st->meta_key[i] = pairs[i].key;
        st->meta_val[i] = pairs[i].val;
    }
    free(pairs);
    return rc;
}

static int parse_header(mc_st *st) {
    const char *path = st->path;
    if (st->size < 8)
        return mc_err(MC_EPARSE, "%s: not a safetensors file (%zu bytes, shorter than the 8-byte header length)",
                      path, st->size);
    uint64_t hlen = le64(st->base);
    if (hlen > MC_ST_MAX_HEADER)
        return mc_err(MC_EPARSE, "%s: header length %llu is over the %u-byte limit (not a safetensors file?)",
                      path, (unsigned long long)hlen, MC_ST_MAX_HEADER);
    if (hlen > st->size - 8)
        return mc_err(MC_EPARSE,
                      "%s: header length %llu exceeds the file's %zu bytes after the 8-byte length field "
                      "(truncated?)",
                      path, (unsigned long long)hlen, st->size - 8);
    if (hlen < 2 || st->base[8] != '{')
        return mc_err(MC_EPARSE, "%s: header does not start with '{' (not a safetensors file?)", path);
    const char *htext = (const char *)st->base + 8;
    st->data = st->base + 8 + hlen;
    st->data_len = st->size - 8 - (size_t)hlen;

    size_t wl = strlen(path) + 16;
    char *what = mc_malloc(wl, "message");
    if (!what) return MC_ENOMEM;
    snprintf(what, wl, "%s: header", path);
    mc_json *root;
    int rc = mc_json_parse(&root, htext, (size_t)hlen, what);
    free(what);
    if (rc < 0) return rc;
    if (root->type != MC_JSON_OBJECT) {
        mc_json_free(root);
        return mc_err(MC_EPARSE, "%s: header is not a JSON object", path);
    }
    if (root->n > (size_t)INT32_MAX) {
        mc_json_free(root);
        return mc_err(MC_EPARSE, "%s: too many tensors", path);
    }
    st->t = mc_calloc(root->n, sizeof *st->t, "safetensors entries");
    if (!st->t) { mc_json_free(root); return MC_ENOMEM; }
    int have_meta = 0;
    for (size_t k = 0; k < root->n && rc == MC_OK; k++) {
        if (strcmp(root->keys[k], "__metadata__") == 0) {
            if (have_meta++) rc = mc_err(MC_EPARSE, "%s: \"__metadata__\" appears twice", path);
            else rc = parse_metadata(st, &root->items[k]);
            continue;
        }
        st_entry *e = &st->t[st->n];
        e->name = mc_strdup(root->keys[k]);
        if (!e->name) { rc = MC_ENOMEM; break; }
        st->n++;
        rc = parse_entry(path, &root->items[k], e, st->data_len);
    }
    mc_json_free(root);
    if (rc < 0) return rc;

    /* Names unique (sorted order also serves lookups). */
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_entry_name);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0)
            return mc_err(MC_EPARSE, "%s: tensor '%s' appears twice in the header", path, st->t[i].name);

    /* No two non-empty tensors share a byte. */
    st_entry **byoff = mc_malloc((size_t)(st->n ? st->n : 1) * sizeof *byoff, "safetensors offsets");
    if (!byoff) return MC_ENOMEM;
    int m = 0;
    for (int i = 0; i < st->n; i++)
        if (st->t[i].end > st->t[i].begin) byoff[m++] = &st->t[i];
    qsort(byoff, (size_t)m, sizeof *byoff, cmp_entry_ptr_begin);
    for (int i = 1; i < m; i++) {
        if (byoff[i]->begin < byoff[i - 1]->end) {
            rc = mc_err(MC_EPARSE, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", path,
                        byoff[i - 1]->name, (unsigned long long)byoff[i - 1]->begin,
                        (unsigned long long)byoff[i - 1]->end, byoff[i]->name,
                        (unsigned long long)byoff[i]->begin, (unsigned long long)byoff[i]->end);
            break;
        }
    }
    free(byoff);
    return rc;
}

int mc_st_open(mc_st **out, const char *path) {
    *out = NULL;
    if (!path) return mc_err(MC_EARG, "mc_st_open: no path");
    mc_st *st = mc_calloc(1, sizeof *st, "safetensors handle");
    if (!st) return MC_ENOMEM;
    st->path = mc_strdup(path);
    int rc = st->path ? load_file(st, path) : MC_ENOMEM;
    if (rc == MC_OK) rc = parse_header(st);
    if (rc < 0) {
        mc_st_close(st);
        return rc;
    }
    *out = st;
    return MC_OK;
}

int mc_st_open_memory(mc_st **out, const char *path, uint8_t *buf, size_t size) {
    *out = NULL;
    mc_st *st = mc_calloc(1, sizeof *st, "safetensors handle");
    if (!st) {
        free(buf);
        return MC_ENOMEM;
    }
    st->base = buf;
    st->size = size;
    st->mapped = 0;
    st->path = mc_strdup(path);
    int rc = st->path ? parse_header(st) : MC_ENOMEM;
    if (rc < 0) {
        mc_st_close(st);
        return rc;
    }
    *out = st;
    return MC_OK;
}

const char *mc_st_path(const mc_st *st) { return st ? st->path : NULL; }
int mc_st_num_tensors(const mc_st *st) { return st ? st->n : 0; }

static int check_index(const mc_st *st, int i) {
    if (!st) return mc_err(MC_EARG, "safetensors: no file handle");
    if (i < 0 || i >= st->n)
        return mc_err(MC_EARG, "%s: tensor index %d out of range (%d tensors)", st->path, i, st->n);
    return MC_OK;
}

int mc_st_get_info(const mc_st *st, int i, mc_st_info *info) {
    MC_TRY(check_index(st, i));
    const st_entry *e = &st->t[i];
    memset(info, 0, sizeof *info);
    info->name = e->name;
    info->dtype = e->dtype;
    info->ndim = e->ndim;
    memcpy(info->shape, e->shape, sizeof e->shape);
    info->numel = e->numel;
    info->nbytes = (size_t)(e->end - e->begin);
    info->offset = (uint64_t)(st->data - st->base) + e->begin;
    return MC_OK;
}

int mc_st_find(const mc_st *st, const char *name) {
    if (!st || !name) return mc_err(MC_EARG, "mc_st_find: no file or no name");
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(st->t[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return mc_err(MC_ENOTFOUND, "%s: no tensor named '%s'", st->path, name);
}

int mc_st_read_f32(const mc_st *st, int i, float *dst, size_t n) {
    MC_TRY(check_index(st, i));
    const st_entry *e = &st->t[i];
    if (n != e->numel)
        return mc_err(MC_ESHAPE, "%s: tensor '%s' has %zu elements, the caller expected %zu", st->path,
                      e->name, e->numel, n);
    if (n == 0) return MC_OK;
    if (!dst) return mc_err(MC_EARG, "%s: tensor '%s': no destination buffer", st->path, e->name);
    convert(e->dtype, st->data + e->begin, dst, n);
    return MC_OK;
}

int mc_st_read_expect(const mc_st *st, const char *name, int ndim, const int64_t *shape, float *dst) {
    int i = mc_st_find(st, name);
    if (i < 0) return i;
    const st_entry *e = &st->t[i];
    int same = e->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = e->shape[d] == shape[d];
    if (!same) {
        char want[160], have[160];
        shape_str(shape, ndim < 0 ? 0 : ndim > MC_ST_MAX_DIMS ? MC_ST_MAX_DIMS : ndim, want, sizeof want);
        shape_str(e->shape, e->ndim, have, sizeof have);
        return mc_err(MC_ESHAPE, "%s: tensor '%s' has shape %s, expected %s", st->path, name, have, want);
    }
    return mc_st_read_f32(st, i, dst, e->numel);
}

const void *mc_st_raw(const mc_st *st, int i, size_t *nbytes) {
    if (check_index(st, i) < 0) return NULL;
    if (nbytes) *nbytes = (size_t)(st->t[i].end - st->t[i].begin);
    return st->data + st->t[i].begin;
}

const char *mc_st_metadata(const mc_st *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta_key[i], key) == 0) return st->meta_val[i];
    return NULL;
}

int mc_st_num_metadata(const mc_st *st) { return st ? st->nmeta : 0; }

int mc_st_metadata_at(const mc_st *st, int i, const char **key, const char **value) {
    if (!st || i < 0 || i >= st->nmeta)
        return mc_err(MC_EARG, "%s: metadata index %d out of range", st ? st->path : "safetensors", i);
    if (key) *key = st->meta_key[i];
    if (value) *value = st->meta_val[i];
    return MC_OK;
}

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct wt_entry {
    char *name;
    int ndim;
    int64_t shape[MC_ST_MAX_DIMS];
    size_t numel;
    float *data; /* [numel] copy */
} wt_entry;

struct mc_st_writer {
    int n, cap;
    wt_entry *t;
    int nmeta, metacap;
    char **meta_key, **meta_val;
};

mc_st_writer *mc_st_writer_new(void) { return mc_calloc(1, sizeof(mc_st_writer), "safetensors writer"); }

void mc_st_writer_free(mc_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->meta_key[i]);
        free(w->meta_val[i]);
    }
    free(w->meta_key);
    free(w->meta_val);
    free(w);
}

int mc_st_writer_add(mc_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (!w || !name) return mc_err(MC_EARG, "mc_st_writer_add: no writer or no name");
    if (!name[0] || strcmp(name, "__metadata__") == 0)
        return mc_err(MC_EARG, "safetensors writer: invalid tensor name '%s'", name);
    if (!mc_utf8_valid(name, strlen(name)))
        return mc_err(MC_EARG, "safetensors writer: tensor name is not valid UTF-8");
    if (ndim < 0 || ndim > MC_ST_MAX_DIMS || (ndim > 0 && !shape))
        return mc_err(MC_EARG, "safetensors writer: tensor '%s': bad number of dimensions %d", name, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return mc_err(MC_EARG, "safetensors writer: tensor '%s': negative dimension", name);
        if (shape[d] && numel > SIZE_MAX / 4 / (size_t)shape[d])
            return mc_err(MC_EARG, "safetensors writer: tensor '%s': too many elements", name);
        numel *= (size_t)shape[d];
    }
    if (numel && !data) return mc_err(MC_EARG, "safetensors writer: tensor '%s': no data", name);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return mc_err(MC_EARG, "safetensors writer: tensor '%s' added twice", name);
    if (w->n == w->cap) {
        int nc = w->cap ? w->cap * 2 : 16;
        wt_entry *nt = mc_realloc(w->t, (size_t)nc * sizeof *nt, "safetensors writer");
        if (!nt) return MC_ENOMEM;
        w->t = nt;
        w->cap = nc;
    }
    wt_entry *e = &w->t[w->n];
    memset(e, 0, sizeof *e);
    e->name = mc_strdup(name);
    e->data = mc_malloc(numel * sizeof(float), name);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return MC_ENOMEM;
    }
    if (numel) memcpy(e->data, data, numel * sizeof(float));
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->numel = numel;
    w->n++;
    return MC_OK;
}

int mc_st_writer_meta(mc_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return mc_err(MC_EARG, "mc_st_writer_meta: missing argument");
    if (!mc_utf8_valid(key, strlen(key)) || !mc_utf8_valid(value, strlen(value)))
        return mc_err(MC_EARG, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    char *v = mc_strdup(value);
    if (!v) return MC_ENOMEM;
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta_key[i], key) == 0) {
            free(w->meta_val[i]);
            w->meta_val[i] = v;
            return MC_OK;
        }
    if (w->nmeta == w->metacap) {
        int nc = w->metacap ? w->metacap * 2 : 8;
        char **nk = mc_realloc(w->meta_key, (size_t)nc * sizeof *nk, "metadata");
        if (!nk) { free(v); return MC_ENOMEM; }
        w->meta_key = nk;
        char **nv = mc_realloc(w->meta_val, (size_t)nc * sizeof *nv, "metadata");
        if (!nv) { free(v); return MC_ENOMEM; }
        w->meta_val = nv;
        w->metacap = nc;
    }
    char *k = mc_strdup(key);
    if (!k) { free(v); return MC_ENOMEM; }
    w->meta_key[w->nmeta] = k;
    w->meta_val[w->nmeta] = v;
    w->nmeta++;
    return MC_OK;
}

/* A growing byte buffer for the header. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (b->n + n + 1 > nc) nc *= 2;
        char *np = mc_realloc(b->p, nc, "safetensors header");
        if (!np) { b->failed = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal, escaped like serde_json / Python json.dumps(ensure_ascii=False). */
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        char esc[8];
        switch (*u) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        default:
            if (*u < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *u);
                sb_str(b, esc);
            } else {
                sb_put(b, (const char *)u, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

typedef struct save_job {
    const mc_st_writer *w;
    const wt_entry **order; /* [n] sorted by name */
    const sbuf *header;     /* padded JSON */
} save_job;

static int write_body(FILE *f, const char *path, void *arg) {
    const save_job *job = arg;
    uint8_t len8[8];
    uint64_t hl = job->header->n;
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)(hl >> (8 * k));
    MC_TRY(mc_fwrite(len8, 1, 8, f, path));
    MC_TRY(mc_fwrite(job->header->p, 1, job->header->n, f, path));
    for (int i = 0; i < job->w->n; i++) {
        const wt_entry *e = job->order[i];
        if (!e->numel) continue;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        MC_TRY(mc_fwrite(e->data, sizeof(float), e->numel, f, path));
#else
        for (size_t j = 0; j < e->numel; j++) {
            uint32_t u;
            uint8_t b[4];
            memcpy(&u, &e->data[j], 4);
            for (int k = 0; k < 4; k++) b[k] = (uint8_t)(u >> (8 * k));
            MC_TRY(mc_fwrite(b, 1, 4, f, path));
        }
#endif
    }
    return MC_OK;
}

static int cmp_wt_ptr(const void *a, const void *b) {
    return strcmp((*(const wt_entry *const *)a)->name, (*(const wt_entry *const *)b)->name);
}

int mc_st_writer_save(const mc_st_writer *w, const char *path) {
    if (!w || !path) return mc_err(MC_EARG, "mc_st_writer_save: no writer or no path");
    const wt_entry **order = mc_malloc((size_t)(w->n ? w->n : 1) * sizeof *order, "safetensors order");
    int *midx = mc_malloc((size_t)(w->nmeta ? w->nmeta : 1) * sizeof *midx, "metadata order");
    if (!order || !midx) {
        free(order);
        free(midx);
        return MC_ENOMEM;
    }
    for (int i = 0; i < w->n; i++) order[i] = &w->t[i];
    qsort(order, (size_t)w->n, sizeof *order, cmp_wt_ptr);
    /* Metadata keys in byte order (insertion sort: there are few). */
    for (int i = 0; i < w->nmeta; i++) {
        int j = i;
        while (j > 0 && strcmp(w->meta_key[midx[j - 1]], w->meta_key[i]) > 0) {
            midx[j] = midx[j - 1];
            j--;
        }
        midx[j] = i;
    }

    sbuf h = {0};
    char num[64];
    sb_str(&h, "{");
    int first = 1;
    if (w->nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int k = 0; k < w->nmeta; k++) {
            if (k) sb_str(&h, ",");
            sb_json_string(&h, w->meta_key[midx[k]]);
            sb_str(&h, ":");
            sb_json_string(&h, w->meta_val[midx[k]]);
        }
        sb_str(&h, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wt_entry *e = order[i];
        if (!first) sb_str(&h, ",");
        first = 0;
        sb_json_string(&h, e->name);
        sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            sb_str(&h, num);
        }
        uint64_t end = off + (uint64_t)e->numel * 4;
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)end);
        sb_str(&h, num);
        off = end;
    }
    sb_str(&h, "}");
    while (!h.failed && h.n % 8) sb_str(&h, " ");
    int rc;
    if (h.failed) rc = mc_err(MC_ENOMEM, "%s: out of memory building the safetensors header", path);
    else if (h.n > MC_ST_MAX_HEADER)
        rc = mc_err(MC_EARG, "%s: safetensors header of %zu bytes is over the limit", path, h.n);
    else {
        save_job job = {w, order, &h};
        rc = mc_write_atomic(path, write_body, &job);
    }
    free(h.p);
    free(order);
    free(midx);
    return rc;
}
