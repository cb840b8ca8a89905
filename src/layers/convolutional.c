/* convolutional.c — [convolutional]: 2-D convolution (groups, stride, explicit padding), then
 * optional bias, BatchNorm and activation (postop.h).
 *
 * Keys: filters (required), size (default 1), stride (1), padding (explicit, per side; default 0)
 * or darknet's pad=1 (= size/2), groups (1), init=default|xavier_uniform|kaiming_normal|icnr
 * (icnr_scale=r), plus the postop keys. Output: floor((h + 2p - size)/stride) + 1.
 * Tensors (= .weights order): see postop.h; weight [filters][c/groups][size][size]. */
#include <limits.h>
#include "layers/postop.h"

typedef struct conv_priv {
    mc_conv_desc d;
    mc_postop po;
    int t_w;
    int pre_stale; /* the last forward ran in place (eval): po.pre does not hold x * w + bias */
} conv_priv;

/* shared with deconvolutional.c */
int mc_parse_init(mc_cfg_section *s, int *rule, float *arg);
int mc_parse_init(mc_cfg_section *s, int *rule, float *arg) {
    static const char *const names[] = {"default", "xavier_uniform", "kaiming_normal", "icnr", NULL};
    static const int rules[] = {MC_INIT_KAIMING_UNIFORM, MC_INIT_XAVIER_UNIFORM, MC_INIT_KAIMING_NORMAL, MC_INIT_ICNR};
    int i;
    MC_TRY(mc_cfg_enum(s, "init", names, 0, &i));
    *rule = rules[i];
    *arg = 0;
    if (*rule == MC_INIT_ICNR) {
        int r;
        MC_TRY(mc_cfg_int_range(s, "icnr_scale", 2, 1, 64, &r));
        *arg = (float)r;
    }
    return MC_OK;
}

static int conv_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    conv_priv *p = mc_calloc(1, sizeof *p, "convolutional layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    int filters, size, stride, padding, pad, groups;
    char where[512];
    MC_TRY(mc_cfg_int_req(s, "filters", &filters));
    MC_TRY(mc_cfg_int_range(s, "size", 1, 1, 1024, &size));
    MC_TRY(mc_cfg_int_range(s, "stride", 1, 1, 1024, &stride));
    MC_TRY(mc_cfg_int_range(s, "pad", 0, 0, 1, &pad));
    MC_TRY(mc_cfg_int_range(s, "padding", pad ? size / 2 : 0, 0, 1024, &padding));
    if (pad && mc_cfg_find(s, "padding"))
        return mc_err(MC_EPARSE, "%s: give either pad=1 (darknet: size/2) or padding=, not both",
                      mc_cfg_where(s, "pad", where, sizeof where));
    MC_TRY(mc_cfg_int_range(s, "groups", 1, 1, INT_MAX, &groups));
    if (filters < 1) return mc_err(MC_EPARSE, "%s: filters must be >= 1", mc_cfg_where(s, "filters", where, sizeof where));
    if (l->c % groups || filters % groups)
        return mc_err(MC_ESHAPE, "%s: groups=%d must divide the input channels (%d) and filters (%d)",
                      mc_cfg_where(s, "groups", where, sizeof where), groups, l->c, filters);
    /* shapes in 64 bits: h + 2 * padding, and oh * ow, pass INT_MAX for large inputs */
    int64_t ph = (int64_t)l->h + 2 * padding, pw = (int64_t)l->w + 2 * padding;
    if (ph < size || pw < size)
        return mc_err(MC_ESHAPE, "%s: kernel %d is larger than the padded input %lldx%lld (padding %d)",
                      mc_cfg_where(s, "size", where, sizeof where), size, (long long)ph, (long long)pw, padding);
    MC_TRY(mc_layer_out(l, s, filters, (ph - size) / stride + 1, (pw - size) / stride + 1));
    int oh = l->out_h, ow = l->out_w;
    int64_t fan_in = (int64_t)(l->c / groups) * size * size;
    if (fan_in > MC_MAX_ELEMS)
        return mc_err(MC_ESHAPE, "%s: a filter of %d x %d x %d has more than %lld values, the most the engine supports",
                      mc_cfg_where(s, "size", where, sizeof where), l->c / groups, size, size, (long long)MC_MAX_ELEMS);
    p->d = (mc_conv_desc){.c = l->c, .h = l->h, .w = l->w, .k = filters, .oh = oh, .ow = ow,
                          .kh = size, .kw = size, .sh = stride, .sw = stride, .ph = padding, .pw = padding,
                          .groups = groups};
    int rule;
    float arg;
    MC_TRY(mc_parse_init(s, &rule, &arg));
    if (rule == MC_INIT_ICNR && filters % (int)(arg * arg))
        return mc_err(MC_ESHAPE, "%s: init=icnr with icnr_scale=%d needs filters divisible by %d",
                      mc_cfg_where(s, "init", where, sizeof where), (int)arg, (int)(arg * arg));
    MC_TRY(mc_postop_parse(&p->po, l, s, filters, oh * ow, 1)); /* oh * ow <= MC_MAX_ELEMS: mc_layer_out */
    MC_TRY(mc_postop_declare_pre(&p->po, l, (int)fan_in));
    int dims[4] = {filters, l->c / groups, size, size};
    MC_TRY(p->t_w = mc_layer_tensor(l, "weight", 1, rule, arg, 4, dims));
    MC_TRY(mc_postop_declare_post(&p->po, l, (int)fan_in));
    return MC_OK;
}

static int conv_setup(mc_layer *l, mc_net *net) {
    conv_priv *p = l->priv;
    p->d.n = net->batch;
    l->ws_need = net->be->conv_workspace(net->be, &p->d);
    if (p->po.bn) l->scratch_need = (size_t)net->batch * l->out_n;
    return mc_postop_setup(&p->po, l, net, 1);
}

/* the pre-BN buffer (batch, filters, oh, ow), allocated on first use */
static int need_pre(conv_priv *p, mc_layer *l, mc_net *net) {
    if (p->po.bn && !p->po.pre)
        return mc_layer_buf(net, &p->po.pre, (size_t)net->batch * l->out_n, "batchnorm input");
    return MC_OK;
}

static int conv_forward(mc_layer *l, mc_net *net) {
    conv_priv *p = l->priv;
    mc_backend *be = net->be;
    /* Inference with BN: convolution into the output and BN + activation in place (the fused
     * operation allows y == x), so that no pre-BN copy is kept; a backward after it computes
     * that copy again (conv_backward). */
    if (p->po.bn && !net->train && be->bn_act_fwd_infer) {
        float *pre = p->po.pre;
        MC_TRY(be->conv_fwd(be, &p->d, mc_in_output(net, l, 0), l->t[p->t_w].data, 0.0f, l->output, net->ws));
        p->po.pre = l->output;
        int rc = mc_postop_forward(&p->po, l, net);
        p->po.pre = pre;
        p->pre_stale = 1;
        return rc;
    }
    MC_TRY(need_pre(p, l, net));
    MC_TRY(be->conv_fwd(be, &p->d, mc_in_output(net, l, 0), l->t[p->t_w].data, 0.0f,
                        mc_postop_target(&p->po, l), net->ws));
    p->pre_stale = 0;
    return mc_postop_forward(&p->po, l, net);
}

static int conv_backward(mc_layer *l, mc_net *net) {
    conv_priv *p = l->priv;
    if (p->pre_stale) { /* the BN input of the last (in-place) forward, again */
        mc_backend *be = net->be;
        MC_TRY(need_pre(p, l, net));
        MC_TRY(be->conv_fwd(be, &p->d, mc_in_output(net, l, 0), l->t[p->t_w].data, 0.0f, p->po.pre, net->ws));
        if (p->po.bias)
            MC_TRY(be->bias_fwd(be, net->batch, p->po.c, p->po.hw, l->t[p->po.t_bias].data, p->po.pre));
        p->pre_stale = 0;
    }
    float *dlin, *dx = mc_in_delta(net, l, 0);
    MC_TRY(mc_postop_backward(&p->po, l, net, p->po.bn ? net->scratch : NULL, 0.0f, &dlin));
    if (l->want_wgrad)
        MC_TRY(net->be->conv_bwd_filter(net->be, &p->d, mc_in_output(net, l, 0), dlin, 1.0f,
                                        l->t[p->t_w].grad, net->ws));
    if (dx)
        MC_TRY(net->be->conv_bwd_data(net->be, &p->d, dlin, l->t[p->t_w].data, mc_in_delta_beta(l, 0), dx, net->ws));
    return MC_OK;
}

static void conv_destroy(mc_layer *l, mc_net *net) {
    conv_priv *p = l->priv;
    if (p && net->be) mc_postop_free(&p->po, net);
}

const mc_layer_ops mc_layer_convolutional = {
    .section = "convolutional",
    .parse = conv_parse,
    .setup = conv_setup,
    .forward = conv_forward,
    .backward = conv_backward,
    .overwrites_deltas = 1,
    .destroy = conv_destroy,
};
