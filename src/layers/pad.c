/* pad.c — [pad]: replication padding (PyTorch ReplicationPad2d((left, right, top, bottom))).
 * Keys: left, right, top, bottom (each default 0), mode=replicate (the only mode so far). */
#include "engine/net.h"

typedef struct pad_priv { int l, r, t, b; } pad_priv;

static int pad_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    pad_priv *p = mc_calloc(1, sizeof *p, "pad layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    static const char *const modes[] = {"replicate", NULL};
    int mode;
    MC_TRY(mc_cfg_enum(s, "mode", modes, 0, &mode));
    MC_TRY(mc_cfg_int_range(s, "left", 0, 0, 1 << 16, &p->l));
    MC_TRY(mc_cfg_int_range(s, "right", 0, 0, 1 << 16, &p->r));
    MC_TRY(mc_cfg_int_range(s, "top", 0, 0, 1 << 16, &p->t));
    MC_TRY(mc_cfg_int_range(s, "bottom", 0, 0, 1 << 16, &p->b));
    return mc_layer_out(l, s, l->c, (int64_t)l->h + p->t + p->b, (int64_t)l->w + p->l + p->r);
}

static int pad_forward(mc_layer *l, mc_net *net) {
    pad_priv *p = l->priv;
    return net->be->pad_fwd(net->be, net->batch, l->c, l->h, l->w, p->l, p->r, p->t, p->b,
                            mc_in_output(net, l, 0), l->output);
}

static int pad_backward(mc_layer *l, mc_net *net) {
    pad_priv *p = l->priv;
    float *dx = mc_in_delta(net, l, 0);
    if (!dx) return MC_OK;
    return net->be->pad_bwd(net->be, net->batch, l->c, l->h, l->w, p->l, p->r, p->t, p->b, l->delta,
                              mc_in_delta_beta(l, 0), dx);
}

const mc_layer_ops mc_layer_pad = {
    .section = "pad",
    .parse = pad_parse,
    .forward = pad_forward,
    .backward = pad_backward,
    .overwrites_deltas = 1,
};
