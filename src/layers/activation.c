/* activation.c — [activation]: an element-wise activation as a layer of its own.
 * Keys: activation= (linear, relu, leaky with slope= [darknet default 0.1], logistic,
 * hardtanh with min=/max= [default -1, 1]). */
#include "engine/net.h"

static int act_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    mc_act *a = mc_calloc(1, sizeof *a, "activation layer");
    if (!a) return MC_ENOMEM;
    l->priv = a;
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    return mc_parse_activation(s, "linear", a);
}

static int act_forward(mc_layer *l, mc_net *net) {
    return net->be->act_fwd(net->be, l->priv, (size_t)net->batch * l->out_n, mc_in_output(net, l, 0),
                            l->output);
}

static int act_backward(mc_layer *l, mc_net *net) {
    float *dx = mc_in_delta(net, l, 0);
    if (!dx) return MC_OK;
    return net->be->act_bwd(net->be, l->priv, (size_t)net->batch * l->out_n, l->output, l->delta,
                            mc_in_delta_beta(l, 0), dx);
}

const mc_layer_ops mc_layer_activation = {
    .section = "activation",
    .parse = act_parse,
    .forward = act_forward,
    .backward = act_backward,
    .overwrites_deltas = 1,
};
