/* test_settings.c — the trainer's settings and where they come from (docs/training.md,
 * docs/cfg.md):
 *   - darknet's training keys in [net] (learning_rate, momentum, decay, ...) are refused with
 *     file:line, the key and value, "does not use" and what to use instead;
 *   - medcolor's trainer keys in [net] (max_lr, epochs, checkpoint_every, weight_decay,
 *     decoupled_wd, seed, frozen_bn) are validated (file:line and the value) and kept;
 *   - precedence, one level at a time: built-in < cfg [net] (its net.* overrides included)
 *     < experiment [experiment] < experiment [stage] (< the command line: tests/cli_train.sh),
 *     for every setting, through mc_experiment_resolve — what mc_experiment_run and the CLI use;
 *   - the settings file a run writes (mc_experiment_write) holds the resolved values and reads
 *     back to the same settings even against a cfg whose [net] says otherwise;
 *   - an experiment's values are validated too (max_lr > 0, epochs >= 1, checkpoint_every >= 1).
 * No tolerances: every value is compared exactly (doubles as written in the files). */
#include "test.h"

static char tmp[512];

static const char *path_of(const char *name) {
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

static void write_file(const char *name, const char *text) {
    FILE *f = fopen(path_of(name), "w");
    REQUIRE(f, "cannot write %s", name);
    fputs(text, f);
    fclose(f);
}

#define NET "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=1\n"
#define LAYERS "[connected]\nname=head\ngroup=head\noutput=2\n[cost]\ngroup=head\n"

/* the cfg text fails to build with rc and a message containing every needle ("@" = the file) */
static void expect_cfg_error(const char *text, int rc_want, const char *const *needles) {
    mc_net *net = NULL;
    mc_net_opts o = {.seed = 1};
    int rc = mc_net_from_string(&net, text, "s.cfg", &o);
    int ok = rc == rc_want;
    for (int i = 0; needles[i]; i++) ok = ok && strstr(mc_errmsg(), needles[i]);
    CHECK(ok, "cfg error: rc %d (want %d), message '%s' (want '%s'...)", rc, rc_want, mc_errmsg(), needles[0]);
    mc_net_free(net);
}

static void darknet_keys(void) {
    static const char *const keys[][2] = {
        {"learning_rate", "use max_lr"}, {"momentum", "one-cycle SGD sets the momentum"},
        {"decay", "use weight_decay"},   {"subdivisions", "batch="},
        {"max_batches", "use epochs"},   {"policy", "one-cycle"},
        {"steps", "one-cycle"},          {"scales", "one-cycle"},
        {"burn_in", "one-cycle"},        {"angle", "augmentation"},
        {"saturation", "augmentation"},  {"exposure", "augmentation"},
        {"hue", "augmentation"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char text[512], kv[64];
        snprintf(text, sizeof text, NET "max_lr=0.01\n%s=0.5\n" LAYERS, keys[i][0]);
        snprintf(kv, sizeof kv, "[net] %s=0.5 ", keys[i][0]);
        const char *needles[] = {"s.cfg:7: ", kv, "darknet training key", "does not use", keys[i][1], NULL};
        expect_cfg_error(text, MC_EPARSE, needles);
    }
    printf("  darknet's 13 training keys refused, e.g. %s\n", mc_errmsg());
    /* the same from a cfg file read for the trainer's settings, and inside an [include]d file's
     * [net] (ignored there, as every included [net]) nothing is refused */
    write_file("dk.cfg", NET "decay=0.0005\n" LAYERS);
    {
        mc_experiment e;
        mc_experiment_init(&e);
        e.net = strdup(path_of("dk.cfg"));
        e.data = strdup("unused.data");
        e.nstages = 1;
        e.st[0].stage = MC_STAGE_COLOR;
        int rc = mc_experiment_resolve(&e);
        CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), "dk.cfg:6: [net] decay=0.0005") &&
                  strstr(mc_errmsg(), "use weight_decay"),
              "resolve with a darknet key: rc %d: %s", rc, mc_errmsg());
        mc_experiment_clear(&e);
    }
    write_file("mod.cfg", "[net]\nbatch=1\nwidth=8\nheight=8\nchannels=1\nlearning_rate=0.1\n[connected]\noutput=3\n");
    char text[512];
    snprintf(text, sizeof text, NET "[include]\nfile=%s\n" LAYERS, path_of("mod.cfg"));
    mc_net *net;
    mc_net_opts o = {.seed = 1};
    int rc = mc_net_from_string(&net, text, "inc.cfg", &o);
    CHECK(rc == MC_OK, "an included file's [net] is ignored as before: %s", mc_errmsg());
    if (rc == MC_OK) mc_net_free(net);
}

static void trainer_keys_validated(void) {
    static const char *const bad[][3] = {
        {"max_lr=0", "[net] max_lr=0: expected a number > 0", NULL},
        {"max_lr=fast", "[net] max_lr=fast: expected a finite number", NULL},
        {"epochs=0", "[net] epochs=0: expected an integer in [1, 100000]", NULL},
        {"epochs=2.5", "[net] epochs=2.5: expected an integer", NULL},
        {"checkpoint_every=0", "[net] checkpoint_every=0: expected an integer >= 1 (iterations) or epoch", NULL},
        {"weight_decay=-0.01", "[net] weight_decay=-0.01: expected a number >= 0", NULL},
        {"decoupled_wd=2", "[net] decoupled_wd=2: expected an integer in [0, 1]", NULL},
        {"seed=-3", "[net] seed=-3: expected an integer >= 0", NULL},
        {"frozen_bn=eval", "[net] frozen_bn=eval: expected one of batch, running", NULL},
        {"max_lrr=0.1", "unknown key 'max_lrr' in [net]", "max_lr"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, NET "%s\n" LAYERS, bad[i][0]);
        const char *needles[] = {"s.cfg:6: ", bad[i][1], bad[i][2], NULL};
        expect_cfg_error(text, MC_EPARSE, needles);
    }
    /* all of them valid: the network builds and they stay readable */
    mc_net *net;
    mc_net_opts o = {.seed = 1};
    REQUIRE_OK(mc_net_from_string(&net,
                                  NET "max_lr=0.003\nepochs=7\ncheckpoint_every=11\nweight_decay=0\ndecoupled_wd=0\n"
                                      "seed=13\nfrozen_bn=running\n" LAYERS,
                                  "ok.cfg", &o));
    const char *v = mc_net_cfg_value(net, "max_lr");
    CHECK(v && !strcmp(v, "0.003"), "mc_net_cfg_value(max_lr) = %s", v ? v : "(null)");
    mc_net_free(net);
}

/* an experiment file: [experiment] with `exp_keys`, stages color (with `stage_keys`) and all */
static void load_exp(mc_experiment *e, const char *cfg, const char *exp_keys, const char *stage_keys,
                     const char *set) {
    char text[2048];
    snprintf(text, sizeof text,
             "[experiment]\nnet = %s\ndata = unused.data\noutput = %s\n%s%s%s%s[stage]\nstage = color\n%s"
             "[stage]\nstage = all\n",
             path_of(cfg), path_of("run"), exp_keys, set ? "set = " : "", set ? set : "", set ? "\n" : "", stage_keys);
    write_file("p.exp", text);
    REQUIRE_OK(mc_experiment_load(e, path_of("p.exp")));
}

typedef struct want {
    double lr0, lr1; /* max_lr of the color and the all stage */
    int ep0, ep1;
    long ck0, ck1;
    double wd;
    int dec, fbn;
    uint64_t seed;
} want;

static void check_resolved(const char *level, mc_experiment *e, want w) {
    REQUIRE_OK(mc_experiment_resolve(e));
    CHECK(e->st[0].max_lr == w.lr0 && e->st[1].max_lr == w.lr1, "%s: max_lr %g %g, want %g %g", level,
          e->st[0].max_lr, e->st[1].max_lr, w.lr0, w.lr1);
    CHECK(e->st[0].epochs == w.ep0 && e->st[1].epochs == w.ep1, "%s: epochs %d %d, want %d %d", level,
          e->st[0].epochs, e->st[1].epochs, w.ep0, w.ep1);
    CHECK(e->st[0].checkpoint_every == w.ck0 && e->st[1].checkpoint_every == w.ck1,
          "%s: checkpoint_every %ld %ld, want %ld %ld", level, e->st[0].checkpoint_every, e->st[1].checkpoint_every,
          w.ck0, w.ck1);
    CHECK(e->weight_decay == w.wd, "%s: weight_decay %g, want %g", level, e->weight_decay, w.wd);
    CHECK(e->decoupled == w.dec, "%s: decoupled_wd %d, want %d", level, e->decoupled, w.dec);
    CHECK(e->frozen_bn == w.fbn, "%s: frozen_bn %d, want %d", level, e->frozen_bn, w.fbn);
    CHECK(e->seed == w.seed, "%s: seed %llu, want %llu", level, (unsigned long long)e->seed,
          (unsigned long long)w.seed);
    /* resolving again changes nothing */
    mc_experiment again = *e;
    REQUIRE_OK(mc_experiment_resolve(&again));
    CHECK(!memcmp(&again, e, sizeof again), "%s: resolving twice changed the settings", level);
}

static void precedence(void) {
    write_file("plain.cfg", NET LAYERS);
    write_file("keys.cfg", NET "max_lr=0.003\nepochs=7\ncheckpoint_every=11\nweight_decay=0.02\ndecoupled_wd=0\n"
                               "seed=13\nfrozen_bn=running\n" LAYERS);
    mc_experiment e;
    /* built-in: the paper's stage defaults (color 2e-3 x 12, all 2e-2 x 6), per epoch, 1e-2
     * decoupled, batch statistics, seed 0 */
    load_exp(&e, "plain.cfg", "", "", NULL);
    check_resolved("built-in", &e, (want){2e-3, 2e-2, 12, 6, MC_EVERY_EPOCH, MC_EVERY_EPOCH, 1e-2, 1, MC_FROZEN_BN_BATCH, 0});
    mc_experiment_clear(&e);
    /* the cfg's [net] over built-in, for every stage */
    load_exp(&e, "keys.cfg", "", "", NULL);
    check_resolved("[net]", &e, (want){0.003, 0.003, 7, 7, 11, 11, 0.02, 0, MC_FROZEN_BN_RUNNING, 13});
    mc_experiment_clear(&e);
    /* a net.* override is the cfg's [net] too */
    load_exp(&e, "keys.cfg", "", "", "net.max_lr=0.004, net.seed=21");
    check_resolved("[net] with set", &e, (want){0.004, 0.004, 7, 7, 11, 11, 0.02, 0, MC_FROZEN_BN_RUNNING, 21});
    mc_experiment_clear(&e);
    /* [experiment] over [net] */
    const char *ek = "max_lr = 0.005\nepochs = 8\ncheckpoint_every = 12\nweight_decay = 0.03\ndecoupled_wd = 1\n"
                     "seed = 14\nfrozen_bn = batch\n";
    load_exp(&e, "keys.cfg", ek, "", NULL);
    check_resolved("[experiment]", &e, (want){0.005, 0.005, 8, 8, 12, 12, 0.03, 1, MC_FROZEN_BN_BATCH, 14});
    mc_experiment_clear(&e);
    /* [stage] over [experiment]: the color stage sets its own, all keeps the experiment's */
    load_exp(&e, "keys.cfg", ek, "max_lr = 0.006\nepochs = 9\ncheckpoint_every = 13\n", NULL);
    check_resolved("[stage]", &e, (want){0.006, 0.005, 9, 8, 13, 12, 0.03, 1, MC_FROZEN_BN_BATCH, 14});
    /* what a run writes (experiment.exp: the settings in effect) reads back the same, even
     * against a cfg that now says something else: it does not depend on the cfg's [net] */
    FILE *f = fopen(path_of("written.exp"), "w");
    REQUIRE(f, "write written.exp");
    REQUIRE_OK(mc_experiment_write(f, &e, 1));
    fclose(f);
    mc_experiment back;
    REQUIRE_OK(mc_experiment_load(&back, path_of("written.exp")));
    write_file("keys.cfg", NET "max_lr=0.9\nepochs=99\ncheckpoint_every=99\nweight_decay=0.9\ndecoupled_wd=0\n"
                               "seed=99\nfrozen_bn=running\n" LAYERS);
    check_resolved("written and read back", &back, (want){0.006, 0.005, 9, 8, 13, 12, 0.03, 1, MC_FROZEN_BN_BATCH, 14});
    mc_experiment_clear(&back);
    mc_experiment_clear(&e);
    /* a level's own key alone: [net] epochs with [experiment] max_lr and a [stage] seed-free */
    write_file("some.cfg", NET "epochs=3\nweight_decay=0\n" LAYERS);
    load_exp(&e, "some.cfg", "max_lr = 0.007\n", "checkpoint_every = 5\n", NULL);
    check_resolved("mixed", &e, (want){0.007, 0.007, 3, 3, 5, MC_EVERY_EPOCH, 0, 1, MC_FROZEN_BN_BATCH, 0});
    /* once per epoch is pinned in what a run writes too (checkpoint_every = epoch), so a cfg
     * that later says checkpoint_every=99 does not change the written run */
    FILE *f2 = fopen(path_of("mixed.exp"), "w");
    REQUIRE(f2, "write mixed.exp");
    REQUIRE_OK(mc_experiment_write(f2, &e, 1));
    fclose(f2);
    mc_experiment back2;
    REQUIRE_OK(mc_experiment_load(&back2, path_of("mixed.exp")));
    write_file("some.cfg", NET "epochs=30\nweight_decay=0.5\ncheckpoint_every=99\n" LAYERS);
    check_resolved("mixed, written and read back", &back2,
                   (want){0.007, 0.007, 3, 3, 5, MC_EVERY_EPOCH, 0, 1, MC_FROZEN_BN_BATCH, 0});
    mc_experiment_clear(&back2);
    mc_experiment_clear(&e);
    /* checkpoint_every = epoch at a level overrides a number below it */
    load_exp(&e, "keys.cfg", "checkpoint_every = epoch\n", "", NULL);
    REQUIRE_OK(mc_experiment_resolve(&e));
    CHECK(e.st[0].checkpoint_every == MC_EVERY_EPOCH && e.st[1].checkpoint_every == MC_EVERY_EPOCH,
          "checkpoint_every = epoch over [net]'s 99: %ld %ld", e.st[0].checkpoint_every, e.st[1].checkpoint_every);
    mc_experiment_clear(&e);
    printf("  precedence: built-in < [net] (and net.* overrides) < [experiment] < [stage], for max_lr, epochs,\n"
           "  checkpoint_every, weight_decay, decoupled_wd, frozen_bn and seed; the written settings read back\n");
}

static void experiment_values_validated(void) {
    static const char *const bad[][2] = {
        {"[stage]\nstage = color\nmax_lr = 0\n", "p.exp:6: [stage] max_lr=0: expected a number > 0"},
        {"[stage]\nstage = color\nepochs = 0\n", "p.exp:6: [stage] epochs=0: expected an integer in [1, 100000]"},
        {"[stage]\nstage = color\ncheckpoint_every = 0\n",
         "p.exp:6: [stage] checkpoint_every=0: expected an integer >= 1 (iterations) or epoch"},
        {"weight_decay = -1\n[stage]\nstage = color\n", "p.exp:4: [experiment] weight_decay=-1: expected a number >= 0"},
        {"max_lr = -2e-3\n[stage]\nstage = color\n", "p.exp:4: [experiment] max_lr=-2e-3: expected a number > 0"},
        {"optimizer = adm\n[stage]\nstage = color\n",
         "p.exp:4: [experiment] optimizer=adm: unknown optimizer 'adm' (expected sgd, adam, adamw or rmsprop)"},
        {"beta2 = 1\n[stage]\nstage = color\n", "p.exp:4: [experiment] beta2=1: expected a number in [0, 1)"},
        {"alpha = 1.5\n[stage]\nstage = color\n", "p.exp:4: [experiment] alpha=1.5: expected a number in [0, 1]"},
        {"eps = -1e-8\n[stage]\nstage = color\n", "p.exp:4: [experiment] eps=-1e-8: expected a number >= 0"},
        {"centered = 2\n[stage]\nstage = color\n", "p.exp:4: [experiment] centered=2: expected an integer in [0, 1]"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "[experiment]\nnet = x.cfg\ndata = y.data\n%s", bad[i][0]);
        /* the lines: 1 [experiment], 2 net, 3 data, then the snippet (an [experiment] key at 4,
         * or [stage] at 4 and its key at 6) */
        write_file("p.exp", text);
        mc_experiment e;
        int rc = mc_experiment_load(&e, path_of("p.exp"));
        CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), bad[i][1]), "experiment value: rc %d: %s (want %s)", rc,
              mc_errmsg(), bad[i][1]);
        if (rc == MC_OK) mc_experiment_clear(&e);
    }
}

/* optimizer = ... and its settings: resolved (sgd and cycling by default), written and read
 * back; a setting the optimiser would not use is refused at resolve, naming it */
static void optimizer_settings(void) {
    write_file("o.cfg", NET LAYERS);
    mc_experiment e;
    load_exp(&e, "o.cfg", "", "", NULL);
    REQUIRE_OK(mc_experiment_resolve(&e));
    CHECK(e.optimizer == MC_OPTIM_SGD && e.cycle_momentum == 1, "defaults: optimizer %d, cycle %d", e.optimizer,
          e.cycle_momentum);
    mc_experiment_clear(&e);
    load_exp(&e, "o.cfg", "optimizer = rmsprop\nalpha = 0.9\neps = 1e-7\nmomentum = 0.5\ncentered = 1\n", "", NULL);
    REQUIRE_OK(mc_experiment_resolve(&e));
    CHECK(e.optimizer == MC_OPTIM_RMSPROP && e.alpha == 0.9 && e.eps == 1e-7 && e.momentum == 0.5 && e.centered == 1,
          "rmsprop settings: %d %g %g %g %d", e.optimizer, e.alpha, e.eps, e.momentum, e.centered);
    FILE *f = fopen(path_of("o2.exp"), "w");
    REQUIRE(f, "o2.exp");
    REQUIRE_OK(mc_experiment_write(f, &e, 1));
    fclose(f);
    mc_experiment back;
    REQUIRE_OK(mc_experiment_load(&back, path_of("o2.exp")));
    REQUIRE_OK(mc_experiment_resolve(&back));
    CHECK(back.optimizer == e.optimizer && back.alpha == e.alpha && back.eps == e.eps && back.momentum == e.momentum &&
              back.centered == e.centered && back.cycle_momentum == e.cycle_momentum,
          "the written optimizer settings read back");
    mc_experiment_clear(&back);
    mc_experiment_clear(&e);
    static const char *const unused[][2] = {
        {"beta2 = 0.99\n", "beta2 is a setting of adam and adamw; the optimizer is sgd"},
        {"optimizer = adam\nbeta1 = 0.8\n", "beta1 is a setting of adam and adamw with cycle_momentum = 0"},
        {"optimizer = adam\nalpha = 0.9\n", "alpha is a setting of rmsprop; the optimizer is adam"},
        {"momentum = 0.9\n", "momentum is a setting of rmsprop, and sgd with cycle_momentum = 0"},
        {"optimizer = sgd\neps = 1e-7\n", "eps is a setting of adam, adamw and rmsprop"}};
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        load_exp(&e, "o.cfg", unused[i][0], "", NULL);
        int rc = mc_experiment_resolve(&e);
        CHECK(rc == MC_EARG && strstr(mc_errmsg(), unused[i][1]), "unused setting: rc %d: %s (want %s)", rc, mc_errmsg(),
              unused[i][1]);
        mc_experiment_clear(&e);
    }
    load_exp(&e, "o.cfg", "optimizer = adam\nbeta1 = 0.8\ncycle_momentum = 0\nbeta2 = 0.99\n", "", NULL);
    CHECK(mc_experiment_resolve(&e) == MC_OK && e.beta1 == 0.8 && e.cycle_momentum == 0, "adam beta1 without cycling: %s",
          mc_errmsg());
    mc_experiment_clear(&e);
    printf("  optimizer settings: defaults, rmsprop's read back, unused ones refused\n");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    optimizer_settings();
    darknet_keys();
    trainer_keys_validated();
    precedence();
    experiment_values_validated();
    return mc_test_done("test_settings");
}
