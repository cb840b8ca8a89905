/* route.c — [route]: concatenation along channels of earlier layers' outputs, in the listed
 * order (torch.cat(dim=1)). Keys: layers= comma-separated references: negative = relative
 * (-1 the previous layer), non-negative = absolute index, a layer name, or `input` (the
 * network input; `layers=input,input,input` turns a grey image into 3 channels). All inputs
 * must have the same height and width. */
#include <stdlib.h>
#include "engine/net.h"

static int route_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    char **items;
    int n;
    char where[512];
    MC_TRY(mc_cfg_list(s, "layers", &items, &n));
    if (n == 0) return mc_err(MC_EPARSE, "%s: [route] needs layers=", mc_cfg_where(s, NULL, where, sizeof where));
    int *in = mc_malloc((size_t)n * sizeof(int), "route inputs");
    if (!in) {
        free(items);
        return MC_ENOMEM;
    }
    free(l->in);
    l->in = in;
    l->n_in = n;
    int rc = MC_OK;
    for (int i = 0; i < n && rc == MC_OK; i++) rc = mc_resolve_layer(net, l, items[i], s, "layers", &in[i]);
    free(items);
    if (rc < 0) return rc;
    mc_in_shape(net, l, 0, &l->c, &l->h, &l->w);
    int64_t out_c = 0; /* 64 bits: many wide inputs */
    for (int i = 0; i < n; i++) {
        int c, h, w;
        mc_in_shape(net, l, i, &c, &h, &w);
        if (h != l->h || w != l->w)
            return mc_err(MC_ESHAPE, "%s: route input %d is %dx%d but input 0 is %dx%d (heights and widths must match)",
                          mc_cfg_where(s, "layers", where, sizeof where), i, h, w, l->h, l->w);
        out_c += c;
    }
    return mc_layer_out(l, s, out_c, l->h, l->w);
}

static int route_forward(mc_layer *l, mc_net *net) {
    size_t hw = (size_t)l->out_h * l->out_w, off = 0;
    for (int i = 0; i < l->n_in; i++) {
        int c, h, w;
        mc_in_shape(net, l, i, &c, &h, &w);
        MC_TRY(net->be->copy2d(net->be, (size_t)net->batch, (size_t)c * hw, mc_in_output(net, l, i),
                               (size_t)c * hw, 0.0f, l->output + off, l->out_n));
        off += (size_t)c * hw;
    }
    return MC_OK;
}

static int route_backward(mc_layer *l, mc_net *net) {
    size_t hw = (size_t)l->out_h * l->out_w, off = 0;
    for (int i = 0; i < l->n_in; i++) {
        int c, h, w;
        mc_in_shape(net, l, i, &c, &h, &w);
        float *dx = mc_in_delta(net, l, i);
        if (dx)
            MC_TRY(net->be->copy2d(net->be, (size_t)net->batch, (size_t)c * hw, l->delta + off, l->out_n,
                                   mc_in_delta_beta(l, i), dx, (size_t)c * hw));
        off += (size_t)c * hw;
    }
    return MC_OK;
}

const mc_layer_ops mc_layer_route = {
    .section = "route",
    .parse = route_parse,
    .forward = route_forward,
    .backward = route_backward,
    .overwrites_deltas = 1,
};
