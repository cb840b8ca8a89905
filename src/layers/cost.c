/* cost.c — [cost]: the loss, last layer of a training network. Keys: type=
 *   bce (default): sigmoid + binary cross-entropy with logits, averaged over the (sample,
 *        output) entries whose mask is 1 (PyTorch: BCEWithLogits(z, y, weight=mask,
 *        reduction='sum') / mask.sum()). The layer's output is sigmoid(z) (probabilities).
 *   mse: mean squared error sum(mask*(z - t)^2) / sum(mask) over every entry of the output
 *        (batch x C x H x W: a dense target of the output's shape, e.g. the (a, b) chroma of a
 *        colorization network: the mean over batch*2*H*W); PyTorch's MSELoss() without a mask.
 *   l1:  mean absolute error sum(mask*|z - t|) / sum(mask); L1Loss() without a mask (the
 *        gradient at z = t is 0, as PyTorch's sign).
 * The mse and l1 layers' output is z itself (the prediction). The loss is mc_net_loss(); the
 * target and mask come from mc_net_set_truth (batch x the output's C*H*W values). */
#include <math.h>
#include "engine/net.h"

enum { COST_BCE = 0, COST_MSE = 1, COST_L1 = 2 };

typedef struct cost_priv {
    int type;
    double count;
} cost_priv;

static int cost_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    cost_priv *p = mc_calloc(1, sizeof *p, "cost layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    static const char *const types[] = {"bce", "mse", "l1", NULL};
    MC_TRY(mc_cfg_enum(s, "type", types, COST_BCE, &p->type));
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    return MC_OK;
}

static int reg_type(const cost_priv *p) { return p->type == COST_MSE ? MC_LOSS_MSE : MC_LOSS_L1; }

static int cost_forward(mc_layer *l, mc_net *net) {
    cost_priv *p = l->priv;
    mc_backend *be = net->be;
    const size_t n = (size_t)net->batch * l->out_n;
    const float *z = mc_in_output(net, l, 0);
    double loss;
    if (p->type == COST_BCE) {
        MC_TRY(be->bce_fwd(be, n, z, net->truth, net->mask, l->output, &loss, &p->count));
    } else {
        MC_TRY(be->reg_loss_fwd(be, reg_type(p), n, z, net->truth, net->mask, &loss, &p->count));
        MC_TRY(be->copy2d(be, 1, n, z, n, 0.0f, l->output, n));
    }
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
    const size_t n = (size_t)net->batch * l->out_n;
    if (p->type == COST_BCE)
        return net->be->bce_bwd(net->be, n, l->output, net->truth, net->mask, (float)(1.0 / p->count), 1.0f, dx);
    return net->be->reg_loss_bwd(net->be, reg_type(p), n, mc_in_output(net, l, 0), net->truth, net->mask,
                                 (float)(1.0 / p->count), 1.0f, dx);
}

const mc_layer_ops mc_layer_cost = {
    .section = "cost",
    .parse = cost_parse,
    .forward = cost_forward,
    .backward = cost_backward,
};
