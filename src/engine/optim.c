/* optim.c — the optimisers (SGD, Adam, AdamW, RMSprop: torch.optim's updates) and their state.
 *
 * The arithmetic is the backend's (sgd, adam, rmsprop: one pass per run of consecutive unfrozen
 * layers, whose trainable tensors are contiguous in net->params). Here: the coefficients of a
 * step, computed in double from the settings and the step count as torch.optim computes them in
 * Python and rounded to float where PyTorch passes them to its float kernels; the state tensors
 * (net->opt_state, allocated when first needed, zeroed by mc_net_reset_optimizer) and their
 * accessors for checkpoints. The step count is the network's: every unfrozen tensor steps
 * together (torch keeps one per parameter; they agree as long as the set of frozen groups does
 * not change between resets, which the trainer guarantees by resetting at every stage). */
#include <math.h>
#include <string.h>
#include "engine/net.h"

static const char *const names[] = {"sgd", "adam", "adamw", "rmsprop", NULL};

const char *mc_optimizer_name(int type) { return type >= 0 && type < MC_NUM_OPTIMS ? names[type] : "?"; }

int mc_optimizer_from_name(const char *name) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i])) return i;
    return mc_err(MC_EARG, "unknown optimizer '%s' (expected sgd, adam, adamw or rmsprop)", name ? name : "");
}

void mc_optimizer_defaults(mc_optimizer *o, int type) {
    memset(o, 0, sizeof *o);
    o->type = type;
    o->lr = type == MC_OPTIM_SGD ? 1e-2 : 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->alpha = 0.99;
    o->eps = 1e-8;
    if (type == MC_OPTIM_ADAMW) {
        o->weight_decay = 1e-2;
        o->decoupled = 1;
    }
}

/* the slots a step of o uses */
static int slots_of(const mc_optimizer *o, int *use) {
    memset(use, 0, MC_OPT_SLOTS * sizeof *use);
    switch (o->type) {
    case MC_OPTIM_SGD: use[0] = 1; break;
    case MC_OPTIM_ADAM:
    case MC_OPTIM_ADAMW: use[0] = use[1] = 1; break;
    case MC_OPTIM_RMSPROP:
        use[0] = 1;
        use[1] = o->centered != 0;
        use[2] = o->momentum > 0;
        break;
    default: return mc_err(MC_EARG, "unknown optimizer type %d", o->type);
    }
    return MC_OK;
}

static int alloc_slot(mc_net *net, int k) {
    if (net->opt_state[k]) return MC_OK;
    net->opt_state[k] = net->be->alloc(net->be, net->nparams, "optimizer state"); /* zero-filled */
    return net->opt_state[k] ? MC_OK : MC_ENOMEM;
}

static int check(const mc_optimizer *o) {
    const double v[] = {o->lr, o->momentum, o->beta1, o->beta2, o->alpha, o->eps, o->weight_decay};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i])) return mc_err(MC_EARG, "%s: lr, momentum, betas, alpha, eps and weight decay must be finite",
                                           mc_optimizer_name(o->type));
    if (o->lr < 0 || o->weight_decay < 0 || o->momentum < 0)
        return mc_err(MC_EARG, "%s: lr %g, weight decay %g and momentum %g must be >= 0", mc_optimizer_name(o->type),
                      o->lr, o->weight_decay, o->momentum);
    if ((o->type == MC_OPTIM_ADAM || o->type == MC_OPTIM_ADAMW) &&
        !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps >= 0))
        return mc_err(MC_EARG, "%s: betas (%g, %g) must be in [0, 1) and eps %g >= 0", mc_optimizer_name(o->type),
                      o->beta1, o->beta2, o->eps);
    if (o->type == MC_OPTIM_RMSPROP && !(o->alpha >= 0 && o->alpha <= 1 && o->eps >= 0))
        return mc_err(MC_EARG, "rmsprop: alpha %g must be in [0, 1] and eps %g >= 0", o->alpha, o->eps);
    return MC_OK;
}

int mc_net_step(mc_net *net, const mc_optimizer *o) {
    mc_backend *be = net->be;
    int use[MC_OPT_SLOTS];
    MC_TRY(slots_of(o, use));
    MC_TRY(check(o));
    if (net->opt_type >= 0 && net->opt_type != o->type && net->opt_steps > 0)
        return mc_err(MC_EARG, "the optimiser state is %s's (%lld steps): reset it (mc_net_reset_optimizer) before "
                               "stepping with %s", mc_optimizer_name(net->opt_type), net->opt_steps,
                      mc_optimizer_name(o->type));
    for (int k = 0; k < MC_OPT_SLOTS; k++)
        if (use[k]) MC_TRY(alloc_slot(net, k));
    const long long t = net->opt_steps + 1;
    const int decoupled = o->type == MC_OPTIM_ADAMW || o->decoupled;
    /* torch: AdamW p.mul_(1 - lr*wd) and fastai's true_wd; otherwise grad.add(p, alpha=wd) */
    const float l2 = decoupled ? 0.0f : (float)o->weight_decay;
    const float shrink = decoupled ? (float)(1.0 - o->lr * o->weight_decay) : 1.0f;
    mc_adam_coef ac = {0};
    mc_rmsprop_coef rc = {0};
    if (o->type == MC_OPTIM_ADAM || o->type == MC_OPTIM_ADAMW) {
        const double bc1 = 1.0 - pow(o->beta1, (double)t), bc2 = 1.0 - pow(o->beta2, (double)t);
        ac = (mc_adam_coef){.b1 = (float)o->beta1, .omb1 = (float)(1.0 - o->beta1), .b2 = (float)o->beta2,
                            .omb2 = (float)(1.0 - o->beta2), .l2 = l2, .shrink = shrink,
                            .step_size = (float)(o->lr / bc1), .bc2_sqrt = (float)sqrt(bc2), .eps = (float)o->eps};
    } else if (o->type == MC_OPTIM_RMSPROP) {
        rc = (mc_rmsprop_coef){.alpha = (float)o->alpha, .oma = (float)(1.0 - o->alpha), .eps = (float)o->eps,
                               .lr = (float)o->lr, .momentum = (float)o->momentum, .l2 = l2, .shrink = shrink,
                               .centered = o->centered != 0};
    }
    /* one call per run of consecutive unfrozen layers */
    int i = 0;
    while (i < net->n) {
        if (mc_layer_frozen(net, &net->layers[i]) || net->layers[i].nparams == 0) {
            i++;
            continue;
        }
        size_t off = net->layers[i].param_offset, len = 0;
        while (i < net->n && !mc_layer_frozen(net, &net->layers[i])) len += net->layers[i++].nparams;
        if (!len) continue;
        float *w = net->params + off, *g = net->grads + off, *s[MC_OPT_SLOTS];
        for (int k = 0; k < MC_OPT_SLOTS; k++) s[k] = use[k] ? net->opt_state[k] + off : NULL;
        switch (o->type) {
        case MC_OPTIM_SGD:
            MC_TRY(be->sgd(be, len, w, g, s[0], (float)o->lr, (float)o->momentum, (float)o->weight_decay,
                           decoupled));
            break;
        case MC_OPTIM_ADAM:
        case MC_OPTIM_ADAMW: MC_TRY(be->adam(be, len, w, g, s[0], s[1], &ac)); break;
        default: MC_TRY(be->rmsprop(be, len, w, g, s[0], s[1], s[2], &rc)); break;
        }
    }
    net->opt_type = o->type;
    net->opt_steps = t;
    net->seen += (uint64_t)net->batch;
    return MC_OK;
}

int mc_net_sgd_step(mc_net *net, const mc_sgd *s) {
    if (!(isfinite(s->lr) && isfinite(s->momentum) && isfinite(s->weight_decay)))
        return mc_err(MC_EARG, "sgd: lr, momentum and weight decay must be finite");
    mc_optimizer o;
    mc_optimizer_defaults(&o, MC_OPTIM_SGD);
    o.lr = s->lr;
    o.momentum = s->momentum;
    o.weight_decay = s->weight_decay;
    o.decoupled = s->decoupled;
    return mc_net_step(net, &o);
}

int mc_net_reset_optimizer(mc_net *net) {
    for (int k = 0; k < MC_OPT_SLOTS; k++)
        if (net->opt_state[k]) MC_TRY(net->be->fill(net->be, net->opt_state[k], 0.0f, net->nparams));
    net->opt_type = -1;
    net->opt_steps = 0;
    return MC_OK;
}

int mc_net_opt_type(const mc_net *net) { return net->opt_type; }
long long mc_net_opt_steps(const mc_net *net) { return net->opt_steps; }

int mc_net_set_opt_progress(mc_net *net, int type, long long steps) {
    if (type < -1 || type >= MC_NUM_OPTIMS || steps < 0)
        return mc_err(MC_EARG, "optimiser state: type %d, %lld steps", type, steps);
    net->opt_type = type;
    net->opt_steps = type < 0 ? 0 : steps;
    return MC_OK;
}

int mc_net_opt_has_slot(const mc_net *net, int slot) {
    return slot >= 0 && slot < MC_OPT_SLOTS && net->opt_state[slot] != NULL;
}

int mc_net_get_opt_state(const mc_net *net, int slot, float *host) {
    if (slot < 0 || slot >= MC_OPT_SLOTS) return mc_err(MC_EARG, "no optimiser state slot %d", slot);
    if (!net->opt_state[slot]) {
        memset(host, 0, net->nparams * sizeof(float));
        return MC_OK;
    }
    return net->be->download(net->be, host, net->opt_state[slot], net->nparams);
}

int mc_net_set_opt_state(mc_net *net, int slot, const float *host) {
    if (slot < 0 || slot >= MC_OPT_SLOTS) return mc_err(MC_EARG, "no optimiser state slot %d", slot);
    MC_TRY(alloc_slot(net, slot));
    return net->be->upload(net->be, net->opt_state[slot], host, net->nparams);
}

int mc_net_get_momentum(const mc_net *net, float *host) { return mc_net_get_opt_state(net, 0, host); }
int mc_net_set_momentum(mc_net *net, const float *host) { return mc_net_set_opt_state(net, 0, host); }
