/* test_loader.c — the threaded batch loader (src/data/loader.c) on a generated dataset.
 *
 * 23 small PNGs of different sizes (non-square, so random crops move) and a hand-built
 * mc_dataset with 3 labels and a mask. Checked:
 * - the same seed gives bit-identical batches (order, augmentation, labels) with 0, 1 and 3
 *   worker threads and different prefetch depths;
 * - every sample exactly once per epoch (and drop_last), shuffles differ between epochs/seeds;
 * - each sample equals the single-threaded pipeline (load, mc_aug_draw with the key of
 *   (seed, epoch, position), mc_preprocess), labels/mask equal the dataset rows;
 * - resuming at (epoch, batch) gives exactly the uninterrupted sequence from there;
 * - a missing or corrupt image is an error naming the file at the batch that holds it;
 * - freeing mid-epoch with busy workers returns (threads joined; ASan checks leaks).
 */
#include <png.h>
#include <stdint.h>
#include <time.h>
#include "core/core.h"
#include "mc_image.h"
#include "test.h"

#define N 23
#define L 3
#define OH 32
#define OW 32

static char paths_buf[N][512];
static char *paths[N];
static float ys[N * L], masks[N * L];

/* Minimal 8-bit grey PNG writer (test fixture only). */
static int write_png8(const char *path, int w, int h, const unsigned char *px) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

static void make_dataset(mc_dataset *ds) {
    unsigned char px[80 * 80];
    for (int i = 0; i < N; i++) {
        int w = 40 + (i * 7) % 31, h = 40 + (i * 11) % 29; /* 40…70, mostly non-square */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                px[y * w + x] = (unsigned char)((x * 5 + y * 3 + i * 17 + (x * y) % 7) % 256);
        snprintf(paths_buf[i], sizeof paths_buf[i], "%s/img%02d.png", mc_test_tmp(), i);
        REQUIRE(write_png8(paths_buf[i], w, h, px) == 0, "cannot write %s", paths_buf[i]);
        paths[i] = paths_buf[i];
        for (int l = 0; l < L; l++) {
            ys[i * L + l] = (float)((i >> l) & 1);
            masks[i * L + l] = (i + l) % 4 != 0 ? 1.0f : 0.0f;
        }
    }
    memset(ds, 0, sizeof *ds);
    ds->n = N;
    ds->nlabels = L;
    ds->paths = paths;
    ds->y = ys;
    ds->mask = masks;
}

/* All batches of a run, copied. */
typedef struct run {
    int nb;
    int epoch[64], index[64], n[64];
    int idx[64][8];
    float lab[64][8 * L], msk[64][8 * L];
    float *img[64]; /* [n][OH][OW] */
} run;

static void run_free(run *r) {
    for (int i = 0; i < r->nb; i++) free(r->img[i]);
    r->nb = 0;
}

/* Collects up to max batches (or until the end); returns the loader status of the last call. */
static int collect(const mc_dataset *ds, const mc_loader_opts *o, int max, run *r) {
    mc_loader *ld;
    memset(r, 0, sizeof *r);
    int rc = mc_loader_new(&ld, ds, o);
    if (rc < 0) return rc;
    while (r->nb < max) {
        mc_batch *b;
        rc = mc_loader_next(ld, &b);
        if (rc < 0 || !b) break;
        int k = r->nb++;
        r->epoch[k] = b->epoch;
        r->index[k] = b->index;
        r->n[k] = b->n;
        memcpy(r->idx[k], b->indices, (size_t)b->n * sizeof(int));
        memcpy(r->lab[k], b->labels, (size_t)b->n * L * sizeof(float));
        memcpy(r->msk[k], b->mask, (size_t)b->n * L * sizeof(float));
        r->img[k] = malloc((size_t)b->n * OH * OW * sizeof(float));
        REQUIRE(r->img[k] != NULL, "out of memory");
        memcpy(r->img[k], b->images, (size_t)b->n * OH * OW * sizeof(float));
    }
    mc_loader_free(ld);
    return rc;
}

/* Batches a[i0 …] and b[j0 …] identical for count batches. */
static int same_runs(const run *a, int i0, const run *b, int j0, int count) {
    for (int t = 0; t < count; t++) {
        int i = i0 + t, j = j0 + t;
        if (i >= a->nb || j >= b->nb) return 0;
        if (a->epoch[i] != b->epoch[j] || a->index[i] != b->index[j] || a->n[i] != b->n[j])
            return 0;
        size_t n = (size_t)a->n[i];
        if (memcmp(a->idx[i], b->idx[j], n * sizeof(int)) ||
            memcmp(a->lab[i], b->lab[j], n * L * 4) || memcmp(a->msk[i], b->msk[j], n * L * 4) ||
            memcmp(a->img[i], b->img[j], n * OH * OW * sizeof(float)))
            return 0;
    }
    return 1;
}

static void base_opts(mc_loader_opts *o) {
    mc_loader_opts_default(o);
    o->batch = 4;
    o->h = OH;
    o->w = OW;
    o->train = 1;
    o->shuffle = 1;
    o->seed = 42;
    o->epochs = 3;
}

/* Every sample equals the pipeline computed here, one at a time, from its key. */
static void check_contents(const mc_dataset *ds, const mc_loader_opts *o, const run *r) {
    mc_image img = {0};
    mc_xform *ws;
    REQUIRE_OK(mc_xform_new(&ws));
    float out[OH * OW];
    int bad = 0, badlab = 0;
    for (int k = 0; k < r->nb; k++) {
        for (int i = 0; i < r->n[k]; i++) {
            int idx = r->idx[k][i];
            REQUIRE_OK(mc_image_load_grey(ds->paths[idx], &img));
            mc_aug_params p;
            uint64_t pos = (uint64_t)r->index[k] * (uint64_t)o->batch + (uint64_t)i;
            mc_aug_draw(&o->aug, mc_sample_key(o->seed, (uint64_t)r->epoch[k], pos), img.w, img.h,
                        o->train, &p);
            REQUIRE_OK(mc_preprocess(ws, &img, &p, &o->norm, out, OH, OW));
            if (memcmp(out, r->img[k] + (size_t)i * OH * OW, sizeof out) != 0) bad++;
            for (int l = 0; l < L; l++)
                if (r->lab[k][i * L + l] != ds->y[idx * L + l] ||
                    r->msk[k][i * L + l] != ds->mask[idx * L + l])
                    badlab++;
        }
    }
    CHECK(bad == 0, "%d samples differ from the single-threaded pipeline", bad);
    CHECK(badlab == 0, "%d labels/mask entries differ from the dataset rows", badlab);
    mc_image_free(&img);
    mc_xform_free(ws);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    mc_dataset ds;
    make_dataset(&ds);
    mc_loader_opts o;
    base_opts(&o);

    /* ---- determinism across thread counts ---- */
    run r0, r1, r3;
    o.threads = 0;
    REQUIRE_OK(collect(&ds, &o, 64, &r0));
    o.threads = 1;
    o.prefetch = 1;
    REQUIRE_OK(collect(&ds, &o, 64, &r1));
    o.threads = 3;
    o.prefetch = 4;
    REQUIRE_OK(collect(&ds, &o, 64, &r3));
    CHECK(r0.nb == 18, "3 epochs of 23 images in batches of 4: %d batches, expected 18", r0.nb);
    CHECK(same_runs(&r0, 0, &r1, 0, 18), "0 and 1 worker threads give different batches");
    CHECK(same_runs(&r0, 0, &r3, 0, 18), "0 and 3 worker threads give different batches");
    check_contents(&ds, &o, &r3);

    /* ---- every sample once per epoch; batch numbering; shuffles differ ---- */
    int order[3][N];
    for (int e = 0; e < 3; e++) {
        int seen[N] = {0}, cnt = 0;
        for (int k = 0; k < 6; k++) {
            int b = e * 6 + k;
            CHECK(r3.epoch[b] == e && r3.index[b] == k, "batch %d is (%d,%d), expected (%d,%d)", b,
                  r3.epoch[b], r3.index[b], e, k);
            CHECK(r3.n[b] == (k < 5 ? 4 : 3), "batch (%d,%d) has %d samples", e, k, r3.n[b]);
            for (int i = 0; i < r3.n[b]; i++) {
                int idx = r3.idx[b][i];
                if (idx >= 0 && idx < N) seen[idx]++;
                if (cnt < N) order[e][cnt] = idx;
                cnt++;
            }
        }
        int ok = cnt == N;
        for (int i = 0; i < N; i++) ok = ok && seen[i] == 1;
        CHECK(ok, "epoch %d does not hold every sample exactly once", e);
    }
    int identity = 1;
    for (int i = 0; i < N; i++) identity = identity && order[0][i] == i;
    CHECK(!identity, "shuffled epoch 0 is in dataset order");
    CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0 &&
              memcmp(order[1], order[2], sizeof order[0]) != 0,
          "epochs share one order");
    run rs;
    o.seed = 43;
    REQUIRE_OK(collect(&ds, &o, 6, &rs));
    CHECK(!same_runs(&r3, 0, &rs, 0, 1), "seeds 42 and 43 give the same first batch");
    run_free(&rs);
    o.seed = 42;

    /* ---- drop_last ---- */
    run rd;
    o.drop_last = 1;
    o.threads = 2;
    REQUIRE_OK(collect(&ds, &o, 64, &rd));
    CHECK(rd.nb == 15, "drop_last: %d batches, expected 3 × 5", rd.nb);
    {
        int ok = 1;
        for (int e = 0; e < 3 && rd.nb == 15; e++) {
            int seen[N] = {0};
            for (int k = 0; k < 5; k++) {
                ok = ok && rd.n[e * 5 + k] == 4;
                for (int i = 0; i < 4; i++) seen[rd.idx[e * 5 + k][i]]++;
            }
            int distinct = 0;
            for (int i = 0; i < N; i++) {
                ok = ok && seen[i] <= 1;
                distinct += seen[i];
            }
            ok = ok && distinct == 20;
        }
        CHECK(ok, "drop_last epochs do not hold 20 distinct samples in full batches");
    }
    run_free(&rd);
    o.drop_last = 0;

    /* ---- resume at (epoch 1, batch 2) = the uninterrupted run from batch 8 on ---- */
    run rr;
    o.start_epoch = 1;
    o.start_batch = 2;
    o.threads = 2;
    REQUIRE_OK(collect(&ds, &o, 64, &rr));
    CHECK(rr.nb == 10 && same_runs(&r0, 8, &rr, 0, 10),
          "resumed run (%d batches) differs from the uninterrupted one", rr.nb);
    run_free(&rr);
    o.start_epoch = 2;
    o.start_batch = 5;
    REQUIRE_OK(collect(&ds, &o, 64, &rr));
    CHECK(rr.nb == 1 && same_runs(&r0, 17, &rr, 0, 1), "resume at the last batch failed");
    run_free(&rr);
    o.start_epoch = o.start_batch = 0;

    /* ---- augmentation happens in train mode; eval is ordered and centre-cropped ---- */
    run re;
    o.train = 0;
    o.shuffle = 0;
    o.epochs = 1;
    REQUIRE_OK(collect(&ds, &o, 64, &re));
    {
        int ordered = re.nb == 6;
        for (int k = 0; k < re.nb; k++)
            for (int i = 0; i < re.n[k]; i++) ordered = ordered && re.idx[k][i] == k * 4 + i;
        CHECK(ordered, "eval without shuffle is not in dataset order");
        check_contents(&ds, &o, &re);
        /* The same images augmented (train) differ from the eval ones for most samples. */
        int differ = 0;
        for (int k = 0; k < 6; k++)
            for (int i = 0; i < r0.n[k]; i++) {
                int idx = r0.idx[k][i];
                if (memcmp(r0.img[k] + (size_t)i * OH * OW,
                           re.img[idx / 4] + (size_t)(idx % 4) * OH * OW, OH * OW * sizeof(float)))
                    differ++;
            }
        CHECK(differ >= 15, "only %d of 23 training samples differ from their eval version",
              differ);
    }
    run_free(&re);

    /* ---- errors: a missing file and a corrupt file, reported at their batch ---- */
    char missing[600], corrupt[600];
    snprintf(missing, sizeof missing, "%s/no_such_image.png", mc_test_tmp());
    snprintf(corrupt, sizeof corrupt, "%s/corrupt.png", mc_test_tmp());
    {
        char *buf = NULL;
        size_t len = 0;
        REQUIRE_OK(mc_fread_all(paths[3], &buf, &len));
        FILE *f = fopen(corrupt, "wb");
        REQUIRE(f != NULL, "cannot write %s", corrupt);
        size_t wrote = fwrite(buf, 1, len / 2, f);
        fclose(f);
        free(buf);
        REQUIRE(wrote == len / 2, "short write %s", corrupt);
    }
    const char *badpath[2] = {missing, corrupt};
    for (int t = 0; t < 2; t++) {
        char *saved = paths[9];
        paths[9] = (char *)badpath[t];
        mc_loader *ld;
        base_opts(&o);
        o.shuffle = 0;
        o.threads = 2;
        REQUIRE_OK(mc_loader_new(&ld, &ds, &o));
        mc_batch *b;
        int rc0 = mc_loader_next(ld, &b), rc1 = mc_loader_next(ld, &b);
        CHECK(rc0 == 0 && rc1 == 0, "batches before the bad file failed: %s", mc_errmsg());
        int rc2 = mc_loader_next(ld, &b);
        CHECK(rc2 < 0 && b == NULL, "batch with the %s file did not fail",
              t ? "corrupt" : "missing");
        CHECK(strstr(mc_errmsg(), badpath[t]) != NULL, "error does not name the file: %s",
              mc_errmsg());
        int rc3 = mc_loader_next(ld, &b);
        CHECK(rc3 < 0 && b == NULL, "the loader went on after an error");
        mc_loader_free(ld);
        paths[9] = saved;
    }

    /* ---- endless mode, then free mid-epoch with busy workers ---- */
    {
        mc_loader *ld;
        base_opts(&o);
        o.epochs = 0;
        o.threads = 3;
        o.prefetch = 4;
        REQUIRE_OK(mc_loader_new(&ld, &ds, &o));
        mc_batch *b = NULL;
        int ok = 1;
        for (int k = 0; k < 14; k++) {
            int rc = mc_loader_next(ld, &b);
            ok = ok && rc == 0 && b && b->epoch == k / 6 && b->index == k % 6;
        }
        CHECK(ok, "endless loader: wrong epoch/batch sequence");
        CHECK(b && b->epoch == 2 && b->index == 1 &&
                  memcmp(b->images, r0.img[13], (size_t)b->n * OH * OW * sizeof(float)) == 0,
              "endless loader batch (2,1) differs from the bounded run");
        double t0 = now();
        mc_loader_free(ld); /* workers are mid-batch */
        double dt = now() - t0;
        CHECK(dt < 2.0, "freeing a busy loader took %.2f s", dt);
        REQUIRE_OK(mc_loader_new(&ld, &ds, &o));
        mc_loader_free(ld); /* before any batch was taken */
    }

    /* ---- bad options ---- */
    {
        mc_loader *ld = NULL;
        base_opts(&o);
        o.batch = 0;
        CHECK(mc_loader_new(&ld, &ds, &o) == MC_EARG && ld == NULL, "batch 0 accepted");
        base_opts(&o);
        o.start_batch = 6;
        CHECK(mc_loader_new(&ld, &ds, &o) == MC_EARG, "start batch past the epoch accepted");
        base_opts(&o);
        o.batch = 30;
        o.drop_last = 1;
        CHECK(mc_loader_new(&ld, &ds, &o) == MC_EARG, "drop_last with no full batch accepted");
        base_opts(&o);
        o.threads = -1;
        CHECK(mc_loader_new(&ld, &ds, &o) == MC_EARG, "negative thread count accepted");
    }

    run_free(&r0);
    run_free(&r1);
    run_free(&r3);
    return mc_test_done("loader");
}
