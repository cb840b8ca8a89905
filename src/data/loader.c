/* loader.c — the multi-threaded batch loader: decode, crop/resize/augment and normalise the
 * next batches on worker threads while the caller trains on the current one.
 *
 * Order and randomness. Batches are numbered globally g = epoch · nb + k (nb batches per epoch).
 * Epoch e's order is a Fisher–Yates permutation drawn from (seed, e) alone (identity when not
 * shuffling); sample i of batch k sits at position p = k·B + i of that order and all of its
 * random draws come from mc_sample_key(seed, e, p). Nothing depends on which thread did what
 * or when, so any thread count gives the same batches, and starting at (epoch, batch) gives
 * exactly the batches an uninterrupted run would have produced from there.
 *
 * Queue. There are prefetch + 1 slots; batch g lives in slot g mod S. Workers take single
 * samples (not whole batches) of the batch being filled, so two threads share one batch; a new
 * batch is started only when its slot has been given back by the caller. The caller holds one
 * slot (the batch it was last handed) until its next call.
 *
 * Errors. A sample that fails records its message in its slot (the lowest failing position
 * wins, so the report is deterministic too); the caller gets the error when it reaches that
 * batch, and the loader stays failed. mc_loader_free stops and joins the workers at any time.
 *
 * Buffers per slot: images [B][1][h][w], labels and mask [B][L], indices [B].
 * Per worker: one mc_image (grow-only) and one mc_xform.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_image.h"

#define MAX_THREADS 256

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct slot {
    int64_t g;    /* global batch number in this slot (−1: none yet) */
    int state;    /* SLOT_* */
    int issued;   /* samples handed to workers */
    int done;     /* samples finished (successfully or not) */
    int err_code; /* first error (lowest sample position), 0 = none */
    int err_pos;
    char err_msg[1024];
    int off;      /* position of sample 0 in the whole batch (a part: mc_loader_opts.parts) */
    mc_batch b;
} slot;

typedef struct worker {
    struct mc_loader *ld;
    pthread_t tid;
    mc_image img;
    mc_xform *ws;
} worker;

struct mc_loader {
    const mc_dataset *ds;
    mc_loader_opts o;
    int nb;          /* batches per epoch */
    int64_t g_end;   /* one past the last batch to produce (INT64_MAX when endless) */
    int64_t g_issue; /* next batch to start filling */
    int64_t g_out;   /* next batch to hand to the caller */
    int fill;        /* slot whose samples are being handed out, −1 none */
    int held;        /* slot held by the caller, −1 none */
    int nslots;
    slot *slots;
    int *perm; /* [n] order of the epoch perm_epoch */
    int64_t perm_epoch;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a slot became free, or stop */
    pthread_cond_t done_cv; /* caller: a batch is complete */
    int sync_ok;            /* mutex and condition variables initialised */
    int stop;
    int nthreads;    /* started worker threads */
    worker *workers; /* [max(threads, 1)]; workers[0] serves the caller when threads = 0 */
    int failed;
    int fail_code;
    char fail_msg[1024 + 96];
};

void mc_loader_opts_default(mc_loader_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 16;
    o->h = o->w = 320;
    o->threads = 2;
    o->prefetch = 2;
    mc_aug_opts_default(&o->aug);
    o->norm.mean = MC_NORM_MEAN;
    o->norm.std = MC_NORM_STD;
}

int mc_loader_batches_per_epoch(const mc_loader *ld) { return ld ? ld->nb : 0; }

/* Uniform integer in [0, n), unbiased (rejection of the short last interval). */
static uint64_t rng_below(mc_rng *r, uint64_t n) {
    uint64_t t = (0 - n) % n, x;
    do x = mc_rng_u64(r);
    while (x < t);
    return x % n;
}

/* The order of epoch e in ld->perm. */
static void make_perm(mc_loader *ld, int64_t e) {
    int n = ld->ds->n;
    for (int i = 0; i < n; i++) ld->perm[i] = i;
    if (ld->o.shuffle) {
        mc_rng r;
        mc_rng_seed(&r, mc_sample_key(ld->o.seed, (uint64_t)e, UINT64_MAX)); /* own stream */
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint64_t)i + 1);
            int t = ld->perm[i];
            ld->perm[i] = ld->perm[j];
            ld->perm[j] = t;
        }
    }
    ld->perm_epoch = e;
}

/* Starts global batch g in slot s (mutex held): indices, labels and mask are filled here. */
static void start_batch(mc_loader *ld, slot *s, int64_t g) {
    const mc_dataset *ds = ld->ds;
    const int B = ld->o.batch, L = ds->nlabels;
    int64_t e = g / ld->nb;
    int k = (int)(g % ld->nb);
    if (e != ld->perm_epoch) make_perm(ld, e);
    int first = k * B;
    int n = ds->n - first < B ? ds->n - first : B;
    if (ld->o.parts > 1) { /* this loader's part of the batch */
        int per = B / ld->o.parts, lo = ld->o.part * per;
        n = n - lo < per ? n - lo : per;
        if (n < 0) n = 0;
        first += lo;
    }
    s->off = first - k * B;
    s->g = g;
    s->state = SLOT_FILLING;
    s->issued = s->done = 0;
    s->err_code = 0;
    s->err_pos = 0;
    s->err_msg[0] = 0;
    s->b.n = n;
    s->b.epoch = (int)e;
    s->b.index = k;
    for (int i = 0; i < n; i++) {
        int idx = ld->perm[first + i];
        s->b.indices[i] = idx;
        for (int l = 0; l < L; l++) {
            s->b.labels[(size_t)i * L + l] = ds->y[(size_t)idx * L + l];
            s->b.mask[(size_t)i * L + l] = ds->mask ? ds->mask[(size_t)idx * L + l] : 1.0f;
        }
    }
}

/* Takes the next sample to prepare (mutex held). 1: *si, *pi set; 0: nothing now (wait);
 * −1: nothing ever again. */
static int take_job(mc_loader *ld, int *si, int *pi) {
    while (ld->fill < 0) {
        if (ld->g_issue >= ld->g_end) return -1;
        int k = (int)(ld->g_issue % ld->nslots);
        slot *s = &ld->slots[k];
        if (s->state != SLOT_FREE) return 0;
        start_batch(ld, s, ld->g_issue);
        ld->g_issue++;
        if (s->b.n == 0) { /* an empty part (parts > 1): ready as it is */
            s->state = SLOT_READY;
            pthread_cond_broadcast(&ld->done_cv);
            continue;
        }
        ld->fill = k;
    }
    slot *s = &ld->slots[ld->fill];
    *si = ld->fill;
    *pi = s->issued++;
    if (s->issued == s->b.n) ld->fill = -1;
    return 1;
}

/* Decodes and transforms sample i of slot s (mutex NOT held; touches only sample i's data). */
static int do_sample(worker *wk, slot *s, int i) {
    mc_loader *ld = wk->ld;
    const int B = ld->o.batch, H = ld->o.h, W = ld->o.w;
    const char *path = ld->ds->paths[s->b.indices[i]];
    float *out = s->b.images + (size_t)i * H * W;
    int rc = path ? mc_image_load_grey(path, &wk->img)
                  : mc_err(MC_EARG, "dataset row %d has no image path", s->b.indices[i]);
    if (rc == MC_OK) {
        uint64_t pos = (uint64_t)s->b.index * (uint64_t)B + (uint64_t)s->off + (uint64_t)i;
        mc_aug_params p;
        mc_aug_draw(&ld->o.aug, mc_sample_key(ld->o.seed, (uint64_t)s->b.epoch, pos), wk->img.w,
                    wk->img.h, ld->o.train, &p);
        rc = mc_preprocess(wk->ws, &wk->img, &p, &ld->o.norm, out, H, W);
    }
    if (rc < 0) memset(out, 0, (size_t)H * W * sizeof(float));
    return rc;
}

/* Records the end of sample i of slot s (mutex held). */
static void finish_sample(mc_loader *ld, slot *s, int i, int rc) {
    if (rc < 0 && (s->err_code == 0 || i < s->err_pos)) {
        s->err_code = rc;
        s->err_pos = i;
        snprintf(s->err_msg, sizeof s->err_msg, "%s", mc_errmsg());
    }
    if (++s->done == s->b.n) {
        s->state = SLOT_READY;
        pthread_cond_broadcast(&ld->done_cv);
    }
}

static void *worker_main(void *arg) {
    worker *wk = arg;
    mc_loader *ld = wk->ld;
    pthread_mutex_lock(&ld->mu);
    while (!ld->stop) {
        int si, i;
        int r = take_job(ld, &si, &i);
        if (r <= 0) {
            pthread_cond_wait(&ld->work_cv, &ld->mu);
            continue;
        }
        slot *s = &ld->slots[si];
        pthread_mutex_unlock(&ld->mu);
        int rc = do_sample(wk, s, i);
        pthread_mutex_lock(&ld->mu);
        finish_sample(ld, s, i, rc);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void free_slots(mc_loader *ld) {
    if (!ld->slots) return;
    for (int k = 0; k < ld->nslots; k++) {
        mc_free_aligned(ld->slots[k].b.images);
        free(ld->slots[k].b.labels);
        free(ld->slots[k].b.mask);
        free(ld->slots[k].b.indices);
    }
    free(ld->slots);
    ld->slots = NULL;
}

void mc_loader_free(mc_loader *ld) {
    if (!ld) return;
    if (ld->sync_ok) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->work_cv);
        pthread_mutex_unlock(&ld->mu);
        for (int t = 0; t < ld->nthreads; t++) pthread_join(ld->workers[t].tid, NULL);
        pthread_cond_destroy(&ld->work_cv);
        pthread_cond_destroy(&ld->done_cv);
        pthread_mutex_destroy(&ld->mu);
    }
    if (ld->workers) {
        int nw = ld->o.threads > 0 ? ld->o.threads : 1;
        for (int t = 0; t < nw; t++) {
            mc_image_free(&ld->workers[t].img);
            mc_xform_free(ld->workers[t].ws);
        }
        free(ld->workers);
    }
    free_slots(ld);
    free(ld->perm);
    free(ld);
}

static int check_opts(const mc_dataset *ds, const mc_loader_opts *o) {
    if (!ds || ds->n < 1 || !ds->paths)
        return mc_err(MC_EARG, "loader: the dataset is empty or has no image paths");
    if (ds->nlabels < 0 || (ds->nlabels > 0 && !ds->y))
        return mc_err(MC_EARG, "loader: the dataset has %d labels but no targets", ds->nlabels);
    if (o->batch < 1 || o->h < 1 || o->w < 1)
        return mc_err(MC_EARG, "loader: bad batch %d or size %dx%d", o->batch, o->w, o->h);
    if ((size_t)o->h * (size_t)o->w > ((size_t)1 << 28))
        return mc_err(MC_EARG, "loader: output size %dx%d too large", o->w, o->h);
    if (o->threads < 0 || o->threads > MAX_THREADS)
        return mc_err(MC_EARG, "loader: threads must be 0…%d, got %d", MAX_THREADS, o->threads);
    if (o->prefetch < 0 || o->prefetch > 64)
        return mc_err(MC_EARG, "loader: prefetch must be 0…64, got %d", o->prefetch);
    if (o->parts < 0 || o->parts > o->batch || (o->parts > 1 && (o->batch % o->parts || o->part < 0 || o->part >= o->parts)))
        return mc_err(MC_EARG, "loader: part %d of %d of a batch of %d (the batch must divide into the parts)", o->part,
                      o->parts, o->batch);
    if (o->epochs < 0 || o->start_epoch < 0 || o->start_batch < 0)
        return mc_err(MC_EARG, "loader: negative epochs or start position");
    if (o->train &&
        (!(o->aug.p_rotate >= 0.0 && o->aug.p_rotate <= 1.0) ||
         !(o->aug.p_zoom >= 0.0 && o->aug.p_zoom <= 1.0) || !(o->aug.max_rotate >= 0.0)))
        return mc_err(MC_EARG, "loader: bad augmentation options");
    if (!(o->norm.std > 0.0f) && !(o->norm.std < 0.0f))
        return mc_err(MC_EARG, "loader: normalisation std must be non-zero");
    return MC_OK;
}

int mc_loader_new(mc_loader **out, const mc_dataset *ds, const mc_loader_opts *opts) {
    if (!out) return mc_err(MC_EARG, "mc_loader_new: NULL argument");
    *out = NULL;
    mc_loader_opts o;
    if (opts)
        o = *opts;
    else
        mc_loader_opts_default(&o);
    MC_TRY(check_opts(ds, &o));
    int nb = o.drop_last ? ds->n / o.batch : (ds->n + o.batch - 1) / o.batch;
    if (nb < 1)
        return mc_err(MC_EARG, "loader: %d images make no full batch of %d (drop_last)", ds->n,
                      o.batch);
    if (o.start_batch >= nb)
        return mc_err(MC_EARG, "loader: start batch %d, but an epoch has %d batches", o.start_batch,
                      nb);

    mc_loader *ld = mc_calloc(1, sizeof *ld, "loader");
    if (!ld) return MC_ENOMEM;
    ld->ds = ds;
    ld->o = o;
    ld->nb = nb;
    ld->g_end = o.epochs > 0 ? (int64_t)o.epochs * nb : INT64_MAX;
    ld->g_issue = ld->g_out = (int64_t)o.start_epoch * nb + o.start_batch;
    if (ld->g_issue > ld->g_end) ld->g_issue = ld->g_out = ld->g_end;
    ld->fill = ld->held = -1;
    ld->perm_epoch = -1;
    ld->nslots = (o.prefetch > 0 ? o.prefetch : 1) + 1;
    int rc = MC_ENOMEM;
    ld->perm = mc_malloc((size_t)ds->n * sizeof(int), "loader order");
    ld->slots = mc_calloc((size_t)ld->nslots, sizeof(slot), "loader slots");
    if (!ld->perm || !ld->slots) goto fail;
    const size_t B = (size_t)o.batch, L = (size_t)ds->nlabels;
    for (int k = 0; k < ld->nslots; k++) {
        mc_batch *b = &ld->slots[k].b;
        ld->slots[k].g = -1;
        b->h = o.h;
        b->w = o.w;
        b->nlabels = ds->nlabels;
        b->images = mc_alloc_floats(B * (size_t)o.h * (size_t)o.w, "loader batch images");
        b->labels = mc_malloc(B * L * sizeof(float), "loader batch labels");
        b->mask = mc_malloc(B * L * sizeof(float), "loader batch mask");
        b->indices = mc_malloc(B * sizeof(int), "loader batch indices");
        if (!b->images || !b->labels || !b->mask || !b->indices) goto fail;
    }
    int nw = o.threads > 0 ? o.threads : 1;
    ld->workers = mc_calloc((size_t)nw, sizeof(worker), "loader workers");
    if (!ld->workers) goto fail;
    for (int t = 0; t < nw; t++) {
        ld->workers[t].ld = ld;
        if ((rc = mc_xform_new(&ld->workers[t].ws)) < 0) goto fail;
    }
    if (pthread_mutex_init(&ld->mu, NULL) != 0) {
        rc = mc_err(MC_EBACKEND, "loader: cannot create a mutex");
        goto fail;
    }
    if (pthread_cond_init(&ld->work_cv, NULL) != 0) {
        pthread_mutex_destroy(&ld->mu);
        rc = mc_err(MC_EBACKEND, "loader: cannot create a condition variable");
        goto fail;
    }
    if (pthread_cond_init(&ld->done_cv, NULL) != 0) {
        pthread_cond_destroy(&ld->work_cv);
        pthread_mutex_destroy(&ld->mu);
        rc = mc_err(MC_EBACKEND, "loader: cannot create a condition variable");
        goto fail;
    }
    ld->sync_ok = 1;
    for (int t = 0; t < o.threads; t++) {
        int e = pthread_create(&ld->workers[t].tid, NULL, worker_main, &ld->workers[t]);
        if (e != 0) {
            rc = mc_err(MC_EBACKEND, "loader: cannot start worker thread %d of %d (error %d)",
                        t + 1, o.threads, e);
            goto fail; /* mc_loader_free joins the ones already started */
        }
        ld->nthreads = t + 1;
    }
    *out = ld;
    return MC_OK;
fail:
    mc_loader_free(ld);
    return rc;
}

int mc_loader_next(mc_loader *ld, mc_batch **out) {
    if (!ld || !out) return mc_err(MC_EARG, "mc_loader_next: NULL argument");
    *out = NULL;
    pthread_mutex_lock(&ld->mu);
    if (ld->held >= 0) {
        ld->slots[ld->held].state = SLOT_FREE;
        ld->held = -1;
        pthread_cond_broadcast(&ld->work_cv);
    }
    if (ld->failed) {
        pthread_mutex_unlock(&ld->mu);
        return mc_err(ld->fail_code, "%s", ld->fail_msg);
    }
    if (ld->g_out >= ld->g_end) {
        pthread_mutex_unlock(&ld->mu);
        return MC_OK;
    }
    const int k = (int)(ld->g_out % ld->nslots);
    slot *s = &ld->slots[k];
    if (ld->o.threads == 0) {
        /* No workers: prepare this batch here, sample by sample. */
        while (!(s->state == SLOT_READY && s->g == ld->g_out)) {
            int si, i;
            if (take_job(ld, &si, &i) != 1) break; /* cannot happen: the slot is free */
            pthread_mutex_unlock(&ld->mu);
            int rc = do_sample(&ld->workers[0], &ld->slots[si], i);
            pthread_mutex_lock(&ld->mu);
            finish_sample(ld, &ld->slots[si], i, rc);
        }
    } else {
        while (!(s->state == SLOT_READY && s->g == ld->g_out))
            pthread_cond_wait(&ld->done_cv, &ld->mu);
    }
    if (s->state != SLOT_READY || s->g != ld->g_out) {
        pthread_mutex_unlock(&ld->mu);
        return mc_err(MC_EBACKEND, "loader: internal error, batch %lld not prepared",
                      (long long)ld->g_out);
    }
    if (s->err_code) {
        ld->failed = 1;
        ld->fail_code = s->err_code;
        /* counted from 1, as the progress line counts epochs and iterations */
        snprintf(ld->fail_msg, sizeof ld->fail_msg, "epoch %d, batch %d, image %d of the batch: %s", s->b.epoch + 1,
                 s->b.index + 1, s->err_pos + 1, s->err_msg);
        ld->stop = 1; /* nothing more will be handed out: let the workers rest */
        pthread_cond_broadcast(&ld->work_cv);
        pthread_mutex_unlock(&ld->mu);
        return mc_err(ld->fail_code, "%s", ld->fail_msg);
    }
    s->state = SLOT_HELD;
    ld->held = k;
    ld->g_out++;
    pthread_mutex_unlock(&ld->mu);
    *out = &s->b;
    return MC_OK;
}
