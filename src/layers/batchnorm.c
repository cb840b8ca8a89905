/* batchnorm.c — [batchnorm]: standalone BatchNorm2d over the input's channels (PyTorch
 * semantics: eps 1e-5, momentum 0.1, affine). Used where BN follows an activation (ColorU).
 * Keys: activation= (default linear) applied after the normalisation (DenseNet's norm + relu).
 * Tensors (= .weights order): weight, running_mean, running_var (darknet's [batchnorm]
 * order: scales, rolling mean, rolling variance), then bias (darknet does not save it). */
#include "layers/postop.h"

static int bn_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    mc_postop *po = mc_calloc(1, sizeof *po, "batchnorm layer");
    if (!po) return MC_ENOMEM;
    l->priv = po;
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    po->t_bias = po->t_bn_w = po->t_bn_b = po->t_rm = po->t_rv = -1;
    po->c = l->c;
    po->hw = l->h * l->w;
    po->bn = 1;
    MC_TRY(mc_parse_activation(s, "linear", &po->act));
    po->bn_prefix = "";
    int d[1] = {l->c};
    MC_TRY(po->t_bn_w = mc_layer_tensor(l, "weight", 1, MC_INIT_ONE, 0, 1, d));
    MC_TRY(po->t_rm = mc_layer_tensor(l, "running_mean", 0, MC_INIT_ZERO, 0, 1, d));
    MC_TRY(po->t_rv = mc_layer_tensor(l, "running_var", 0, MC_INIT_ONE, 0, 1, d));
    MC_TRY(po->t_bn_b = mc_layer_tensor(l, "bias", 1, MC_INIT_ZERO, 0, 1, d));
    return MC_OK;
}

static int bn_setup(mc_layer *l, mc_net *net) { return mc_postop_setup(l->priv, l, net, 0); }

static int bn_forward(mc_layer *l, mc_net *net) {
    mc_postop *po = l->priv;
    po->pre = mc_in_output(net, l, 0);
    return mc_postop_forward(po, l, net);
}

static int bn_backward(mc_layer *l, mc_net *net) {
    mc_postop *po = l->priv;
    float *dlin;
    po->pre = mc_in_output(net, l, 0);
    return mc_postop_backward(po, l, net, mc_in_delta(net, l, 0), mc_in_delta_beta(l, 0), &dlin);
}

static void bn_destroy(mc_layer *l, mc_net *net) {
    if (l->priv && net->be) mc_postop_free(l->priv, net);
}

const mc_layer_ops mc_layer_batchnorm = {
    .section = "batchnorm",
    .parse = bn_parse,
    .setup = bn_setup,
    .forward = bn_forward,
    .backward = bn_backward,
    .overwrites_deltas = 1,
    .destroy = bn_destroy,
};
