/* connected.c — [connected]: fully connected (PyTorch Linear) on the flattened input
 * (c*h*w values per sample, in NCHW order, as torch.flatten), then activation.
 * Keys: output (required), bias (1), activation (linear), init=.
 * Tensors (= .weights order, as darknet): bias [output], weight [output][inputs]. */
#include <limits.h>
#include "engine/net.h"

int mc_parse_init(mc_cfg_section *s, int *rule, float *arg);

typedef struct fc_priv {
    int in, out, bias;
    mc_act act;
    int t_w, t_b;
} fc_priv;

static int fc_parse(mc_layer *l, mc_net *net, mc_cfg_section *s) {
    fc_priv *p = mc_calloc(1, sizeof *p, "connected layer");
    if (!p) return MC_ENOMEM;
    l->priv = p;
    MC_TRY(mc_cfg_int_req(s, "output", &p->out));
    char where[512];
    if (p->out < 1) return mc_err(MC_EPARSE, "%s: output must be >= 1", mc_cfg_where(s, "output", where, sizeof where));
    MC_TRY(mc_cfg_int_range(s, "bias", 1, 0, 1, &p->bias));
    MC_TRY(mc_parse_activation(s, "linear", &p->act));
    int rule;
    float arg;
    MC_TRY(mc_parse_init(s, &rule, &arg));
    if (rule == MC_INIT_ICNR) return mc_err(MC_EPARSE, "%s: init=icnr is for convolutions", mc_cfg_where(s, "init", where, sizeof where));
    p->in = (int)((int64_t)l->c * l->h * l->w); /* <= MC_MAX_ELEMS: the input is a checked layer output */
    MC_TRY(mc_layer_out(l, s, p->out, 1, 1));
    int db[1] = {p->out}, dw[2] = {p->out, p->in};
    p->t_b = -1;
    if (p->bias) MC_TRY(p->t_b = mc_layer_tensor(l, "bias", 1, MC_INIT_BIAS_UNIFORM, (float)p->in, 1, db));
    MC_TRY(p->t_w = mc_layer_tensor(l, "weight", 1, rule, arg, 2, dw));
    return MC_OK;
}

static int fc_forward(mc_layer *l, mc_net *net) {
    fc_priv *p = l->priv;
    mc_backend *be = net->be;
    /* y (B x out) = x (B x in) . W^T */
    MC_TRY(be->gemm(be, 0, 1, net->batch, p->out, p->in, 1.0f, mc_in_output(net, l, 0), p->in,
                    l->t[p->t_w].data, p->in, 0.0f, l->output, p->out));
    if (p->bias) MC_TRY(be->bias_fwd(be, net->batch, p->out, 1, l->t[p->t_b].data, l->output));
    if (p->act.type != MC_ACT_LINEAR)
        MC_TRY(be->act_fwd(be, &p->act, (size_t)net->batch * p->out, l->output, l->output));
    return MC_OK;
}

static int fc_backward(mc_layer *l, mc_net *net) {
    fc_priv *p = l->priv;
    mc_backend *be = net->be;
    if (p->act.type != MC_ACT_LINEAR)
        MC_TRY(be->act_bwd(be, &p->act, (size_t)net->batch * p->out, l->output, l->delta, 0.0f, l->delta));
    if (l->want_wgrad) {
        if (p->bias) MC_TRY(be->bias_bwd(be, net->batch, p->out, 1, l->delta, 1.0f, l->t[p->t_b].grad));
        /* dW (out x in) += dy^T (out x B) . x (B x in) */
        MC_TRY(be->gemm(be, 1, 0, p->out, p->in, net->batch, 1.0f, l->delta, p->out,
                        mc_in_output(net, l, 0), p->in, 1.0f, l->t[p->t_w].grad, p->in));
    }
    float *dx = mc_in_delta(net, l, 0);
    /* dx (B x in) += dy (B x out) . W (out x in) */
    if (dx)
        MC_TRY(be->gemm(be, 0, 0, net->batch, p->in, p->out, 1.0f, l->delta, p->out, l->t[p->t_w].data,
                        p->in, 1.0f, dx, p->in));
    return MC_OK;
}

const mc_layer_ops mc_layer_connected = {
    .section = "connected",
    .parse = fc_parse,
    .forward = fc_forward,
    .backward = fc_backward,
};
