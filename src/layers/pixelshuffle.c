/* pixelshuffle.c — [pixelshuffle]: depth-to-space by factor r (PyTorch PixelShuffle):
 * out[c][y][x] = in[c*r*r + (y mod r)*r + (x mod r)][y/r][x/r]. Keys: factor (required).
 * Input channels must be divisible by r*r. */
#include "engine/net.h"

static int ps_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    int *r = mc_calloc(1, sizeof *r, "pixelshuffle layer");
    if (!r) return MC_ENOMEM;
    l->priv = r;
    char where[512];
    MC_TRY(mc_cfg_int_req(s, "factor", r));
    if (*r < 1 || *r > 64) return mc_err(MC_EPARSE, "%s: factor must be in [1, 64]", mc_cfg_where(s, "factor", where, sizeof where));
    if (l->c % (*r * *r))
        return mc_err(MC_ESHAPE, "%s: input channels (%d) must be divisible by factor^2 (%d)",
                      mc_cfg_where(s, "factor", where, sizeof where), l->c, *r * *r);
    return mc_layer_out(l, s, l->c / (*r * *r), (int64_t)l->h * *r, (int64_t)l->w * *r);
}

static int ps_forward(mc_layer *l, mc_net *net) {
    return net->be->shuffle_fwd(net->be, net->batch, l->out_c, l->h, l->w, *(int *)l->priv,
                                mc_in_output(net, l, 0), l->output);
}

static int ps_backward(mc_layer *l, mc_net *net) {
    float *dx = mc_in_delta(net, l, 0);
    if (!dx) return MC_OK;
    return net->be->shuffle_bwd(net->be, net->batch, l->out_c, l->h, l->w, *(int *)l->priv, l->delta,
                                  mc_in_delta_beta(l, 0), dx);
}

const mc_layer_ops mc_layer_pixelshuffle = {
    .section = "pixelshuffle",
    .parse = ps_parse,
    .forward = ps_forward,
    .backward = ps_backward,
    .overwrites_deltas = 1,
};
