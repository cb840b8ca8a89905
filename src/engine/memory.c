/* memory.c — the engine's memory planning: the parameter blob (params, grads, buffers and the
 * tensor index), layer outputs (one buffer each when training; one block planned by lifetime
 * for inference-only networks), each layer's setup and the shared workspace, and the deltas of
 * the backward pass (one block planned by lifetime). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"

int mc_net_alloc_params(mc_net *net) {
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

void mc_net_free_activations(mc_net *net) {
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
int mc_net_alloc_activations(mc_net *net) {
    mc_backend *be = net->be;
    mc_net_free_activations(net);
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
int mc_net_plan_deltas(mc_net *net, int *last) {
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

