/* dist_train.c — data-parallel training's hooks into the trainer (see dist.h, docs/training.md).
 *
 * What makes N processes train like one with the global batch:
 * - the loader gives rank r the r-th part of every batch of the one seeded order (loader.c);
 * - the loss is normalised by the global count (cost.c reads net->sum), so the sum of the ranks'
 *   gradients is the gradient of the global batch's loss: mc_dist_grads sums them;
 * - batch norm normalises with the global batch's statistics (net->sum_bn, mc_bn_desc.sum)
 *   unless bn_local;
 * - every rank applies the same update to the same weights; mc_dist_check compares a checksum of
 *   parameters, buffers and momentum across ranks;
 * - the gradient is summed in buckets (host backends): consecutive layers' gradients, about
 *   MC_DIST_BUCKET floats each, from the last layer down; a bucket's sum starts as soon as the
 *   backward pass has passed its lowest layer (net->grad_ready), so the reductions of the upper
 *   layers run while the lower ones compute, as DDP's buckets do; mc_dist_grads finishes them.
 *   GPU gradients are summed at once after the pass (NCCL, one call). */
#include <stdlib.h>
#include <string.h>
#include "dist/dist.h"
#include "engine/net.h"
#include "medcolor.h"
#include <unistd.h>

int mc_dist_net_opts(mc_dist *d, mc_net_opts *o, int batch, int per_rank) {
    int n = mc_dist_size(d);
    if (n == 1) return MC_OK;
    if (per_rank < 0 && batch % n) /* a run without that choice (colorize-train) */
        return mc_err(MC_EARG,
                      "the batch of %d does not divide among %d processes (each takes an equal part of the global "
                      "batch): choose a batch that is a multiple of %d (--batch)", batch, n, n);
    if (per_rank < 0) per_rank = 0;
    if (!per_rank && batch % n)
        return mc_err(MC_EARG,
                      "the batch of %d does not divide among %d processes (each takes an equal part of the global "
                      "batch): choose a batch that is a multiple of %d, or set batch_per_rank = 1 in the experiment "
                      "(each process then takes %d, a global batch of %d)",
                      batch, n, n, batch, batch * n);
    o->batch = per_rank ? batch : batch / n;
    if (o->backend == MC_BACKEND_CUDA) {
        o->gpu += mc_dist_local_rank(d);
    } else if (o->threads == 0 && !getenv("OMP_NUM_THREADS")) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int share = (int)(cores / mc_dist_local_size(d));
        o->threads = share > 0 ? share : 1;
    }
    return MC_OK;
}

int mc_dist_net_opts_cfg(mc_dist *d, mc_net_opts *o, const char *cfg, const char *const *set, int per_rank) {
    if (mc_dist_size(d) == 1) return MC_OK;
    mc_net_train_keys k;
    if (!o->batch) MC_TRY(mc_net_cfg_train_keys(cfg, set, &k));
    return mc_dist_net_opts(d, o, o->batch ? o->batch : k.batch, per_rank);
}
/* floats per gradient bucket (4 MB; the environment's MC_DIST_BUCKET_FLOATS for tests) */
#define MC_DIST_BUCKET ((size_t)1 << 20)
typedef struct bucket {
    size_t lo, hi;       /* its range of the flat gradient */
    int low_layer;       /* its lowest layer: once the backward pass is past it, it is final */
    mc_dist_isum *sum;   /* started, not finished */
    int started;
} bucket;
typedef struct attach_state {
    mc_dist *d;
    mc_dist_train_opts o;
    bucket *b;           /* NULL: one sum after the pass */
    int nb;
    long early, total;   /* buckets started during a backward pass, and all (mc_dist_overlap) */
} attach_state;

static long g_early, g_total; /* of the last detached or current attachment, for tests and bench */

/* the buckets of net's gradient, from the last layer down; 0 buckets (one sum after the pass) when
 * the layers' parameters are not laid out in layer order */
static int make_buckets(attach_state *s, mc_net *net) {
    s->b = NULL;
    s->nb = 0;
    if (!net->be->is_host || !net->nparams) return MC_OK;
    size_t cap = MC_DIST_BUCKET;
    const char *e = getenv("MC_DIST_BUCKET_FLOATS");
    if (e && atol(e) > 0) cap = (size_t)atol(e);
    if (e && atol(e) < 0) return MC_OK; /* MC_DIST_BUCKET_FLOATS=-1: no buckets (comparisons) */
    bucket *b = mc_calloc((size_t)net->n + 1, sizeof *b, "gradient buckets");
    if (!b) return MC_ENOMEM;
    int nb = 0;
    size_t next = net->nparams; /* the bucket being filled ends here */
    for (int j = net->n - 1; j >= 0; j--) {
        const mc_layer *l = &net->layers[j];
        if (!l->nparams) continue;
        if (l->param_offset + l->nparams != next) { /* not contiguous downwards: no buckets */
            free(b);
            return MC_OK;
        }
        if (nb == 0 || b[nb - 1].hi - b[nb - 1].lo >= cap) b[nb++] = (bucket){.lo = next, .hi = next};
        b[nb - 1].lo = l->param_offset;
        b[nb - 1].low_layer = j;
        next = l->param_offset;
    }
    if (next != 0) {
        free(b);
        return MC_OK;
    }
    s->b = b;
    s->nb = nb;
    return MC_OK;
}

static int grad_ready(void *ctx, mc_net *net, int j) {
    attach_state *s = ctx;
    for (int k = 0; k < s->nb; k++) {
        bucket *b = &s->b[k];
        if (b->low_layer == j && !b->started) {
            MC_TRY(mc_dist_isum_start(s->d, net->grads + b->lo, b->hi - b->lo, &b->sum));
            b->started = 1;
            s->early++;
        }
        if (b->started) MC_TRY(mc_dist_isum_test(s->d, b->sum)); /* progress */
    }
    return MC_OK;
}

void mc_dist_overlap(long *early, long *total) {
    *early = g_early;
    *total = g_total;
}

static int sum_hook(void *ctx, double *v, size_t n) { return mc_dist_sum_d(((attach_state *)ctx)->d, v, n); }

/* a host copy of n floats of backend memory, or the memory itself on a host backend */
static int host_view(mc_net *net, float *p, size_t n, float **out, int *owned) {
    *owned = 0;
    *out = p;
    if (net->be->is_host) return MC_OK;
    float *h = mc_malloc((n ? n : 1) * sizeof(float), "host copy");
    if (!h) return MC_ENOMEM;
    int rc = net->be->download(net->be, h, p, n);
    if (rc < 0) {
        free(h);
        return rc;
    }
    *owned = 1;
    *out = h;
    return MC_OK;
}

static int bcast_blob(mc_dist *d, mc_net *net, float *p, size_t n) {
    if (!p || !n) return MC_OK;
    int owned;
    float *h;
    MC_TRY(host_view(net, p, n, &h, &owned));
    int rc = mc_dist_bcast(d, h, n * sizeof(float), 0);
    if (rc == MC_OK && owned) rc = net->be->upload(net->be, p, h, n);
    if (owned) free(h);
    return rc;
}

int mc_dist_attach(mc_dist *d, mc_net *net, const mc_dist_train_opts *o) {
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    attach_state *s = mc_calloc(1, sizeof *s, "data-parallel state");
    if (!s) return MC_ENOMEM;
    s->d = d;
    if (o) s->o = *o;
    if (s->o.check_every <= 0) s->o.check_every = 100;
    free(net->sum ? net->sum_ctx : NULL);
    net->sum = sum_hook;
    net->sum_ctx = s;
    net->sum_bn = !s->o.bn_local;
    MC_TRY(make_buckets(s, net));
    if (s->nb) {
        net->grad_ready = grad_ready;
        net->grad_ready_ctx = s;
    }
    g_early = g_total = 0;
    /* every rank starts from rank 0's state (a fresh initialisation or a checkpoint) */
    MC_TRY(net->be->sync(net->be));
    MC_TRY(bcast_blob(d, net, net->params, net->nparams));
    MC_TRY(bcast_blob(d, net, net->buffers, net->nbuffers));
    /* the optimiser's state (SGD momentum, Adam's moments, ...): every rank has the same slots,
     * allocated alike (a checkpoint loaded by all, or none yet) */
    for (int k = 0; k < MC_OPT_SLOTS; k++)
        if (net->opt_state[k]) MC_TRY(bcast_blob(d, net, net->opt_state[k], net->nparams));
    return MC_OK;
}

int mc_dist_detach(mc_dist *d, mc_net *net) {
    if (net->sum) {
        attach_state *s = net->sum_ctx;
        for (int k = 0; k < s->nb; k++) /* a pass left unfinished (d NULL: an error, the job ends) */
            if (s->b[k].started) mc_dist_isum_finish(d, s->b[k].sum);
        free(s->b);
        net->grad_ready = NULL;
        net->grad_ready_ctx = NULL;
        free(net->sum_ctx);
        net->sum = NULL;
        net->sum_ctx = NULL;
        net->sum_bn = 0;
    }
    /* rank 0 may still be writing the weights the others read next */
    return mc_dist_barrier(d);
}

int mc_dist_grads(mc_dist *d, mc_net *net) {
    if (!d || mc_dist_size(d) == 1 || !net->nparams) return MC_OK;
    attach_state *s = net->sum ? net->sum_ctx : NULL;
    if (s && s->nb) { /* the buckets, in the order they started (any the pass did not reach now) */
        for (int k = 0; k < s->nb; k++) {
            bucket *b = &s->b[k];
            if (!b->started) MC_TRY(mc_dist_isum_start(d, net->grads + b->lo, b->hi - b->lo, &b->sum));
            b->started = 1;
        }
        int rc = MC_OK;
        for (int k = 0; k < s->nb; k++) {
            int r = mc_dist_isum_finish(d, s->b[k].sum);
            if (rc == MC_OK) rc = r;
            s->b[k].sum = NULL;
            s->b[k].started = 0;
        }
        s->total += s->nb;
        g_early = s->early;
        g_total = s->total;
        return rc;
    }
    if (net->be->is_host) return mc_dist_sum_f(d, net->grads, net->nparams);
    MC_TRY(net->be->sync(net->be));
    return mc_dist_sum_device(d, net->grads, net->nparams);
}

/* FNV-1a over the bytes of n floats */
static uint64_t fnv(uint64_t h, const float *v, size_t n) {
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < n * sizeof(float); i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int mc_dist_check(mc_dist *d, mc_net *net, long it) {
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    MC_TRY(net->be->sync(net->be));
    uint64_t h = 1469598103934665603ull;
    float *blobs[2 + MC_OPT_SLOTS] = {net->params, net->buffers};
    size_t ns[2 + MC_OPT_SLOTS] = {net->nparams, net->nbuffers};
    for (int k = 0; k < MC_OPT_SLOTS; k++) {
        blobs[2 + k] = net->opt_state[k];
        ns[2 + k] = net->opt_state[k] ? net->nparams : 0;
    }
    for (int k = 0; k < 2 + MC_OPT_SLOTS; k++) {
        if (!blobs[k] || !ns[k]) continue;
        int owned;
        float *v;
        MC_TRY(host_view(net, blobs[k], ns[k], &v, &owned));
        h = fnv(h, v, ns[k]);
        if (owned) free(v);
    }
    int n = mc_dist_size(d);
    uint64_t *all = mc_calloc((size_t)n, sizeof *all, "checksums");
    if (!all) return MC_ENOMEM;
    int rc = mc_dist_gather(d, &h, sizeof h, all, 0);
    /* rank 0 decides; every rank learns the first rank that differs */
    int bad = -1;
    if (rc == MC_OK && mc_dist_is_root(d))
        for (int r = 1; r < n && bad < 0; r++)
            if (all[r] != all[0]) bad = r;
    free(all);
    if (rc == MC_OK) rc = mc_dist_bcast(d, &bad, sizeof bad, 0);
    if (rc == MC_OK && bad >= 0)
        rc = mc_err(MC_ENUM, "iteration %ld: the weights of rank %d differ from rank 0's (checksum of parameters, "
                             "batch-norm statistics and momentum): the ranks no longer train the same network",
                    it, bad);
    return rc;
}

int mc_dist_step_done(mc_dist *d, mc_net *net, long it) {
    if (!d || mc_dist_size(d) == 1 || !net->sum) return MC_OK;
    attach_state *s = net->sum_ctx;
    /* per-rank statistics: rank 0's running estimates for everyone (as DDP's broadcast_buffers) */
    if (s->o.bn_local) {
        MC_TRY(net->be->sync(net->be));
        MC_TRY(bcast_blob(d, net, net->buffers, net->nbuffers));
    }
    if (it % s->o.check_every == 0) MC_TRY(mc_dist_check(d, net, it));
    return MC_OK;
}

int mc_dist_any(mc_dist *d, int flag, int *any) {
    *any = flag != 0;
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    return mc_dist_max_i(d, any);
}

int mc_dist_gather_eval(mc_dist *d, float *probs, size_t n, double *lsum, double *lcnt) {
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    MC_TRY(mc_dist_sum_f(d, probs, n));
    double v[2] = {*lsum, *lcnt};
    MC_TRY(mc_dist_sum_d(d, v, 2));
    *lsum = v[0];
    *lcnt = v[1];
    return MC_OK;
}
