/* pth.c — PyTorch checkpoints without running Python's unpickler (docs/import.md, ".pth"), in
 * both formats torch.save writes:
 *   zip (torch >= 1.6's default): <dir>/data.pkl (a pickle, protocol 2 by default) and
 *     <dir>/data/<key> (each storage's raw little-endian bytes);
 *   legacy (torch < 1.6, or _use_new_zipfile_serialization=False): five pickles in a row (the
 *     magic number, the protocol version 1001, sys_info, the object, the sorted storage keys), then
 *     each listed storage as an 8-byte little-endian element count and its bytes (read_legacy).
 * torch's oldest format, a tar archive, is recognised and refused with a message. The pickles are
 * executed by a small restricted pickle machine that knows only the opcodes a state dict uses
 * and only these globals:
 *   collections.OrderedDict                        -> a dict (empty, or Python 2's list of pairs)
 *   torch._utils._rebuild_tensor_v2                -> a tensor (storage, offset, size, stride, ...)
 *   torch._utils._rebuild_tensor                   -> the same (torch <= 0.3's, legacy-format files)
 *   torch._utils._rebuild_parameter                -> its tensor
 *   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage -> a storage type
 *   torch.cuda.{...}Storage                        -> the same (a GPU tensor's, in older files)
 * Storages arrive as persistent ids ('storage', type, key, location, numel[, view]); the legacy
 * format's view (view_key, offset, numel) narrows the storage to those elements. Anything else (a
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

enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_CALL, V_STYPE, V_STORAGE, V_TENSOR, V_BIGINT,
       V_MARK };
enum { F_ODICT = 1, F_TENSOR, F_PARAM };

typedef struct val val;
struct val {
    int kind;
    int fn;        /* V_CALL: F_*; V_STYPE / V_STORAGE: dtype index into DT */
    long long i;   /* V_INT, V_BOOL; V_STORAGE: numel */
    char *s;       /* V_STR; V_STORAGE: key; V_BIGINT: its little-endian bytes */
    size_t slen;
    int n, cap;    /* V_TUPLE / V_LIST: items; V_DICT: pairs */
    val **items;   /* V_DICT: keys at 2k, values at 2k+1 */
    /* V_TENSOR */
    val *storage;
    long long offset;
    int ndim;
    long long size[8], stride[8];
    /* V_STORAGE: a view (the persistent id's view metadata, legacy format): elements
     * [view_off, view_off + view_n) of the storage key names */
    int is_view;
    long long view_off, view_n;
    /* V_STORAGE, legacy format: the storage's bytes in the file (data_set: found in its list) */
    const uint8_t *data;
    size_t bytes;
    int data_set;
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
    const char *what;  /* the pickle, for messages: "data.pkl", "the object pickle (legacy format)" */
    const char *where; /* before "byte N": "data.pkl" (N in it), "the object pickle (legacy format), file" */
    size_t base;       /* N's origin: 0, or where the pickle starts in the file (legacy) */
    int allow_pid;    /* persistent ids (storages) are allowed in this pickle */
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
        if (m->cstack >= MAX_STACK)
            return mc_err(MC_EPARSE, "%s: %s: stack deeper than %d", m->path, m->what, MAX_STACK);
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
                                        "function", "storage type", "storage", "tensor", "big int", "mark"};
    return k >= 0 && k <= V_MARK ? names[k] : "?";
}

/* the items above the topmost mark, which is removed: [*first, sp) */
static int pop_mark(vm *m, size_t at, int *first) {
    if (m->nmarks == 0)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: no MARK before this opcode", m->path, m->where, m->base + at);
    *first = m->marks[--m->nmarks];
    return MC_OK;
}

static int setitems(vm *m, val *d, int first, size_t at) {
    if (d->kind != V_DICT)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: SETITEM(S) on a %s", m->path, m->where, m->base + at,
                      kind_name(d->kind));
    if ((m->sp - first) % 2)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: odd number of dict items", m->path, m->where, m->base + at);
    for (int k = first; k < m->sp; k++) MC_TRY(additem(d, m->stack[k]));
    m->sp = first;
    return MC_OK;
}

static int appends(vm *m, val *l, int first, size_t at) {
    if (l->kind != V_LIST)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: APPEND(S) on a %s", m->path, m->where, m->base + at,
                      kind_name(l->kind));
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
    /* _rebuild_tensor: torch <= 0.3's (storage, offset, size, stride), in legacy-format files */
    if (!strcmp(mod, "torch._utils") && (!strcmp(name, "_rebuild_tensor_v2") || !strcmp(name, "_rebuild_tensor")))
        return v->fn = F_TENSOR, MC_OK;
    if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_parameter")) return v->fn = F_PARAM, MC_OK;
    /* torch.cuda.*Storage: a GPU tensor's storage as torch < 1.x named it (the bytes are the same) */
    if (!strcmp(mod, "torch") || !strcmp(mod, "torch.cuda"))
        for (int d = 0; d < NDT; d++)
            if (!strcmp(name, DT[d].storage)) {
                v->kind = V_STYPE;
                v->fn = d;
                return MC_OK;
            }
    return mc_err(MC_EUNSUP,
                  "%s: %s byte %zu: refuses the global '%.200s.%.200s' (only a state dict's OrderedDict, "
                  "tensors and storages are read: not a plain state dict?)",
                  m->path, m->where, m->base + at, mod, name);
}

static int as_int(const val *v, long long *x) {
    if (v->kind != V_INT) return 0;
    *x = v->i;
    return 1;
}

static int reduce(vm *m, val *fn, val *args, size_t at, val **out) {
    if (fn->kind != V_CALL || args->kind != V_TUPLE)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: REDUCE of a %s with a %s", m->path, m->where, m->base + at,
                      kind_name(fn->kind), kind_name(args->kind));
    if (fn->fn == F_ODICT) { /* OrderedDict(), or Python 2's OrderedDict([[key, value], ...]) */
        val *d = newval(m, V_DICT), *items = args->n == 1 ? args->items[0] : NULL;
        if (!d) return MC_ENOMEM;
        if (args->n > 1 || (items && items->kind != V_LIST))
            return mc_err(MC_EPARSE, "%s: %s byte %zu: OrderedDict with arguments other than a list of pairs", m->path,
                          m->where, m->base + at);
        for (int k = 0; items && k < items->n; k++) {
            val *pair = items->items[k];
            if ((pair->kind != V_LIST && pair->kind != V_TUPLE) || pair->n != 2)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: OrderedDict item %d is not a (key, value) pair", m->path,
                              m->where, m->base + at, k + 1);
            MC_TRY(additem(d, pair->items[0]));
            MC_TRY(additem(d, pair->items[1]));
        }
        *out = d;
        return MC_OK;
    }
    if (fn->fn == F_PARAM) {
        if (args->n < 1 || args->items[0]->kind != V_TENSOR)
            return mc_err(MC_EPARSE, "%s: %s byte %zu: _rebuild_parameter without a tensor", m->path, m->where,
                          m->base + at);
        *out = args->items[0];
        return MC_OK;
    }
    /* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]),
     * _rebuild_tensor(storage, storage_offset, size, stride) */
    val **a = args->items;
    if (args->n < 4 || a[0]->kind != V_STORAGE || a[1]->kind != V_INT || a[2]->kind != V_TUPLE ||
        a[3]->kind != V_TUPLE || a[2]->n != a[3]->n || a[2]->n > 8)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: _rebuild_tensor_v2 with unexpected arguments", m->path, m->where,
                      m->base + at);
    val *t = newval(m, V_TENSOR);
    if (!t) return MC_ENOMEM;
    t->storage = a[0];
    t->offset = a[1]->i;
    t->ndim = a[2]->n;
    for (int d = 0; d < t->ndim; d++)
        if (!as_int(a[2]->items[d], &t->size[d]) || !as_int(a[3]->items[d], &t->stride[d]) || t->size[d] < 0 ||
            t->stride[d] < 0)
            return mc_err(MC_EPARSE, "%s: %s byte %zu: a tensor's size or stride is not a non-negative int",
                          m->path, m->where, m->base + at);
    *out = t;
    return MC_OK;
}

static int persistent(vm *m, val *pid, size_t at, val **out) {
    if (!m->allow_pid)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: a persistent id (storage) outside the object's pickle", m->path,
                      m->where, m->base + at);
    if (pid->kind != V_TUPLE || pid->n < 5 || pid->items[0]->kind != V_STR || strcmp(pid->items[0]->s, "storage") ||
        pid->items[1]->kind != V_STYPE || pid->items[2]->kind != V_STR || pid->items[4]->kind != V_INT ||
        pid->items[4]->i < 0)
        return mc_err(MC_EPARSE, "%s: %s byte %zu: a persistent id that is not ('storage', type, key, location, "
                                 "numel)", m->path, m->where, m->base + at);
    val *s = newval(m, V_STORAGE);
    if (!s) return MC_ENOMEM;
    s->fn = pid->items[1]->fn;
    s->s = mc_strdup(pid->items[2]->s);
    s->i = pid->items[4]->i;
    if (!s->s) return MC_ENOMEM;
    /* the legacy format's sixth item: None, or a view (view_key, offset, numel) into the storage */
    if (pid->n > 6 || (pid->n == 6 && pid->items[5]->kind != V_NONE)) {
        val *vw = pid->n == 6 ? pid->items[5] : NULL;
        if (!vw || vw->kind != V_TUPLE || vw->n != 3 || vw->items[0]->kind != V_STR || vw->items[1]->kind != V_INT ||
            vw->items[2]->kind != V_INT || vw->items[1]->i < 0 || vw->items[2]->i < 0)
            return mc_err(MC_EPARSE, "%s: %s byte %zu: a storage's view metadata that is not (key, offset, numel)",
                          m->path, m->where, m->base + at);
        s->is_view = 1;
        s->view_off = vw->items[1]->i;
        s->view_n = vw->items[2]->i;
    }
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
        return mc_err(MC_EPARSE, "%s: %s byte %zu: memo index %zu too large", m->path, m->where, m->base + at, idx);
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

/* runs the pickle p[n]; *root = the object STOP returns, *used = the pickle's length (a legacy
 * file holds several in a row). Each pickle has its own stack and memo; values live on. */
static int run(vm *m, const uint8_t *p, size_t n, val **root, size_t *used) {
    size_t i = 0, memo_next = 0;
    m->sp = 0;
    m->nmarks = 0;
    if (m->cmemo) memset(m->memo, 0, m->cmemo * sizeof *m->memo);
#define NEED(k)                                                                                                        \
    do {                                                                                                               \
        if (n - i < (size_t)(k))                                                                                       \
            return mc_err(MC_EPARSE, "%s: %s byte %zu: truncated (opcode 0x%02x needs %zu bytes)", m->path, m->where,  \
                          m->base + at, op, (size_t)(k));                                                              \
    } while (0)
#define POP(v)                                                                                                         \
    do {                                                                                                               \
        if (m->sp <= (m->nmarks ? m->marks[m->nmarks - 1] : 0))                                                        \
            return mc_err(MC_EPARSE, "%s: %s byte %zu: stack underflow at opcode 0x%02x", m->path, m->where,           \
                          m->base + at, op);                                                                           \
        (v) = m->stack[--m->sp];                                                                                       \
    } while (0)
    while (i < n) {
        size_t at = i;
        uint8_t op = p[i++];
        val *v = NULL, *a = NULL, *b = NULL;
        int first = 0;
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            if (p[i] > 5) return mc_err(MC_EUNSUP, "%s: %s: pickle protocol %d", m->path, m->what, p[i]);
            i++;
            break;
        case 0x95: /* FRAME */
            NEED(8);
            i += 8;
            break;
        case '.': /* STOP */
            POP(v);
            *root = v;
            *used = i;
            return MC_OK;
        case '(':
            if (m->nmarks == m->cmarks) {
                int c = m->cmarks ? m->cmarks * 2 : 16;
                if (c > MAX_STACK)
                    return mc_err(MC_EPARSE, "%s: %s byte %zu: too many MARKs", m->path, m->where, m->base + at);
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
                return mc_err(MC_EPARSE, "%s: %s byte %zu: stack underflow at TUPLE%d", m->path, m->where, m->base + at,
                              k);
            MC_TRY(tuple_of(m, base, &v));
            MC_TRY(push(m, v));
            break;
        }
        case 's':
            if (m->sp - 3 < (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: %s byte %zu: stack underflow at SETITEM", m->path, m->where,
                              m->base + at);
            MC_TRY(setitems(m, m->stack[m->sp - 3], m->sp - 2, at));
            break;
        case 'u':
            MC_TRY(pop_mark(m, at, &first));
            if (first < 1 || first > m->sp)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: SETITEMS without a dict", m->path, m->where, m->base + at);
            MC_TRY(setitems(m, m->stack[first - 1], first, at));
            break;
        case 'a':
            if (m->sp - 2 < (m->nmarks ? m->marks[m->nmarks - 1] : 0))
                return mc_err(MC_EPARSE, "%s: %s byte %zu: stack underflow at APPEND", m->path, m->where, m->base + at);
            MC_TRY(appends(m, m->stack[m->sp - 2], m->sp - 1, at));
            break;
        case 'e':
            MC_TRY(pop_mark(m, at, &first));
            if (first < 1 || first > m->sp)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: APPENDS without a list", m->path, m->where, m->base + at);
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
            if (k > 8) { /* kept as its bytes: only the legacy format's magic number is one */
                MC_TRY(push(m, v = newval(m, V_BIGINT)));
                v->s = mc_malloc((size_t)k, "pickle integer");
                if (!v->s) return MC_ENOMEM;
                memcpy(v->s, p + i, (size_t)k);
                v->slen = (size_t)k;
                i += k;
                break;
            }
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
                return mc_err(MC_EPARSE, "%s: %s byte %zu: a GLOBAL without its two lines", m->path, m->where,
                              m->base + at);
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
        case 0x93: /* STACK_GLOBAL (protocol 4): module and name from the stack */
            POP(b);
            POP(a);
            if (a->kind != V_STR || b->kind != V_STR || strlen(a->s) != a->slen || strlen(b->s) != b->slen)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: STACK_GLOBAL of a %s and a %s, not two names", m->path,
                              m->where, m->base + at, kind_name(a->kind), kind_name(b->kind));
            MC_TRY(global(m, a->s, b->s, at, &v));
            MC_TRY(push(m, v));
            break;
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
                return mc_err(MC_EPARSE, "%s: %s byte %zu: BUILD without an object", m->path, m->where, m->base + at);
            b = m->stack[m->sp - 1];
            if (b->kind != V_DICT && b->kind != V_TENSOR)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: BUILD on a %s", m->path, m->where, m->base + at,
                              kind_name(b->kind));
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
            if (m->sp <= 0)
                return mc_err(MC_EPARSE, "%s: %s byte %zu: PUT on an empty stack", m->path, m->where, m->base + at);
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
                return mc_err(MC_EPARSE, "%s: %s byte %zu: GET of memo %zu, never PUT", m->path, m->where, m->base + at,
                              idx);
            MC_TRY(push(m, m->memo[idx]));
            break;
        }
        case '0': POP(v); break; /* POP */
        default:
            return mc_err(MC_EUNSUP, "%s: %s byte %zu: pickle opcode 0x%02x is not allowed in a state dict",
                          m->path, m->where, m->base + at, op);
        }
    }
#undef NEED
#undef POP
    return mc_err(MC_EPARSE, "%s: %s ends without STOP (truncated?)", m->path, m->what);
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

/* where the tensors' storages are: the zip archive's entries <prefix>data/<key> (sorted by name),
 * or (e == NULL: the legacy format) the bytes each V_STORAGE was given from the file's tail */
typedef struct storages {
    const mc_zip_entry *e;
    int ne;
    const char *prefix;
} storages;

/* the state dict in root (the top-level dict, or its 'model' / 'state_dict' entry) as a
 * safetensors image; len: the file's size (bounds what shared storages may expand to) */
static int to_safetensors(const char *path, val *root, size_t len, const storages *z, uint8_t **out, size_t *outlen) {
    sb hdr = {0}, data = {0};
    int rc = MC_OK;
    val *sd = root;
    if (sd->kind == V_DICT) /* fastai's {'model': ..., 'opt': ...}, Lightning-style {'state_dict': ...} */
        for (int k = 0; k < sd->n; k += 2) {
            val *key = sd->items[k], *v = sd->items[k + 1];
            if (key->kind == V_STR && (!strcmp(key->s, "model") || !strcmp(key->s, "state_dict")) &&
                v->kind == V_DICT) {
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
        const uint8_t *sdata;
        size_t sbytes;
        if (z->e) {
            snprintf(ename, sizeof ename, "%sdata/%s", z->prefix, st->s);
            const mc_zip_entry *se = find_entry(z->e, z->ne, ename);
            if (!se) {
                rc = mc_err(MC_EPARSE, "%s: tensor '%s': its storage '%s' is not in the archive", path, key->s, ename);
                goto done;
            }
            sdata = se->data;
            sbytes = se->size;
        } else {
            snprintf(ename, sizeof ename, "%s", st->s);
            if (!st->data_set) {
                rc = mc_err(MC_EPARSE, "%s: tensor '%s': its storage '%s' is not in the file's list of storages", path,
                            key->s, ename);
                goto done;
            }
            sdata = st->data;
            sbytes = st->bytes;
        }
        if (st->i > (long long)(sbytes / (size_t)es)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': storage '%s' holds %zu bytes, not %lld elements of %d bytes", path,
                        key->s, ename, sbytes, st->i, es);
            goto done;
        }
        long long sn = st->i; /* the elements the tensor may reach: the storage's, or its view's */
        if (st->is_view) {
            if (st->view_off > st->i || st->view_n > st->i - st->view_off) {
                rc = mc_err(MC_EPARSE, "%s: tensor '%s': a view of elements [%lld, +%lld) of storage '%s', which has "
                                       "%lld", path, key->s, st->view_off, st->view_n, ename, st->i);
                goto done;
            }
            sdata += (size_t)st->view_off * es;
            sn = st->view_n;
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
        if (!overflow && numel > (unsigned long long)sn) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': %llu elements from a storage of %lld (overlapping strides)", path,
                        key->s, numel, sn);
            goto done;
        }
        if (!overflow && data.n + numel * (unsigned long long)es > 2 * (unsigned long long)len + (64u << 20)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': the state dict's tensors add up to more than twice the file's "
                                   "size (storages shared many times over?)", path, key->s);
            goto done;
        }
        if (overflow || (numel && last >= (unsigned long long)sn)) {
            rc = mc_err(MC_EPARSE, "%s: tensor '%s': offset %lld and strides reach past its storage of %lld elements",
                        path, key->s, t->offset, sn);
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
            put(&data, sdata + (size_t)t->offset * es, (size_t)numel * es);
        } else {
            long long idx[8] = {0};
            for (unsigned long long q = 0; q < numel; q++) {
                long long o = t->offset;
                for (int d = 0; d < t->ndim; d++) o += idx[d] * t->stride[d];
                put(&data, sdata + (size_t)o * es, (size_t)es);
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
done:
    free(hdr.p);
    free(data.p);
    return rc;
}

/* the zip format (torch >= 1.6): <dir>/data.pkl and the storages <dir>/data/<key> */
static int read_zip(const char *path, const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen) {
    mc_zip_entry *e = NULL;
    int ne = 0, rc = mc_zip_entries(path, buf, len, &e, &ne);
    vm m = {.path = path, .what = "data.pkl", .where = "data.pkl", .allow_pid = 1};
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
    size_t used;
    if ((rc = run(&m, pkl->data, pkl->size, &root, &used)) < 0) goto done;
    storages z = {e, ne, prefix};
    rc = to_safetensors(path, root, len, &z, out, outlen);
done:
    vm_free(&m);
    mc_zip_free(e, ne);
    free(prefix);
    return rc;
}

static int cmp_storage(const void *a, const void *b) {
    return strcmp((*(val *const *)a)->s, (*(val *const *)b)->s);
}

/* The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False): five pickles in a
 * row — the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, the sys_info dict, the
 * object (storages as persistent ids ('storage', type, key, location, numel, view or None)), the
 * list of storage keys — then each listed storage: its element count (8 bytes, little-endian)
 * and its elements' bytes (little-endian, as torch writes them on any machine). */
static int read_legacy(const char *path, const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen) {
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    static const char *const names[5][2] = {
        {"the magic number's pickle (legacy format)", "the magic number's pickle (legacy format), file"},
        {"the protocol version's pickle (legacy format)", "the protocol version's pickle (legacy format), file"},
        {"the sys_info pickle (legacy format)", "the sys_info pickle (legacy format), file"},
        {"the object's pickle (legacy format)", "the object's pickle (legacy format), file"},
        {"the storage keys' pickle (legacy format)", "the storage keys' pickle (legacy format), file"}};
    vm m = {.path = path};
    val *v[5] = {NULL};
    val **st = NULL;
    size_t pos = 0, nst = 0;
    int rc = MC_OK;
    for (int k = 0; k < 5; k++) {
        if (pos == len) {
            rc = mc_err(MC_EPARSE, "%s: ends at byte %zu, before %s (truncated?)", path, pos, names[k][0]);
            goto done;
        }
        m.what = names[k][0];
        m.where = names[k][1];
        m.base = pos;
        m.allow_pid = k == 3;
        size_t used = 0;
        if ((rc = run(&m, buf + pos, len - pos, &v[k], &used)) < 0) goto done;
        if (k == 0 && (v[0]->kind != V_BIGINT || v[0]->slen != sizeof magic || memcmp(v[0]->s, magic, sizeof magic))) {
            rc = mc_err(MC_EPARSE, "%s: a pickle, but not PyTorch's legacy-format checkpoint (its first value, of type "
                                   "%s, is not the magic number 0x1950a86a20f9469cfc6c)", path, kind_name(v[0]->kind));
            goto done;
        }
        if (k == 1 && (v[1]->kind != V_INT || v[1]->i != 1001)) {
            rc = mc_err(MC_EUNSUP, "%s: legacy format protocol version %lld%s, not 1001 (the only one torch writes)",
                        path, v[1]->kind == V_INT ? v[1]->i : 0, v[1]->kind == V_INT ? "" : " (not an int)");
            goto done;
        }
        if (k == 2 && v[2]->kind != V_DICT) {
            rc = mc_err(MC_EPARSE, "%s: the legacy format's sys_info at byte %zu is a %s, not a dict", path, pos,
                        kind_name(v[2]->kind));
            goto done;
        }
        if (k == 4 && v[4]->kind != V_LIST) {
            rc = mc_err(MC_EPARSE, "%s: the legacy format's storage keys at byte %zu are a %s, not a list", path, pos,
                        kind_name(v[4]->kind));
            goto done;
        }
        pos += used;
    }
    /* the object's storages (every persistent id made one), sorted by key */
    for (size_t q = 0; q < m.narena; q++) nst += m.arena[q]->kind == V_STORAGE;
    st = mc_malloc((nst ? nst : 1) * sizeof *st, "pth storages");
    if (!st) {
        rc = MC_ENOMEM;
        goto done;
    }
    nst = 0;
    for (size_t q = 0; q < m.narena; q++)
        if (m.arena[q]->kind == V_STORAGE) st[nst++] = m.arena[q];
    qsort(st, nst, sizeof *st, cmp_storage);
    for (size_t q = 1; q < nst; q++) /* one key, one storage: the same type and size each time */
        if (!strcmp(st[q]->s, st[q - 1]->s) && (st[q]->fn != st[q - 1]->fn || st[q]->i != st[q - 1]->i)) {
            rc = mc_err(MC_EPARSE, "%s: storage '%s' is given as %s of %lld and as %s of %lld elements", path, st[q]->s,
                        DT[st[q - 1]->fn].storage, st[q - 1]->i, DT[st[q]->fn].storage, st[q]->i);
            goto done;
        }
    val *keys = v[4];
    for (int k = 0; k < keys->n; k++) {
        val *key = keys->items[k];
        if (key->kind != V_STR) {
            rc = mc_err(MC_EPARSE, "%s: storage key %d of %d in the legacy format's list is a %s, not a string", path,
                        k + 1, keys->n, kind_name(key->kind));
            goto done;
        }
        /* the first storage of this key */
        size_t lo = 0, hi = nst;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(st[mid]->s, key->s) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo == nst || strcmp(st[lo]->s, key->s)) {
            rc = mc_err(MC_EPARSE, "%s: storage '%s' (key %d of %d) is in the list but not in the object", path, key->s,
                        k + 1, keys->n);
            goto done;
        }
        if (st[lo]->data_set) {
            rc = mc_err(MC_EPARSE, "%s: storage '%s' is listed twice", path, key->s);
            goto done;
        }
        int es = DT[st[lo]->fn].bytes;
        if (len - pos < 8) {
            rc = mc_err(MC_EPARSE,
                        "%s: ends at byte %zu, in the element count of storage '%s' (key %d of %d; truncated?)", path,
                        len, key->s, k + 1, keys->n);
            goto done;
        }
        uint64_t count = 0;
        for (int q = 0; q < 8; q++) count |= (uint64_t)buf[pos + q] << (8 * q);
        if (count != (uint64_t)st[lo]->i) {
            rc = mc_err(MC_EPARSE, "%s: byte %zu: storage '%s' holds %llu elements, its persistent id says %lld", path,
                        pos, key->s, (unsigned long long)count, st[lo]->i);
            goto done;
        }
        pos += 8;
        if (count > (len - pos) / (size_t)es) {
            rc = mc_err(MC_EPARSE, "%s: ends at byte %zu, in storage '%s' (key %d of %d: %llu elements of %d bytes "
                                   "from byte %zu; truncated?)", path, len, key->s, k + 1, keys->n,
                        (unsigned long long)count, es, pos);
            goto done;
        }
        for (size_t q = lo; q < nst && !strcmp(st[q]->s, key->s); q++) {
            st[q]->data = buf + pos;
            st[q]->bytes = (size_t)count * es;
            st[q]->data_set = 1;
        }
        pos += (size_t)count * es;
    }
    if (pos != len) {
        rc = mc_err(MC_EPARSE, "%s: %zu bytes after the last storage (at byte %zu): not one torch.save file?", path,
                    len - pos, pos);
        goto done;
    }
    storages z = {NULL, 0, NULL};
    rc = to_safetensors(path, v[3], len, &z, out, outlen);
done:
    free(st);
    vm_free(&m);
    return rc;
}

int mc_pth_to_safetensors(const char *path, uint8_t **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    char *buf = NULL;
    size_t len = 0;
    MC_TRY(mc_fread_all_max(path, (size_t)1 << 34, &buf, &len));
    const uint8_t *b = (const uint8_t *)buf;
    int rc;
    if (len >= 4 && !memcmp(b, "PK\3\4", 4))
        rc = read_zip(path, b, len, out, outlen);
    else if (len >= 262 && !memcmp(b + 257, "ustar", 5))
        rc = mc_err(MC_EUNSUP, "%s: a tar archive: torch's oldest checkpoint format (its 'storages', 'tensors' and "
                               "'pickle' members) is not read; load and re-save it with torch.save under a current "
                               "torch", path);
    else if (len >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        rc = read_legacy(path, b, len, out, outlen);
    else
        rc = mc_err(MC_EPARSE, "%s: neither a zip archive nor a pickle: not a PyTorch checkpoint", path);
    free(buf);
    return rc;
}
