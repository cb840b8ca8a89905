/* shortcut.c — [shortcut]: element-wise sum of the previous layer and the layer from=, then
 * an activation (darknet's residual connection; a ResNet basic block ends with
 * activation=relu here). Keys: from= (a reference as in [route]), activation= (linear).
 * The two shapes must be equal. */
#include "engine/net.h"

static int shortcut_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    mc_act *a = mc_calloc(1, sizeof *a, "shortcut layer");
    if (!a) return MC_ENOMEM;
    l->priv = a;
    const char *from;
    char where[512];
    MC_TRY(mc_cfg_str(s, "from", NULL, &from));
    if (!from) return mc_err(MC_EPARSE, "%s: [shortcut] needs from=", mc_cfg_where(s, NULL, where, sizeof where));
    int *in = mc_realloc(l->in, 2 * sizeof(int), "shortcut inputs");
    if (!in) return MC_ENOMEM;
    l->in = in;
    l->n_in = 2;
    MC_TRY(mc_resolve_layer(net, l, from, s, "from", &l->in[1]));
    if (l->in[0] == MC_INPUT && l->index == 0)
        return mc_err(MC_EPARSE, "%s: [shortcut] cannot be the first layer", mc_cfg_where(s, NULL, where, sizeof where));
    int c, h, w;
    mc_in_shape(net, l, 1, &c, &h, &w);
    if (c != l->c || h != l->h || w != l->w)
        return mc_err(MC_ESHAPE, "%s: from=%s has shape %dx%dx%d but the previous layer has %dx%dx%d",
                      mc_cfg_where(s, "from", where, sizeof where), from, c, h, w, l->c, l->h, l->w);
    MC_TRY(mc_parse_activation(s, "linear", a));
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    return MC_OK;
}

static int shortcut_forward(mc_layer *l, mc_net *net) {
    mc_backend *be = net->be;
    size_t n = (size_t)net->batch * l->out_n;
    mc_act *a = l->priv;
    /* one pass where the backend has the fused sum + activation */
    if (be->add_act) return be->add_act(be, a, n, mc_in_output(net, l, 0), mc_in_output(net, l, 1), l->output);
    MC_TRY(be->copy2d(be, 1, n, mc_in_output(net, l, 0), n, 0.0f, l->output, n));
    MC_TRY(be->axpy(be, n, 1.0f, mc_in_output(net, l, 1), l->output));
    if (a->type != MC_ACT_LINEAR) MC_TRY(be->act_fwd(be, a, n, l->output, l->output));
    return MC_OK;
}

static int shortcut_backward(mc_layer *l, mc_net *net) {
    mc_backend *be = net->be;
    size_t n = (size_t)net->batch * l->out_n;
    mc_act *a = l->priv;
    if (a->type != MC_ACT_LINEAR) MC_TRY(be->act_bwd(be, a, n, l->output, l->delta, 0.0f, l->delta));
    for (int k = 0; k < 2; k++) {
        float *dx = mc_in_delta(net, l, k);
        if (!dx) continue;
        if (mc_in_delta_beta(l, k) == 0.0f) /* its first writer: a copy */
            MC_TRY(be->copy2d(be, 1, n, l->delta, n, 0.0f, dx, n));
        else
            MC_TRY(be->axpy(be, n, 1.0f, l->delta, dx));
    }
    return MC_OK;
}

const mc_layer_ops mc_layer_shortcut = {
    .section = "shortcut",
    .parse = shortcut_parse,
    .forward = shortcut_forward,
    .backward = shortcut_backward,
    .overwrites_deltas = 1,
};
