/* run.c — passes over the network: input and labels in, forward (to any layer), backward
 * (from the [cost] layer or a given output gradient; which layers run and where their deltas
 * live), the loss, outputs and the input gradient out. (The optimisers: optim.c.) */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"

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

/* Which layers run backward: among layers 0..top (the highest layer a gradient is given at),
 * those with trainable (unfrozen) tensors and every layer that reads, directly or not, from one
 * of those or from the input when its gradient is wanted. Layers past top do nothing.
 * bottom >= 0 (a gradient query at layer bottom, mc_net_layer_grad): only bottom and the layers
 * after it that read from it, directly or not, and no weight gradient anywhere. */
static void mark_active(mc_net *net, int top, int bottom) {
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        if (i > top || i < bottom) {
            l->want_wgrad = l->active = 0;
            continue;
        }
        if (bottom >= 0) {
            l->want_wgrad = 0;
            int a = i == bottom;
            for (int k = 0; k < l->n_in && !a; k++) {
                int j = l->in[k];
                a = j != MC_INPUT && net->layers[j].active;
            }
            l->active = a;
            continue;
        }
        l->want_wgrad = l->nparams > 0 && !mc_layer_frozen(net, l);
        int a = l->want_wgrad;
        for (int k = 0; k < l->n_in && !a; k++) {
            int j = l->in[k];
            a = j == MC_INPUT ? net->want_input_grad : net->layers[j].active;
        }
        l->active = a;
    }
}

/* The backward pass from layer top down. Gradients are given (host memory) at the outputs of
 * ntaps distinct layers: tap k's delta starts at dy[k] instead of zero when it becomes live
 * (its consumers then add theirs), so the pass computes the gradient of the sum of the losses
 * those gradients come from. bottom >= 0: the pass stops above layer bottom (its delta is then
 * complete: every reader of it ran) and computes no weight gradient; -1: the whole pass. */
/* Whether layer j (l) may take input k's delta unzeroed and overwrite it: a layer whose backward
 * runs, writes each input delta once with mc_in_delta_beta (ops->overwrites_deltas), and reads
 * that input once (in[0] == in[1] would be written twice) */
static int may_overwrite(const mc_layer *l, int j, int k, int bottom) {
    if (!l->ops->overwrites_deltas || !l->active || j == bottom || k < 0 || k >= 32) return 0;
    for (int q = 0; q < l->n_in; q++)
        if (q != k && l->in[q] == l->in[k]) return 0;
    return 1;
}

static int run_backward(mc_net *net, int top, int ntaps, const int *taps, const float *const *dy, int bottom) {
    if (net->infer_only)
        return mc_err(MC_EARG, "this network was built for inference only (mc_net_opts.inference_only): no backward");
    mark_active(net, top, bottom);
    int *last = mc_malloc((size_t)net->n * sizeof(int), "gradient plan");
    if (!last) return MC_ENOMEM;
    int rc = mc_net_plan_deltas(net, last);
    mc_backend *be = net->be;
    size_t B = (size_t)net->batch;
    /* tests: the deltas handed unzeroed to their first writer hold NaN, so that a backward that
     * reads one (accumulates where it should overwrite) shows */
    const char *poison = getenv("MC_POISON_DELTAS");
    const int poison_fresh = poison && *poison == '1';
    if (rc == MC_OK && net->want_input_grad && bottom < 0)
        rc = be->fill(be, net->input_delta, 0.0f, B * net->in_c * net->in_h * net->in_w);
    for (int j = net->n - 1; j >= (bottom < 0 ? 0 : bottom) && rc == MC_OK; j--) {
        mc_layer *l = &net->layers[j];
        /* the deltas that become live here start at zero (the given gradient for the last), or
         * are left for this layer to overwrite (l->fresh: its backward is their first writer;
         * zeroing them took ~3 % of a PixelShuffle color step, 1.3 GB of memset per step) */
        l->fresh = 0;
        for (int k = -1; k < l->n_in && rc == MC_OK; k++) {
            int i = k < 0 ? j : l->in[k];
            if (i < 0 || !net->layers[i].active || last[i] != j) continue;
            mc_layer *li = &net->layers[i];
            int t = 0;
            while (t < ntaps && taps[t] != i) t++;
            if (t < ntaps) {
                rc = be->upload(be, li->delta, dy[t], B * li->out_n);
            } else if (may_overwrite(l, j, k, bottom)) {
                l->fresh |= 1u << k;
                if (poison_fresh) rc = be->fill(be, li->delta, NAN, B * li->out_n);
            } else {
                rc = be->fill(be, li->delta, 0.0f, B * li->out_n);
            }
        }
        if (rc < 0 || j == bottom) continue;
        if (l->active) {
            rc = l->ops->backward(l, net);
            l->fresh = 0;
            if (rc < 0) rc = mc_err_context(rc, "backward, layer %d [%s] (%s:%d)", j, l->ops->section, l->file, l->line);
        }
        if (rc == MC_OK && net->grad_ready && bottom < 0) rc = net->grad_ready(net->grad_ready_ctx, net, j);
    }
    free(last);
    return rc;
}

int mc_net_backward(mc_net *net) {
    if (strcmp(net->layers[net->n - 1].ops->section, "cost") != 0)
        return mc_err(MC_EARG, "mc_net_backward: the last layer is [%s], not [cost]; use "
                               "mc_net_backward_from with an output gradient",
                      net->layers[net->n - 1].ops->section);
    return run_backward(net, net->n - 1, 0, NULL, NULL, -1);
}

int mc_net_backward_from(mc_net *net, const float *dy_host) {
    if (!dy_host) return mc_err(MC_EARG, "mc_net_backward_from: no gradient given");
    int last = net->n - 1;
    return run_backward(net, last, 1, &last, &dy_host, -1);
}

/* the taps of mc_net_backward_taps and mc_net_layer_grad checked; *top = the highest */
static int check_taps(const mc_net *net, const char *fn, int ntaps, const int *layers, const float *const *dy_host,
                      int *top) {
    if (ntaps < 1 || !layers || !dy_host) return mc_err(MC_EARG, "%s: no gradient given", fn);
    *top = -1;
    for (int k = 0; k < ntaps; k++) {
        int i = layers[k];
        if (i < 0 || i >= net->n) return mc_err(MC_EARG, "%s: no layer %d (the net has %d)", fn, i, net->n);
        if (!dy_host[k]) return mc_err(MC_EARG, "%s: no gradient given for layer %d", fn, i);
        for (int q = 0; q < k; q++)
            if (layers[q] == i) return mc_err(MC_EARG, "%s: layer %d given twice (add the gradients)", fn, i);
        if (i > *top) *top = i;
    }
    if (net->fwd_last < *top)
        return mc_err(MC_EARG, "%s: the last forward pass ended at layer %d, before layer %d", fn, net->fwd_last,
                      *top);
    return MC_OK;
}

int mc_net_backward_taps(mc_net *net, int ntaps, const int *layers, const float *const *dy_host) {
    int top;
    MC_TRY(check_taps(net, "mc_net_backward_taps", ntaps, layers, dy_host, &top));
    return run_backward(net, top, ntaps, layers, dy_host, -1);
}

int mc_net_layer_grad(mc_net *net, int ntaps, const int *layers, const float *const *dy_host, int at,
                      float *grad_host) {
    int top;
    MC_TRY(check_taps(net, "mc_net_layer_grad", ntaps, layers, dy_host, &top));
    if (at < 0 || at >= net->n) return mc_err(MC_EARG, "mc_net_layer_grad: no layer %d (the net has %d)", at, net->n);
    for (int k = 0; k < ntaps; k++)
        if (layers[k] < at)
            return mc_err(MC_EARG, "mc_net_layer_grad: the gradient is given at layer %d, below layer %d", layers[k],
                          at);
    if (!grad_host) return mc_err(MC_EARG, "mc_net_layer_grad: no output buffer");
    MC_TRY(run_backward(net, top, ntaps, layers, dy_host, at));
    const mc_layer *l = &net->layers[at];
    return net->be->download(net->be, grad_host, l->delta, (size_t)net->batch * l->out_n);
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
    const mc_layer *l = mc_net_layer_at(net, i);
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
