/* avgpool.c — [avgpool]: without size= a global average (darknet's avgpool: output c x 1 x 1); with size=,
 * a k x k average with stride (= size) and zero padding per side counted in the divisor
 * (PyTorch's AvgPool2d defaults: count_include_pad, floor). */
#include "layers/pool.h"

static int avgpool_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    mc_pool_desc *d = mc_calloc(1, sizeof *d, "avgpool layer");
    if (!d) return MC_ENOMEM;
    l->priv = d;
    char where[512];
    int size, stride, padding;
    if (!mc_cfg_has(s, "size")) {
        if (mc_cfg_has(s, "stride") || mc_cfg_has(s, "padding"))
            return mc_err(MC_EPARSE, "%s: stride=/padding= need size= (without size, [avgpool] is global)",
                          mc_cfg_where(s, NULL, where, sizeof where));
        size = -1;
        stride = 1;
        padding = 0;
    } else {
        MC_TRY(mc_cfg_int_range(s, "size", 2, 1, 1 << 20, &size));
        MC_TRY(mc_cfg_int_range(s, "stride", size, 1, 1 << 20, &stride));
        MC_TRY(mc_cfg_int_range(s, "padding", 0, 0, 1 << 20, &padding));
        if (2 * padding > size)
            return mc_err(MC_EPARSE, "%s: padding (%d) must be at most half the size (%d), as in PyTorch",
                          mc_cfg_where(s, "padding", where, sizeof where), padding, size);
    }
    int kh = size < 0 ? l->h : size, kw = size < 0 ? l->w : size;
    int64_t ph = (int64_t)l->h + 2 * padding, pw = (int64_t)l->w + 2 * padding; /* 64 bits: h near INT_MAX */
    if (ph < kh || pw < kw)
        return mc_err(MC_ESHAPE, "%s: window %d is larger than the padded input %lldx%lld",
                      mc_cfg_where(s, "size", where, sizeof where), size, (long long)ph, (long long)pw);
    MC_TRY(mc_layer_out(l, s, l->c, (ph - kh) / stride + 1, (pw - kw) / stride + 1));
    *d = (mc_pool_desc){.mode = MC_POOL_AVG, .c = l->c, .h = l->h, .w = l->w, .oh = l->out_h,
                        .ow = l->out_w, .kh = kh, .kw = kw, .sh = stride, .sw = stride, .pt = padding,
                        .pl = padding};
    return MC_OK;
}

const mc_layer_ops mc_layer_avgpool = {
    .section = "avgpool",
    .parse = avgpool_parse,
    .setup = mc_pool_setup,
    .forward = mc_pool_forward,
    .backward = mc_pool_backward,
    .overwrites_deltas = 1,
};
