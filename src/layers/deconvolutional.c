/* deconvolutional.c — [deconvolutional]: transposed 2-D convolution (PyTorch ConvTranspose2d),
 * then optional bias, BatchNorm and activation (postop.h).
 *
 * Keys: filters (required), size (1), stride (1), padding (0), output_padding (0, < stride),
 * groups (1), init=, plus the postop keys (bias defaults to 1 without BN).
 * Output: (h-1)*stride - 2*padding + size + output_padding.
 * Weight [c][filters/groups][size][size] (PyTorch's transposed layout).
 *
 * No primitive of its own: with C the convolution that maps this layer's output shape to its
 * input shape (same kernel, stride, padding, groups, weight), forward is C's backward-data,
 * the input gradient is C's forward, and the weight gradient is C's backward-filter with the
 * roles of input and output gradient exchanged — as cuDNN expresses transposed convolution. */
#include <limits.h>
#include "layers/postop.h"

int mc_parse_init(mc_cfg_section *s, int *rule, float *arg);

typedef struct deconv_priv {
    mc_conv_desc d; /* the convolution from (filters, out_h, out_w) to (c, h, w) */
    mc_postop po;
    int t_w;
} deconv_priv;

static int deconv_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    deconv_priv *p = mc_calloc(1, sizeof *p, "deconvolutional layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    int filters, size, stride, padding, opad, groups;
    char where[512];
    MC_TRY(mc_cfg_int_req(s, "filters", &filters));
    MC_TRY(mc_cfg_int_range(s, "size", 1, 1, 1024, &size));
    MC_TRY(mc_cfg_int_range(s, "stride", 1, 1, 1024, &stride));
    MC_TRY(mc_cfg_int_range(s, "padding", 0, 0, 1024, &padding));
    MC_TRY(mc_cfg_int_range(s, "output_padding", 0, 0, 1024, &opad));
    MC_TRY(mc_cfg_int_range(s, "groups", 1, 1, INT_MAX, &groups));
    if (filters < 1) return mc_err(MC_EPARSE, "%s: filters must be >= 1", mc_cfg_where(s, "filters", where, sizeof where));
    if (opad >= stride)
        return mc_err(MC_ESHAPE, "%s: output_padding (%d) must be smaller than stride (%d)",
                      mc_cfg_where(s, "output_padding", where, sizeof where), opad, stride);
    if (l->c % groups || filters % groups)
        return mc_err(MC_ESHAPE, "%s: groups=%d must divide the input channels (%d) and filters (%d)",
                      mc_cfg_where(s, "groups", where, sizeof where), groups, l->c, filters);
    int64_t oh64 = ((int64_t)l->h - 1) * stride - 2 * padding + size + opad; /* 64 bits: h * stride */
    int64_t ow64 = ((int64_t)l->w - 1) * stride - 2 * padding + size + opad;
    if (oh64 < 1 || ow64 < 1)
        return mc_err(MC_ESHAPE, "%s: output %lldx%lld is empty (padding %d too large)",
                      mc_cfg_where(s, "padding", where, sizeof where), (long long)oh64, (long long)ow64, padding);
    MC_TRY(mc_layer_out(l, s, filters, oh64, ow64));
    int oh = l->out_h, ow = l->out_w;
    int64_t fan_in = (int64_t)(filters / groups) * size * size; /* PyTorch: weight.size(1) * k * k */
    if (fan_in > MC_MAX_ELEMS)
        return mc_err(MC_ESHAPE, "%s: a filter of %d x %d x %d has more than %lld values, the most the engine supports",
                      mc_cfg_where(s, "size", where, sizeof where), filters / groups, size, size,
                      (long long)MC_MAX_ELEMS);
    p->d = (mc_conv_desc){.c = filters, .h = oh, .w = ow, .k = l->c, .oh = l->h, .ow = l->w,
                          .kh = size, .kw = size, .sh = stride, .sw = stride, .ph = padding, .pw = padding,
                          .groups = groups};
    int rule;
    float arg;
    MC_TRY(mc_parse_init(s, &rule, &arg));
    MC_TRY(mc_postop_parse(&p->po, l, s, filters, oh * ow, 1)); /* oh * ow <= MC_MAX_ELEMS: mc_layer_out */
    MC_TRY(mc_postop_declare_pre(&p->po, l, (int)fan_in));
    int dims[4] = {l->c, filters / groups, size, size};
    MC_TRY(p->t_w = mc_layer_tensor(l, "weight", 1, rule, arg, 4, dims));
    MC_TRY(mc_postop_declare_post(&p->po, l, (int)fan_in));
    return MC_OK;
}

static int deconv_setup(mc_layer *l, mc_net *net) {
    deconv_priv *p = l->priv;
    p->d.n = net->batch;
    l->ws_need = net->be->conv_workspace(net->be, &p->d);
    if (p->po.bn) l->scratch_need = (size_t)net->batch * l->out_n;
    return mc_postop_setup(&p->po, l, net, 1);
}

static int deconv_forward(mc_layer *l, mc_net *net) {
    deconv_priv *p = l->priv;
    if (p->po.bn && !p->po.pre) /* the pre-BN buffer, allocated on first use */
        MC_TRY(mc_layer_buf(net, &p->po.pre, (size_t)net->batch * l->out_n, "batchnorm input"));
    MC_TRY(net->be->conv_bwd_data(net->be, &p->d, mc_in_output(net, l, 0), l->t[p->t_w].data, 0.0f,
                                  mc_postop_target(&p->po, l), net->ws));
    return mc_postop_forward(&p->po, l, net);
}

static int deconv_backward(mc_layer *l, mc_net *net) {
    deconv_priv *p = l->priv;
    float *dlin, *dx = mc_in_delta(net, l, 0);
    MC_TRY(mc_postop_backward(&p->po, l, net, p->po.bn ? net->scratch : NULL, 0.0f, &dlin));
    if (l->want_wgrad)
        MC_TRY(net->be->conv_bwd_filter(net->be, &p->d, dlin, mc_in_output(net, l, 0), 1.0f,
                                        l->t[p->t_w].grad, net->ws));
    if (dx) MC_TRY(net->be->conv_fwd(net->be, &p->d, dlin, l->t[p->t_w].data, mc_in_delta_beta(l, 0), dx, net->ws));
    return MC_OK;
}

static void deconv_destroy(mc_layer *l, mc_net *net) {
    deconv_priv *p = l->priv;
    if (p && net->be) mc_postop_free(&p->po, net);
}

const mc_layer_ops mc_layer_deconvolutional = {
    .section = "deconvolutional",
    .parse = deconv_parse,
    .setup = deconv_setup,
    .forward = deconv_forward,
    .backward = deconv_backward,
    .overwrites_deltas = 1,
    .destroy = deconv_destroy,
};
