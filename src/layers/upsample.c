/* upsample.c — [upsample]: enlarges the input by an integer factor f (PyTorch
 * F.interpolate(scale_factor=f); nn.Upsample). Keys: stride= (darknet's name) or factor= (the
 * same; one of them, default 2), mode=nearest (default) or bilinear (align_corners=False:
 * PyTorch's source index (o + 0.5)/f - 0.5 clamped at 0, edges replicated). Output
 * (c, h*f, w*f). The arithmetic is the backend's upsample_fwd / upsample_bwd (backend.h); the
 * backward pass gathers each input gradient in a fixed order (no scatter, no atomics). */
#include "engine/net.h"

typedef struct up_priv {
    int f, mode;
} up_priv;

static int up_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    up_priv *p = mc_calloc(1, sizeof *p, "upsample layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    char where[512];
    if (mc_cfg_has(s, "stride") && mc_cfg_has(s, "factor"))
        return mc_err(MC_EPARSE, "%s: give the factor once: stride= (darknet's name) or factor=",
                      mc_cfg_where(s, "factor", where, sizeof where));
    const char *key = mc_cfg_has(s, "stride") ? "stride" : "factor";
    MC_TRY(mc_cfg_int(s, key, 2, &p->f));
    if (p->f < 1 || p->f > 64)
        return mc_err(MC_EPARSE, "%s: %s=%d: the factor must be an integer in [1, 64]",
                      mc_cfg_where(s, key, where, sizeof where), key, p->f);
    static const char *const modes[] = {"nearest", "bilinear", NULL};
    MC_TRY(mc_cfg_enum(s, "mode", modes, MC_UP_NEAREST, &p->mode));
    l->out_c = l->c;
    l->out_h = l->h * p->f;
    l->out_w = l->w * p->f;
    return MC_OK;
}

static int up_forward(mc_layer *l, mc_net *net) {
    const up_priv *p = l->priv;
    return net->be->upsample_fwd(net->be, p->mode, net->batch, l->c, l->h, l->w, p->f, mc_in_output(net, l, 0),
                                 l->output);
}

static int up_backward(mc_layer *l, mc_net *net) {
    const up_priv *p = l->priv;
    float *dx = mc_in_delta(net, l, 0);
    if (!dx) return MC_OK;
    return net->be->upsample_bwd(net->be, p->mode, net->batch, l->c, l->h, l->w, p->f, l->delta,
                                    mc_in_delta_beta(l, 0), dx);
}

const mc_layer_ops mc_layer_upsample = {
    .section = "upsample",
    .parse = up_parse,
    .forward = up_forward,
    .backward = up_backward,
    .overwrites_deltas = 1,
};
