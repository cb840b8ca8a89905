/* maxpool.c — [maxpool]: max pooling, PyTorch semantics by default.
 * Keys: size (2), stride (= size), padding (per side, -inf padding, <= size/2; default 0).
 * Output floor((h + 2*padding - size)/stride) + 1, as PyTorch's MaxPool2d (ceil_mode off).
 * darknet=1 switches to darknet's convention: padding is the total (default size-1), the
 * window starts at -padding/2, output (h + padding - size)/stride + 1. */
#include "layers/pool.h"

static int maxpool_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    mc_pool_desc *d = mc_calloc(1, sizeof *d, "maxpool layer");
    if (!d) return MC_ENOMEM;
    l->priv = d;
    int size, stride, padding, dk;
    char where[512];
    MC_TRY(mc_cfg_int_range(s, "darknet", 0, 0, 1, &dk));
    MC_TRY(mc_cfg_int_range(s, "size", 2, 1, 1024, &size));
    MC_TRY(mc_cfg_int_range(s, "stride", size, 1, 1024, &stride));
    MC_TRY(mc_cfg_int_range(s, "padding", dk ? size - 1 : 0, 0, 1024, &padding));
    int64_t oh, ow; /* 64 bits: h + padding passes INT_MAX for large inputs */
    int pt;
    if (dk) {
        oh = ((int64_t)l->h + padding - size) / stride + 1; /* darknet's int arithmetic, in 64 bits */
        ow = ((int64_t)l->w + padding - size) / stride + 1;
        pt = padding / 2;
    } else {
        if (2 * padding > size)
            return mc_err(MC_EPARSE, "%s: padding (%d) must be at most half the size (%d), as in PyTorch",
                          mc_cfg_where(s, "padding", where, sizeof where), padding, size);
        int64_t ph = (int64_t)l->h + 2 * padding, pw = (int64_t)l->w + 2 * padding;
        if (ph < size || pw < size)
            return mc_err(MC_ESHAPE, "%s: window %d is larger than the padded input %lldx%lld",
                          mc_cfg_where(s, "size", where, sizeof where), size, (long long)ph, (long long)pw);
        oh = (ph - size) / stride + 1;
        ow = (pw - size) / stride + 1;
        pt = padding;
    }
    MC_TRY(mc_layer_out(l, s, l->c, oh, ow));
    *d = (mc_pool_desc){.mode = MC_POOL_MAX, .c = l->c, .h = l->h, .w = l->w, .oh = l->out_h, .ow = l->out_w,
                        .kh = size, .kw = size, .sh = stride, .sw = stride, .pt = pt, .pl = pt};
    return MC_OK;
}

const mc_layer_ops mc_layer_maxpool = {
    .section = "maxpool",
    .parse = maxpool_parse,
    .setup = mc_pool_setup,
    .forward = mc_pool_forward,
    .backward = mc_pool_backward,
    .overwrites_deltas = 1,
};

