/* grid.c — `medcolor grid` (expand a .grid file into run folders and runs.tsv) and
 * `medcolor run-grid` (work through a grid folder's runs one after another: finished runs are
 * skipped, interrupted ones resumed, a failed run does not stop the others). docs/study.md.
 * Started by mpirun/srun as N processes, each run is trained data-parallel on all of them (a run
 * with several GPUs: docs/distributed.md); rank 0 reads the runs' states and tells the others,
 * and alone prints. */
#include "cli/cli.h"
#include "dist/dist.h"
#include "medcolor.h"
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *state_name(const mc_run_state *s) {
    return s->state == MC_RUN_DONE ? "done" : s->state == MC_RUN_STARTED ? "started" : "new";
}

int mc_cli_grid(int argc, char **argv) {
    const char *out = NULL;
    int list = 0;
    const mc_opt opts[] = {
        {"-o", 's', &out, "grid folder: one run folder per combination, runs.tsv, grid.grid", "runs/<grid name>"},
        {"--list", 'f', &list, "print every run with its state", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[1];
    int npos;
    const char *syn = "medcolor grid <file.grid> [-o DIR] [--list]";
    const char *about =
        "Expands an experiment grid (backbones x modules x stage chains x subset fractions x seeds; the\n"
        "format is in docs/study.md) into one run folder per combination, each with its resolved\n"
        "experiment.exp, and an index DIR/runs.tsv (1-based: the SLURM array index). Expanding again\n"
        "into the same folder adds new runs and keeps started ones (refused when their settings\n"
        "changed). Then: medcolor run-grid DIR, or scripts/slurm_grid.sh DIR on a cluster.";
    int r = mc_cli_parse("grid", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) return mc_cli_args_error("grid", "<file.grid>", npos);
    char def[512];
    if (!out) {
        const char *b = strrchr(pos[0], '/');
        snprintf(def, sizeof def, "runs/%s", b ? b + 1 : pos[0]);
        char *dot = strrchr(def, '.');
        if (dot && dot > def + 5) *dot = 0;
        out = def;
    }
    mc_grid_run *runs;
    int n;
    if (mc_grid_expand(pos[0], out, &runs, &n) < 0 || mc_grid_write(pos[0], out, runs, n) < 0) {
        fprintf(stderr, "medcolor grid: %s\n", mc_errmsg());
        return 1;
    }
    int count[3] = {0, 0, 0};
    if (list) printf("%5s  %-8s %s\n", "index", "state", "run");
    for (int i = 0; i < n; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", out, runs[i].name);
        mc_run_state st;
        if (mc_run_status(dir, &st) < 0) {
            fprintf(stderr, "medcolor grid: %s\n", mc_errmsg());
            mc_grid_runs_free(runs, n);
            return 1;
        }
        count[st.state]++;
        if (list) printf("%5d  %-8s %s\n", runs[i].index, state_name(&st), runs[i].name);
    }
    /* run folders of an earlier expansion that this grid no longer has */
    char **stale_names;
    int stale;
    if (mc_grid_stale(out, runs, n, &stale_names, &stale) < 0) {
        fprintf(stderr, "medcolor grid: %s\n", mc_errmsg());
        mc_grid_runs_free(runs, n);
        return 1;
    }
    for (int i = 0; i < stale && i < 5; i++)
        fprintf(stderr, "medcolor grid: note: %s/%s is not in this grid (kept, not in runs.tsv)\n", out,
                stale_names[i]);
    if (stale > 5) fprintf(stderr, "medcolor grid: note: ... %d run folders in all are not in this grid\n", stale);
    mc_grid_names_free(stale_names, stale);
    printf("%d runs in %s (%d new, %d started, %d done); index %s/runs.tsv\n"
           "run them: medcolor run-grid %s   (on a SLURM cluster: scripts/slurm_grid.sh %s)\n",
           n, out, count[MC_RUN_NEW], count[MC_RUN_STARTED], count[MC_RUN_DONE], out, out, out);
    mc_grid_runs_free(runs, n);
    return 0;
}

/* --only: a glob (* ? [) matched against the whole name, else a substring */
static int matches(const mc_strlist *only, const char *name) {
    if (only->n == 0) return 1;
    for (int i = 0; i < only->n; i++) {
        const char *p = only->v[i];
        if (strpbrk(p, "*?[") ? fnmatch(p, name, 0) == 0 : strstr(name, p) != NULL) return 1;
    }
    return 0;
}

/* the run's state as rank 0 reads it, the same on every rank; -1 when rank 0 could not read it
 * (its message is then in mc_errmsg() on rank 0 only) */
static int shared_status(mc_dist *world, const char *run, mc_run_state *st) {
    int v[3] = {-1, 0, 0};
    memset(st, 0, sizeof *st);
    if (mc_dist_is_root(world) && mc_run_status(run, st) == MC_OK) v[0] = st->state, v[1] = st->ndone, v[2] = st->nstages;
    if (mc_dist_bcast(world, v, sizeof v, 0) < 0) return -1;
    st->state = v[0] < 0 ? MC_RUN_NEW : v[0];
    st->ndone = v[1], st->nstages = v[2];
    return v[0] < 0 ? -1 : 0;
}

int mc_cli_run_grid(int argc, char **argv) {
    mc_strlist only = {.n = 0};
    long index = 0, stop_after = 0, gpu = -1, threads = -1, workers = -1;
    int dry = 0, plain = 0, quiet = 0;
    const mc_opt opts[] = {
        {"--only", 'l', &only, "only runs whose name matches (a glob with * ? [], else a substring); repeatable",
         "all"},
        {"--index", 'i', &index, "only run N of runs.tsv (1-based; the SLURM array task id)", NULL, ">=1"},
        {"--dry-run", 'f', &dry, "print what would be run, resumed or skipped; train nothing", NULL},
        {"--gpu", 'i', &gpu, "train on CUDA device N (a GPU build)", "the experiment's (CPU)", "0..1024"},
        {"--threads", 'i', &threads, "compute threads", "the experiment's", "0..1024"},
        {"--workers", 'i', &workers, "image loading threads", "the experiment's", "0..64"},
        {"--stop-after", 'i', &stop_after, "stop each run (resumably) at the first checkpoint after N iterations",
         NULL, "1..2147483647"},
        {"--plain", 'f', &plain, "plain progress lines instead of a progress bar", "bar on a terminal"},
        {"--quiet", 'f', &quiet, "no progress output", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[1];
    int npos;
    const char *syn = "medcolor run-grid <grid dir> [--only PATTERN] [--index N] [--dry-run] [options]";
    const char *about =
        "Works through the runs of a grid folder (made by medcolor grid) one after another, in the\n"
        "order of runs.tsv: a finished run (every stage DONE, results.csv complete) is skipped, a\n"
        "started one resumed from its checkpoints (the same result as an uninterrupted run), a new one\n"
        "started. A failed run is reported and the next one goes on; the exit status is 1 when any\n"
        "run failed. Summarise with: medcolor report <grid dir>.";
    int r = mc_cli_parse("run-grid", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) return mc_cli_args_error("run-grid", "<grid dir>", npos);
    const char *dir = pos[0];
    mc_grid_entry *ent;
    int n;
    if (mc_grid_index_load(dir, &ent, &n) < 0) {
        fprintf(stderr, "medcolor run-grid: %s\n", mc_errmsg());
        return 1;
    }
    if (index > n) {
        fprintf(stderr, "medcolor run-grid: --index %ld: %s/runs.tsv has %d runs\n", index, dir, n);
        mc_grid_index_free(ent, n);
        return 2;
    }
    mc_dist *world;
    if (mc_dist_init(&world) < 0) {
        fprintf(stderr, "medcolor run-grid: %s\n", mc_errmsg());
        mc_grid_index_free(ent, n);
        return 1;
    }
    const int nranks = mc_dist_size(world), root = mc_dist_is_root(world);
    if (!root) quiet = 1;
    if (!quiet && nranks > 1)
        fprintf(stderr, "medcolor run-grid: %d processes: each run data-parallel over all of them (rank 0 on host %s)\n",
                nranks, mc_dist_host(world));
    mc_cli_progress prog;
    mc_cli_progress_init(&prog, quiet, plain);
    int nsel = 0, nskip = 0, nfin = 0, nstop = 0, nfail = 0, k = 0;
    char **failed = calloc((size_t)n, sizeof(char *));
    if (!failed) {
        fprintf(stderr, "medcolor run-grid: out of memory\n");
        mc_grid_index_free(ent, n);
        return 1;
    }
    for (int i = 0; i < n; i++)
        nsel += (!index || ent[i].index == index) && matches(&only, ent[i].name);
    if (!nsel) {
        if (root) fprintf(stderr, "medcolor run-grid: no run of %s/runs.tsv matches\n", dir);
        mc_grid_index_free(ent, n);
        free(failed);
        mc_dist_free(world);
        return 1;
    }
    volatile sig_atomic_t *stop = dry ? NULL : mc_cli_catch_stop();
    for (int i = 0; i < n; i++) {
        const mc_grid_entry *g = &ent[i];
        if ((index && g->index != index) || !matches(&only, g->name)) continue;
        /* a signal (on any rank: all agree): the run it hit was checkpointed; start no other */
        int stopped = stop && *stop;
        if (nranks > 1 && mc_dist_any(world, stopped, &stopped) < 0) break;
        if (stopped) break;
        k++;
        char run[4096], msg[1024] = "";
        snprintf(run, sizeof run, "%s/%s", dir, g->name);
        mc_run_state st;
        if (shared_status(world, run, &st) < 0) {
            snprintf(msg, sizeof msg, "%s", root ? mc_errmsg() : "rank 0 could not read the run's state");
        } else if (st.state == MC_RUN_DONE) {
            if (root) printf("[%d/%d] %s: finished before, skipped\n", k, nsel, g->name);
            nskip++;
            continue;
        } else {
            if (root) {
                printf("[%d/%d] %s: %s%s", k, nsel, g->name, dry ? "would " : "",
                       st.state == MC_RUN_NEW ? "start" : "resume");
                if (st.state == MC_RUN_STARTED) printf(" (%d of %d stages finished)", st.ndone, st.nstages);
                printf("\n");
                fflush(stdout);
            }
            if (dry) continue;
            mc_experiment e;
            char path[4200];
            snprintf(path, sizeof path, "%s/experiment.exp", run);
            if (mc_experiment_load(&e, path) < 0) {
                snprintf(msg, sizeof msg, "%s", mc_errmsg());
            } else {
                free(e.out);
                e.out = strdup(run); /* wherever the grid folder is now */
                if (gpu >= 0) e.gpu = (int)gpu;
                if (threads >= 0) e.threads = (int)threads;
                if (workers >= 0) e.workers = (int)workers;
                mc_run_opts ro = {.resume = st.state == MC_RUN_STARTED, .stop_after = stop_after, .interrupt = stop,
                                  .on_event = root ? mc_cli_progress_event : NULL, .event_ctx = &prog, .dist = world};
                if (!e.out || mc_experiment_run(&e, &ro) < 0)
                    snprintf(msg, sizeof msg, "%s", e.out ? mc_errmsg() : "out of memory");
                mc_experiment_clear(&e);
                if (msg[0] && nranks > 1) {
                    /* the other ranks may wait in a collective of this run: one rank's error ends the job */
                    fprintf(stderr, "medcolor run-grid: %s: rank %d of %d (host %s): %s\n", g->name, mc_dist_rank(world),
                            nranks, mc_dist_host(world), msg);
                    mc_dist_abort(world, 1);
                }
                if (!msg[0]) {
                    if (shared_status(world, run, &st) < 0)
                        snprintf(msg, sizeof msg, "%s", root ? mc_errmsg() : "rank 0 could not read the run's state");
                    else if (st.state == MC_RUN_DONE)
                        nfin++;
                    else {
                        nstop++;
                        if (root)
                            printf("[%d/%d] %s: stopped after %d of %d stages (resume: run it again)\n", k, nsel,
                                   g->name, st.ndone, st.nstages);
                    }
                }
            }
        }
        if (msg[0]) {
            if (root) fprintf(stderr, "medcolor run-grid: %s: FAILED: %s\n", g->name, msg);
            size_t len = strlen(g->name) + strlen(msg) + 4;
            failed[nfail] = malloc(len);
            if (failed[nfail]) snprintf(failed[nfail], len, "%s: %s", g->name, msg);
            nfail++;
        }
    }
    if (root && dry) {
        printf("run-grid: %d runs selected, %d finished before (dry run: nothing trained)\n", nsel, nskip);
    } else if (root) {
        printf("run-grid: %d runs: %d finished before, %d finished now, %d stopped, %d failed\n", nsel, nskip, nfin,
               nstop, nfail);
    }
    for (int i = 0; i < nfail; i++) {
        if (root) fprintf(stderr, "  failed: %s\n", failed[i] ? failed[i] : "(out of memory)");
        free(failed[i]);
    }
    free(failed);
    mc_grid_index_free(ent, n);
    mc_dist_free(world);
    if (stop && *stop) {
        if (root) fprintf(stderr, "medcolor run-grid: stopped by signal %d; run it again to resume\n", (int)*stop);
        return nfail ? 1 : mc_cli_stop_status();
    }
    return nfail ? 1 : 0;
}
