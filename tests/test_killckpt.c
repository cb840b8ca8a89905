/* test_killckpt.c — SIGKILL at random moments of a training run that writes a checkpoint (and
 * validates, and may write best.weights) after every iteration: after each kill the stage's
 * checkpoint loads, is never older than the one before and at most one iteration behind the
 * log, and the run resumes; resumed to the end, it is byte for byte the uninterrupted run.
 *
 * The run is `medcolor train` ($MC_BIN) in a child process (fork + exec: a fresh process, as a
 * killed job's restart is); the kill moments are drawn from a fixed seed. A kill lands inside an
 * atomic write when the write's temporary file (NAME.tmp.PID) is left behind: the test counts
 * those per file, and goes on killing until at least MIN_IN_CKPT kills landed inside a
 * checkpoint write (or MAX_KILLS kills), so that it shows what it is for on a fast or a slow
 * machine. The stale temporary files are removed by the next --resume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"

#define MIN_IN_CKPT 12
#define MAX_KILLS 400

static char tmp[512], bin[1024], cfg[700], data[700];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* the kill moments: a fixed seed (splitmix64), uniform in [0, 1) */
static uint64_t seed_state = 20240613;
static double uniform(void) {
    uint64_t z = (seed_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* runs medcolor train into out (with --resume when resume); killed after delay_us (< 0: never).
 * Returns the exit status, or -SIGKILL when it was killed. */
static int train_watch(const char *out, int resume, long delay_us, const char *watch, double *t_watch);
static int train(const char *out, int resume, long delay_us) { return train_watch(out, resume, delay_us, NULL, NULL); }

/* as train; with watch (and no kill), *t_watch = the seconds from the start until the file watch
 * first exists (polled every 0.5 ms; -1: never) */
static int train_watch(const char *out, int resume, long delay_us, const char *watch, double *t_watch) {
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    if (t_watch) *t_watch = -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) {
            dup2(nul, 1);
            dup2(nul, 2);
        }
        char *argv[] = {bin, "train", cfg, data, "--stages", "color", "--epochs", "12", "--checkpoint-every", "1",
                        "--seed", "4", "--threads", "1", "-o", (char *)out, "--quiet", resume ? "--resume" : NULL,
                        NULL};
        execv(bin, argv);
        _exit(127);
    }
    if (delay_us >= 0) {
        struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int st;
    if (watch && delay_us < 0) {
        for (;;) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid || (r < 0 && errno != EINTR)) break;
            if (*t_watch < 0 && access(watch, F_OK) == 0) {
                clock_gettime(CLOCK_MONOTONIC, &w1);
                *t_watch = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
            }
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
        if (WIFSIGNALED(st)) return -WTERMSIG(st);
        return WEXITSTATUS(st);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) return -WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* the temporary files of atomic writes left in dir: counts per kind */
typedef struct leftovers {
    int ckpt, best, last, results, exp, other;
} leftovers;
static void count_tmp(const char *dir, leftovers *l) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".tmp.")) continue;
        if (!strncmp(e->d_name, "checkpoint.safetensors", 22)) l->ckpt++;
        else if (!strncmp(e->d_name, "best.weights", 12)) l->best++;
        else if (!strncmp(e->d_name, "last.weights", 12)) l->last++;
        else if (!strncmp(e->d_name, "results.csv", 11)) l->results++;
        else if (!strncmp(e->d_name, "experiment.exp", 14)) l->exp++;
        else l->other++;
    }
    closedir(d);
}

/* the highest iteration of log.csv's rows (-1: none) */
static long log_last_iter(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    long last = -1;
    while (fgets(line, sizeof line, f)) {
        char stage[32];
        int ep;
        long it;
        if (sscanf(line, "%31[^,],%d,%ld,", stage, &ep, &it) == 3 && it > last) last = it;
    }
    fclose(f);
    return last;
}

static int same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = 0;
    if (f && g) {
        fseek(f, 0, SEEK_END);
        fseek(g, 0, SEEK_END);
        nx = (size_t)ftell(f);
        ny = (size_t)ftell(g);
        rewind(f);
        rewind(g);
        x = malloc(nx + 1);
        y = malloc(ny + 1);
        same = nx == ny && fread(x, 1, nx, f) == nx && fread(y, 1, ny, g) == ny && !memcmp(x, y, nx);
    }
    if (f) fclose(f);
    if (g) fclose(g);
    free(x);
    free(y);
    return same;
}

/* log.csv without its seconds column (wall time differs between runs) */
static void log_columns(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    size_t o = 0;
    buf[0] = 0;
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f) && o + 1 < n) {
        char *last = strrchr(line, ',');
        if (last) *last = 0;
        o += (size_t)snprintf(buf + o, n - o, "%s\n", line);
    }
    fclose(f);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    const char *b = getenv("MC_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "./medcolor");
    REQUIRE(access(bin, X_OK) == 0, "%s: not an executable (MC_BIN)", bin);
    char demo[700];
    snprintf(demo, sizeof demo, "%s/demo", tmp);
    REQUIRE_OK(mc_demo_make(demo, 96, 32, 32, 32, 6));
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", tmp);
    snprintf(data, sizeof data, "%s/demo.data", tmp);
    write_text(cfg, "[net]\nbatch=8\nwidth=32\nheight=32\nchannels=1\n"
                    "[convolutional]\nname=t\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
                    "[convolutional]\nname=e\ngroup=backbone\nfilters=8\nsize=3\nstride=2\npadding=1\n"
                    "batch_normalize=1\nactivation=relu\n"
                    "[avgpool]\ngroup=backbone\n[connected]\nname=head\ngroup=head\noutput=5\n[cost]\ngroup=head\n");
    char text[1200];
    snprintf(text, sizeof text,
             "format = chexpert\nroot = %s\ntrain = CheXpert-v1.0-small/train.csv\n"
             "valid = CheXpert-v1.0-small/valid.csv\n"
             "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n",
             demo);
    write_text(data, text);

    /* the uninterrupted run, and how long it takes (the kill moments are drawn within it) */
    char ref[700], run[700], ck[900], stage[800], path[900], refp[900];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(stage, sizeof stage, "%s/1-color", run);
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", stage);
    struct timespec t0, t1;
    char ref_ck[900];
    snprintf(ref_ck, sizeof ref_ck, "%s/1-color/checkpoint.safetensors", ref);
    double t_first;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(train_watch(ref, 0, -1, ref_ck, &t_first) == 0, "the reference run failed");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const long total = 12 * (96 / 8);
    /* a kill between half the start-up (until the first checkpoint: loading, the run folder, the
     * first iteration; on a loaded machine it can be most of a short run, 2026-12-04) and an
     * eighth of the training after it: each life of the process goes a few iterations */
    if (t_first < 0 || t_first > secs) t_first = 0;
    long lo = (long)(t_first * 1e6 / 2), span = (long)(t_first * 1e6 / 2 + (secs - t_first) * 1e6 / 8);
    if (span < 20000) span = 20000;
    printf("  uninterrupted: %ld iterations, a checkpoint after each, in %.2f s (the first after %.0f ms); kills "
           "%.0f to %.0f ms after a start\n", total, secs, t_first * 1e3, lo / 1e3, (lo + span) / 1e3);

    mc_net *net;
    mc_net_opts o = {.batch = 8, .no_init = 1};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    int kills = 0, in_ckpt = 0, in_any = 0, verified = 0, resumed = 0, rounds = 0, finished_early = 0;
    leftovers tot = {0};
    long prev_iter = -1, before_done = 0;
    while (kills < MAX_KILLS && (in_ckpt < MIN_IN_CKPT || kills < 60)) {
        /* a fresh run when the last one finished (a new round), else resume when there is a run */
        snprintf(path, sizeof path, "%s/DONE", stage);
        if (exists(path)) {
            char cmd[1600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
            REQUIRE(system(cmd) == 0, "rm");
            prev_iter = -1;
            rounds++;
        }
        snprintf(path, sizeof path, "%s/log.csv", run);
        int resume = exists(path);
        resumed += resume && exists(ck);
        long delay = lo + (long)(uniform() * (double)span);
        int rc = train(run, resume, delay);
        if (rc != -SIGKILL) {
            /* it ended before the kill: finished, or an error */
            CHECK(rc == 0, "kill %d: the run failed (rc %d) instead of being killed", kills, rc);
            if (rc != 0) break;
            finished_early++;
            continue;
        }
        kills++;
        leftovers l = {0};
        count_tmp(stage, &l);
        count_tmp(run, &l);
        in_ckpt += l.ckpt > 0;
        in_any += l.ckpt + l.best + l.last + l.results + l.exp + l.other > 0;
        tot.ckpt += l.ckpt;
        tot.best += l.best;
        tot.last += l.last;
        tot.results += l.results;
        tot.exp += l.exp;
        tot.other += l.other;
        if (!exists(ck)) continue; /* killed before its first checkpoint */
        /* the checkpoint left behind loads, is not older than the last one, and at most one
         * iteration (one checkpoint interval) behind what the log shows was trained */
        mc_ckpt_meta m = {0};
        int lrc = mc_checkpoint_load(net, ck, &m);
        CHECK(lrc == MC_OK, "kill %d (after %ld us): the checkpoint does not load: %s", kills, delay, mc_errmsg());
        if (lrc != MC_OK) break;
        verified++;
        long logged = log_last_iter(path);
        CHECK(m.next_iter >= prev_iter, "kill %d: the checkpoint went back from iteration %ld to %ld", kills, prev_iter,
              m.next_iter);
        CHECK(logged <= m.next_iter + 1, "kill %d: log.csv reaches iteration %ld, the checkpoint only %ld", kills, logged,
              m.next_iter);
        CHECK(m.total_iters == total, "kill %d: the checkpoint's schedule %ld", kills, m.total_iters);
        prev_iter = m.next_iter;
        before_done = m.next_iter;
    }
    mc_net_free(net);
    /* the last round resumed to its end: the uninterrupted run, byte for byte */
    snprintf(path, sizeof path, "%s/log.csv", run);
    int rc = train(run, exists(path), -1);
    CHECK(rc == 0, "the final resume failed: rc %d", rc);
    const char *files[] = {"1-color/best.weights", "1-color/last.weights", "1-color/valid.csv", "results.csv"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", run, files[i]);
        snprintf(refp, sizeof refp, "%s/%s", ref, files[i]);
        if (i == 3) continue; /* results.csv holds the seconds of the last life only */
        CHECK(same_file(path, refp), "%s differs from the uninterrupted run's", files[i]);
    }
    static char la[1 << 16], lb[1 << 16];
    snprintf(path, sizeof path, "%s/log.csv", run);
    snprintf(refp, sizeof refp, "%s/log.csv", ref);
    log_columns(path, la, sizeof la);
    log_columns(refp, lb, sizeof lb);
    CHECK(la[0] && !strcmp(la, lb), "log.csv (without the seconds) differs from the uninterrupted run's");
    leftovers after = {0};
    count_tmp(stage, &after);
    count_tmp(run, &after);
    CHECK(after.ckpt + after.best + after.last + after.results + after.exp + after.other == 0,
          "temporary files of killed writes are left after the resume (%d)", after.ckpt + after.best + after.other);
    printf("  %d SIGKILLs (%d rounds to the end and over again, %d lives ended before their kill): %d landed inside an "
           "atomic write (%.0f%%), %d inside a checkpoint write (%.0f%%); temporary files left: checkpoint %d, "
           "best.weights %d, last.weights %d, results.csv %d, experiment.exp %d, other %d\n",
           kills, rounds, finished_early, in_any, 100.0 * in_any / (kills ? kills : 1), in_ckpt,
           100.0 * in_ckpt / (kills ? kills : 1), tot.ckpt, tot.best, tot.last, tot.results, tot.exp, tot.other);
    printf("  after every kill the checkpoint loaded (%d checked, the last at iteration %ld of %ld); %d restarts "
           "resumed from one; resumed to the end: identical to the uninterrupted run\n",
           verified, before_done, total, resumed);
    CHECK(in_ckpt >= MIN_IN_CKPT, "only %d of %d kills landed inside a checkpoint write: the test did not show what it "
          "is for", in_ckpt, kills);
    return mc_test_done("test_killckpt");
}
