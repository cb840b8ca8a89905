/* pool.c — forward/backward shared by [maxpool] and [avgpool]: both keep an mc_pool_desc in
 * l->priv and call the backend pooling primitives. */
#include "layers/pool.h"

int mc_pool_setup(mc_layer *l, mc_net *net) {
    ((mc_pool_desc *)l->priv)->n = net->batch;
    return MC_OK;
}

int mc_pool_forward(mc_layer *l, mc_net *net) {
    return net->be->pool_fwd(net->be, l->priv, mc_in_output(net, l, 0), l->output);
}

int mc_pool_backward(mc_layer *l, mc_net *net) {
    float *dx = mc_in_delta(net, l, 0);
    if (!dx) return MC_OK;
    return net->be->pool_bwd(net->be, l->priv, mc_in_output(net, l, 0), l->output, l->delta,
                              mc_in_delta_beta(l, 0), dx);
}

