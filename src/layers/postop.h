/* postop.h — what follows the linear part of a convolutional / deconvolutional layer:
 * optional bias, optional BatchNorm, activation (darknet's order: linear op -> bias -> BN ->
 * activation). The standalone [batchnorm] layer uses the BN part alone.
 *
 * Keys: batch_normalize=0|1, bias=0|1 (default: 1 without BN, 0 with BN as in darknet, where BN's
 * beta plays the bias; set bias=1 for PyTorch modules with conv bias followed by BN),
 * activation=, slope=, min=, max= (see mc_parse_activation), bn_name= (the BN tensors are then
 * named "<bn_name>.weight" etc. instead of "<layer>.bn.weight": PyTorch keeps conv and BN in two
 * modules, e.g. conv1 and bn1 in ResNet). */
#ifndef MC_POSTOP_H
#define MC_POSTOP_H
#include "engine/net.h"

typedef struct mc_postop {
    int bias, bn;
    mc_act act;
    int c, hw;              /* channels and spatial size of the output */
    int t_bias, t_bn_w, t_bn_b, t_rm, t_rv; /* tensor slots (-1 when absent) */
    float *pre;             /* (batch, c, hw) linear output before BN (owned) or the input (standalone) */
    int own_pre;
    float *save_mean, *save_invstd; /* (c) */
    int used_batch_stats;   /* what the last forward did */
    const char *bn_prefix;  /* tensor name prefix of the BN tensors: "bn." or "" (standalone) */
    char bn_owner[112];     /* bn_name= (with include prefix): BN tensors named "<bn_owner>.weight" */
} mc_postop;

/* Reads the keys, declares tensors. Tensor order (= .weights order) with BN: bn.bias, bn.weight,
 * bn.running_mean, bn.running_var, then the caller's weight, then bias (when bias=1); without BN:
 * bias, then the caller's weight. So the caller declares its weight between mc_postop_parse_bn
 * and mc_postop_parse_bias. */
int mc_postop_parse(mc_postop *po, mc_layer *l, mc_cfg_section *s, int c, int hw, int allow_act);
int mc_postop_declare_pre(mc_postop *po, mc_layer *l, int bias_fan_in);  /* BN tensors / bias w/o BN */
int mc_postop_declare_post(mc_postop *po, mc_layer *l, int bias_fan_in); /* bias with BN */
int mc_postop_setup(mc_postop *po, mc_layer *l, mc_net *net, int own_pre);
/* Where the linear op writes: po->pre (BN present) or l->output. */
float *mc_postop_target(mc_postop *po, mc_layer *l);
int mc_postop_forward(mc_postop *po, mc_layer *l, mc_net *net);
/* Back through activation (in place on l->delta), BN and bias. Returns in *dlin the gradient
 * with respect to the linear output: l->delta itself without BN, else dst (when BN; written
 * with beta; dst may be NULL when no input gradient is needed). */
int mc_postop_backward(mc_postop *po, mc_layer *l, mc_net *net, float *dst, float beta,
                       float **dlin);
void mc_postop_free(mc_postop *po, mc_net *net);
#endif
