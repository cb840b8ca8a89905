/* test_training.c — the trainer end to end on generated data (the demo generator, CheXpert
 * layout, read through a .data file and the loader), with a small T -> E -> C network:
 *   - learning: a short run's validation mean AUC rises well above chance (figure printed);
 *   - the Color Module stage: E's parameters do not move (bit for bit) while T and C train —
 *     the gradient reaches T through the frozen E — and E's BatchNorm running statistics keep
 *     updating (batch-statistics semantics of the paper's code);
 *   - All re-initialises C at its start;
 *   - --resume: a run stopped at a checkpoint and resumed ends with byte-identical weights to an
 *     uninterrupted run with the same seed;
 *   - a diverging run (absurd max_lr) stops with a clear NaN message and keeps a loadable
 *     checkpoint;
 *   - progress comes as events (every iteration, validation, the stage's end, a stop, a resume,
 *     a skipped stage) through the callback, and nothing is printed on stdout or stderr;
 *   - evaluation over a number of images that is not a multiple of the batch (CheXpert's
 *     validation set: 234 images, batch 16: a last batch of 10) gives, image by image, the
 *     probabilities of the same images in full batches, bit for bit, hence the same loss and
 *     AUCs (and a batch-1 pass within float32 rounding);
 *   - a stage that rebuilds the network for another label count refuses, naming the tensor,
 *     weights outside the head group that do not fit (they used to be skipped silently);
 *     that T and E arrive unchanged is checked through `medcolor finetune` (tests/cli_train.sh). */
#include <unistd.h>
#include "test.h"

static const char *NET =
    "[net]\nbatch=8\nwidth=48\nheight=48\nchannels=1\n"
    "[convolutional]\nname=t1\ngroup=color\nfilters=8\nsize=3\npadding=1\nbatch_normalize=1\nbias=1\nactivation=leaky\nslope=0.01\n"
    "[convolutional]\nname=t2\ngroup=color\nfilters=3\nsize=1\n"
    "[convolutional]\nname=e1\ngroup=backbone\nfilters=16\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[convolutional]\nname=e2\ngroup=backbone\nfilters=32\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[convolutional]\nname=e3\ngroup=backbone\nfilters=32\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[avgpool]\ngroup=backbone\n"
    "[connected]\nname=head\ngroup=head\noutput=5\n"
    "[cost]\ngroup=head\n";

static char tmp[512], cfg[600], data[600];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "write %s", path);
    fputs(text, f);
    fclose(f);
}

static float *tensor(mc_net *net, const char *name, size_t *n) {
    int i = mc_net_find_tensor(net, name);
    REQUIRE(i >= 0, "no tensor %s", name);
    mc_tensor_info ti;
    mc_net_tensor_info(net, i, &ti);
    float *v = malloc(ti.numel * sizeof(float));
    REQUIRE_OK(mc_net_tensor_get(net, i, v));
    *n = ti.numel;
    return v;
}

static double rel_change(const float *a, const float *b, size_t n) {
    double d = 0, s = 1e-12;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
        s += (double)a[i] * (double)a[i];
    }
    return sqrt(d / s);
}

static int file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static int files_equal(const char *a, const char *b) {
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int eq = x && y;
    while (eq) {
        int c = fgetc(x), d = fgetc(y);
        if (c != d) eq = 0;
        if (c == EOF || d == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return eq;
}

/* progress events counted (per stage: color 0, all 1) */
typedef struct events {
    int iter[2], valid[2], done, skipped, stopped, resumed, interrupted, ordered_bad, ordered;
    int last_done_index, last_done_n, done_labels, last_epoch;
    long last_iter, last_per_epoch, stopped_iter, resume_iter, prev_iter;
} events;

static void on_event(const mc_train_event *e, void *ctx) {
    events *v = ctx;
    int k = e->stage == MC_STAGE_ALL;
    switch (e->type) {
    case MC_EV_ITER:
        v->iter[k]++;
        if (e->iter != v->prev_iter + 1 && !(e->iter == 1 || v->resumed)) v->ordered_bad++;
        v->prev_iter = e->iter;
        v->last_iter = e->iter;
        v->last_epoch = e->epoch;
        v->last_per_epoch = e->per_epoch;
        if (!(e->loss > 0) || !(e->lr > 0) || e->in_epoch < 1 || e->in_epoch > e->per_epoch || strcmp(e->label, k ? "[all]" : "[color]"))
            v->ordered_bad++;
        break;
    case MC_EV_VALID:
        v->valid[k]++;
        if (e->nlabels != 5 || !(e->mean_auc > 0)) v->ordered_bad++;
        break;
    case MC_EV_STAGE_DONE:
        v->done++;
        v->last_done_index = e->stage_index;
        v->last_done_n = e->nstages;
        v->done_labels = e->nlabels;
        v->ordered = !v->ordered_bad;
        break;
    case MC_EV_SKIPPED: v->skipped++; break;
    case MC_EV_STOPPED:
        v->stopped++;
        v->stopped_iter = e->iter;
        v->interrupted = e->interrupted;
        break;
    case MC_EV_RESUME:
        v->resumed++;
        v->resume_iter = e->iter;
        v->prev_iter = e->iter;
        break;
    }
}

static void experiment(mc_experiment *e, const char *out, int stages, double lr, int epochs) {
    mc_experiment_init(e);
    e->net = strdup(cfg);
    e->data = strdup(data);
    e->out = strdup(out);
    e->path = strdup("test");
    e->seed = 5;
    e->threads = 2;
    e->workers = 2;
    e->nstages = stages;
    e->st[0].stage = MC_STAGE_COLOR;
    e->st[0].max_lr = lr;
    e->st[0].epochs = epochs;
    e->st[0].checkpoint_every = 20;
    if (stages > 1) {
        e->st[1].stage = MC_STAGE_ALL;
        e->st[1].max_lr = lr;
        e->st[1].epochs = epochs;
        e->st[1].checkpoint_every = 25;
    }
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", tmp);
    snprintf(data, sizeof data, "%s/demo.data", tmp);
    write_text(cfg, NET);
    char d[2048];
    snprintf(d, sizeof d,
             "format = chexpert\nroot = %s/demo\ntrain = CheXpert-v1.0-small/train.csv\n"
             "valid = CheXpert-v1.0-small/valid.csv\n"
             "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n",
             tmp);
    write_text(data, d);
    snprintf(d, sizeof d, "%s/demo", tmp);
    REQUIRE_OK(mc_demo_make(d, 480, 160, 48, 60, 7));

    mc_datafile *df;
    mc_dataset *train, *valid;
    REQUIRE_OK(mc_datafile_load(&df, data, NULL));
    REQUIRE_OK(mc_dataset_load(&train, df, "train"));
    REQUIRE_OK(mc_dataset_load(&valid, df, "valid"));
    CHECK(train->n == 480 && valid->n == 160 && train->nlabels == 5, "demo sizes %d %d", train->n, valid->n);

    /* 1. the Color Module stage: frozen E, T and C train, E's BN statistics move */
    {
        mc_net *net;
        mc_net_opts o = {.seed = 3, .threads = 2};
        REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
        size_t n1, n2, n3, n4, n5;
        float *e_before = tensor(net, "e2.weight", &n1), *t_before = tensor(net, "t1.weight", &n2);
        float *bn_before = tensor(net, "e1.bn.running_mean", &n3), *ebn_before = tensor(net, "e1.bn.weight", &n4);
        mc_train_opts to;
        mc_train_opts_default(&to);
        char dir[700];
        snprintf(dir, sizeof dir, "%s/color-only", tmp);
        to.stage = MC_STAGE_COLOR;
        to.max_lr = 1e-2;
        to.epochs = 1;
        to.max_iters = 12;
        to.checkpoint_every = 6;
        to.seed = 1;
        to.workers = 2;
        to.reinit_color = 0;     /* T keeps its start, and without weight decay */
        to.weight_decay = 0;     /* its change is the gradient's alone */
        to.dir = dir;
        mc_train_result r;
        REQUIRE_OK(mc_train(net, train, valid, &to, &r));
        CHECK(r.iters == 12, "iterations %ld", r.iters);
        float *e_after = tensor(net, "e2.weight", &n1), *t_after = tensor(net, "t1.weight", &n2);
        float *bn_after = tensor(net, "e1.bn.running_mean", &n3), *ebn_after = tensor(net, "e1.bn.weight", &n4);
        CHECK(memcmp(e_before, e_after, n1 * sizeof(float)) == 0, "frozen E moved during the color stage");
        CHECK(memcmp(ebn_before, ebn_after, n4 * sizeof(float)) == 0, "frozen E's BN gamma moved");
        double tc = rel_change(t_before, t_after, n2);
        CHECK(tc > 1e-4, "T did not train through the frozen E (relative change %.2g)", tc);
        double bc = 0;
        for (size_t i = 0; i < n3; i++) bc = fmax(bc, fabs((double)bn_after[i] - (double)bn_before[i]));
        CHECK(bc > 1e-3, "frozen E's BN running mean did not update (batch statistics): %.2g", bc);
        printf("  color stage: E unchanged bit for bit, T changed by %.2e (relative), E's BN running mean by up to %.3f\n",
               tc, bc);
        /* 2. All re-initialises C: after one step at a negligible learning rate the head is far
         * from where the color stage left it, while E barely moved */
        float *head_color = tensor(net, "head.weight", &n5);
        snprintf(dir, sizeof dir, "%s/all-only", tmp);
        to.stage = MC_STAGE_ALL;
        to.max_lr = 1e-9;
        to.max_iters = 1;
        to.reinit_color = 0;
        to.dir = dir;
        REQUIRE_OK(mc_train(net, train, NULL, &to, &r));
        float *head_all = tensor(net, "head.weight", &n5), *e_all = tensor(net, "e2.weight", &n1);
        double hc = rel_change(head_color, head_all, n5), ec = rel_change(e_after, e_all, n1);
        CHECK(hc > 0.5, "the head was not re-initialised at the start of All (relative change %.3g)", hc);
        CHECK(ec < 1e-6, "E changed by %.3g at lr 1e-9", ec);
        free(e_before);
        free(t_before);
        free(bn_before);
        free(ebn_before);
        free(e_after);
        free(t_after);
        free(bn_after);
        free(ebn_after);
        free(head_color);
        free(head_all);
        free(e_all);
        mc_net_free(net);
    }

    /* 3. learning: color -> all on the demo data; validation mean AUC well above chance */
    char out_a[700], out_b[700], pa[800], pb[800];
    snprintf(out_a, sizeof out_a, "%s/run-a", tmp);
    snprintf(out_b, sizeof out_b, "%s/run-b", tmp);
    mc_experiment e;
    experiment(&e, out_a, 2, 5e-2, 5);
    /* the progress events, and nothing on the terminal: stdout and stderr go to a file meanwhile */
    events ev;
    memset(&ev, 0, sizeof ev);
    mc_run_opts ro = {.on_event = on_event, .event_ctx = &ev};
    char quiet_path[700];
    snprintf(quiet_path, sizeof quiet_path, "%s/terminal.txt", tmp);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    FILE *qf = fopen(quiet_path, "w");
    REQUIRE(qf && so >= 0 && se >= 0, "redirect");
    dup2(fileno(qf), 1);
    dup2(fileno(qf), 2);
    int run_rc = mc_experiment_run(&e, &ro);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    fclose(qf);
    REQUIRE(run_rc == MC_OK, "experiment: %s", mc_errmsg());
    mc_experiment_clear(&e);
    long printed = -1;
    FILE *pf = fopen(quiet_path, "r");
    if (pf) {
        fseek(pf, 0, SEEK_END);
        printed = ftell(pf);
        fclose(pf);
    }
    CHECK(printed == 0, "the library wrote %ld bytes to stdout/stderr during a run", printed);
    /* 480 images / batch 8 = 60 iterations an epoch, 5 epochs, two stages; checkpoints every 20 / 25 */
    CHECK(ev.iter[0] == 300 && ev.iter[1] == 300, "ITER events: %d, %d (300 per stage)", ev.iter[0], ev.iter[1]);
    CHECK(ev.valid[0] == 15 && ev.valid[1] == 12, "VALID events: %d, %d (every 20 and 25 iterations, and the last)",
          ev.valid[0], ev.valid[1]);
    CHECK(ev.done == 2 && ev.last_done_index == 2 && ev.last_done_n == 2 && ev.done_labels == 5 && ev.ordered &&
              ev.last_iter == 300 && ev.last_epoch == 5 && ev.last_per_epoch == 60,
          "STAGE_DONE %d (stage %d of %d, %d labels), ordered %d, last iteration %ld epoch %d of %ld", ev.done,
          ev.last_done_index, ev.last_done_n, ev.done_labels, ev.ordered, ev.last_iter, ev.last_epoch,
          ev.last_per_epoch);
    /* read the results back from results.csv */
    snprintf(pa, sizeof pa, "%s/results.csv", out_a);
    FILE *f = fopen(pa, "r");
    REQUIRE(f, "no results.csv");
    char line[512];
    double mean_color = -1, mean_all = -1;
    while (fgets(line, sizeof line, f)) {
        int k;
        char stage[32];
        double auc;
        if (sscanf(line, "%d,%31[^,],%*[^,],mean,%lf", &k, stage, &auc) == 3) {
            if (k == 1) mean_color = auc;
            if (k == 2) mean_all = auc;
        }
    }
    fclose(f);
    printf("  learning on demo data (480 images, 48x48, 5+5 epochs): mean AUC color %.3f, all %.3f\n", mean_color,
           mean_all);
    /* chance is 0.5; this tiny network reaches ~0.63 / ~0.72 here (deterministic for a given
     * BLAS); the margins below leave room for other BLAS builds' rounding */
    CHECK(mean_color > 0.58, "color stage mean AUC %.3f not above chance", mean_color);
    CHECK(mean_all > 0.68, "all stage mean AUC %.3f not well above chance", mean_all);

    /* 4. resume equivalence: the same run stopped after 40 iterations of the first stage, then
     * resumed, ends with byte-identical weights */
    experiment(&e, out_b, 2, 5e-2, 5);
    memset(&ev, 0, sizeof ev);
    ro = (mc_run_opts){.stop_after = 40, .on_event = on_event, .event_ctx = &ev};
    REQUIRE_OK(mc_experiment_run(&e, &ro));
    snprintf(pb, sizeof pb, "%s/1-color/DONE", out_b);
    CHECK(access(pb, F_OK) != 0, "the stopped stage must not be marked done");
    CHECK(ev.stopped == 1 && ev.stopped_iter == 40 && !ev.interrupted && ev.done == 0, "STOPPED at %ld", ev.stopped_iter);
    memset(&ev, 0, sizeof ev);
    ro = (mc_run_opts){.resume = 1, .on_event = on_event, .event_ctx = &ev};
    REQUIRE_OK(mc_experiment_run(&e, &ro));
    CHECK(ev.resumed == 1 && ev.resume_iter == 40 && ev.iter[0] == 260 && ev.done == 2, "RESUME at %ld, %d iterations",
          ev.resume_iter, ev.iter[0]);
    memset(&ev, 0, sizeof ev);
    REQUIRE_OK(mc_experiment_run(&e, &ro)); /* finished: both stages skipped */
    CHECK(ev.skipped == 2 && ev.iter[0] + ev.iter[1] == 0, "SKIPPED %d", ev.skipped);
    mc_experiment_clear(&e);
    const char *files[] = {"1-color/best.weights", "1-color/last.weights", "2-all/best.weights", "2-all/last.weights"};
    for (int i = 0; i < 4; i++) {
        snprintf(pa, sizeof pa, "%s/%s", out_a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", out_b, files[i]);
        CHECK(files_equal(pa, pb), "resume: %s differs from the uninterrupted run", files[i]);
    }
    printf("  resume: a run stopped at iteration 40 and resumed ends byte-identical to the uninterrupted one\n");

    /* 5. the same with Adam (one-cycle lr and beta1; decoupled weight decay): the checkpoint holds
     * both moments and the step count, so a resumed run ends byte-identical too; experiment.exp
     * records the optimiser, and resuming with another optimiser is refused */
    {
        char out_c[700], out_d[700];
        snprintf(out_c, sizeof out_c, "%s/run-adam-a", tmp);
        snprintf(out_d, sizeof out_d, "%s/run-adam-b", tmp);
        for (int pass = 0; pass < 2; pass++) {
            experiment(&e, pass ? out_d : out_c, 1, 3e-3, 2);
            e.optimizer = MC_OPTIM_ADAM;
            memset(&ev, 0, sizeof ev);
            ro = (mc_run_opts){.stop_after = pass ? 40 : 0, .on_event = on_event, .event_ctx = &ev};
            REQUIRE_OK(mc_experiment_run(&e, &ro));
            if (pass) {
                CHECK(ev.stopped == 1 && ev.stopped_iter == 40, "Adam: STOPPED at %ld", ev.stopped_iter);
                e.optimizer = MC_OPTIM_RMSPROP;
                ro = (mc_run_opts){.resume = 1};
                int rc = mc_experiment_run(&e, &ro);
                CHECK(rc == MC_EARG && strstr(mc_errmsg(), "optimizer adam") && strstr(mc_errmsg(), "rmsprop"),
                      "resuming an Adam run with RMSprop: %d %s", rc, mc_errmsg());
                e.optimizer = MC_OPTIM_ADAM;
                memset(&ev, 0, sizeof ev);
                ro = (mc_run_opts){.resume = 1, .on_event = on_event, .event_ctx = &ev};
                REQUIRE_OK(mc_experiment_run(&e, &ro));
                CHECK(ev.resumed == 1 && ev.resume_iter == 40 && ev.iter[0] == 80, "Adam: RESUME at %ld, %d iterations",
                      ev.resume_iter, ev.iter[0]);
            }
            mc_experiment_clear(&e);
        }
        for (int i = 0; i < 2; i++) {
            snprintf(pa, sizeof pa, "%s/%s", out_c, files[i]);
            snprintf(pb, sizeof pb, "%s/%s", out_d, files[i]);
            CHECK(files_equal(pa, pb), "Adam resume: %s differs from the uninterrupted run", files[i]);
        }
        snprintf(pa, sizeof pa, "%s/experiment.exp", out_c);
        CHECK(file_contains(pa, "optimizer = adam"), "experiment.exp lacks the optimizer");
        printf("  resume with Adam: stopped at 40 and resumed, byte-identical; another optimiser refused\n");
    }

    /* 6. a last partial batch in evaluation: 234 images at batch 16 (14 full batches and one of
     * 10, padded) against the same images as the first 234 of 240 (15 full batches: the same
     * images in the same batch slots, the last batch's other 6 slots real images instead of
     * padding), with the weights the run above trained. Eval mode: a sample's output depends on
     * nothing else in its batch, so the two must agree bit for bit. A batch-1 pass (another
     * GEMM shape, so float32 rounding differs) agrees within 1e-6 absolute on probabilities in
     * (0, 1): this 7-layer network's outputs are sums of a few hundred float32 products. */
    {
        char dir240[700], d240[700], d234[700], csv[800], csv234[800], text[2048];
        snprintf(dir240, sizeof dir240, "%s/demo240", tmp);
        REQUIRE_OK(mc_demo_make(dir240, 16, 240, 48, 60, 11));
        /* valid234.csv: the header and the first 234 rows of valid.csv */
        snprintf(csv, sizeof csv, "%s/CheXpert-v1.0-small/valid.csv", dir240);
        snprintf(csv234, sizeof csv234, "%s/CheXpert-v1.0-small/valid234.csv", dir240);
        FILE *in = fopen(csv, "r"), *o234 = fopen(csv234, "w");
        REQUIRE(in && o234, "valid234.csv");
        for (int k = 0; k < 235 && fgets(text, sizeof text, in); k++) fputs(text, o234);
        fclose(in);
        fclose(o234);
        const char *csvs[2] = {"valid.csv", "valid234.csv"};
        char *paths[2] = {d240, d234};
        for (int k = 0; k < 2; k++) {
            snprintf(paths[k], 700, "%s/v%d.data", tmp, k ? 234 : 240);
            snprintf(text, sizeof text,
                     "format = chexpert\nroot = %s\ntrain = CheXpert-v1.0-small/train.csv\n"
                     "valid = CheXpert-v1.0-small/%s\n"
                     "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural "
                     "Effusion:ones\n",
                     dir240, csvs[k]);
            write_text(paths[k], text);
        }
        mc_datafile *df240, *df234;
        mc_dataset *v240, *v234;
        REQUIRE_OK(mc_datafile_load(&df240, d240, NULL));
        REQUIRE_OK(mc_dataset_load(&v240, df240, "valid"));
        REQUIRE_OK(mc_datafile_load(&df234, d234, NULL));
        REQUIRE_OK(mc_dataset_load(&v234, df234, "valid"));
        REQUIRE(v240->n == 240 && v234->n == 234 && v234->n % 16 == 10, "validation images: %d, %d", v240->n, v234->n);
        for (int i = 0; i < 234; i++)
            REQUIRE(!strcmp(v234->paths[i], v240->paths[i]), "row %d: %s vs %s", i, v234->paths[i], v240->paths[i]);
        snprintf(pa, sizeof pa, "%s/2-all/best.weights", out_a);
        mc_net *n16, *n1;
        mc_net_opts o16 = {.batch = 16, .seed = 3}, o1 = {.batch = 1, .seed = 3};
        REQUIRE_OK(mc_net_from_cfg(&n16, cfg, &o16));
        REQUIRE_OK(mc_net_from_cfg(&n1, cfg, &o1));
        REQUIRE_OK(mc_net_load_weights(n16, pa));
        REQUIRE_OK(mc_net_load_weights(n1, pa));
        size_t np = (size_t)234 * 5;
        float *p234 = malloc(np * sizeof(float)), *p240 = malloc(240 * 5 * sizeof(float)),
              *p1 = malloc(np * sizeof(float));
        REQUIRE(p234 && p240 && p1, "out of memory");
        for (size_t i = 0; i < np; i++) p234[i] = p1[i] = NAN; /* an image left out stays NaN */
        double l234, l240, l1, auc234[5], auc240[5], m234, m240;
        REQUIRE_OK(mc_evaluate(n16, v234, 2, p234, &l234));
        REQUIRE_OK(mc_evaluate(n16, v240, 2, p240, &l240));
        REQUIRE_OK(mc_evaluate(n1, v234, 2, p1, &l1));
        int differ = 0, unset = 0, first = -1;
        double d1 = 0;
        for (size_t i = 0; i < np; i++) {
            unset += isnan(p234[i]);
            if (p234[i] != p240[i] && first < 0) first = (int)(i / 5);
            differ += p234[i] != p240[i];
            d1 = fmax(d1, fabs((double)p234[i] - (double)p1[i]));
        }
        CHECK(unset == 0 && differ == 0,
              "234 images at batch 16 (last batch 10) vs the same in full batches: %d of %zu probabilities unset, "
              "%d differ (first image %d)",
              unset, np, differ, first);
        CHECK(d1 <= 1e-6, "234 images at batch 16 vs batch 1: probabilities differ by %.3g", d1);
        /* the loss of the 234: mc_evaluate's mean BCE of the clamped probabilities, the same
         * terms in the same order from the full-batch probabilities */
        double ls = 0, lc = 0;
        for (size_t i = 0; i < np; i++)
            if (v234->mask[i] > 0) {
                double pc = fmin(fmax((double)p240[i], 1e-12), 1 - 1e-12), y = v234->y[i];
                ls -= y * log(pc) + (1 - y) * log(1 - pc);
                lc += 1;
            }
        CHECK(fabs(l234 - ls / lc) <= 1e-12 * fabs(ls / lc), "loss of the 234 with a partial batch %.17g vs %.17g",
              l234, ls / lc);
        REQUIRE_OK(mc_mean_auc(v234, p234, auc234, &m234));
        REQUIRE_OK(mc_mean_auc(v234, p240, auc240, &m240)); /* its first 234 rows */
        CHECK(!memcmp(auc234, auc240, sizeof auc240) && m234 == m240, "AUCs with a partial batch (mean %.17g) vs "
              "full batches (%.17g)", m234, m240);
        printf("  eval of 234 images at batch 16 (last batch 10): all %zu probabilities equal to full batches bit "
               "for bit, within %.1e of batch 1; mean AUC %.4f\n",
               np, d1, m234);
        free(p234);
        free(p240);
        free(p1);
        mc_net_free(n16);
        mc_net_free(n1);
        mc_dataset_free(v234);
        mc_dataset_free(v240);
        mc_datafile_free(df234);
        mc_datafile_free(df240);
    }

    /* 7. carrying T and E into the network rebuilt for another label count: a layer outside
     * group head whose shape follows the labels (a BatchNorm after the classifier, put in
     * backbone) cannot be carried. It used to be skipped without a word (that BN then trained
     * from its fresh initialisation); now the stage stops, naming it, before training */
    {
        char bncfg[700], one[700], w5[700], out[700], text[4096];
        snprintf(bncfg, sizeof bncfg, "%s/headbn.cfg", tmp);
        snprintf(text, sizeof text, "%s", NET);
        char *h = strstr(text, "[cost]\n");
        REQUIRE(h, "the test network changed");
        snprintf(h, sizeof text - (size_t)(h - text), "[batchnorm]\nname=headbn\ngroup=backbone\n[cost]\ngroup=head\n");
        write_text(bncfg, text);
        mc_net *net;
        mc_net_opts o = {.seed = 3};
        REQUIRE_OK(mc_net_from_cfg(&net, bncfg, &o));
        REQUIRE(mc_net_num_outputs(net) == 5 && mc_net_find_tensor(net, "headbn.weight") >= 0, "headbn cfg");
        snprintf(w5, sizeof w5, "%s/headbn5.weights", tmp);
        REQUIRE_OK(mc_net_save_weights(net, w5));
        mc_net_free(net);
        snprintf(one, sizeof one, "%s/one.data", tmp);
        snprintf(text, sizeof text,
                 "format = chexpert\nroot = %s/demo\ntrain = CheXpert-v1.0-small/train.csv\n"
                 "valid = CheXpert-v1.0-small/valid.csv\nlabels = Edema:ones\n",
                 tmp);
        write_text(one, text);
        snprintf(out, sizeof out, "%s/run-headbn", tmp);
        mc_experiment_init(&e);
        e.net = strdup(bncfg);
        e.data = strdup(one);
        e.weights = strdup(w5);
        e.out = strdup(out);
        e.path = strdup("test");
        e.keep_color = 1;
        e.workers = 2;
        e.nstages = 1;
        e.st[0].stage = MC_STAGE_LAST;
        e.st[0].max_iters = 2;
        int rc = mc_experiment_run(&e, NULL);
        CHECK(rc == MC_ESHAPE && strstr(mc_errmsg(), "stage 1 (last): the network rebuilt for 1 label") &&
                  strstr(mc_errmsg(), "headbn.weight (group backbone) is [1] now but [5] in the network before") &&
                  strstr(mc_errmsg(), "4 tensors in all"),
              "a label-shaped layer outside group head: rc %d: %s", rc, mc_errmsg());
        printf("  carry into a rebuilt network -> %s\n", mc_errmsg());
        snprintf(pb, sizeof pb, "%s/1-last/checkpoint.safetensors", out);
        CHECK(access(pb, F_OK) != 0, "the stage trained although its weights could not be carried");
        mc_experiment_clear(&e);
    }

    /* 5. divergence: a clear message, the last good checkpoint kept */
    {
        mc_net *net;
        mc_net_opts o = {.seed = 3, .threads = 2};
        REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
        mc_train_opts to;
        mc_train_opts_default(&to);
        char dir[700];
        snprintf(dir, sizeof dir, "%s/diverge", tmp);
        to.stage = MC_STAGE_ALL;
        to.max_lr = 1e8;
        to.epochs = 3;
        to.checkpoint_every = 1;
        to.dir = dir;
        to.workers = 2;
        mc_train_result r;
        int rc = mc_train(net, train, NULL, &to, &r);
        CHECK(rc == MC_ENUM, "divergence rc %d (%s)", rc, mc_errmsg());
        CHECK(strstr(mc_errmsg(), "is nan") || strstr(mc_errmsg(), "is inf") || strstr(mc_errmsg(), "no longer finite"),
              "message: %s", mc_errmsg());
        printf("  divergence -> %s\n", mc_errmsg());
        char ck[800];
        snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", dir);
        if (access(ck, F_OK) == 0) {
            mc_ckpt_meta m;
            REQUIRE_OK(mc_checkpoint_load(net, ck, &m));
            int ok;
            REQUIRE_OK(mc_net_params_finite(net, &ok));
            CHECK(ok, "the kept checkpoint holds non-finite weights");
        }
        mc_net_free(net);
    }
    mc_dataset_free(train);
    mc_dataset_free(valid);
    mc_datafile_free(df);
    return mc_test_done("test_training");
}
