/* layer_api.c — what layer implementations (src/layers/) call on the network: declaring
 * tensors, reaching their inputs' outputs and gradients, resolving layer references, reading
 * activation keys, asking about batch-norm and freezing modes, owning backend buffers. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"

/* ---- helpers for layers ---------------------------------------------------------------- */
const char *mc_layer_where(const mc_layer *l, char *buf, size_t n) {
    snprintf(buf, n, "%s:%d", l->file, l->line);
    return buf;
}

int mc_layer_out(mc_layer *l, const mc_cfg_section *s, int64_t c, int64_t h, int64_t w) {
    char where[512];
    if (c < 1 || h < 1 || w < 1)
        return mc_err(MC_ESHAPE, "%s: [%s] output shape %lldx%lldx%lld is empty (input %dx%dx%d)",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, (long long)c, (long long)h, (long long)w,
                      l->c, l->h, l->w);
    if (h > MC_MAX_ELEMS / c || w > MC_MAX_ELEMS / (c * h))
        return mc_err(MC_ESHAPE,
                      "%s: [%s] output shape %lldx%lldx%lld (input %dx%dx%d) has more than %lld values per image, "
                      "the most the engine supports",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, (long long)c, (long long)h, (long long)w,
                      l->c, l->h, l->w, (long long)MC_MAX_ELEMS);
    l->out_c = (int)c;
    l->out_h = (int)h;
    l->out_w = (int)w;
    return MC_OK;
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
        if (dims[i] < 1 || (size_t)dims[i] > (size_t)MC_MAX_ELEMS / t->numel) {
            char where[512], shape[96];
            size_t o = 0;
            for (int k = 0; k < ndim && o < sizeof shape; k++)
                o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%d", k ? ", " : "", dims[k]);
            return mc_err(MC_ESHAPE, "%s: tensor %s [%s] %s", mc_layer_where(l, where, sizeof where), name, shape,
                          dims[i] < 1 ? "has an empty dimension"
                                      : "has more than 2147483647 values, the most the engine supports");
        }
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

float mc_in_delta_beta(const mc_layer *l, int k) { return k < 32 && (l->fresh >> k & 1u) ? 0.0f : 1.0f; }

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

static const char *const act_names[] = {"linear", "relu", "leaky", "logistic", "hardtanh", "tanh", NULL};
const char *mc_act_name(int type) { return type >= 0 && type <= MC_ACT_TANH ? act_names[type] : "?"; }

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

