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
#include "mc_image.h"
#include "core/core.h"

/* An option's name may list aliases separated by ", " and end in the name of its value after a
 * space ("-o, --output OUT", "--frac F"): the k-th alias, without the value's name */
static int alias_at(const char *names, int k, const char *start[static 1], size_t len[static 1]) {
    const char *p = names;
    for (int i = 0;; i++) {
        size_t n = strcspn(p, ", ");
        if (i == k) {
            *start = p;
            *len = n;
            return n > 0;
        }
        if (p[n] != ',') return 0; /* the end, or the value's name */
        p += n + 1;
        while (*p == ' ') p++;
    }
}

/* the length of the names part of an option's name ("-o, --output" of "-o, --output OUT") */
static size_t names_len(const char *names) {
    const char *a = names;
    size_t n = 0;
    for (int k = 0; alias_at(names, k, &a, &n); k++)
        ;
    return (size_t)(a - names) + n;
}

static const mc_opt *find(const mc_opt *opts, const char *name, size_t len) {
    for (const mc_opt *o = opts; o->name; o++) {
        const char *a;
        size_t n;
        for (int k = 0; alias_at(o->name, k, &a, &n); k++)
            if (n == len && !strncmp(a, name, len)) return o;
    }
    return NULL;
}

/* The values a range allows, in words: "> 0 and <= 1", "in 1..65536", "one of valid, test". */
static void range_words(const mc_opt *o, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    if (o->kind == 's') {
        k += (size_t)snprintf(buf, n, "one of ");
        for (const char *p = o->range; *p && k < n; p++) k += (size_t)snprintf(buf + k, n - k, *p == '|' ? ", " : "%c", *p);
        return;
    }
    char copy[128];
    snprintf(copy, sizeof copy, "%s", o->range);
    int first = 1;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && k < n; t = strtok_r(NULL, ",", &save), first = 0) {
        char *dots = strstr(t, "..");
        if (dots) {
            *dots = 0;
            k += (size_t)snprintf(buf + k, n - k, "%sin %s..%s", first ? "" : " and ", t, dots + 2);
        } else {
            size_t op = strspn(t, "<>=");
            k += (size_t)snprintf(buf + k, n - k, "%s%.*s %s", first ? "" : " and ", (int)op, t, t + op);
        }
    }
}

/* 1 when x is in o's range (or o has none) */
static int in_range(const mc_opt *o, double x) {
    if (!o->range) return 1;
    char copy[128];
    snprintf(copy, sizeof copy, "%s", o->range);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *dots = strstr(t, "..");
        if (dots) {
            *dots = 0;
            if (x < strtod(t, NULL) || x > strtod(dots + 2, NULL)) return 0;
            continue;
        }
        size_t op = strspn(t, "<>=");
        double v = strtod(t + op, NULL);
        int ok = !strncmp(t, ">=", 2) ? x >= v : !strncmp(t, "<=", 2) ? x <= v : t[0] == '>' ? x > v : t[0] == '<' ? x < v : 1;
        if (!ok) return 0;
    }
    return 1;
}

static int in_choices(const mc_opt *o, const char *v) {
    if (!o->range) return 1;
    size_t len = strlen(v);
    for (const char *p = o->range; *p;) {
        size_t n = strcspn(p, "|");
        if (n == len && !strncmp(p, v, n)) return 1;
        p += n + (p[n] == '|');
    }
    return 0;
}

void mc_cli_usage(FILE *f, const char *synopsis, const char *about, const mc_opt *opts) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", synopsis, about);
    for (const mc_opt *o = opts; o->name; o++) {
        char left[96];
        /* the value's name: given after the names ("--frac F"), else from the kind */
        const char *arg = o->name[names_len(o->name)] ? ""
                          : o->kind == 'f'             ? ""
                          : o->kind == 'i'             ? " N"
                          : o->kind == 'd'             ? " X"
                                                       : " VALUE";
        snprintf(left, sizeof left, "%s%s%s", o->name, arg, o->kind == 'l' ? " ..." : "");
        char text[1024]; /* the help and the default, wrapped at 100 columns under the first line */
        char rw[160] = "";
        if (o->range) range_words(o, rw, sizeof rw);
        snprintf(text, sizeof text, "%s%s%s%s%s%s%s", o->help, o->def || rw[0] ? " (" : "", o->def ? "default: " : "",
                 o->def ? o->def : "", o->def && rw[0] ? "; " : "", rw, o->def || rw[0] ? ")" : "");
        fprintf(f, "  %-24s ", left);
        if (strlen(left) > 24) fprintf(f, "\n  %-24s ", "");
        const int width = 100 - 27;
        for (const char *h = text; *h;) {
            size_t n = strlen(h);
            if (n > (size_t)width) { /* the last space that fits (or the first one after) */
                const char *cut = NULL;
                for (const char *p = h; *p && (p - h <= width || !cut); p++)
                    if (*p == ' ') cut = p;
                n = cut ? (size_t)(cut - h) : n;
            }
            fprintf(f, "%.*s\n", (int)n, h);
            h += n;
            while (*h == ' ') h++;
            if (*h) fprintf(f, "  %-24s ", "");
        }
    }
    fprintf(f, "  %-24s %s\n", "-h, --help", "this help");
}

int mc_cli_args_error(const char *cmd, const char *what, int npos) {
    fprintf(stderr, "medcolor %s: expected %s, got %d argument%s (see medcolor %s --help)\n", cmd, what, npos,
            npos == 1 ? "" : "s", cmd);
    return 2;
}

int mc_cli_parse(const char *cmd, int argc, char **argv, const mc_opt *opts, const char **pos, int maxpos,
                 int *npos, const char *synopsis, const char *about) {
    *npos = 0;
    for (const mc_opt *o = opts; o->name; o++) /* a command with --window starts without one */
        if (o->kind == 'w') mc_image_set_window(NULL);
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
        char given[64]; /* the option as typed, without its value */
        snprintf(given, sizeof given, "%.*s", (int)(len < 63 ? len : 63), a);
        if (!o) {
            const mc_opt *near = NULL;
            size_t body = strspn(given, "-"), blen = strlen(given) - body;
            int best = blen >= 6 ? 3 : 2; /* at most 2 edits away (1 for short names) */
            char nearname[64] = "";
            for (const mc_opt *q = opts; q->name; q++) {
                const char *al;
                size_t alen;
                for (int k = 0; alias_at(q->name, k, &al, &alen); k++) {
                    char one[64];
                    snprintf(one, sizeof one, "%.*s", (int)(alen < 63 ? alen : 63), al);
                    int d = mc_edit_distance(given, one, 0);
                    if (d < best) {
                        best = d;
                        near = q;
                        snprintf(nearname, sizeof nearname, "%s", one);
                    }
                }
            }
            if (near)
                fprintf(stderr, "medcolor %s: unknown option '%s' (did you mean %s? see medcolor %s --help)\n", cmd, given,
                        nearname, cmd);
            else
                fprintf(stderr, "medcolor %s: unknown option '%s' (see medcolor %s --help)\n", cmd, given, cmd);
            return 2;
        }
        if (o->kind == 'f') {
            if (eq) {
                fprintf(stderr, "medcolor %s: %s takes no value\n", cmd, given);
                return 2;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "medcolor %s: %s needs a value\n", cmd, given);
            return 2;
        }
        char *end;
        errno = 0;
        if (o->kind == 's') {
            if (!in_choices(o, v)) {
                char why[200];
                range_words(o, why, sizeof why);
                fprintf(stderr, "medcolor %s: %s %s: must be %s\n", cmd, given, v, why);
                return 2;
            }
            *(const char **)o->dst = v;
        } else if (o->kind == 'l') {
            mc_strlist *l = (mc_strlist *)o->dst;
            if (l->n >= (int)(sizeof l->v / sizeof l->v[0])) {
                fprintf(stderr, "medcolor %s: too many %s\n", cmd, given);
                return 2;
            }
            l->v[l->n++] = v;
        } else if (o->kind == 'i') {
            long x = strtol(v, &end, 10);
            if (errno || end == v || *end || x < 0 || x > LONG_MAX / 2) {
                fprintf(stderr, "medcolor %s: %s %s: expected a non-negative integer\n", cmd, given, v);
                return 2;
            }
            if (!in_range(o, (double)x)) {
                char why[200];
                range_words(o, why, sizeof why);
                fprintf(stderr, "medcolor %s: %s %s: must be %s\n", cmd, given, v, why);
                return 2;
            }
            *(long *)o->dst = x;
        } else if (o->kind == 'w') { /* C,W: the process's grey window (docs/dicom.md) */
            mc_image_window win = {1, 0.0, 0.0};
            win.center = strtod(v, &end);
            int okc = !errno && end != v && *end == ',' && isfinite(win.center);
            const char *w0 = okc ? end + 1 : v;
            if (okc) win.width = strtod(w0, &end);
            if (!okc || errno || end == w0 || *end || !isfinite(win.width) || win.width < 1.0) {
                fprintf(stderr, "medcolor %s: %s %s: expected CENTER,WIDTH (numbers, width >= 1)\n", cmd, given, v);
                return 2;
            }
            mc_image_set_window(&win);
            if (o->dst) *(mc_image_window *)o->dst = win;
        } else if (o->kind == 'd') {
            double x = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(x)) {
                fprintf(stderr, "medcolor %s: %s %s: expected a number\n", cmd, given, v);
                return 2;
            }
            if (!in_range(o, x)) {
                char why[200];
                range_words(o, why, sizeof why);
                fprintf(stderr, "medcolor %s: %s %s: must be %s\n", cmd, given, v, why);
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

int mc_cli_precision(const char *v) { return v && !strcmp(v, "bf16") ? MC_PRECISION_BF16 : MC_PRECISION_FP32; }
