/* net.c — building a network from a cfg ([net] keys, layers, groups, --set overrides), freeing
 * it, and what a caller asks of its structure (shapes, groups, freezing, modes). Memory is
 * planned in memory.c, parameters live in params.c, passes run in run.c (see net.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "engine/netmeta.h"

/* darknet's training keys: medcolor's trainer has its own (one-cycle SGD, max_lr, epochs,
 * weight_decay), so a darknet cfg's values would be ignored; refused, saying what to use */
static const char *const darknet_keys[][2] = {
    {"learning_rate", "use max_lr (the one-cycle peak learning rate) in [net] or in the experiment"},
    {"momentum", "one-cycle SGD sets the momentum itself (0.95 -> 0.85 -> 0.95); remove it"},
    {"decay", "use weight_decay in [net] or in the experiment"},
    {"subdivisions", "batch= is the batch of one SGD step (medcolor does not subdivide it); remove it"},
    {"max_batches", "use epochs in [net] or in the experiment (max_iters in an experiment's [stage] cuts a run)"},
    {"policy", "the schedule is one-cycle: use max_lr and epochs in [net] or in the experiment"},
    {"steps", "the schedule is one-cycle: use max_lr and epochs in [net] or in the experiment"},
    {"scales", "the schedule is one-cycle: use max_lr and epochs in [net] or in the experiment"},
    {"burn_in", "one-cycle warms up over its first 30%: use max_lr and epochs in [net] or in the experiment"},
    {"angle", "training augmentation is fixed (fastai v1's: rotation up to 10 degrees, zoom up to 1.1); remove it"},
    {"saturation", "the images are grey and training augmentation is fixed (rotation, zoom); remove it"},
    {"exposure", "training augmentation is fixed (fastai v1's: rotation up to 10 degrees, zoom up to 1.1); remove it"},
    {"hue", "the images are grey and training augmentation is fixed (rotation, zoom); remove it"},
};

int mc_cfg_checkpoint_every(mc_cfg_section *s, long *out) {
    mc_cfg_kv *kv = mc_cfg_find(s, "checkpoint_every");
    if (!kv) return MC_OK;
    if (!strcmp(kv->val, "epoch")) {
        *out = MC_EVERY_EPOCH;
        return MC_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(kv->val, &end, 10);
    if (errno || end == kv->val || *end || v < 1 || v > INT_MAX)
        return mc_err(MC_EPARSE, "%s:%d: [%s] checkpoint_every=%s: expected an integer >= 1 (iterations) or epoch",
                      kv->file, kv->line, s->type, kv->val);
    *out = v;
    return MC_OK;
}

int mc_net_section_train_keys(mc_cfg_section *s, mc_net_train_keys *k) {
    for (int i = 0; i < s->nkv; i++)
        for (size_t j = 0; j < sizeof darknet_keys / sizeof darknet_keys[0]; j++)
            if (!strcmp(s->kv[i].key, darknet_keys[j][0]))
                return mc_err(MC_EPARSE,
                              "%s:%d: [net] %s=%s is a darknet training key that medcolor's trainer does not use; "
                              "%s (docs/training.md)",
                              s->kv[i].file, s->kv[i].line, s->kv[i].key, s->kv[i].val, darknet_keys[j][1]);
    int iv;
    MC_TRY(mc_cfg_double_min(s, "max_lr", 0, 0, 1, &k->max_lr));
    MC_TRY(mc_cfg_int_range(s, "epochs", 1, 1, 100000, &iv));
    k->epochs = mc_cfg_has(s, "epochs") ? iv : 0;
    k->checkpoint_every = 0;
    MC_TRY(mc_cfg_checkpoint_every(s, &k->checkpoint_every));
    MC_TRY(mc_cfg_double_min(s, "weight_decay", -1, 0, 0, &k->weight_decay));
    MC_TRY(mc_cfg_int_range(s, "decoupled_wd", 1, 0, 1, &iv));
    k->decoupled = mc_cfg_has(s, "decoupled_wd") ? iv : -1;
    MC_TRY(mc_cfg_int_range(s, "seed", 0, 0, INT_MAX, &iv));
    k->seed = mc_cfg_has(s, "seed") ? iv : -1;
    static const char *const fbn[] = {"batch", "running", NULL};
    MC_TRY(mc_cfg_enum(s, "frozen_bn", fbn, MC_FROZEN_BN_BATCH, &iv));
    k->frozen_bn = mc_cfg_has(s, "frozen_bn") ? iv : -1;
    return MC_OK;
}

/* [net] keys that the engine reads; the trainer's are validated here and read again by the
 * experiment (mc_net_cfg_train_keys) */
static int parse_net_section(mc_net *net, mc_cfg_section *s) {
    MC_TRY(mc_cfg_int_range(s, "batch", 1, 1, 1 << 20, &net->batch));
    MC_TRY(mc_cfg_int_req(s, "width", &net->in_w));
    MC_TRY(mc_cfg_int_req(s, "height", &net->in_h));
    MC_TRY(mc_cfg_int_req(s, "channels", &net->in_c));
    char where[512];
    if (net->in_w < 1 || net->in_h < 1 || net->in_c < 1)
        return mc_err(MC_EPARSE, "%s: [net] width, height and channels must be >= 1",
                      mc_cfg_where(s, NULL, where, sizeof where));
    mc_net_train_keys k;
    MC_TRY(mc_net_section_train_keys(s, &k));
    net->frozen_bn_mode = k.frozen_bn < 0 ? MC_FROZEN_BN_BATCH : k.frozen_bn;
    /* image-to-image networks: how the CIELAB lightness becomes the input (L * l_scale + l_shift),
     * read by the colorization trainer and predictor (mc_color_input_scaling); both or neither */
    double ls, lsh;
    MC_TRY(mc_cfg_double(s, "l_scale", 0, &ls));
    MC_TRY(mc_cfg_double(s, "l_shift", 0, &lsh));
    if (mc_cfg_has(s, "l_scale") != mc_cfg_has(s, "l_shift"))
        return mc_err(MC_EPARSE, "%s: [net] l_scale and l_shift go together: give both or neither",
                      mc_cfg_where(s, mc_cfg_has(s, "l_scale") ? "l_scale" : "l_shift", where, sizeof where));
    if (mc_cfg_has(s, "l_scale") && !(isfinite(ls) && isfinite(lsh) && ls != 0))
        return mc_err(MC_EPARSE, "%s: [net] l_scale=%g, l_shift=%g: both must be finite and l_scale non-zero",
                      mc_cfg_where(s, "l_scale", where, sizeof where), ls, lsh);
    /* read later: freeze (below, in net_build), labels (mc_net_cfg_value: predict's header) */
    mc_cfg_find(s, "freeze");
    mc_cfg_find(s, "labels");
    return MC_OK;
}

const char *mc_net_cfg_value(const mc_net *net, const char *key) {
    if (!net->netsec) return NULL;
    for (int i = 0; i < net->netsec->nkv; i++)
        if (strcmp(net->netsec->kv[i].key, key) == 0) return net->netsec->kv[i].val;
    return NULL;
}

/* ---- building -------------------------------------------------------------------------- */
int mc_net_find_group(mc_net *net, const char *name, int create) {
    for (int i = 0; i < net->ngroups; i++)
        if (strcmp(net->groups[i], name) == 0) return i;
    if (!create) return MC_ENOTFOUND;
    char **ng = mc_realloc(net->groups, (size_t)(net->ngroups + 1) * sizeof *ng, "groups");
    if (!ng) return MC_ENOMEM;
    net->groups = ng;
    int *nf = mc_realloc(net->group_frozen, (size_t)(net->ngroups + 1) * sizeof *nf, "groups");
    if (!nf) return MC_ENOMEM;
    net->group_frozen = nf;
    net->groups[net->ngroups] = mc_strdup(name);
    if (!net->groups[net->ngroups]) return MC_ENOMEM;
    net->group_frozen[net->ngroups] = 0;
    return net->ngroups++;
}

static int parse_layer(mc_net *net, mc_layer *l, mc_cfg_section *s) {
    char where[512];
    l->ops = mc_layer_ops_find(s->type);
    if (!l->ops)
        return mc_err(MC_EPARSE, "%s: unknown section [%s] (known: net, include, %s)",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, mc_layer_sections());
    l->file = s->file;
    l->line = s->line;
    const char *name = NULL, *group = NULL;
    MC_TRY(mc_cfg_str(s, "name", NULL, &name));
    MC_TRY(mc_cfg_str(s, "group", NULL, &group));
    if (name) {
        char *end;
        strtol(name, &end, 10);
        if ((end != name && *end == 0) || strcmp(name, "input") == 0 || strchr(name, ','))
            return mc_err(MC_EPARSE, "%s: name=%s: a name must not be a number, 'input' or contain ','",
                          mc_cfg_where(s, "name", where, sizeof where), name);
        snprintf(l->name, sizeof l->name, "%s%s", s->prefix ? s->prefix : "", name);
        for (int i = 0; i < l->index; i++)
            if (strcmp(net->layers[i].name, l->name) == 0)
                return mc_err(MC_EPARSE, "%s: name=%s is already used by layer %d (%s:%d)",
                              mc_cfg_where(s, "name", where, sizeof where), l->name, i,
                              net->layers[i].file, net->layers[i].line);
        snprintf(l->label, sizeof l->label, "%s", l->name);
    } else {
        snprintf(l->label, sizeof l->label, "%d", l->index);
    }
    if (!group) group = s->group ? s->group : "main";
    int g = mc_net_find_group(net, group, 1);
    if (g < 0) return g;
    l->group = g;
    /* the input: input= (a reference, as in [route]) or the previous layer */
    l->in = mc_malloc(sizeof(int), "layer inputs");
    if (!l->in) return MC_ENOMEM;
    l->n_in = 1;
    l->in[0] = l->index - 1 < 0 ? MC_INPUT : l->index - 1;
    const char *input = NULL;
    MC_TRY(mc_cfg_str(s, "input", NULL, &input));
    if (input) {
        if (!strcmp(s->type, "route"))
            return mc_err(MC_EPARSE, "%s: [route] takes its inputs from layers=, not input=",
                          mc_cfg_where(s, "input", where, sizeof where));
        MC_TRY(mc_resolve_layer(net, l, input, s, "input", &l->in[0]));
    }
    if (l->index == 0 && (int64_t)net->in_c * net->in_h > MC_MAX_ELEMS / net->in_w) {
        mc_cfg_where(net->netsec, NULL, where, sizeof where);
        return mc_err(MC_ESHAPE, "%s: [net] input %dx%dx%d has more than %lld values per image, the most the engine "
                      "supports", where, net->in_c, net->in_h, net->in_w, (long long)MC_MAX_ELEMS);
    }
    mc_in_shape(net, l, 0, &l->c, &l->h, &l->w);
    int rc = l->ops->parse(l, net, s);
    if (rc < 0) return rc;
    MC_TRY(mc_cfg_check_unused(s));
    if (l->out_c < 1 || l->out_h < 1 || l->out_w < 1)
        return mc_err(MC_ESHAPE, "%s: [%s] output shape %dx%dx%d is empty (input %dx%dx%d)",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, l->out_c, l->out_h,
                      l->out_w, l->c, l->h, l->w);
    l->out_n = (size_t)l->out_c * l->out_h * l->out_w;
    if (l->out_n > (size_t)MC_MAX_ELEMS) /* the layers check this with mc_layer_out; kept for any that does not */
        return mc_err(MC_ESHAPE, "%s: [%s] output shape %dx%dx%d has more than %lld values per image",
                      mc_cfg_where(s, NULL, where, sizeof where), s->type, l->out_c, l->out_h, l->out_w,
                      (long long)MC_MAX_ELEMS);
    return MC_OK;
}

/* "layer.key=value": the layer is the section whose (prefixed) name= is the longest prefix of
 * the left side that is followed by '.' */
static int apply_overrides(mc_cfg *cfg, const char *const *set) {
    for (int k = 0; set && set[k]; k++) {
        const char *eq = strchr(set[k], '=');
        if (!eq || eq == set[k] || !eq[1])
            return mc_err(MC_EARG, "override '%s': expected layer.key=value", set[k]);
        int best = -1;
        size_t bestlen = 0;
        if (!strncmp(set[k], "net.", 4) && cfg->n > 0 && !strcmp(cfg->s[0].type, "net")) {
            best = 0; /* [net] keys: net.width=128 */
            bestlen = 3;
        }
        for (int i = 0; i < cfg->n; i++) {
            mc_cfg_section *s = &cfg->s[i];
            for (int j = 0; j < s->nkv; j++) {
                if (strcmp(s->kv[j].key, "name")) continue;
                char full[256];
                snprintf(full, sizeof full, "%s%s", s->prefix ? s->prefix : "", s->kv[j].val);
                size_t len = strlen(full);
                if (best != 0 && len > bestlen && !strncmp(set[k], full, len) && set[k][len] == '.' &&
                    set[k] + len < eq) {
                    best = i;
                    bestlen = len;
                }
            }
        }
        if (best < 0) return mc_err(MC_EARG, "override '%s': no layer has that name (or use net.KEY for [net])", set[k]);
        mc_cfg_section *s = &cfg->s[best];
        char key[64], val[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - set[k] - bestlen - 1), set[k] + bestlen + 1);
        snprintf(val, sizeof val, "%s", eq + 1);
        int found = 0;
        for (int j = 0; j < s->nkv && !found; j++)
            if (!strcmp(s->kv[j].key, key)) {
                char *v = mc_strdup(val);
                if (!v) return MC_ENOMEM;
                free(s->kv[j].val);
                s->kv[j].val = v;
                found = 1;
            }
        if (!found) {
            mc_cfg_kv *nk = mc_realloc(s->kv, (size_t)(s->nkv + 1) * sizeof *nk, "cfg keys");
            if (!nk) return MC_ENOMEM;
            s->kv = nk;
            s->cap = s->nkv + 1;
            mc_cfg_kv *kv = &s->kv[s->nkv];
            kv->key = mc_strdup(key);
            kv->val = mc_strdup(val);
            if (!kv->key || !kv->val) return MC_ENOMEM;
            kv->file = s->file;
            kv->line = s->line;
            kv->used = 0;
            s->nkv++;
        }
    }
    return MC_OK;
}

int mc_net_cfg_train_keys(const char *path, const char *const *set, mc_net_train_keys *k) {
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    char where[512];
    int rc = apply_overrides(cfg, set);
    if (rc == MC_OK && strcmp(cfg->s[0].type, "net") && strcmp(cfg->s[0].type, "network"))
        rc = mc_err(MC_EPARSE, "%s: the first section must be [net], got [%s]",
                    mc_cfg_where(&cfg->s[0], NULL, where, sizeof where), cfg->s[0].type);
    if (rc == MC_OK) rc = mc_net_section_train_keys(&cfg->s[0], k);
    if (rc == MC_OK) rc = mc_cfg_int_range(&cfg->s[0], "batch", 1, 1, 1 << 20, &k->batch);
    mc_cfg_free(cfg);
    return rc;
}

static int net_build(mc_net **out, mc_cfg *cfg, const mc_net_opts *opts) {
    mc_net_opts defaults = {0};
    if (!opts) opts = &defaults;
    mc_net *net = mc_calloc(1, sizeof *net, "network");
    if (!net) {
        mc_cfg_free(cfg);
        return MC_ENOMEM;
    }
    net->cfg = cfg;
    net->opt_type = -1;
    net->train = opts->inference_only ? 0 : 1;
    net->seed = opts->seed;
    int rc = MC_OK;
    char where[512];
    mc_cfg_section *s0 = &cfg->s[0];
    if (strcmp(s0->type, "net") != 0 && strcmp(s0->type, "network") != 0) {
        rc = mc_err(MC_EPARSE, "%s: the first section must be [net], got [%s]",
                    mc_cfg_where(s0, NULL, where, sizeof where), s0->type);
        goto fail;
    }
    net->netsec = s0;
    if ((rc = apply_overrides(cfg, opts->set)) < 0) goto fail;
    if ((rc = parse_net_section(net, s0)) < 0 || (rc = mc_cfg_check_unused(s0)) < 0) goto fail;
    if (opts->batch > 0) net->batch = opts->batch;
    for (int i = 1; i < cfg->n; i++)
        if (strcmp(cfg->s[i].type, "net") == 0 || strcmp(cfg->s[i].type, "network") == 0) {
            if (cfg->s[i].included) continue; /* an included cfg's own [net] is ignored */
            rc = mc_err(MC_EPARSE, "%s: [net] given again (first at %s:%d)",
                        mc_cfg_where(&cfg->s[i], NULL, where, sizeof where), s0->file, s0->line);
            goto fail;
        }
    int nl = 0;
    for (int i = 1; i < cfg->n; i++)
        if (strcmp(cfg->s[i].type, "net") && strcmp(cfg->s[i].type, "network")) nl++;
    if (nl == 0) {
        rc = mc_err(MC_EPARSE, "%s: no layers after [net]", s0->file);
        goto fail;
    }
    net->layers = mc_calloc((size_t)nl, sizeof(mc_layer), "layers");
    if (!net->layers) {
        rc = MC_ENOMEM;
        goto fail;
    }
    for (int i = 1; i < cfg->n; i++) {
        mc_cfg_section *s = &cfg->s[i];
        if (!strcmp(s->type, "net") || !strcmp(s->type, "network")) continue;
        mc_layer *l = &net->layers[net->n];
        l->index = net->n;
        net->n++;
        if ((rc = parse_layer(net, l, s)) < 0) goto fail;
        /* the loss compares the last layer's outputs with the labels (truth and mask are sized
         * for them): a [cost] anywhere else would read past those buffers */
        if (strcmp(l->ops->section, "cost") == 0 && l->index != nl - 1) {
            rc = mc_err(MC_EPARSE, "%s: [cost] is layer %d of %d: it must be the last layer",
                        mc_cfg_where(s, NULL, where, sizeof where), l->index, nl);
            goto fail;
        }
    }
    /* the backend, from the table of backends (engine/backends.c) */
    if ((rc = mc_backend_create(&net->be, opts->backend, opts)) < 0) goto fail;
    if ((rc = mc_net_alloc_params(net)) < 0) goto fail;
    net->infer_only = opts->inference_only ? 1 : 0;
    if ((rc = mc_net_alloc_activations(net)) < 0) goto fail;
    if (!opts->no_init && (rc = mc_net_init_params(net, NULL, opts->seed)) < 0) goto fail;
    /* freeze= in [net] */
    const char *fz = mc_net_cfg_value(net, "freeze");
    if (fz) {
        char **items;
        int n;
        if ((rc = mc_cfg_list(s0, "freeze", &items, &n)) < 0) goto fail;
        for (int i = 0; i < n && rc == MC_OK; i++)
            if (mc_net_find_group(net, items[i], 0) < 0)
                rc = mc_err(MC_EPARSE, "%s: freeze=%s: no layer is in group '%s'",
                            mc_cfg_where(s0, "freeze", where, sizeof where), items[i], items[i]);
            else
                net->group_frozen[mc_net_find_group(net, items[i], 0)] = 1;
        free(items);
        if (rc < 0) goto fail;
    }
    *out = net;
    return MC_OK;
fail:
    mc_net_free(net);
    return rc;
}

int mc_net_from_cfg(mc_net **out, const char *path, const mc_net_opts *opts) {
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    return net_build(out, cfg, opts);
}

int mc_net_from_string(mc_net **out, const char *text, const char *name, const mc_net_opts *opts) {
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_string(&cfg, text, name));
    return net_build(out, cfg, opts);
}

void mc_net_free(mc_net *net) {
    if (!net) return;
    if (net->be) {
        for (int i = 0; i < net->n; i++) {
            mc_layer *l = &net->layers[i];
            if (l->ops && l->ops->destroy) l->ops->destroy(l, net);
        }
        mc_net_free_activations(net);
        net->be->free(net->be, net->params);
        net->be->free(net->be, net->grads);
        for (int k = 0; k < MC_OPT_SLOTS; k++) net->be->free(net->be, net->opt_state[k]);
        net->be->free(net->be, net->buffers);
        net->be->destroy(net->be);
    } else {
        for (int i = 0; i < net->n; i++) {
            mc_layer *l = &net->layers[i];
            if (l->ops && l->ops->destroy) l->ops->destroy(l, net);
        }
    }
    for (int i = 0; i < net->n; i++) {
        mc_layer *l = &net->layers[i];
        free(l->in);
        free(l->priv);
        for (int k = 0; k < l->nt; k++) free(l->t[k].full);
    }
    free(net->layers);
    for (int i = 0; i < net->ngroups; i++) free(net->groups[i]);
    free(net->groups);
    free(net->group_frozen);
    free(net->tensor_layer);
    free(net->tensor_slot);
    free(net->pinned);
    mc_cfg_free(net->cfg);
    mc_netmeta_drop(net);
    free(net);
}

int mc_net_set_batch(mc_net *net, int batch) {
    if (batch < 1) return mc_err(MC_EARG, "batch size must be >= 1, got %d", batch);
    if (batch == net->batch && net->input) return MC_OK;
    net->batch = batch;
    return mc_net_alloc_activations(net);
}
int mc_net_batch(const mc_net *net) { return net->batch; }

/* ---- introspection --------------------------------------------------------------------- */
void mc_net_input_shape(const mc_net *net, int *c, int *h, int *w) {
    *c = net->in_c;
    *h = net->in_h;
    *w = net->in_w;
}
int mc_net_num_layers(const mc_net *net) { return net->n; }
const mc_layer *mc_net_layer_at(const mc_net *net, int i) {
    if (i < 0) i = net->n - 1;
    return i < net->n ? &net->layers[i] : NULL;
}
int mc_net_layer_shape(const mc_net *net, int i, int *c, int *h, int *w) {
    const mc_layer *l = mc_net_layer_at(net, i);
    if (!l) return mc_err(MC_EARG, "no layer %d (the net has %d)", i, net->n);
    *c = l->out_c;
    *h = l->out_h;
    *w = l->out_w;
    return MC_OK;
}
mc_backend *mc_net_backend(mc_net *net) { return net->be; }

const char *mc_net_layer_type(const mc_net *net, int i) {
    const mc_layer *l = mc_net_layer_at(net, i);
    return l ? l->ops->section : NULL;
}
const char *mc_net_layer_group(const mc_net *net, int i) {
    const mc_layer *l = mc_net_layer_at(net, i);
    return l ? net->groups[l->group] : NULL;
}
const char *mc_net_layer_name(const mc_net *net, int i) {
    const mc_layer *l = mc_net_layer_at(net, i);
    return l ? l->name : NULL;
}
int mc_net_num_outputs(const mc_net *net) { return (int)net->layers[net->n - 1].out_n; }
const char *mc_net_backend_name(const mc_net *net) { return net->be->name; }
int mc_net_threads(const mc_net *net) { return net->be->threads; }
int mc_net_precision(const mc_net *net) { return net->be->precision; }
int mc_net_num_groups(const mc_net *net) { return net->ngroups; }
const char *mc_net_group_name(const mc_net *net, int g) {
    return g >= 0 && g < net->ngroups ? net->groups[g] : NULL;
}

int mc_net_freeze(mc_net *net, const char *group, int frozen) {
    if (!group) { /* every group */
        for (int i = 0; i < net->ngroups; i++) net->group_frozen[i] = frozen ? 1 : 0;
        return MC_OK;
    }
    int g = mc_net_find_group(net, group, 0);
    if (g < 0) return mc_err(MC_ENOTFOUND, "no group named '%s'", group);
    net->group_frozen[g] = frozen ? 1 : 0;
    return MC_OK;
}
int mc_net_group_frozen(const mc_net *net, const char *group) {
    for (int i = 0; i < net->ngroups; i++)
        if (strcmp(net->groups[i], group) == 0) return net->group_frozen[i];
    return mc_err(MC_ENOTFOUND, "no group named '%s'", group);
}
void mc_net_set_train(mc_net *net, int train) { net->train = train ? 1 : 0; }
int mc_net_is_train(const mc_net *net) { return net->train; }
void mc_net_set_frozen_bn(mc_net *net, int mode) { net->frozen_bn_mode = mode; }
void mc_net_want_input_grad(mc_net *net, int want) {
    net->want_input_grad = want ? 1 : 0;
    if (want) net->deltas_ready = 0; /* allocate input_delta on the next backward */
}

size_t mc_net_num_params(const mc_net *net) { return net->nparams; }
size_t mc_net_num_trainable(const mc_net *net) {
    size_t n = 0;
    for (int i = 0; i < net->n; i++)
        if (!mc_layer_frozen(net, &net->layers[i])) n += net->layers[i].nparams;
    return n;
}
size_t mc_net_group_params(const mc_net *net, const char *group) {
    size_t n = 0;
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->groups[net->layers[i].group], group) == 0) n += net->layers[i].nparams;
    return n;
}

