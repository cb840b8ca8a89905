/* params.c — the network's parameters: initialisation (PyTorch's rules, a stream per layer),
 * tensors by index and name (get, set, gradient). The optimisers and their state: optim.c. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"

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
        /* W[c] = W0[c / r^2] (ICNR, docs/modules.md): every sub-pixel filter of a channel equal */
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
    if (group && (g = mc_net_find_group(net, group, 0)) < 0)
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
    if (g < 0) MC_TRY(mc_net_reset_optimizer(net));
    return MC_OK;
}

/* ---- tensors --------------------------------------------------------------------------- */
mc_tensor *mc_net_tensor_at(const mc_net *net, int i) {
    if (i < 0 || i >= net->ntensors) return NULL;
    return &net->layers[net->tensor_layer[i]].t[net->tensor_slot[i]];
}
int mc_net_num_tensors(const mc_net *net) { return net->ntensors; }
int mc_net_tensor_info(const mc_net *net, int i, mc_tensor_info *info) {
    mc_tensor *t = mc_net_tensor_at(net, i);
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
        if (strcmp(mc_net_tensor_at(net, i)->full, name) == 0) return i;
    return mc_err(MC_ENOTFOUND, "no tensor named '%s'", name);
}
int mc_net_tensor_get(const mc_net *net, int i, float *host) {
    mc_tensor *t = mc_net_tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    return net->be->download(net->be, host, t->data, t->numel);
}
int mc_net_tensor_set(mc_net *net, int i, const float *host) {
    mc_tensor *t = mc_net_tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    return net->be->upload(net->be, t->data, host, t->numel);
}
int mc_net_tensor_grad(const mc_net *net, int i, float *host) {
    mc_tensor *t = mc_net_tensor_at(net, i);
    if (!t) return mc_err(MC_EARG, "no tensor %d", i);
    if (!t->trainable) return mc_err(MC_EARG, "tensor %s is a buffer and has no gradient", t->full);
    return net->be->download(net->be, host, t->grad, t->numel);
}

int mc_net_group_last_layer(const mc_net *net, const char *group) {
    for (int i = net->n - 1; i >= 0; i--)
        if (!strcmp(net->groups[net->layers[i].group], group)) return i;
    return -1;
}

uint64_t mc_net_seen(const mc_net *net) { return net->seen; }
void mc_net_set_seen(mc_net *net, uint64_t seen) { net->seen = seen; }
