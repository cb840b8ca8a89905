/* pth.c — PyTorch checkpoints (torch.save's zip format, torch >= 1.6) without running Python's
 * unpickler (docs/import.md, ".pth"). The archive holds <dir>/data.pkl (a pickle, protocol 2 by
 * default) and <dir>/data/<key> (each storage's raw little-endian bytes). data.pkl is executed by
 * a small restricted pickle machine that knows only the opcodes a state dict uses and only
 * these globals:
 *   collections.OrderedDict                        -> a dict
 *   torch._utils._rebuild_tensor_v2                -> a tensor (storage, offset, size, stride, ...)
 *   torch._utils._rebuild_parameter                -> its tensor
 *   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage -> a storage type
 * Storages arrive as persistent ids ('storage', type, key, location, numel). Anything else (a
 * global such as os.system, an unknown opcode) stops the reading with a one-line error naming
 * it: nothing in the file is ever called. Values live in one arena freed at the end; nothing is
 * recursive (the machine's stack is an array), so no input can exhaust the C stack.
 * The state dict found (the top-level dict, else its 'model' or 'state_dict' entry: fastai's
 * {'model': ..., 'opt': ...}) becomes a safetensors image in memory with the tensors' own dtypes;
 * its keys must be strings and its values tensors. */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_io.h"

enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_CALL, V_STYPE, V_STORAGE, V_TENSOR, V_MARK };
enum { F_ODICT = 1, F_TENSOR, F_PARAM };

typedef struct val val;
struct val {
    int kind;
    int fn;        /* V_CALL: F_*; V_STYPE / V_STORAGE: dtype index into DT */
    long long i;   /* V_INT, V_BOOL; V_STORAGE: numel */
    char *s;       /* V_STR; V_STORAGE: key */
    size_t slen;
    int n, cap;    /* V_TUPLE / V_LIST: items; V_DICT: pairs */
    val **items;   /* V_DICT: keys at 2k, values at 2k+1 */
    /* V_TENSOR */
    val *storage;
    long long offset;
    int ndim;
    long long size[8], stride[8];
};

static const struct {
    const char *storage, *st; /* torch class, safetensors dtype */
    int bytes;
} DT[] = {{"FloatStorage", "F32", 4}, {"HalfStorage", "F16", 2},  {"BFloat16Storage", "BF16", 2},
          {"DoubleStorage", "F64", 8}, {"LongStorage", "I64", 8}, {"IntStorage", "I32", 4},
          {"ShortStorage", "I16", 2},  {"CharStorage", "I8", 1},  {"ByteStorage", "U8", 1},
          {"BoolStorage", "BOOL", 1}};
#define NDT ((int)(sizeof DT / sizeof DT[0]))

typedef struct vm {
    const char *path;
    val **arena;
    size_t narena, carena;
    val **stack;
    int sp, cstack;
    int *marks;
    int nmarks, cmarks;
    val **memo;
    size_t cmemo;
} vm;

#define MAX_STACK (1 << 20)
#define MAX_MEMO (1u << 24)

static val *newval(vm *m, int kind) {
    if (m->narena == m->carena) {
        size_t c = m->carena ? m->carena * 2 : 256;
        val **a = mc_realloc(m->arena, c * sizeof *a, "pickle values");
        if (!a) return NULL;
        m->arena = a;
        m->carena = c;
    }
    val *v = mc_calloc(1, sizeof *v, "pickle value");
    if (!v) return NULL;
    v->kind = kind;
    m->arena[m->narena++] = v;
    return v;
}

static void vm_free(vm *m) {
    for (size_t i = 0; i < m->narena; i++) {
        free(m->arena[i]->s);
        free(m->arena[i]->items);
        free(m->arena[i]);
    }
    free(m->arena);
    free(m->stack);
    free(m->marks);
    free(m->memo);
}

static int push(vm *m, val *v) {
    if (!v) return MC_ENOMEM;
    if (m->sp == m->cstack) {
        if (m->cstack >= MAX_STACK) return mc_err(MC_EPARSE, "%s: data.pkl: stack deeper than %d", m->path, MAX_STACK);
        int c = m->cstack ? m->cstack * 2 : 64;
        val **s = mc_realloc(m->stack, (size_t)c * sizeof *s, "pickle stack");
        if (!s) return MC_ENOMEM;
        m->stack = s;
        m->cstack = c;
    }
    m->stack[m->sp++] = v;
    return MC_OK;
}

static int additem(val *c, val *v) {
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 8;
        val **it = mc_realloc(c->items, (size_t)nc * sizeof *it, "pickle container");
        if (!it) return MC_ENOMEM;
        c->items = it;
        c->cap = nc;
    }
    c->items[c->n++] = v;
    return MC_OK;
}

static const char *kind_name(int k) {
    static const char *const names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict",
                                        "function", "storage type", "storage", "tensor", "mark"};
    return k >= 0 && k <= V_MARK ? names[k] : "?";
}

/* the items above the topmost mark, which is removed: [*first, sp) */
static int pop_mark(vm *m, size_t at, int *first) {
    if (m->nmarks == 0) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: no MARK before this opcode", m->path, at);
    *first = m->marks[--m->nmarks];
    return MC_OK;
}

static int setitems(vm *m, val *d, int first, size_t at) {
    if (d->kind != V_DICT)
        return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: SETITEM(S) on a %s", m->path, at, kind_name(d->kind));
    if ((m->sp - first) % 2) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: odd number of dict items", m->path, at);
    for (int k = first; k < m->sp; k++) MC_TRY(additem(d, m->stack[k]));
    m->sp = first;
    return MC_OK;
}

static int appends(vm *m, val *l, int first, size_t at) {
    if (l->kind != V_LIST) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: APPEND(S) on a %s", m->path, at, kind_name(l->kind));
    for (int k = first; k < m->sp; k++) MC_TRY(additem(l, m->stack[k]));
    m->sp = first;
    return MC_OK;
}

static int tuple_of(vm *m, int first, val **out) {
    val *t = newval(m, V_TUPLE);
    if (!t) return MC_ENOMEM;
    for (int k = first; k < m->sp; k++) MC_TRY(additem(t, m->stack[k]));
    m->sp = first;
    *out = t;
    return MC_OK;
}

static int global(vm *m, const char *mod, const char *name, size_t at, val **out) {
    val *v = newval(m, V_CALL);
    if (!v) return MC_ENOMEM;
    *out = v;
    if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) return v->fn = F_ODICT, MC_OK;
    if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) return v->fn = F_TENSOR, MC_OK;
    if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_parameter")) return v->fn = F_PARAM, MC_OK;
    if (!strcmp(mod, "torch"))
        for (int d = 0; d < NDT; d++)
            if (!strcmp(name, DT[d].storage)) {
                v->kind = V_STYPE;
                v->fn = d;
                return MC_OK;
            }
    return mc_err(MC_EUNSUP, "%s: data.pkl byte %zu: refuses the global '%s.%s' (only a state dict's OrderedDict, "
                             "tensors and storages are read: not a plain state dict?)", m->path, at, mod, name);
}

static int as_int(const val *v, long long *x) {
    if (v->kind != V_INT) return 0;
    *x = v->i;
    return 1;
}

static int reduce(vm *m, val *fn, val *args, size_t at, val **out) {
    if (fn->kind != V_CALL || args->kind != V_TUPLE)
        return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: REDUCE of a %s with a %s", m->path, at, kind_name(fn->kind),
                      kind_name(args->kind));
    if (fn->fn == F_ODICT) {
        if (args->n != 0) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: OrderedDict with arguments", m->path, at);
        return (*out = newval(m, V_DICT)) ? MC_OK : MC_ENOMEM;
    }
    if (fn->fn == F_PARAM) {
        if (args->n < 1 || args->items[0]->kind != V_TENSOR)
            return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: _rebuild_parameter without a tensor", m->path, at);
        *out = args->items[0];
        return MC_OK;
    }
    /* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
    val **a = args->items;
    if (args->n < 4 || a[0]->kind != V_STORAGE || a[1]->kind != V_INT || a[2]->kind != V_TUPLE ||
        a[3]->kind != V_TUPLE || a[2]->n != a[3]->n || a[2]->n > 8)
        return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: _rebuild_tensor_v2 with unexpected arguments", m->path, at);
    val *t = newval(m, V_TENSOR);
    if (!t) return MC_ENOMEM;
    t->storage = a[0];
    t->offset = a[1]->i;
    t->ndim = a[2]->n;
    for (int d = 0; d < t->ndim; d++)
        if (!as_int(a[2]->items[d], &t->size[d]) || !as_int(a[3]->items[d], &t->stride[d]) || t->size[d] < 0 ||
            t->stride[d] < 0)
            return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: a tensor's size or stride is not a non-negative int",
                          m->path, at);
    *out = t;
    return MC_OK;
}

static int persistent(vm *m, val *pid, size_t at, val **out) {
    if (pid->kind != V_TUPLE || pid->n < 5 || pid->items[0]->kind != V_STR || strcmp(pid->items[0]->s, "storage") ||
        pid->items[1]->kind != V_STYPE || pid->items[2]->kind != V_STR || pid->items[4]->kind != V_INT ||
        pid->items[4]->i < 0)
        return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: a persistent id that is not ('storage', type, key, location, "
                                 "numel)", m->path, at);
    val *s = newval(m, V_STORAGE);
    if (!s) return MC_ENOMEM;
    s->fn = pid->items[1]->fn;
    s->s = mc_strdup(pid->items[2]->s);
    s->i = pid->items[4]->i;
    if (!s->s) return MC_ENOMEM;
    *out = s;
    return MC_OK;
}

static uint32_t rd32(const uint8_t *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static int memo_put(vm *m, size_t idx, val *v, size_t at) {
    /* a pickler numbers its memo entries from 0, one per PUT: an index beyond the bytes read so far
     * is not a pickler's (and would size the memo from the input) */
    if (idx >= MAX_MEMO || idx > at)
        return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: memo index %zu too large", m->path, at, idx);
    if (idx >= m->cmemo) {
        size_t c = m->cmemo ? m->cmemo : 64;
        while (c <= idx) c *= 2;
        val **nm = mc_realloc(m->memo, c * sizeof *nm, "pickle memo");
        if (!nm) return MC_ENOMEM;
        memset(nm + m->cmemo, 0, (c - m->cmemo) * sizeof *nm);
        m->memo = nm;
        m->cmemo = c;
    }
    m->memo[idx] = v;
    return MC_OK;
}

/* runs the pickle p[n]; *root = the object STOP returns */
static int run(vm *m, const uint8_t *p, size_t n, val **root) {
    size_t i = 0, memo_next = 0;
#define NEED(k)                                                                                                      \
    do {                                                                                                             \
        if (n - i < (size_t)(k))                                                                                     \
            return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: truncated (opcode 0x%02x needs %zu bytes)", m->path, at, \
                          op, (size_t)(k));                                                                          \
    } while (0)
#define POP(v)                                                                                                          \
    do {                                                                                                                \
        if (m->sp <= (m->nmarks ? m->marks[m->nmarks - 1] : 0))                                                         \
            return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: stack underflow at opcode 0x%02x", m->path, at, op);      \
        (v) = m->stack[--m->sp];                                                                                        \
    } while (0)
    while (i < n) {
        size_t at = i;
        uint8_t op = p[i++];
        val *v = NULL, *a = NULL, *b = NULL;
        int first = 0;
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            if (p[i] > 5) return mc_err(MC_EUNSUP, "%s: data.pkl: pickle protocol %d", m->path, p[i]);
            i++;
            break;
        case 0x95: /* FRAME */
            NEED(8);
            i += 8;
            break;
        case '.': /* STOP */
            POP(v);
            *root = v;
            return MC_OK;
        case '(':
            if (m->nmarks == m->cmarks) {
                int c = m->cmarks ? m->cmarks * 2 : 16;
                if (c > MAX_STACK) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: too many MARKs", m->path, at);
                int *mk = mc_realloc(m->marks, (size_t)c * sizeof *mk, "pickle marks");
                if (!mk) return MC_ENOMEM;
                m->marks = mk;
                m->cmarks = c;
            }
            m->marks[m->nmarks++] = m->sp;
            break;
        case '}': MC_TRY(push(m, newval(m, V_DICT))); break;
        case ']': MC_TRY(push(m, newval(m, V_LIST))); break;
        case ')': MC_TRY(push(m, newval(m, V_TUPLE))); break;
        case 'N': MC_TRY(push(m, newval(m, V_NONE))); break;
        case 0x88:
        case 0x89:
            MC_TRY(push(m, v = newval(m, V_BOOL)));
            v->i = op == 0x88;
            break;
        case 't':
            MC_TRY(pop_mark(m, at, &first));
            MC_TRY(tuple_of(m, first, &v));
            MC_TRY(push(m, v));
            break;
        case 0x85:
        case 0x86:
        case 0x87: {
            int k = op - 0x84, base = m->sp - k;
            if (base < (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: stack underflow at TUPLE%d", m->path, at, k);
            MC_TRY(tuple_of(m, base, &v));
            MC_TRY(push(m, v));
            break;
        }
        case 's':
            if (m->sp - 3 < (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: stack underflow at SETITEM", m->path, at);
            MC_TRY(setitems(m, m->stack[m->sp - 3], m->sp - 2, at));
            break;
        case 'u':
            MC_TRY(pop_mark(m, at, &first));
            if (first < 1 || first > m->sp)
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: SETITEMS without a dict", m->path, at);
            MC_TRY(setitems(m, m->stack[first - 1], first, at));
            break;
        case 'a':
            if (m->sp - 2 < (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: stack underflow at APPEND", m->path, at);
            MC_TRY(appends(m, m->stack[m->sp - 2], m->sp - 1, at));
            break;
        case 'e':
            MC_TRY(pop_mark(m, at, &first));
            if (first < 1 || first > m->sp)
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: APPENDS without a list", m->path, at);
            MC_TRY(appends(m, m->stack[first - 1], first, at));
            break;
        case 'J':
            NEED(4);
            MC_TRY(push(m, v = newval(m, V_INT)));
            v->i = (int32_t)rd32(p + i);
            i += 4;
            break;
        case 'K':
            NEED(1);
            MC_TRY(push(m, v = newval(m, V_INT)));
            v->i = p[i++];
            break;
        case 'M':
            NEED(2);
            MC_TRY(push(m, v = newval(m, V_INT)));
            v->i = p[i] | (p[i + 1] << 8);
            i += 2;
            break;
        case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
            NEED(1);
            int k = p[i++];
            NEED(k);
            if (k > 8) return mc_err(MC_EUNSUP, "%s: data.pkl byte %zu: an integer of %d bytes", m->path, at, k);
            unsigned long long u = 0;
            for (int q = 0; q < k; q++) u |= (unsigned long long)p[i + q] << (8 * q);
            if (k > 0 && k < 8 && (p[i + k - 1] & 0x80)) u |= ~0ULL << (8 * k);
            i += k;
            MC_TRY(push(m, v = newval(m, V_INT)));
            v->i = (long long)u;
            break;
        }
        case 'G': /* BINFLOAT: big-endian double */
            NEED(8);
            MC_TRY(push(m, newval(m, V_FLOAT)));
            i += 8;
            break;
        case 'X':    /* BINUNICODE */
        case 0x8c:   /* SHORT_BINUNICODE */
        case 'T':    /* BINSTRING */
        case 'U':    /* SHORT_BINSTRING */
        case 'B':    /* BINBYTES */
        case 'C': {  /* SHORT_BINBYTES */
            size_t len;
            if (op == 0x8c || op == 'U' || op == 'C') {
                NEED(1);
                len = p[i++];
            } else {
                NEED(4);
                len = rd32(p + i);
                i += 4;
            }
            NEED(len);
            MC_TRY(push(m, v = newval(m, V_STR)));
            v->s = mc_malloc(len + 1, "pickle string");
            if (!v->s) return MC_ENOMEM;
            memcpy(v->s, p + i, len);
            v->s[len] = 0;
            v->slen = len;
            i += len;
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            const uint8_t *e1 = memchr(p + i, '\n', n - i);
            const uint8_t *e2 = e1 ? memchr(e1 + 1, '\n', n - (size_t)(e1 + 1 - p)) : NULL;
            if (!e2 || e1 - (p + i) > 200 || e2 - (e1 + 1) > 200)
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: a GLOBAL without its two lines", m->path, at);
            char mod[256], name[256];
            memcpy(mod, p + i, (size_t)(e1 - (p + i)));
            mod[e1 - (p + i)] = 0;
            memcpy(name, e1 + 1, (size_t)(e2 - (e1 + 1)));
            name[e2 - (e1 + 1)] = 0;
            i = (size_t)(e2 + 1 - p);
            MC_TRY(global(m, mod, name, at, &v));
            MC_TRY(push(m, v));
            break;
        }
        case 'R':
            POP(a);
            POP(b);
            MC_TRY(reduce(m, b, a, at, &v));
            MC_TRY(push(m, v));
            break;
        case 'Q':
            POP(a);
            MC_TRY(persistent(m, a, at, &v));
            MC_TRY(push(m, v));
            break;
        case 'b': /* BUILD: a dict's or tensor's state (OrderedDict's _metadata): ignored */
            POP(a);
            if (m->sp <= (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: BUILD without an object", m->path, at);
            b = m->stack[m->sp - 1];
            if (b->kind != V_DICT && b->kind != V_TENSOR)
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: BUILD on a %s", m->path, at, kind_name(b->kind));
            break;
        case 'q':
        case 'r':
        case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            size_t idx;
            if (op == 'q') {
                NEED(1);
                idx = p[i++];
            } else if (op == 'r') {
                NEED(4);
                idx = rd32(p + i);
                i += 4;
            } else {
                idx = memo_next;
            }
            memo_next = idx + 1;
            if (m->sp <= 0) return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: PUT on an empty stack", m->path, at);
            MC_TRY(memo_put(m, idx, m->stack[m->sp - 1], at));
            break;
        }
        case 'h':
        case 'j': {
            size_t idx;
            if (op == 'h') {
                NEED(1);
                idx = p[i++];
            } else {
                NEED(4);
                idx = rd32(p + i);
                i += 4;
            }
            if (idx >= m->cmemo || !m->memo[idx])
                return mc_err(MC_EPARSE, "%s: data.pkl byte %zu: GET of memo %zu, never PUT", m->path, at, idx);
            MC_TRY(push(m, m->memo[idx]));
            break;
        }
        case '0': POP(v); break; /* POP */
        default:
            return mc_err(MC_EUNSUP, "%s: data.pkl byte %zu: pickle opcode 0x%02x is not allowed in a state dict",
                          m->path, at, op);
        }
    }
#undef NEED
#undef POP
    return mc_err(MC_EPARSE, "%s: data.pkl ends without STOP (truncated?)", m->path);
}

typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb;

static void put(sb *b, const void *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void puts_(sb *b, const char *s) { put(b, s, strlen(s)); }
static void putjson(sb *b, const char *s, size_t n) {
    puts_(b, "\"");
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\', e[1] = (char)c, e[2] = 0;
            puts_(b, e);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            puts_(b, e);
        } else {
            put(b, &s[k], 1);
        }
    }
    puts_(b, "\"");
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const mc_zip_entry *)a)->name, ((const mc_zip_entry *)b)->name);
}

/* e[n] sorted by name (the first of equal names wins: stable enough, names are unique in a
 * torch.save archive) */
static const mc_zip_entry *find_entry(const mc_zip_entry *e, int n, const char *name) {
    int lo = 0, hi = n - 1, found = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(name, e[mid].name);
        if (c <= 0) {
            if (!c) found = mid;
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    return found >= 0 ? &e[found] : NULL;
}

int mc_pth_to_safetensors(const char *path, uint8_t **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    char *buf = NULL;
    size_t len = 0;
    MC_TRY(mc_fread_all_max(path, (size_t)1 << 34, &buf, &len));
    mc_zip_entry *e = NULL;
    int ne = 0, rc = mc_zip_entries(path, (const uint8_t *)buf, len, &e, &ne);
    vm m = {.path = path};
    sb hdr = {0}, data = {0};
    char *prefix = NULL;
    if (rc < 0) goto done;
    /* <dir>/data.pkl: the one entry named so (torch.save writes one top-level folder) */
    const mc_zip_entry *pkl = NULL;
    for (int k = 0; k < ne; k++) {
        const char *s = strchr(e[k].name, '/');
        if (s && !strcmp(s, "/data.pkl")) {
            if (pkl) {
                rc = mc_err(MC_EPARSE, "%s: two data.pkl entries ('%s', '%s')", path, pkl->name, e[k].name);
                goto done;
            }
            pkl = &e[k];
        }
    }
    if (!pkl) {
        rc = mc_err(MC_EPARSE, "%s: a zip archive without <folder>/data.pkl: not a PyTorch checkpoint", path);
        goto done;
    }
    /* storages are looked up by name: sort (pkl keeps pointing at the same bytes through a copy) */
    mc_zip_entry pk = *pkl;
    pkl = &pk;
    qsort(e, (size_t)ne, sizeof *e, cmp_entry);
    size_t plen = strlen(pkl->name) - strlen("data.pkl");
    prefix = mc_malloc(plen + 1, "pth");
    if (!prefix) {
        rc = MC_ENOMEM;
        goto done;
    }
    memcpy(prefix, pkl->name, plen);
    prefix[plen] = 0;
    val *root = NULL;
    if ((rc = run(&m, pkl->data, pkl->size, &root)) < 0) goto done;
    val *sd = root;
    if (sd->kind == V_DICT) /* fastai's {'model': ..., 'opt': ...}, Lightning-style {'state_dict': ...} */
        for (int k = 0; k < sd->n; k += 2) {
            val *key = sd->items[k], *v = sd->items[k + 1];
            if (key->kind == V_STR && (!strcmp(key->s, "model") || !strcmp(key->s, "state_dict")) && v->kind == V_DICT) {
                sd = v;
                break;
            }
        }
    if (sd->kind != V_DICT) {
        rc = mc_err(MC_EPARSE, "%s: holds a %s, not a state dict", path, kind_name(sd->kind));
        goto done;
    }
    puts_(&hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int k = 0; k < sd->n; k += 2) {
        val *key = sd->items[k], *t = sd->items[k + 1];
        if (key->kind != V_STR) {
            rc = mc_err(MC_EPARSE, "%s: state dict key %d is a %s, not a name", path, k / 2 + 1, kind_name(key->kind));
            goto done;
        }
        if (t->kind != V_TENSOR) {
            rc = mc_err(MC_EPARSE, "%s: state dict entry '%s' is a %s, not a tensor", path, key->s, kind_name(t->kind));
            goto done;
        }
        if (strlen(key->s) != key->slen || !mc_utf8_valid(key->s, key->slen) || !strcmp(key->s, "__metadata__")) {
            rc = mc_err(MC_EPARSE, "%s: state dict key %d ('%s') is not a tensor name (NUL byte, bad UTF-8 or "
                                   "__metadata__)", path, k / 2 + 1, key->s);
            goto done;
        }
        val *st = t->storage;
        int es = DT[st->fn].bytes;
        char ename[4096];
        snprintf(ename, sizeof ename, "%sdata/%s", prefix, st->s);
        const mc_zip_entry *se = find_entry(e, ne, ename);
        if (!se) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': its storage '%s' is not in the archive", path, key->s, ename);
            goto done;
        }
        if (st->i > (long long)(se->size / (size_t)es)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': storage '%s' holds %zu bytes, not %lld elements of %d bytes", path,
                        key->s, ename, se->size, st->i, es);
            goto done;
        }
        /* numel and the furthest element, in 64 bits with overflow checks */
        unsigned long long numel = 1, last = (unsigned long long)t->offset;
        int overflow = t->offset < 0;
        for (int d = 0; d < t->ndim; d++) {
            unsigned long long sz = (unsigned long long)t->size[d];
            if (sz && numel > (1ULL << 40) / sz) overflow = 1;
            numel *= sz;
        }
        if (numel)
            for (int d = 0; d < t->ndim; d++) {
                unsigned long long sz = (unsigned long long)t->size[d], str = (unsigned long long)t->stride[d];
                if (str && sz - 1 > (1ULL << 40) / str) overflow = 1;
                else last += (sz - 1) * str;
            }
        if (!overflow && numel > (unsigned long long)st->i) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': %llu elements from a storage of %lld (overlapping strides)", path,
                        key->s, numel, st->i);
            goto done;
        }
        if (!overflow && data.n + numel * (unsigned long long)es > 2 * (unsigned long long)len + (64u << 20)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': the state dict's tensors add up to more than twice the file's "
                                   "size (storages shared many times over?)", path, key->s);
            goto done;
        }
        if (overflow || (numel && last >= (unsigned long long)st->i)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': offset %lld and strides reach past its storage of %lld elements",
                        path, key->s, t->offset, st->i);
            goto done;
        }
        size_t begin = data.n;
        /* gather in C order (a contiguous tensor is one copy) */
        int contig = 1;
        long long expect = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->size[d] != 1 && t->stride[d] != expect) contig = 0;
            expect *= t->size[d];
        }
        if (contig) {
            put(&data, se->data + (size_t)t->offset * es, (size_t)numel * es);
        } else {
            long long idx[8] = {0};
            for (unsigned long long q = 0; q < numel; q++) {
                long long o = t->offset;
                for (int d = 0; d < t->ndim; d++) o += idx[d] * t->stride[d];
                put(&data, se->data + (size_t)o * es, (size_t)es);
                for (int d = t->ndim - 1; d >= 0; d--) {
                    if (++idx[d] < t->size[d]) break;
                    idx[d] = 0;
                }
            }
        }
        char num[64];
        puts_(&hdr, ",");
        putjson(&hdr, key->s, key->slen);
        puts_(&hdr, ":{\"dtype\":\"");
        puts_(&hdr, DT[st->fn].st);
        puts_(&hdr, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", t->size[d]);
            puts_(&hdr, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", begin, data.n);
        puts_(&hdr, num);
    }
    puts_(&hdr, "}");
    while (hdr.n % 8) puts_(&hdr, " ");
    if (hdr.oom || data.oom) {
        rc = mc_err(MC_ENOMEM, "%s: out of memory converting the checkpoint", path);
        goto done;
    }
    uint8_t *img = mc_malloc(8 + hdr.n + data.n + 1, "pth");
    if (!img) {
        rc = MC_ENOMEM;
        goto done;
    }
    for (int q = 0; q < 8; q++) img[q] = (uint8_t)((uint64_t)hdr.n >> (8 * q));
    memcpy(img + 8, hdr.p, hdr.n);
    if (data.n) memcpy(img + 8 + hdr.n, data.p, data.n);
    *out = img;
    *outlen = 8 + hdr.n + data.n;
    rc = MC_OK;
done:
    vm_free(&m);
    mc_zip_free(e, ne);
    free(prefix);
    free(hdr.p);
    free(data.p);
    free(buf);
    return rc;
}
