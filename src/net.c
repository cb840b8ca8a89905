/* net.c — building a network from a cfg, allocating it, forward / backward / update, groups
 * and freezing, parameter access (see net.h for the data layout). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"

/* [net] keys that the engine reads */
static int parse_net_section(mc_net *net, mc_cfg_section *s) {
    MC_TRY(mc_cfg_int_range(s, "batch", 1, 1, 1 << 20, &net->batch));
    MC_TRY(mc_cfg_int_req(s, "width", &net->in_w));
    MC_TRY(mc_cfg_int_req(s, "height", &net->in_h));
    MC_TRY(mc_cfg_int_req(s, "channels", &net->in_c));
    char where[512];
    if (net->in_w < 1 || net->in_h < 1 || net->in_c < 1)
        return mc_err(MC_EPARSE, "%s: [net] width, height and channels must be >= 1",
                      mc_cfg_where(s, NULL, where, sizeof where));
    static const char *const fbn[] = {"batch", "running", NULL};
    MC_TRY(mc_cfg_enum(s, "frozen_bn", fbn, MC_FROZEN_BN_BATCH, &net->frozen_bn_mode));
    /* keys read by the trainer and by darknet-compatible cfgs: known, kept for mc_net_cfg_value */
    static const char *const later[] = {
        "learning_rate", "momentum", "decay", "subdivisions", "max_batches", "policy", "steps",
        "scales", "burn_in", "angle", "saturation", "exposure", "hue", "max_lr", "epochs",
        "weight_decay", "decoupled_wd", "checkpoint_every", "seed", "freeze", "labels", NULL};
    for (int i = 0; later[i]; i++) mc_cfg_find(s, later[i]);
    return MC_OK;
}

const char *mc_net_cfg_value(const mc_net *net, const char *key) {
    if (!net->netsec) return NULL;
    for (int i = 0; i < net->netsec->nkv; i++)
        if (strcmp(net->netsec->kv[i].key, key) == 0) return net->netsec->kv[i].val;
    return NULL;
}

/* ---- helpers for layers ---------------------------------------------------------------- */
const char *mc_layer_where(const mc_layer *l, char *buf, size_t n) {
    snprintf(buf, n, "%s:%d", l->file, l->line);
    return buf;
}

int mc_layer_tensor(mc_layer *l, const char *name, int trainable, int init, float init_arg, int ndim,
                    const int *dims) {
    if (l->nt >= MC_MAX_TENSORS) return mc_err(MC_EARG, "layer %d: too many tensors", l->index);
    mc_tensor *t = &l->t[l->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->numel *= (size_t)dims[i];
    }
    t->trainable = trainable;
    t->init = init;
    t->init_arg = init_arg;
    return l->nt++;
}

float *mc_in_output(mc_net *net, const mc_layer *l, int k) {
    int j = l->in[k];
    return j == MC_INPUT ? net->input : net->layers[j].output;
}

float *mc_in_delta(mc_net *net, const mc_layer *l, int k) {
    int j = l->in[k];
    if (j == MC_INPUT) return net->want_input_grad ? net->input_delta : NULL;
    return net->layers[j].active ? net->layers[j].delta : NULL;
}

const mc_layer *mc_in_layer(const mc_net *net, const mc_layer *l, int k) {
    int j = l->in[k];
    return j == MC_INPUT ? NULL : &net->layers[j];
}

void mc_in_shape(const mc_net *net, const mc_layer *l, int k, int *c, int *h, int *w) {
    int j = l->in[k];
    if (j == MC_INPUT) {
        *c = net->in_c;
        *h = net->in_h;
        *w = net->in_w;
    } else {
        *c = net->layers[j].out_c;
        *h = net->layers[j].out_h;
        *w = net->layers[j].out_w;
    }
}

int mc_resolve_layer(mc_net *net, const mc_layer *l, const char *ref, const mc_cfg_section *s,
                     const char *key, int *out) {
    char where[512];
    mc_cfg_where(s, key, where, sizeof where);
    if (strcmp(ref, "input") == 0) {
        *out = MC_INPUT;
        return MC_OK;
    }
    char *end;
    long v = strtol(ref, &end, 10);
    if (end != ref && *end == 0) {
        long idx = v < 0 ? l->index + v : v;
        if (idx < 0 || idx >= l->index)
            return mc_err(MC_EPARSE,
                          "%s: %s=%s refers to layer %ld, but layer %d can only use layers 0..%d "
                          "(negative = relative)",
                          where, key, ref, idx, l->index, l->index - 1);
        *out = (int)idx;
        return MC_OK;
    }
    /* a name: first with this section's include prefix, then as written */
    for (int pass = 0; pass < 2; pass++) {
        char full[192];
        if (pass == 0 && !s->prefix) continue;
        snprintf(full, sizeof full, "%s%s", pass == 0 ? s->prefix : "", ref);
        for (int i = l->index - 1; i >= 0; i--)
            if (strcmp(net->layers[i].name, full) == 0) {
                *out = i;
                return MC_OK;
            }
    }
    return mc_err(MC_EPARSE, "%s: %s=%s: no earlier layer has that name (or index)", where, key, ref);
}

static const char *const act_names[] = {"linear", "relu", "leaky", "logistic", "hardtanh", NULL};
const char *mc_act_name(int type) { return type >= 0 && type <= MC_ACT_HARDTANH ? act_names[type] : "?"; }

int mc_parse_activation(mc_cfg_section *s, const char *def, mc_act *act) {
    int defi = 0;
    for (int i = 0; act_names[i]; i++)
        if (strcmp(def, act_names[i]) == 0) defi = i;
    MC_TRY(mc_cfg_enum(s, "activation", act_names, defi, &act->type));
    char where[512];
    act->a = act->b = 0;
    if (act->type == MC_ACT_LEAKY) {
        /* darknet's leaky slope is 0.1; PyTorch's LeakyReLU default is 0.01: write slope=0.01 */
        MC_TRY(mc_cfg_float(s, "slope", 0.1f, &act->a));
    } else if (mc_cfg_has(s, "slope")) {
        return mc_err(MC_EPARSE, "%s: slope= only applies to activation=leaky",
                      mc_cfg_where(s, "slope", where, sizeof where));
    }
    if (act->type == MC_ACT_HARDTANH) {
        MC_TRY(mc_cfg_float(s, "min", -1.0f, &act->a));
        MC_TRY(mc_cfg_float(s, "max", 1.0f, &act->b));
        if (!(act->a < act->b))
            return mc_err(MC_EPARSE, "%s: hardtanh needs min < max", mc_cfg_where(s, "max", where, sizeof where));
    } else if (mc_cfg_has(s, "min") || mc_cfg_has(s, "max")) {
        return mc_err(MC_EPARSE, "%s: min=/max= only apply to activation=hardtanh",
                      mc_cfg_where(s, mc_cfg_has(s, "min") ? "min" : "max", where, sizeof where));
    }
    return MC_OK;
}

int mc_layer_frozen(const mc_net *net, const mc_layer *l) { return net->group_frozen[l->group]; }

int mc_bn_use_batch(const mc_net *net, const mc_layer *l) {
    if (!net->train) return 0;
    if (mc_layer_frozen(net, l) && net->frozen_bn_mode == MC_FROZEN_BN_RUNNING) return 0;
    return 1;
}

int mc_layer_buf(mc_net *net, float **p, size_t n, const char *what) {
    if (*p) net->be->free(net->be, *p);
    *p = net->be->alloc(net->be, n, what);
    return *p ? MC_OK : MC_ENOMEM;
}

/* ---- building -------------------------------------------------------------------------- */
static int find_group(mc_net *net, const char *name, int create) {
    for (int i = 0; i < net->ngroups; i++)
        if (strcmp(net->groups[i], name) == 0) return i;
    if (!create) return MC_ENOTFOUND;
    char **ng = mc_realloc(net->groups, (size_t)(net->ngroups + 1) * sizeof *ng, "groups");
    if (!ng) return MC_ENOMEM;
    net->groups = ng;
    int *nf = mc_realloc(net->group_frozen, (size_t)(net->ngroups + 1) * sizeof *nf, "groups");
    if (!nf) return MC_ENOMEM;
    net->group_frozen = nf;
    net->groups[net->ngroups] = mc_strdup(name);
    if (!net->groups[net->ngroups]) return MC_ENOMEM;
    net->group_frozen[net->ngroups] = 0;
    return net->ngroups++;
}

static int parse_layer(mc_net *net, mc_layer *l, mc_cfg_section *s) {
    char where[512];
    l->ops = mc_layer_ops_find(s->type);
    if (!l->ops)
        return mc_err(MC_EPARSE, "%s: unknown section [%s] (known: net, include, %s)",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, mc_layer_sections());
    l->file = s->file;
    l->line = s->line;
    const char *name = NULL, *group = NULL;
    MC_TRY(mc_cfg_str(s, "name", NULL, &name));
    MC_TRY(mc_cfg_str(s, "group", NULL, &group));
    if (name) {
        char *end;
        strtol(name, &end, 10);
        if ((end != name && *end == 0) || strcmp(name, "input") == 0 || strchr(name, ','))
            return mc_err(MC_EPARSE, "%s: name=%s: a name must not be a number, 'input' or contain ','",
                          mc_cfg_where(s, "name", where, sizeof where), name);
        snprintf(l->name, sizeof l->name, "%s%s", s->prefix ? s->prefix : "", name);
        for (int i = 0; i < l->index; i++)
            if (strcmp(net->layers[i].name, l->name) == 0)
                return mc_err(MC_EPARSE, "%s: name=%s is already used by layer %d (%s:%d)",
                              mc_cfg_where(s, "name", where, sizeof where), l->name, i,
                              net->layers[i].file, net->layers[i].line);
        snprintf(l->label, sizeof l->label, "%s", l->name);
    } else {
        snprintf(l->label, sizeof l->label, "%d", l->index);
    }
    if (!group) group = s->group ? s->group : "main";
    int g = find_group(net, group, 1);
    if (g < 0) return g;
    l->group = g;
    /* the input: input= (a reference, as in [route]) or the previous layer */
    l->in = mc_malloc(sizeof(int), "layer inputs");
    if (!l->in) return MC_ENOMEM;
    l->n_in = 1;
    l->in[0] = l->index - 1 < 0 ? MC_INPUT : l->index - 1;
    const char *input = NULL;
    MC_TRY(mc_cfg_str(s, "input", NULL, &input));
    if (input) {
        if (!strcmp(s->type, "route"))
            return mc_err(MC_EPARSE, "%s: [route] takes its inputs from layers=, not input=",
                          mc_cfg_where(s, "input", where, sizeof where));
        MC_TRY(mc_resolve_layer(net, l, input, s, "input", &l->in[0]));
    }
    mc_in_shape(net, l, 0, &l->c, &l->h, &l->w);
    int rc = l->ops->parse(l, net, s);
    if (rc < 0) return rc;
    MC_TRY(mc_cfg_check_unused(s));
    if (l->out_c < 1 || l->out_h < 1 || l->out_w < 1)
        return mc_err(MC_ESHAPE, "%s: [%s] output shape %dx%dx%d is empty (input %dx%dx%d)",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, l->out_c, l->out_h,
                      l->out_w, l->c, l->h, l->w);
    l->out_n = (size_t)l->out_c * l->out_h * l->out_w;
    return MC_OK;
}

static int alloc_params(mc_net *net) {
    mc_backend *be = net->be;
    size_t np = 0, nb = 0;
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        l->param_offset = np;
        l->nparams = 0;
        for (int k = 0; k < l->nt; k++) {
            mc_tensor *t = &l->t[k];
            if (t->trainable) {
                t->offset = np;
                np += t->numel;
                l->nparams += t->numel;
            } else {
                t->offset = nb;
                nb += t->numel;
            }
        }
    }
    net->nparams = np;
    net->nbuffers = nb;
    net->params = be->alloc(be, np, "parameters");
    net->grads = be->alloc(be, np, "gradients");
    net->buffers = be->alloc(be, nb, "buffers");
    if (!net->params || !net->grads || !net->buffers) return MC_ENOMEM;
    int nt = 0;
    for (int i = 0; i < net->n; i++) nt += net->layers[i].nt;
    net->ntensors = nt;
    net->tensor_layer = mc_calloc((size_t)nt + 1, sizeof(int), "tensor index");
    net->tensor_slot = mc_calloc((size_t)nt + 1, sizeof(int), "tensor index");
    if (!net->tensor_layer || !net->tensor_slot) return MC_ENOMEM;
    int k = 0;
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        for (int j = 0; j < l->nt; j++, k++) {
            mc_tensor *t = &l->t[j];
            t->data = t->trainable ? net->params + t->offset : net->buffers + t->offset;
            t->grad = t->trainable ? net->grads + t->offset : NULL;
            const char *owner = t->owner[0] ? t->owner : l->label;
            size_t len = strlen(owner) + strlen(t->name) + 2;
            t->full = mc_malloc(len, "tensor name");
            if (!t->full) return MC_ENOMEM;
            snprintf(t->full, len, "%s.%s", owner, t->name);
            net->tensor_layer[k] = i;
            net->tensor_slot[k] = j;
        }
    }
    return MC_OK;
}

static float *delta_arena(const mc_net *net, size_t *cap);

static void free_activations(mc_net *net) {
    mc_backend *be = net->be;
    be->free(be, delta_arena(net, NULL)); /* all the deltas live in it (plan_deltas) */
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        if (!net->out_arena) be->free(be, l->output);
        l->output = l->delta = NULL;
    }
    be->free(be, net->out_arena); /* inference only: all the outputs live in it (plan_outputs) */
    net->out_arena = NULL;
    net->fwd_last = -1;
    be->free(be, net->input);
    be->free(be, net->input_delta);
    be->free(be, net->truth);
    be->free(be, net->mask);
    be->free(be, net->ws);
    be->free(be, net->scratch);
    net->input = net->input_delta = net->truth = net->mask = net->ws = net->scratch = NULL;
    net->deltas_ready = 0;
}

/* ---- memory of the outputs, inference only ------------------------------------------------
 * In a forward-only network layer i's output is needed from its own forward to the forward of
 * its last reader (the layers listing it in in[]); the last layer's output is kept. plan_outputs
 * places the outputs in one block by these lifetimes (best fit in forward order, as plan_deltas
 * does backward). A layer's output never shares memory with its inputs (they are alive while it
 * runs), and every layer writes its whole output in forward (the training network rewrites the
 * same buffers every step), so a reused region needs no clearing; MC_POISON_OUTPUTS=1 fills the
 * block with NaN to check that (tests/test_inference.c). */
static int plan_outputs(mc_net *net) {
    const int n = net->n;
    const size_t B = (size_t)net->batch;
    int *last = mc_malloc((size_t)n * 2 * sizeof(int), "output plan");
    size_t *off = mc_malloc((size_t)n * 2 * sizeof(size_t), "output plan");
    if (!last || !off) {
        free(last);
        free(off);
        return MC_ENOMEM;
    }
    int *live = last + n, nlive = 0; /* live outputs, sorted by offset */
    size_t *sz = off + n, peak = 0;
    for (int i = 0; i < n; i++) {
        last[i] = i;
        sz[i] = (B * net->layers[i].out_n + 15) & ~(size_t)15;
    }
    for (int j = 0; j < n; j++)
        for (int k = 0; k < net->layers[j].n_in; k++) {
            int i = net->layers[j].in[k];
            if (i >= 0 && j > last[i]) last[i] = j;
        }
    last[n - 1] = n; /* kept */
    for (int j = 0; j < n; j++) {
        size_t best = SIZE_MAX, bestgap = SIZE_MAX, at = 0;
        int pos = nlive;
        for (int q = 0; q < nlive; q++) {
            size_t gap = off[live[q]] - at;
            if (gap >= sz[j] && gap < bestgap) {
                best = at;
                bestgap = gap;
                pos = q;
            }
            at = off[live[q]] + sz[live[q]];
        }
        if (best == SIZE_MAX) best = at;
        off[j] = best;
        memmove(live + pos + 1, live + pos, (size_t)(nlive - pos) * sizeof(int));
        live[pos] = j;
        nlive++;
        if (best + sz[j] > peak) peak = best + sz[j];
        for (int q = 0; q < nlive;) /* the outputs whose last reader was j */
            if (last[live[q]] == j) {
                memmove(live + q, live + q + 1, (size_t)(nlive - q - 1) * sizeof(int));
                nlive--;
            } else {
                q++;
            }
    }
    free(last);
    mc_backend *be = net->be;
    net->out_arena = be->alloc(be, peak, "layer outputs");
    if (!net->out_arena) {
        free(off);
        return MC_ENOMEM;
    }
    for (int i = 0; i < n; i++) net->layers[i].output = net->out_arena + off[i];
    free(off);
    const char *poison = getenv("MC_POISON_OUTPUTS");
    if (poison && *poison == '1') return be->fill(be, net->out_arena, NAN, peak);
    return MC_OK;
}

/* Outputs, then each layer's setup (descriptors, own buffers), then the shared workspace. */
static int alloc_activations(mc_net *net) {
    mc_backend *be = net->be;
    free_activations(net);
    size_t B = (size_t)net->batch;
    net->input = be->alloc(be, B * net->in_c * net->in_h * net->in_w, "network input");
    if (!net->input) return MC_ENOMEM;
    size_t outs = net->n ? net->layers[net->n - 1].out_n : 0;
    net->truth = be->alloc(be, B * outs, "labels");
    net->mask = be->alloc(be, B * outs, "label mask");
    if (!net->truth || !net->mask) return MC_ENOMEM;
    if (net->infer_only) {
        MC_TRY(plan_outputs(net));
    } else {
        for (int i = 0; i < net->n; i++) {
            mc_layer *l = &net->layers[i];
            l->output = be->alloc(be, B * l->out_n, "layer output");
            if (!l->output) return mc_err_context(MC_ENOMEM, "layer %d (%s:%d)", i, l->file, l->line);
        }
    }
    size_t ws = 0, scratch = 0;
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        l->ws_need = l->scratch_need = 0;
        if (l->ops->setup) {
            int rc = l->ops->setup(l, net);
            if (rc < 0) return mc_err_context(rc, "layer %d (%s:%d)", i, l->file, l->line);
        }
        if (l->ws_need > ws) ws = l->ws_need;
        if (l->scratch_need > scratch) scratch = l->scratch_need;
    }
    net->ws_size = ws;
    net->scratch_size = scratch;
    net->ws = be->alloc(be, ws, "workspace");
    net->scratch = be->alloc(be, scratch, "scratch");
    if (!net->ws || !net->scratch) return MC_ENOMEM;
    return MC_OK;
}

/* ---- memory of the gradients ------------------------------------------------------------
 * The deltas (dL/d output) are only needed during backward, and each only for a while: layer i's
 * delta is written by its consumers (layers > i that read its output) and read by layer i's own
 * backward, so it lives from the backward of its last consumer to its own. plan_deltas packs
 * the deltas of the layers that run backward into one allocation (the arena) by these
 * lifetimes, as a static memory planner: walking the backward order, a delta gets the best-fitting
 * free gap of the arena when it becomes live and gives it back after its layer's backward. The
 * peak is a few of the largest tensors instead of all of them (DenseNet121 at batch 16: about
 * 3.7 GB less).
 *
 * The arena is the lowest of the deltas (the first delta placed is at offset 0) and its size is
 * at least the furthest end of a planned delta, so no other field is needed to keep it. */
static float *delta_arena(const mc_net *net, size_t *cap) {
    float *base = NULL;
    for (int i = 0; i < net->n; i++)
        if (net->layers[i].delta && (!base || net->layers[i].delta < base)) base = net->layers[i].delta;
    if (cap) {
        *cap = 0;
        for (int i = 0; base && i < net->n; i++) {
            const mc_layer *l = &net->layers[i];
            size_t end = l->delta ? (size_t)(l->delta - base) + (((size_t)net->batch * l->out_n + 15) & ~(size_t)15) : 0;
            if (end > *cap) *cap = end;
        }
    }
    return base;
}

/* last[i] = the backward step at which layer i's delta becomes live (its last consumer, or i) */
static int plan_deltas(mc_net *net, int *last) {
    const int n = net->n;
    const size_t B = (size_t)net->batch;
    for (int i = 0; i < n; i++) last[i] = -1;
    for (int j = 0; j < n; j++)
        for (int k = 0; k < net->layers[j].n_in; k++) {
            int i = net->layers[j].in[k];
            if (i >= 0 && j > last[i]) last[i] = j;
        }
    last[n - 1] = n - 1; /* its delta is given (or unused by [cost]) */
    for (int i = 0; i < n; i++)
        if (last[i] < 0) last[i] = i;
    /* offsets (floats, 64-byte aligned) by a best-fit walk; off[i] = SIZE_MAX: no delta */
    size_t *off = mc_malloc((size_t)n * 2 * sizeof(size_t), "gradient plan");
    int *live = mc_malloc((size_t)n * sizeof(int), "gradient plan");
    if (!off || !live) {
        free(off);
        free(live);
        return MC_ENOMEM;
    }
    size_t *sz = off + n, peak = 0;
    int nlive = 0; /* live deltas, sorted by offset */
    for (int i = 0; i < n; i++) {
        off[i] = SIZE_MAX;
        sz[i] = (B * net->layers[i].out_n + 15) & ~(size_t)15;
    }
    for (int j = n - 1; j >= 0; j--) {
        for (int k = -1; k < net->layers[j].n_in; k++) {
            int i = k < 0 ? j : net->layers[j].in[k];
            if (i < 0 || !net->layers[i].active || last[i] != j || off[i] != SIZE_MAX) continue;
            /* the smallest gap between live deltas that holds sz[i], else the end */
            size_t best = SIZE_MAX, bestgap = SIZE_MAX, at = 0;
            int pos = nlive;
            for (int q = 0; q < nlive; q++) {
                size_t gap = off[live[q]] - at;
                if (gap >= sz[i] && gap < bestgap) {
                    best = at;
                    bestgap = gap;
                    pos = q;
                }
                at = off[live[q]] + sz[live[q]];
            }
            if (best == SIZE_MAX) best = at; /* after the last live delta */
            off[i] = best;
            memmove(live + pos + 1, live + pos, (size_t)(nlive - pos) * sizeof(int));
            live[pos] = i;
            nlive++;
            if (best + sz[i] > peak) peak = best + sz[i];
        }
        for (int q = 0; q < nlive; q++) /* j's delta is dead after its backward */
            if (live[q] == j) {
                memmove(live + q, live + q + 1, (size_t)(nlive - q - 1) * sizeof(int));
                nlive--;
                break;
            }
    }
    free(live);
    mc_backend *be = net->be;
    size_t cap;
    float *arena = delta_arena(net, &cap);
    if (peak > cap) {
        be->free(be, arena);
        arena = peak ? be->alloc(be, peak, "layer gradients") : NULL;
        for (int i = 0; i < n; i++) net->layers[i].delta = NULL;
        if (peak && !arena) {
            free(off);
            return MC_ENOMEM;
        }
    }
    for (int i = 0; i < n; i++) net->layers[i].delta = off[i] == SIZE_MAX ? NULL : arena + off[i];
    free(off);
    if (net->want_input_grad && !net->input_delta) {
        net->input_delta = be->alloc(be, B * net->in_c * net->in_h * net->in_w, "input gradient");
        if (!net->input_delta) return MC_ENOMEM;
    }
    net->deltas_ready = 1;
    return MC_OK;
}

/* "layer.key=value": the layer is the section whose (prefixed) name= is the longest prefix of
 * the left side that is followed by '.' */
static int apply_overrides(mc_cfg *cfg, const char *const *set) {
    for (int k = 0; set && set[k]; k++) {
        const char *eq = strchr(set[k], '=');
        if (!eq || eq == set[k] || !eq[1])
            return mc_err(MC_EARG, "override '%s': expected layer.key=value", set[k]);
        int best = -1;
        size_t bestlen = 0;
        if (!strncmp(set[k], "net.", 4) && cfg->n > 0 && !strcmp(cfg->s[0].type, "net")) {
            best = 0; /* [net] keys: net.width=128 */
            bestlen = 3;
        }
        for (int i = 0; i < cfg->n; i++) {
            mc_cfg_section *s = &cfg->s[i];
            for (int j = 0; j < s->nkv; j++) {
                if (strcmp(s->kv[j].key, "name")) continue;
                char full[256];
                snprintf(full, sizeof full, "%s%s", s->prefix ? s->prefix : "", s->kv[j].val);
                size_t len = strlen(full);
                if (best != 0 && len > bestlen && !strncmp(set[k], full, len) && set[k][len] == '.' &&
                    set[k] + len < eq) {
                    best = i;
                    bestlen = len;
                }
            }
        }
        if (best < 0) return mc_err(MC_EARG, "override '%s': no layer has that name (or use net.KEY for [net])", set[k]);
        mc_cfg_section *s = &cfg->s[best];
        char key[64], val[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - set[k] - bestlen - 1), set[k] + bestlen + 1);
        snprintf(val, sizeof val, "%s", eq + 1);
        int found = 0;
        for (int j = 0; j < s->nkv && !found; j++)
            if (!strcmp(s->kv[j].key, key)) {
                char *v = mc_strdup(val);
                if (!v) return MC_ENOMEM;
                free(s->kv[j].val);
                s->kv[j].val = v;
                found = 1;
            }
        if (!found) {
            mc_cfg_kv *nk = mc_realloc(s->kv, (size_t)(s->nkv + 1) * sizeof *nk, "cfg keys");
            if (!nk) return MC_ENOMEM;
            s->kv = nk;
            s->cap = s->nkv + 1;
            mc_cfg_kv *kv = &s->kv[s->nkv];
            kv->key = mc_strdup(key);
            kv->val = mc_strdup(val);
            if (!kv->key || !kv->val) return MC_ENOMEM;
            kv->file = s->file;
            kv->line = s->line;
            kv->used = 0;
            s->nkv++;
        }
    }
    return MC_OK;
}

static int net_build(mc_net **out, mc_cfg *cfg, const mc_net_opts *opts) {
    mc_net_opts defaults = {0};
    if (!opts) opts = &defaults;
    mc_net *net = mc_calloc(1, sizeof *net, "network");
    if (!net) {
        mc_cfg_free(cfg);
        return MC_ENOMEM;
    }
    net->cfg = cfg;
    net->train = opts->inference_only ? 0 : 1;
    net->seed = opts->seed;
    int rc = MC_OK;
    char where[512];
    mc_cfg_section *s0 = &cfg->s[0];
    if (strcmp(s0->type, "net") != 0 && strcmp(s0->type, "network") != 0) {
        rc = mc_err(MC_EPARSE, "%s: the first section must be [net], got [%s]",
                    mc_cfg_where(s0, NULL, where, sizeof where), s0->type);
        goto fail;
    }
    net->netsec = s0;
    if ((rc = apply_overrides(cfg, opts->set)) < 0) goto fail;
    if ((rc = parse_net_section(net, s0)) < 0 || (rc = mc_cfg_check_unused(s0)) < 0) goto fail;
    if (opts->batch > 0) net->batch = opts->batch;
    for (int i = 1; i < cfg->n; i++)
        if (strcmp(cfg->s[i].type, "net") == 0 || strcmp(cfg->s[i].type, "network") == 0) {
            if (cfg->s[i].included) continue; /* an included cfg's own [net] is ignored */
            rc = mc_err(MC_EPARSE, "%s: [net] given again (first at %s:%d)",
                        mc_cfg_where(&cfg->s[i], NULL, where, sizeof where), s0->file, s0->line);
            goto fail;
        }
    int nl = 0;
    for (int i = 1; i < cfg->n; i++)
        if (strcmp(cfg->s[i].type, "net") && strcmp(cfg->s[i].type, "network")) nl++;
    if (nl == 0) {
        rc = mc_err(MC_EPARSE, "%s: no layers after [net]", s0->file);
        goto fail;
    }
    net->layers = mc_calloc((size_t)nl, sizeof(mc_layer), "layers");
    if (!net->layers) {
        rc = MC_ENOMEM;
        goto fail;
    }
    for (int i = 1; i < cfg->n; i++) {
        mc_cfg_section *s = &cfg->s[i];
        if (!strcmp(s->type, "net") || !strcmp(s->type, "network")) continue;
        mc_layer *l = &net->layers[net->n];
        l->index = net->n;
        net->n++;
        if ((rc = parse_layer(net, l, s)) < 0) goto fail;
    }
    if (opts->backend == MC_BACKEND_CUDA) {
#ifdef MC_GPU
        rc = mc_backend_cuda_create(&net->be, opts->gpu);
#else
        rc = mc_err(MC_EUNSUP, "this medcolor was built without GPU support (rebuild with make GPU=1 CUDNN=1)");
#endif
    } else {
        rc = mc_backend_cpu_create(&net->be);
    }
    if (rc < 0) goto fail;
    if ((rc = alloc_params(net)) < 0) goto fail;
    net->infer_only = opts->inference_only ? 1 : 0;
    if ((rc = alloc_activations(net)) < 0) goto fail;
    if (!opts->no_init && (rc = mc_net_init_params(net, NULL, opts->seed)) < 0) goto fail;
    /* freeze= in [net] */
    const char *fz = mc_net_cfg_value(net, "freeze");
    if (fz) {
        char **items;
        int n;
        if ((rc = mc_cfg_list(s0, "freeze", &items, &n)) < 0) goto fail;
        for (int i = 0; i < n && rc == MC_OK; i++)
            if (find_group(net, items[i], 0) < 0)
                rc = mc_err(MC_EPARSE, "%s: freeze=%s: no layer is in group '%s'",
                            mc_cfg_where(s0, "freeze", where, sizeof where), items[i], items[i]);
            else
                net->group_frozen[find_group(net, items[i], 0)] = 1;
        free(items);
        if (rc < 0) goto fail;
    }
    *out = net;
    return MC_OK;
fail:
    mc_net_free(net);
    return rc;
}

int mc_net_from_cfg(mc_net **out, const char *path, const mc_net_opts *opts) {
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    return net_build(out, cfg, opts);
}

int mc_net_from_string(mc_net **out, const char *text, const char *name, const mc_net_opts *opts) {
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_string(&cfg, text, name));
    return net_build(out, cfg, opts);
}

void mc_net_free(mc_net *net) {
    if (!net) return;
    if (net->be) {
        for (int i = 0; i < net->n; i++) {
            mc_layer *l = &net->layers[i];
            if (l->ops && l->ops->destroy) l->ops->destroy(l, net);
        }
        free_activations(net);
        net->be->free(net->be, net->params);
        net->be->free(net->be, net->grads);
        net->be->free(net->be, net->momentum);
        net->be->free(net->be, net->buffers);
        net->be->destroy(net->be);
    } else {
        for (int i = 0; i < net->n; i++) {
            mc_layer *l = &net->layers[i];
            if (l->ops && l->ops->destroy) l->ops->destroy(l, net);
        }
    }
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        free(l->in);
        free(l->priv);
        for (int k = 0; k < l->nt; k++) free(l->t[k].full);
    }
    free(net->layers);
    for (int i = 0; i < net->ngroups; i++) free(net->groups[i]);
    free(net->groups);
    free(net->group_frozen);
    free(net->tensor_layer);
    free(net->tensor_slot);
    mc_cfg_free(net->cfg);
    free(net);
}

int mc_net_set_batch(mc_net *net, int batch) {
    if (batch < 1) return mc_err(MC_EARG, "batch size must be >= 1, got %d", batch);
    if (batch == net->batch && net->input) return MC_OK;
    net->batch = batch;
    return alloc_activations(net);
}
int mc_net_batch(const mc_net *net) { return net->batch; }

/* ---- initialisation -------------------------------------------------------------------- */
static size_t fan_in_of(const mc_tensor *t) {
    size_t f = 1;
    for (int i = 1; i < t->ndim; i++) f *= (size_t)t->dims[i];
    return f;
}

static int init_tensor(mc_net *net, mc_tensor *t, mc_rng *rng) {
    float *h = mc_malloc(t->numel * sizeof(float), "init");
    if (!h) return MC_ENOMEM;
    size_t fi = fan_in_of(t);
    double b;
    switch (t->init) {
    case MC_INIT_ZERO:
        memset(h, 0, t->numel * sizeof(float));
        break;
    case MC_INIT_ONE:
        for (size_t i = 0; i < t->numel; i++) h[i] = 1.0f;
        break;
    case MC_INIT_KAIMING_UNIFORM:
        b = 1.0 / sqrt((double)fi);
        for (size_t i = 0; i < t->numel; i++) h[i] = (float)((2 * mc_rng_uniform(rng) - 1) * b);
        break;
    case MC_INIT_BIAS_UNIFORM:
        b = 1.0 / sqrt((double)(t->init_arg > 0 ? t->init_arg : 1));
        for (size_t i = 0; i < t->numel; i++) h[i] = (float)((2 * mc_rng_uniform(rng) - 1) * b);
        break;
    case MC_INIT_XAVIER_UNIFORM: {
        size_t fo = (size_t)t->dims[0] * (t->ndim > 2 ? fi / (size_t)t->dims[1] : 1);
        b = sqrt(6.0 / (double)(fi + fo));
        for (size_t i = 0; i < t->numel; i++) h[i] = (float)((2 * mc_rng_uniform(rng) - 1) * b);
        break;
    }
    case MC_INIT_KAIMING_NORMAL:
        b = sqrt(2.0 / (double)fi);
        for (size_t i = 0; i < t->numel; i++) h[i] = (float)(mc_rng_normal(rng) * b);
        break;
    case MC_INIT_ICNR: {
        /* W0 (out/r^2, in, kh, kw) ~ kaiming normal; W[c] = W0[c / r^2] */
        int r2 = (int)(t->init_arg * t->init_arg);
        size_t per = t->numel / (size_t)t->dims[0];
        int sub = t->dims[0] / r2;
        b = sqrt(2.0 / (double)fi);
        for (int c0 = 0; c0 < sub; c0++) {
            float *first = h + (size_t)c0 * r2 * per;
            for (size_t i = 0; i < per; i++) first[i] = (float)(mc_rng_normal(rng) * b);
        }
        /* W[c] = W0[c / r^2] (spec/modules.md): every sub-pixel filter of a channel equal */
        for (int c = t->dims[0] - 1; c >= 0; c--)
            if (c % r2) memcpy(h + (size_t)c * per, h + (size_t)(c / r2) * r2 * per, per * sizeof(float));
        break;
    }
    default:
        free(h);
        return mc_err(MC_EARG, "tensor %s: unknown init rule %d", t->full, t->init);
    }
    int rc = net->be->upload(net->be, t->data, h, t->numel);
    free(h);
    return rc;
}

int mc_net_init_params(mc_net *net, const char *group, uint64_t seed) {
    int g = -1;
    if (group && (g = find_group(net, group, 0)) < 0)
        return mc_err(MC_ENOTFOUND, "no group named '%s'", group);
    mc_rng rng;
    mc_rng_seed(&rng, seed);
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        /* every layer draws from its own stream so re-initialising one group does not depend
         * on the others: stream = seed mixed with the layer index */
        mc_rng_seed(&rng, seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i + 1);
        if (g >= 0 && l->group != g) continue;
        for (int k = 0; k < l->nt; k++) MC_TRY(init_tensor(net, &l->t[k], &rng));
    }
    if (net->momentum && g < 0) MC_TRY(net->be->fill(net->be, net->momentum, 0.0f, net->nparams));
    return MC_OK;
}

/* ---- introspection --------------------------------------------------------------------- */
void mc_net_input_shape(const mc_net *net, int *c, int *h, int *w) {
    *c = net->in_c;
    *h = net->in_h;
    *w = net->in_w;
}
int mc_net_num_layers(const mc_net *net) { return net->n; }
static const mc_layer *layer_at(const mc_net *net, int i) {
    if (i < 0) i = net->n - 1;
    return i < net->n ? &net->layers[i] : NULL;
}
int mc_net_layer_shape(const mc_net *net, int i, int *c, int *h, int *w) {
    const mc_layer *l = layer_at(net, i);
    if (!l) return mc_err(MC_EARG, "no layer %d (the net has %d)", i, net->n);
    *c = l->out_c;
    *h = l->out_h;
    *w = l->out_w;
    return MC_OK;
}
const char *mc_net_layer_type(const mc_net *net, int i) {
    const mc_layer *l = layer_at(net, i);
    return l ? l->ops->section : NULL;
}
const char *mc_net_layer_group(const mc_net *net, int i) {
    const mc_layer *l = layer_at(net, i);
    return l ? net->groups[l->group] : NULL;
}
const char *mc_net_layer_name(const mc_net *net, int i) {
    const mc_layer *l = layer_at(net, i);
    return l ? l->name : NULL;
}
int mc_net_num_outputs(const mc_net *net) { return (int)net->layers[net->n - 1].out_n; }
int mc_net_num_groups(const mc_net *net) { return net->ngroups; }
const char *mc_net_group_name(const mc_net *net, int g) {
    return g >= 0 && g < net->ngroups ? net->groups[g] : NULL;
}

int mc_net_freeze(mc_net *net, const char *group, int frozen) {
    int g = find_group(net, group, 0);
    if (g < 0) return mc_err(MC_ENOTFOUND, "no group named '%s'", group);
    net->group_frozen[g] = frozen ? 1 : 0;
    return MC_OK;
}
int mc_net_group_frozen(const mc_net *net, const char *group) {
    for (int i = 0; i < net->ngroups; i++)
        if (strcmp(net->groups[i], group) == 0) return net->group_frozen[i];
    return mc_err(MC_ENOTFOUND, "no group named '%s'", group);
}
void mc_net_set_train(mc_net *net, int train) { net->train = train ? 1 : 0; }
int mc_net_is_train(const mc_net *net) { return net->train; }
void mc_net_set_frozen_bn(mc_net *net, int mode) { net->frozen_bn_mode = mode; }
void mc_net_want_input_grad(mc_net *net, int want) {
    net->want_input_grad = want ? 1 : 0;
    if (want) net->deltas_ready = 0; /* allocate input_delta on the next backward */
}

size_t mc_net_num_params(const mc_net *net) { return net->nparams; }
size_t mc_net_num_trainable(const mc_net *net) {
    size_t n = 0;
    for (int i = 0; i < net->n; i++)
        if (!mc_layer_frozen(net, &net->layers[i])) n += net->layers[i].nparams;
    return n;
}
size_t mc_net_group_params(const mc_net *net, const char *group) {
    size_t n = 0;
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->groups[net->layers[i].group], group) == 0) n += net->layers[i].nparams;
    return n;
}

/* ---- tensors --------------------------------------------------------------------------- */
static mc_tensor *tensor_at(const mc_net *net, int i) {
    if (i < 0 || i >= net->ntensors) return NULL;
    return &net->layers[net->tensor_layer[i]].t[net->tensor_slot[i]];
}
int mc_net_num_tensors(const mc_net *net) { return net->ntensors; }
int mc_net_tensor_info(const mc_net *net, int i, mc_tensor_info *info) {
    mc_tensor *t = tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d (the net has %d)", i, net->ntensors);
    info->name = t->full;
    info->layer = net->tensor_layer[i];
    info->ndim = t->ndim;
    for (int k = 0; k < 4; k++) info->dims[k] = k < t->ndim ? t->dims[k] : 1;
    info->numel = t->numel;
    info->trainable = t->trainable;
    return MC_OK;
}
int mc_net_find_tensor(const mc_net *net, const char *name) {
    for (int i = 0; i < net->ntensors; i++)
        if (strcmp(tensor_at(net, i)->full, name) == 0) return i;
    return mc_err(MC_ENOTFOUND, "no tensor named '%s'", name);
}
int mc_net_tensor_get(const mc_net *net, int i, float *host) {
    mc_tensor *t = tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    return net->be->download(net->be, host, t->data, t->numel);
}
int mc_net_tensor_set(mc_net *net, int i, const float *host) {
    mc_tensor *t = tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    return net->be->upload(net->be, t->data, host, t->numel);
}
int mc_net_tensor_grad(const mc_net *net, int i, float *host) {
    mc_tensor *t = tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    if (!t->trainable) return mc_err(MC_EARG, "tensor %s is a buffer and has no gradient", t->full);
    return net->be->download(net->be, host, t->grad, t->numel);
}

/* ---- compute --------------------------------------------------------------------------- */
int mc_net_set_input(mc_net *net, const float *host) {
    return net->be->upload(net->be, net->input, host,
                           (size_t)net->batch * net->in_c * net->in_h * net->in_w);
}

int mc_net_set_truth(mc_net *net, const float *labels, const float *mask) {
    size_t n = (size_t)net->batch * net->layers[net->n - 1].out_n;
    MC_TRY(net->be->upload(net->be, net->truth, labels, n));
    net->has_mask = mask != NULL;
    if (mask) return net->be->upload(net->be, net->mask, mask, n);
    return net->be->fill(net->be, net->mask, 1.0f, n);
}

int mc_net_forward(mc_net *net) { return mc_net_forward_to(net, net->n - 1); }

int mc_net_forward_to(mc_net *net, int last) {
    if (last < 0 || last >= net->n) return mc_err(MC_EARG, "forward to layer %d: the net has %d layers", last, net->n);
    if (net->infer_only && net->train)
        return mc_err(MC_EARG, "this network was built for inference only (mc_net_opts.inference_only): "
                               "no forward pass in train mode");
    net->loss = NAN;
    net->fwd_last = -1;
    for (int i = 0; i <= last; i++) {
        mc_layer *l = &net->layers[i];
        int rc = l->ops->forward(l, net);
        if (rc < 0) return mc_err_context(rc, "forward, layer %d [%s] (%s:%d)", i, l->ops->section, l->file, l->line);
    }
    net->fwd_last = last;
    return MC_OK;
}

/* Which layers run backward: those with trainable (unfrozen) tensors and every layer that
 * reads, directly or not, from one of those or from the input when its gradient is wanted. */
static void mark_active(mc_net *net) {
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        l->want_wgrad = l->nparams > 0 && !mc_layer_frozen(net, l);
        int a = l->want_wgrad;
        for (int k = 0; k < l->n_in && !a; k++) {
            int j = l->in[k];
            a = j == MC_INPUT ? net->want_input_grad : net->layers[j].active;
        }
        l->active = a;
    }
}

static int run_backward(mc_net *net, const float *dy_host) {
    if (net->infer_only)
        return mc_err(MC_EARG, "this network was built for inference only (mc_net_opts.inference_only): no backward");
    mark_active(net);
    int *last = mc_malloc((size_t)net->n * sizeof(int), "gradient plan");
    if (!last) return MC_ENOMEM;
    int rc = plan_deltas(net, last);
    mc_backend *be = net->be;
    size_t B = (size_t)net->batch;
    if (rc == MC_OK && net->want_input_grad)
        rc = be->fill(be, net->input_delta, 0.0f, B * net->in_c * net->in_h * net->in_w);
    mc_layer *last_l = &net->layers[net->n - 1];
    for (int j = net->n - 1; j >= 0 && rc == MC_OK; j--) {
        mc_layer *l = &net->layers[j];
        /* the deltas that become live here start at zero (the given gradient for the last) */
        for (int k = -1; k < l->n_in && rc == MC_OK; k++) {
            int i = k < 0 ? j : l->in[k];
            if (i < 0 || !net->layers[i].active || last[i] != j) continue;
            mc_layer *li = &net->layers[i];
            if (li == last_l && dy_host)
                rc = be->upload(be, li->delta, dy_host, B * li->out_n);
            else
                rc = be->fill(be, li->delta, 0.0f, B * li->out_n);
        }
        if (rc < 0 || !l->active) continue;
        rc = l->ops->backward(l, net);
        if (rc < 0) rc = mc_err_context(rc, "backward, layer %d [%s] (%s:%d)", j, l->ops->section, l->file, l->line);
    }
    free(last);
    return rc;
}

int mc_net_backward(mc_net *net) {
    if (strcmp(net->layers[net->n - 1].ops->section, "cost") != 0)
        return mc_err(MC_EARG, "mc_net_backward: the last layer is [%s], not [cost]; use "
                               "mc_net_backward_from with an output gradient",
                      net->layers[net->n - 1].ops->section);
    return run_backward(net, NULL);
}

int mc_net_backward_from(mc_net *net, const float *dy_host) {
    if (!dy_host) return mc_err(MC_EARG, "mc_net_backward_from: no gradient given");
    return run_backward(net, dy_host);
}

int mc_net_params_finite(const mc_net *net, int *ok) {
    int a = 1, b = 1;
    MC_TRY(net->be->all_finite(net->be, net->nparams, net->params, &a));
    MC_TRY(net->be->all_finite(net->be, net->nbuffers, net->buffers, &b));
    *ok = a && b;
    return MC_OK;
}

int mc_net_zero_grad(mc_net *net) { return net->be->fill(net->be, net->grads, 0.0f, net->nparams); }

float mc_net_loss(const mc_net *net) { return (float)net->loss; }

int mc_net_get_output(const mc_net *net, int i, float *host) {
    const mc_layer *l = layer_at(net, i);
    if (!l) return mc_err(MC_EARG, "no layer %d (the net has %d)", i, net->n);
    if (net->infer_only && l->index != net->fwd_last)
        return mc_err(MC_EARG, "layer %d's output: an inference-only network keeps only the output of the layer "
                               "the last forward pass ended at (%d)", l->index, net->fwd_last);
    return net->be->download(net->be, host, l->output, (size_t)net->batch * l->out_n);
}

int mc_net_get_input_grad(const mc_net *net, float *host) {
    if (!net->want_input_grad || !net->input_delta)
        return mc_err(MC_EARG, "input gradient not computed: call mc_net_want_input_grad(net, 1) before backward");
    return net->be->download(net->be, host, net->input_delta,
                             (size_t)net->batch * net->in_c * net->in_h * net->in_w);
}

/* ---- optimiser ------------------------------------------------------------------------- */
int mc_net_sgd_step(mc_net *net, const mc_sgd *o) {
    mc_backend *be = net->be;
    if (!(isfinite(o->lr) && isfinite(o->momentum) && isfinite(o->weight_decay)))
        return mc_err(MC_EARG, "sgd: lr, momentum and weight decay must be finite");
    if (!net->momentum) {
        net->momentum = be->alloc(be, net->nparams, "momentum");
        if (!net->momentum) return MC_ENOMEM;
    }
    /* one call per run of consecutive unfrozen layers */
    int i = 0;
    while (i < net->n) {
        if (mc_layer_frozen(net, &net->layers[i]) || net->layers[i].nparams == 0) {
            i++;
            continue;
        }
        size_t off = net->layers[i].param_offset, len = 0;
        while (i < net->n && !mc_layer_frozen(net, &net->layers[i])) len += net->layers[i++].nparams;
        if (len)
            MC_TRY(be->sgd(be, len, net->params + off, net->grads + off, net->momentum + off, o->lr,
                           o->momentum, o->weight_decay, o->decoupled));
    }
    net->seen += (uint64_t)net->batch;
    return MC_OK;
}

int mc_net_group_last_layer(const mc_net *net, const char *group) {
    for (int i = net->n - 1; i >= 0; i--)
        if (!strcmp(net->groups[net->layers[i].group], group)) return i;
    return -1;
}

int mc_net_get_momentum(const mc_net *net, float *host) {
    if (!net->momentum) {
        memset(host, 0, net->nparams * sizeof(float));
        return MC_OK;
    }
    return net->be->download(net->be, host, net->momentum, net->nparams);
}

int mc_net_set_momentum(mc_net *net, const float *host) {
    if (!net->momentum) {
        net->momentum = net->be->alloc(net->be, net->nparams, "momentum");
        if (!net->momentum) return MC_ENOMEM;
    }
    return net->be->upload(net->be, net->momentum, host, net->nparams);
}

int mc_net_reset_optimizer(mc_net *net) {
    if (!net->momentum) return MC_OK;
    return net->be->fill(net->be, net->momentum, 0.0f, net->nparams);
}

uint64_t mc_net_seen(const mc_net *net) { return net->seen; }
void mc_net_set_seen(mc_net *net, uint64_t seen) { net->seen = seen; }
