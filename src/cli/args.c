/* args.c — a small table-driven option parser for the subcommands, which also prints the
 * --help text from the same table, so every option is documented with its default. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/core.h"

static const mc_opt *find(const mc_opt *opts, const char *name, size_t len) {
    for (const mc_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

void mc_cli_usage(FILE *f, const char *synopsis, const char *about, const mc_opt *opts) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", synopsis, about);
    for (const mc_opt *o = opts; o->name; o++) {
        char left[64];
        const char *arg = o->kind == 'f' ? "" : o->kind == 'i' ? " N" : o->kind == 'd' ? " X" : " VALUE";
        snprintf(left, sizeof left, "%s%s%s", o->name, arg, o->kind == 'l' ? " ..." : "");
        fprintf(f, "  %-24s %s", left, o->help);
        if (o->def) fprintf(f, " (default: %s)", o->def);
        fprintf(f, "\n");
    }
    fprintf(f, "  %-24s %s\n", "-h, --help", "this help");
}

int mc_cli_parse(const char *cmd, int argc, char **argv, const mc_opt *opts, const char **pos, int maxpos,
                 int *npos, const char *synopsis, const char *about) {
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            mc_cli_usage(stdout, synopsis, about, opts);
            return 1;
        }
        if (a[0] != '-' || !a[1] || !strcmp(a, "-")) {
            if (*npos >= maxpos) {
                fprintf(stderr, "medcolor %s: unexpected argument '%s' (see medcolor %s --help)\n", cmd, a, cmd);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const mc_opt *o = find(opts, a, len);
        if (!o) {
            char given[64];
            snprintf(given, sizeof given, "%.*s", (int)(len < 63 ? len : 63), a);
            const mc_opt *near = NULL;
            size_t body = strspn(given, "-"), blen = strlen(given) - body;
            int best = blen >= 6 ? 3 : 2; /* at most 2 edits away (1 for short names) */
            for (const mc_opt *q = opts; q->name; q++) {
                int d = mc_edit_distance(given, q->name, 0);
                if (d < best) {
                    best = d;
                    near = q;
                }
            }
            if (near)
                fprintf(stderr, "medcolor %s: unknown option '%s' (did you mean %s? see medcolor %s --help)\n", cmd, given,
                        near->name, cmd);
            else
                fprintf(stderr, "medcolor %s: unknown option '%s' (see medcolor %s --help)\n", cmd, given, cmd);
            return 2;
        }
        if (o->kind == 'f') {
            if (eq) {
                fprintf(stderr, "medcolor %s: %s takes no value\n", cmd, o->name);
                return 2;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "medcolor %s: %s needs a value\n", cmd, o->name);
            return 2;
        }
        char *end;
        errno = 0;
        if (o->kind == 's') {
            *(const char **)o->dst = v;
        } else if (o->kind == 'l') {
            mc_strlist *l = (mc_strlist *)o->dst;
            if (l->n >= (int)(sizeof l->v / sizeof l->v[0])) {
                fprintf(stderr, "medcolor %s: too many %s\n", cmd, o->name);
                return 2;
            }
            l->v[l->n++] = v;
        } else if (o->kind == 'i') {
            long x = strtol(v, &end, 10);
            if (errno || end == v || *end || x < 0 || x > LONG_MAX / 2) {
                fprintf(stderr, "medcolor %s: %s %s: expected a non-negative integer\n", cmd, o->name, v);
                return 2;
            }
            *(long *)o->dst = x;
        } else if (o->kind == 'd') {
            double x = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(x)) {
                fprintf(stderr, "medcolor %s: %s %s: expected a number\n", cmd, o->name, v);
                return 2;
            }
            *(double *)o->dst = x;
        }
    }
    return 0;
}

/* ---- stopping on a signal ------------------------------------------------------------------ */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) {
    static const char msg[] = "\nmedcolor: stopping after this iteration (a checkpoint is written; "
                              "continue with --resume); a second signal quits at once\n";
    stop_signal = sig;
    ssize_t w = write(2, msg, sizeof msg - 1); /* async-signal-safe */
    (void)w;
}

volatile sig_atomic_t *mc_cli_catch_stop(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART; /* the second signal: the default action (terminate) */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_signal;
}

int mc_cli_stop_status(void) { return stop_signal ? 128 + (int)stop_signal : 0; }
