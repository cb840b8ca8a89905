/* cost.c — [cost]: the loss, last layer of a training network. type=bce (the only type):
 * sigmoid + binary cross-entropy with logits, averaged over the (sample, output) entries whose
 * mask is 1 (PyTorch: BCEWithLogits(z, y, weight=mask, reduction='sum') / mask.sum()).
 * The layer's output is sigmoid(z) (probabilities); the loss is mc_net_loss(). */
#include <math.h>
#include "engine/net.h"

typedef struct cost_priv { double count; } cost_priv;

static int cost_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    cost_priv *p = mc_calloc(1, sizeof *p, "cost layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    static const char *const types[] = {"bce", NULL};
    int type;
    MC_TRY(mc_cfg_enum(s, "type", types, 0, &type));
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    return MC_OK;
}

static int cost_forward(mc_layer *l, mc_net *net) {
    cost_priv *p = l->priv;
    double loss;
    MC_TRY(net->be->bce_fwd(net->be, (size_t)net->batch * l->out_n, mc_in_output(net, l, 0), net->truth,
                            net->mask, l->output, &loss, &p->count));
    if (net->sum && net->train) {
        /* data-parallel: the loss (and the gradient's scale) of the global batch */
        double v[2] = {loss * p->count, p->count};
        MC_TRY(net->sum(net->sum_ctx, v, 2));
        p->count = v[1];
        loss = v[1] > 0 ? v[0] / v[1] : 0.0;
    }
    net->loss = loss;
    if (!isfinite(loss)) return mc_err(MC_ENUM, "the loss is %g (not finite)", loss);
    return MC_OK;
}

static int cost_backward(mc_layer *l, mc_net *net) {
    cost_priv *p = l->priv;
    float *dx = mc_in_delta(net, l, 0);
    if (!dx || p->count <= 0) return MC_OK;
    return net->be->bce_bwd(net->be, (size_t)net->batch * l->out_n, l->output, net->truth, net->mask,
                            (float)(1.0 / p->count), 1.0f, dx);
}

const mc_layer_ops mc_layer_cost = {
    .section = "cost",
    .parse = cost_parse,
    .forward = cost_forward,
    .backward = cost_backward,
};
