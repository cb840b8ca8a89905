/* postop.c — bias, BatchNorm and activation after a linear op (see postop.h). */
#include <stdio.h>
#include <string.h>
#include "layers/postop.h"

int mc_postop_parse(mc_postop *po, mc_layer *l, mc_cfg_section *s, int c, int hw, int allow_act) {
    memset(po, 0, sizeof *po);
    po->t_bias = po->t_bn_w = po->t_bn_b = po->t_rm = po->t_rv = -1;
    po->c = c;
    po->hw = hw;
    po->bn_prefix = "bn.";
    po->bn_owner[0] = 0;
    MC_TRY(mc_cfg_int_range(s, "batch_normalize", 0, 0, 1, &po->bn));
    MC_TRY(mc_cfg_int_range(s, "bias", po->bn ? 0 : 1, 0, 1, &po->bias));
    const char *bn_name = NULL;
    MC_TRY(mc_cfg_str(s, "bn_name", NULL, &bn_name));
    if (bn_name) {
        char where[512];
        if (!po->bn)
            return mc_err(MC_EPARSE, "%s: bn_name= needs batch_normalize=1", mc_cfg_where(s, "bn_name", where, sizeof where));
        snprintf(po->bn_owner, sizeof po->bn_owner, "%s%s", s->prefix ? s->prefix : "", bn_name);
        po->bn_prefix = "";
    }
    if (allow_act)
        MC_TRY(mc_parse_activation(s, "linear", &po->act));
    else
        po->act.type = MC_ACT_LINEAR;
    return MC_OK;
}

int mc_postop_declare_pre(mc_postop *po, mc_layer *l, int fan_in) {
    int d[1] = {po->c};
    if (po->bn) {
        char nm[32];
        snprintf(nm, sizeof nm, "%sbias", po->bn_prefix);
        MC_TRY(po->t_bn_b = mc_layer_tensor(l, nm, 1, MC_INIT_ZERO, 0, 1, d));
        snprintf(nm, sizeof nm, "%sweight", po->bn_prefix);
        MC_TRY(po->t_bn_w = mc_layer_tensor(l, nm, 1, MC_INIT_ONE, 0, 1, d));
        snprintf(nm, sizeof nm, "%srunning_mean", po->bn_prefix);
        MC_TRY(po->t_rm = mc_layer_tensor(l, nm, 0, MC_INIT_ZERO, 0, 1, d));
        snprintf(nm, sizeof nm, "%srunning_var", po->bn_prefix);
        MC_TRY(po->t_rv = mc_layer_tensor(l, nm, 0, MC_INIT_ONE, 0, 1, d));
        if (po->bn_owner[0]) {
            int slots[4] = {po->t_bn_b, po->t_bn_w, po->t_rm, po->t_rv};
            for (int i = 0; i < 4; i++) snprintf(l->t[slots[i]].owner, sizeof l->t[0].owner, "%s", po->bn_owner);
        }
    } else if (po->bias) {
        MC_TRY(po->t_bias = mc_layer_tensor(l, "bias", 1, MC_INIT_BIAS_UNIFORM, (float)fan_in, 1, d));
    }
    return MC_OK;
}

int mc_postop_declare_post(mc_postop *po, mc_layer *l, int fan_in) {
    int d[1] = {po->c};
    if (po->bn && po->bias)
        MC_TRY(po->t_bias = mc_layer_tensor(l, "bias", 1, MC_INIT_BIAS_UNIFORM, (float)fan_in, 1, d));
    return MC_OK;
}

int mc_postop_setup(mc_postop *po, mc_layer *l, mc_net *net, int own_pre) {
    po->own_pre = own_pre;
    if (po->bn) {
        /* the layer's own pre-BN buffer is allocated by the layer when first needed (the batch
         * size may have changed: drop the old one): inference in place does without it */
        if (own_pre && po->pre) {
            net->be->free(net->be, po->pre);
            po->pre = NULL;
        }
        if (!po->save_mean) {
            MC_TRY(mc_layer_buf(net, &po->save_mean, (size_t)po->c, "batchnorm mean"));
            MC_TRY(mc_layer_buf(net, &po->save_invstd, (size_t)po->c, "batchnorm invstd"));
        }
    }
    return MC_OK;
}

float *mc_postop_target(mc_postop *po, mc_layer *l) { return po->bn ? po->pre : l->output; }

static mc_bn_desc bn_desc(const mc_postop *po, const mc_net *net) {
    return (mc_bn_desc){.n = net->batch, .c = po->c, .hw = po->hw, .eps = 1e-5f, .momentum = 0.1f,
                        .sum = net->sum_bn ? net->sum : NULL, .sum_ctx = net->sum_ctx};
}

int mc_postop_forward(mc_postop *po, mc_layer *l, mc_net *net) {
    mc_backend *be = net->be;
    float *lin = mc_postop_target(po, l);
    int act_done = po->act.type == MC_ACT_LINEAR;
    if (po->bias) MC_TRY(be->bias_fwd(be, net->batch, po->c, po->hw, l->t[po->t_bias].data, lin));
    if (po->bn) {
        mc_bn_desc d = bn_desc(po, net);
        float *gw = l->t[po->t_bn_w].data, *gb = l->t[po->t_bn_b].data;
        float *rm = l->t[po->t_rm].data, *rv = l->t[po->t_rv].data;
        po->used_batch_stats = mc_bn_use_batch(net, l);
        /* BN and activation in one pass where the backend has the fused operation */
        if (po->used_batch_stats && be->bn_act_fwd_train) {
            MC_TRY(be->bn_act_fwd_train(be, &d, &po->act, po->pre, gw, gb, rm, rv, 1, po->save_mean,
                                        po->save_invstd, l->output));
            act_done = 1;
        } else if (po->used_batch_stats) {
            MC_TRY(be->bn_fwd_train(be, &d, po->pre, gw, gb, rm, rv, 1, po->save_mean, po->save_invstd,
                                    l->output));
        } else if (be->bn_act_fwd_infer) {
            MC_TRY(be->bn_act_fwd_infer(be, &d, &po->act, po->pre, gw, gb, rm, rv, l->output));
            act_done = 1;
        } else {
            MC_TRY(be->bn_fwd_infer(be, &d, po->pre, gw, gb, rm, rv, l->output));
        }
    }
    if (!act_done) MC_TRY(be->act_fwd(be, &po->act, (size_t)net->batch * l->out_n, l->output, l->output));
    return MC_OK;
}

int mc_postop_backward(mc_postop *po, mc_layer *l, mc_net *net, float *dst, float beta, float **dlin) {
    mc_backend *be = net->be;
    size_t n = (size_t)net->batch * l->out_n;
    /* fused: the gradient through the activation is taken on the fly (l->delta only read) */
    const int fused = po->bn && po->used_batch_stats && be->bn_act_bwd_train;
    if (po->act.type != MC_ACT_LINEAR && !fused)
        MC_TRY(be->act_bwd(be, &po->act, n, l->output, l->delta, 0.0f, l->delta));
    float *g = l->delta;
    int bias_done = 0;
    if (po->bn) {
        mc_bn_desc d = bn_desc(po, net);
        mc_tensor *w = &l->t[po->t_bn_w], *b = &l->t[po->t_bn_b];
        float *dgw = l->want_wgrad ? w->grad : NULL, *dgb = l->want_wgrad ? b->grad : NULL;
        if (fused) {
            /* a bias before the batch norm: its gradient summed as dst is written */
            float *dbias = po->bias && l->want_wgrad && dst ? l->t[po->t_bias].grad : NULL;
            MC_TRY(be->bn_act_bwd_train(be, &d, &po->act, po->pre, l->output, g, w->data, po->save_mean,
                                        po->save_invstd, beta, dst, 1.0f, dgw, dgb, dbias));
            bias_done = dbias != NULL;
        } else if (po->used_batch_stats)
            MC_TRY(be->bn_bwd_train(be, &d, po->pre, g, w->data, po->save_mean, po->save_invstd, beta,
                                    dst, 1.0f, dgw, dgb));
        else
            MC_TRY(be->bn_bwd_infer(be, &d, po->pre, g, w->data, l->t[po->t_rm].data,
                                    l->t[po->t_rv].data, beta, dst, 1.0f, dgw, dgb));
        g = dst;
    }
    if (po->bias && l->want_wgrad && g && !bias_done)
        MC_TRY(be->bias_bwd(be, net->batch, po->c, po->hw, g, 1.0f, l->t[po->t_bias].grad));
    *dlin = g;
    return MC_OK;
}

void mc_postop_free(mc_postop *po, mc_net *net) {
    if (po->own_pre) net->be->free(net->be, po->pre);
    net->be->free(net->be, po->save_mean);
    net->be->free(net->be, po->save_invstd);
    po->pre = po->save_mean = po->save_invstd = NULL;
}
