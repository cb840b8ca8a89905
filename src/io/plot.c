/* plot.c — line charts as PNG for people: the LR finder curve, ROC curves, training logs and
 * AUC against training-set size, drawn without any outside plotting tool.
 *
 * Rendering: an RGB canvas (height, width, 3) and a float coverage buffer (height, width).
 * Each line-art object (one series with its error bars and markers, a reference line, a
 * marker) is first rasterised into the coverage buffer as exact pixel coverage of a thick
 * segment (distance from the pixel centre to the segment, 1-pixel ramp: anti-aliased, round
 * caps), combining segments with max() so joints are not painted twice, then composited
 * once in its colour. Text uses the project's bitmap font (font.c) without smoothing.
 *
 * Coordinates: x to the right, y down, pixel (i, j) covers [i, i+1) x [j, j+1). The data area
 * is the pixel rectangle [ax0, ax1) x [ay0, ay1); a data value maps linearly (or via log10)
 * from the view range onto it. Ticks: 1-2-5 steps on linear axes, decades on log axes
 * (see mc_plot_ticks).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_io.h"

/* ---- colours and sizes (at scale 1) -------------------------------------------------------- */

#define C_BG 0xFFFFFFu
#define C_GRID 0xE3E3E3u
#define C_GRID_MINOR 0xF2F2F2u
#define C_FRAME 0x3C3C3Cu
#define C_TEXT 0x222222u
#define C_TITLE 0x111111u
#define C_REF 0x8A8A8Au      /* diagonal */
#define C_VLINE 0x505050u
#define C_POINT 0xC62828u
#define C_LEGEND_EDGE 0xC8C8C8u

/* Distinct colours, in order of use (after the 14th: the same colours dashed). */
static const uint32_t palette[] = {
    0x1F5FA8, 0xE0661A, 0x1E9C6E, 0xC9302C, 0x7A4BA8, 0x8C5A2B, 0xD6609E,
    0x1AA3B8, 0x8A8A10, 0x24336E, 0xA3136F, 0x5E9E1F, 0xD9A300, 0x4F6B80,
};
#define NPALETTE ((int)(sizeof palette / sizeof *palette))

typedef struct series {
    char *name;    /* NULL: not in the legend */
    double *x, *y; /* [n] */
    double *err;   /* [n] symmetric error, or NULL */
    int n;
    int style;     /* MC_PLOT_* */
    uint32_t color;
} series;

typedef struct vmark {
    double x, y;   /* y unused for vertical lines */
    char *label;
} vmark;

struct mc_plot {
    int w, h;
    char *title, *xlabel, *ylabel;
    int xlog, ylog;
    int xfixed, yfixed;
    double xlo, xhi, ylo, yhi;      /* fixed ranges (data units) */
    int legend;
    series *s;
    int ns, scap;
    vmark *vl;
    int nvl;
    vmark *pt;
    int npt;
    int diagonal;
    char *diag_label;
    /* layout, set by render */
    int laid_out;
    int ax0, ay0, ax1, ay1;          /* data area in pixels */
    double vx0, vx1, vy0, vy1;       /* view range, log10 units on log axes */
};

/* ---- small helpers -------------------------------------------------------------------------- */

static char *dup_or_null(const char *s) {
    return (s && *s) ? mc_strdup(s) : NULL;
}

mc_plot *mc_plot_new(int width, int height, const char *title, const char *xlabel, const char *ylabel) {
    if (width < 160 || height < 120 || width > 16384 || height > 16384) {
        mc_err(MC_EARG, "mc_plot_new: size %d x %d (from 160 x 120 to 16384 x 16384)", width, height);
        return NULL;
    }
    mc_plot *p = mc_calloc(1, sizeof *p, "plot");
    if (!p) return NULL;
    p->w = width;
    p->h = height;
    p->title = dup_or_null(title);
    p->xlabel = dup_or_null(xlabel);
    p->ylabel = dup_or_null(ylabel);
    if ((title && *title && !p->title) || (xlabel && *xlabel && !p->xlabel) || (ylabel && *ylabel && !p->ylabel)) {
        mc_plot_free(p);
        return NULL;
    }
    return p;
}

void mc_plot_free(mc_plot *p) {
    if (!p) return;
    for (int i = 0; i < p->ns; i++) {
        free(p->s[i].name);
        free(p->s[i].x);
        free(p->s[i].y);
        free(p->s[i].err);
    }
    free(p->s);
    for (int i = 0; i < p->nvl; i++) free(p->vl[i].label);
    free(p->vl);
    for (int i = 0; i < p->npt; i++) free(p->pt[i].label);
    free(p->pt);
    free(p->diag_label);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p);
}

int mc_plot_xlog(mc_plot *p, int on) {
    if (!p) return mc_err(MC_EARG, "mc_plot_xlog: no plot");
    p->xlog = on != 0;
    p->laid_out = 0;
    return MC_OK;
}

int mc_plot_ylog(mc_plot *p, int on) {
    if (!p) return mc_err(MC_EARG, "mc_plot_ylog: no plot");
    p->ylog = on != 0;
    p->laid_out = 0;
    return MC_OK;
}

static int set_range(mc_plot *p, int axis, double lo, double hi) {
    if (!p) return mc_err(MC_EARG, "mc_plot_%crange: no plot", axis);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return mc_err(MC_EARG, "mc_plot_%crange: need finite lo < hi, got [%g, %g]", axis, lo, hi);
    if (axis == 'x') { p->xfixed = 1; p->xlo = lo; p->xhi = hi; }
    else { p->yfixed = 1; p->ylo = lo; p->yhi = hi; }
    p->laid_out = 0;
    return MC_OK;
}

int mc_plot_xrange(mc_plot *p, double lo, double hi) { return set_range(p, 'x', lo, hi); }
int mc_plot_yrange(mc_plot *p, double lo, double hi) { return set_range(p, 'y', lo, hi); }

int mc_plot_legend(mc_plot *p, int where) {
    if (!p) return mc_err(MC_EARG, "mc_plot_legend: no plot");
    if (where < MC_LEGEND_AUTO || where > MC_LEGEND_NONE) return mc_err(MC_EARG, "mc_plot_legend: bad position %d", where);
    p->legend = where;
    return MC_OK;
}

static double *copy_doubles(const double *src, int n) {
    double *d = mc_malloc((size_t)(n ? n : 1) * sizeof *d, "plot data");
    if (d && n) memcpy(d, src, (size_t)n * sizeof *d);
    return d;
}

static int add_series(mc_plot *p, const char *name, const double *x, const double *y, const double *err, int n,
                      int style) {
    if (!p) return mc_err(MC_EARG, "mc_plot_series: no plot");
    if (n < 0 || (n > 0 && (!x || !y))) return mc_err(MC_EARG, "plot series '%s': no data", name ? name : "");
    if (!(style & (MC_PLOT_LINE | MC_PLOT_MARKERS))) style |= MC_PLOT_LINE;
    if (p->ns == p->scap) {
        int nc = p->scap ? p->scap * 2 : 8;
        series *ns = mc_realloc(p->s, (size_t)nc * sizeof *ns, "plot series");
        if (!ns) return MC_ENOMEM;
        p->s = ns;
        p->scap = nc;
    }
    series *s = &p->s[p->ns];
    memset(s, 0, sizeof *s);
    s->name = dup_or_null(name);
    s->x = copy_doubles(x, n);
    s->y = copy_doubles(y, n);
    s->err = err ? copy_doubles(err, n) : NULL;
    if ((name && *name && !s->name) || !s->x || !s->y || (err && !s->err)) {
        free(s->name);
        free(s->x);
        free(s->y);
        free(s->err);
        return MC_ENOMEM;
    }
    s->n = n;
    int idx = p->ns;
    s->style = style;
    if (idx >= NPALETTE && (idx / NPALETTE) % 2 == 1) s->style |= MC_PLOT_DASHED;
    s->color = palette[idx % NPALETTE];
    p->ns++;
    p->laid_out = 0;
    return idx;
}

int mc_plot_series(mc_plot *p, const char *name, const double *x, const double *y, int n, int style) {
    return add_series(p, name, x, y, NULL, n, style);
}

int mc_plot_errorbars(mc_plot *p, const char *name, const double *x, const double *y, const double *err, int n,
                      int style) {
    if (!(style & (MC_PLOT_LINE | MC_PLOT_MARKERS))) style |= MC_PLOT_LINE | MC_PLOT_MARKERS;
    return add_series(p, name, x, y, err, n, style);
}

uint32_t mc_plot_color(const mc_plot *p, int s) {
    if (!p || s < 0 || s >= p->ns) return 0;
    return p->s[s].color;
}

int mc_plot_set_color(mc_plot *p, int s, uint32_t rgb) {
    if (!p || s < 0 || s >= p->ns) return mc_err(MC_EARG, "mc_plot_set_color: no series %d", s);
    p->s[s].color = rgb & 0xFFFFFFu;
    return MC_OK;
}

static int add_mark(vmark **arr, int *n, double x, double y, const char *label) {
    vmark *na = mc_realloc(*arr, (size_t)(*n + 1) * sizeof *na, "plot marks");
    if (!na) return MC_ENOMEM;
    *arr = na;
    na[*n].x = x;
    na[*n].y = y;
    na[*n].label = dup_or_null(label);
    if (label && *label && !na[*n].label) return MC_ENOMEM;
    (*n)++;
    return MC_OK;
}

int mc_plot_vline(mc_plot *p, double x, const char *label) {
    if (!p) return mc_err(MC_EARG, "mc_plot_vline: no plot");
    p->laid_out = 0;
    return add_mark(&p->vl, &p->nvl, x, 0, label);
}

int mc_plot_point(mc_plot *p, double x, double y, const char *label) {
    if (!p) return mc_err(MC_EARG, "mc_plot_point: no plot");
    p->laid_out = 0;
    return add_mark(&p->pt, &p->npt, x, y, label);
}

int mc_plot_diagonal(mc_plot *p, const char *label) {
    if (!p) return mc_err(MC_EARG, "mc_plot_diagonal: no plot");
    p->diagonal = 1;
    free(p->diag_label);
    p->diag_label = dup_or_null(label);
    if (label && *label && !p->diag_label) return MC_ENOMEM;
    return MC_OK;
}

/* ---- ticks ---------------------------------------------------------------------------------- */

/* "%.*f" without "-0". */
static void fmt_fixed(char *buf, size_t n, double v, int decimals) {
    snprintf(buf, n, "%.*f", decimals, v);
    /* "-0.00" -> "0.00" */
    int zero = 1;
    for (const char *c = buf; *c; c++)
        if (*c >= '1' && *c <= '9') zero = 0;
    if (zero && buf[0] == '-') memmove(buf, buf + 1, strlen(buf));
}

static double pow10i(int e) { return pow(10.0, (double)e); }

/* m * 10^e, computed so that e.g. 3 * 10^-1 is the double nearest 0.3. */
static double scaled(double m, int e) { return e >= 0 ? m * pow10i(e) : m / pow10i(-e); }

static int linear_ticks(double lo, double hi, int max_ticks, mc_plot_tick *t, int cap) {
    static const int steps[3] = {1, 2, 5};
    double span = hi - lo;
    int k = (int)floor(log10(span / max_ticks)) - 1;
    for (int guard = 0; guard < 40; guard++, k++) {
        for (int m = 0; m < 3; m++) {
            double step = scaled(steps[m], k);
            double i0 = ceil(lo / step - 1e-9), i1 = floor(hi / step + 1e-9);
            if (i1 - i0 + 1 > max_ticks) continue;
            int cnt = (int)(i1 - i0 + 1), n = 0;
            double amax = fmax(fabs(i0 * step), fabs(i1 * step));
            int sci = amax >= 1e6 || k < -5;
            int emax = amax > 0 ? (int)floor(log10(amax) + 1e-9) : 0;
            for (int i = 0; i < cnt && n < cap; i++) {
                double units = (i0 + i) * steps[m]; /* value = units * 10^k, exactly */
                double v = scaled(units, k);
                if (fabs(units) < 0.5) v = 0.0;
                t[n].v = v;
                t[n].major = 1;
                if (v == 0.0) snprintf(t[n].label, sizeof t[n].label, "0");
                else if (!sci) fmt_fixed(t[n].label, sizeof t[n].label, v, k < 0 ? -k : 0);
                else {
                    int dec = emax - k > 0 ? emax - k : 0;
                    snprintf(t[n].label, sizeof t[n].label, "%.*fe%d", dec, v / pow10i(emax), emax);
                }
                n++;
            }
            /* "0" next to "0.2": give zero the same decimals when others have them. */
            if (!sci && k < 0)
                for (int i = 0; i < n; i++)
                    if (t[i].v == 0.0) fmt_fixed(t[i].label, sizeof t[i].label, 0.0, -k);
            return n;
        }
    }
    return mc_err(MC_EARG, "mc_plot_ticks: no tick step found for [%g, %g]", lo, hi);
}

int mc_plot_ticks(double lo, double hi, int log_scale, int max_ticks, mc_plot_tick *t, int cap) {
    if (!t || cap <= 0) return mc_err(MC_EARG, "mc_plot_ticks: no output");
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return mc_err(MC_EARG, "mc_plot_ticks: need finite lo < hi, got [%g, %g]", lo, hi);
    if (max_ticks < 2) max_ticks = 2;
    if (!log_scale) return linear_ticks(lo, hi, max_ticks, t, cap);
    if (!(lo > 0)) return mc_err(MC_EARG, "mc_plot_ticks: log axis range [%g, %g] must be positive", lo, hi);
    double l0 = log10(lo), l1 = log10(hi);
    int e0 = (int)ceil(l0 - 1e-9), e1 = (int)floor(l1 + 1e-9);
    int ndec = e1 - e0 + 1, n = 0;
    if (ndec >= 2) {
        int every = (ndec + max_ticks - 1) / max_ticks;
        int plain = e0 >= -3 && e1 <= 5;
        for (int e = (int)floor(l0) ; e <= e1 && n < cap; e++) {
            double dec = pow10i(e);
            int labelled = (((e % every) + every) % every) == 0;
            if (e >= e0 && n < cap) {
                t[n].v = scaled(1, e);
                t[n].major = labelled;
                t[n].label[0] = 0;
                if (labelled) {
                    if (plain) fmt_fixed(t[n].label, sizeof t[n].label, t[n].v, e < 0 ? -e : 0);
                    else snprintf(t[n].label, sizeof t[n].label, "1e%d", e);
                }
                n++;
            }
            if (every == 1)
                for (int m = 2; m <= 9 && n < cap; m++) {
                    double v = m * dec;
                    if (v < lo * (1 - 1e-12) || v > hi * (1 + 1e-12)) continue;
                    t[n].v = v;
                    t[n].major = 0;
                    t[n].label[0] = 0;
                    n++;
                }
        }
        return n;
    }
    /* Less than two decades: 1, 2, 5 times powers of ten, if at least two fit. */
    static const int m125[3] = {1, 2, 5};
    int cnt = 0;
    for (int e = (int)floor(l0); e <= (int)ceil(l1); e++)
        for (int m = 0; m < 3; m++) {
            double v = scaled(m125[m], e);
            if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) cnt++;
        }
    if (cnt < 2 || cnt > max_ticks) return linear_ticks(lo, hi, max_ticks, t, cap);
    for (int e = (int)floor(l0); e <= (int)ceil(l1); e++)
        for (int m = 1; m <= 9 && n < cap; m++) {
            double v = scaled(m, e);
            if (v < lo * (1 - 1e-12) || v > hi * (1 + 1e-12)) continue;
            int major = m == 1 || m == 2 || m == 5;
            t[n].v = v;
            t[n].major = major;
            t[n].label[0] = 0;
            if (major) {
                if (e >= -3 && e <= 5) fmt_fixed(t[n].label, sizeof t[n].label, v, e < 0 ? -e : 0);
                else snprintf(t[n].label, sizeof t[n].label, "%de%d", m, e);
            }
            n++;
        }
    return n;
}

/* ---- canvas --------------------------------------------------------------------------------- */

typedef struct canvas {
    int w, h;
    uint8_t *rgb;        /* (h, w, 3) */
    float *cov;          /* (h, w) coverage of the object being drawn, 0..1 */
    int dx0, dy0, dx1, dy1; /* dirty box of cov */
    int cx0, cy0, cx1, cy1; /* clip box for line art */
    int scale;
} canvas;

static void blend(canvas *c, int x, int y, uint32_t col, float a) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 1) a = 1;
    uint8_t *px = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    float cr = (float)((col >> 16) & 255), cg = (float)((col >> 8) & 255), cb = (float)(col & 255);
    px[0] = (uint8_t)lrintf((float)px[0] + a * (cr - (float)px[0]));
    px[1] = (uint8_t)lrintf((float)px[1] + a * (cg - (float)px[1]));
    px[2] = (uint8_t)lrintf((float)px[2] + a * (cb - (float)px[2]));
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, uint32_t col, float a) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) blend(c, x, y, col, a);
}

static void cov_touch(canvas *c, int x, int y) {
    if (x < c->dx0) c->dx0 = x;
    if (x + 1 > c->dx1) c->dx1 = x + 1;
    if (y < c->dy0) c->dy0 = y;
    if (y + 1 > c->dy1) c->dy1 = y + 1;
}

static void cov_put(canvas *c, int x, int y, float a) {
    if (a <= 0) return;
    if (a > 1) a = 1;
    float *v = &c->cov[(size_t)y * (size_t)c->w + (size_t)x];
    if (a > *v) {
        *v = a;
        cov_touch(c, x, y);
    }
}

/* Paints the accumulated coverage in colour col and clears it. */
static void cov_flush(canvas *c, uint32_t col) {
    for (int y = c->dy0; y < c->dy1; y++)
        for (int x = c->dx0; x < c->dx1; x++) {
            float *v = &c->cov[(size_t)y * (size_t)c->w + (size_t)x];
            if (*v > 0) {
                blend(c, x, y, col, *v);
                *v = 0;
            }
        }
    c->dx0 = c->w, c->dy0 = c->h, c->dx1 = 0, c->dy1 = 0;
}

static double seg_dist(double px, double py, double x0, double y0, double x1, double y1) {
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy, t = 0;
    if (l2 > 0) {
        t = ((px - x0) * dx + (py - y0) * dy) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    double ex = x0 + t * dx - px, ey = y0 + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

/* Liang–Barsky: clips the segment to [xmin, xmax] x [ymin, ymax]; 0 when nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double xmin, double ymin, double xmax,
                        double ymax) {
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double pp[4] = {-dx, dx, -dy, dy}, qq[4] = {*x0 - xmin, xmax - *x0, *y0 - ymin, ymax - *y0};
    for (int i = 0; i < 4; i++) {
        if (pp[i] == 0) {
            if (qq[i] < 0) return 0;
            continue;
        }
        double r = qq[i] / pp[i];
        if (pp[i] < 0) { if (r > t1) return 0; if (r > t0) t0 = r; }
        else { if (r < t0) return 0; if (r < t1) t1 = r; }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    *x0 = ax, *y0 = ay, *x1 = bx, *y1 = by;
    return 1;
}

/* Coverage of a segment of half-width hw (pixels) with round caps, inside the clip box. */
static void cov_segment(canvas *c, double x0, double y0, double x1, double y1, double hw) {
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    double m = hw + 2;
    if (!clip_segment(&x0, &y0, &x1, &y1, c->cx0 - m, c->cy0 - m, c->cx1 + m, c->cy1 + m)) return;
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    int horiz = fabs(dx) >= fabs(dy);
    double along0 = horiz ? fmin(x0, x1) : fmin(y0, y1), along1 = horiz ? fmax(x0, x1) : fmax(y0, y1);
    int a0 = (int)floor(along0 - hw - 1), a1 = (int)ceil(along1 + hw + 1);
    int lim0 = horiz ? c->cx0 : c->cy0, lim1 = horiz ? c->cx1 : c->cy1;
    int olim0 = horiz ? c->cy0 : c->cx0, olim1 = horiz ? c->cy1 : c->cx1;
    if (a0 < lim0) a0 = lim0;
    if (a1 > lim1) a1 = lim1;
    double dmain = horiz ? dx : dy, dother = horiz ? dy : dx, omain = horiz ? x0 : y0, oother = horiz ? y0 : x0;
    double ext = (len > 0 && dmain != 0 ? hw * len / fabs(dmain) : hw) + 1.5;
    for (int a = a0; a < a1; a++) {
        double ac = a + 0.5, t = dmain != 0 ? (ac - omain) / dmain : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double oc = oother + t * dother;
        int b0 = (int)floor(oc - ext), b1 = (int)ceil(oc + ext);
        if (b0 < olim0) b0 = olim0;
        if (b1 > olim1) b1 = olim1;
        for (int b = b0; b < b1; b++) {
            int x = horiz ? a : b, y = horiz ? b : a;
            double d = seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1);
            cov_put(c, x, y, (float)(hw + 0.5 - d));
        }
    }
}

/* Filled disc of radius r (anti-aliased edge), clipped. */
static void cov_disc(canvas *c, double cx, double cy, double r) {
    if (!isfinite(cx) || !isfinite(cy)) return;
    int x0 = (int)floor(cx - r - 1), x1 = (int)ceil(cx + r + 1), y0 = (int)floor(cy - r - 1), y1 = (int)ceil(cy + r + 1);
    if (x0 < c->cx0) x0 = c->cx0;
    if (y0 < c->cy0) y0 = c->cy0;
    if (x1 > c->cx1) x1 = c->cx1;
    if (y1 > c->cy1) y1 = c->cy1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy);
            cov_put(c, x, y, (float)(r + 0.5 - d));
        }
}

/* Dashed polyline walker state: the dash phase carries over from segment to segment. */
typedef struct dasher {
    double on, off, pos; /* pos: distance into the current on+off period */
} dasher;

static void cov_dashed(canvas *c, dasher *d, double x0, double y0, double x1, double y1, double hw) {
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy), t = 0;
    if (!(len > 0) || !isfinite(len)) return;
    /* Very long off-screen segments: clip first so the walk stays short. */
    double m = hw + 2;
    double cx0 = x0, cy0 = y0, cx1 = x1, cy1 = y1;
    if (!clip_segment(&cx0, &cy0, &cx1, &cy1, c->cx0 - m, c->cy0 - m, c->cx1 + m, c->cy1 + m)) return;
    double skip = hypot(cx0 - x0, cy0 - y0);
    d->pos = fmod(d->pos + skip, d->on + d->off);
    t = skip;
    double end = skip + hypot(cx1 - cx0, cy1 - cy0);
    while (t < end) {
        double period = d->on + d->off;
        if (d->pos < d->on) {
            double run = fmin(d->on - d->pos, end - t);
            cov_segment(c, x0 + dx * t / len, y0 + dy * t / len, x0 + dx * (t + run) / len, y0 + dy * (t + run) / len, hw);
            t += run;
            d->pos += run;
        } else {
            double run = fmin(period - d->pos, end - t);
            t += run;
            d->pos += run;
        }
        if (d->pos >= period - 1e-9) d->pos = 0;
    }
}

/* ---- text ----------------------------------------------------------------------------------- */

#define TEXT_H (MC_FONT_ROWS) /* rows of a line of text at scale 1 */

static int text_w(const canvas *c, const char *s, int bold) { return mc_font_text_width(s, bold) * c->scale; }

/* Draws text with its top-left corner at (x, y); rotated: reading upwards, the text's
 * bounding box has its bottom-left corner at (x, y). */
static void draw_text(canvas *c, int x, int y, const char *s, uint32_t col, int bold, int rotated) {
    int sc = c->scale, pen = 0;
    if (!s) return;
    while (*s) {
        uint32_t cp = mc_utf8_next(&s);
        const mc_glyph *g = mc_font_glyph(cp);
        for (int r = 0; r < MC_FONT_ROWS; r++) {
            uint32_t bits = g->rows[r];
            if (bold) bits |= bits << 1; /* one column wider to the left: draw at pen + 1 */
            for (int gx = 0; gx < g->width + (bold ? 1 : 0); gx++) {
                int shift = g->width + (bold ? 1 : 0) - 1 - gx;
                if (!((bits >> shift) & 1)) continue;
                for (int a = 0; a < sc; a++)
                    for (int b = 0; b < sc; b++) {
                        int tx = (pen + gx) * sc + a, ty = r * sc + b;
                        if (!rotated) blend(c, x + tx, y + ty, col, 1);
                        else blend(c, x + ty, y - 1 - tx, col, 1);
                    }
            }
        }
        pen += g->width + 1 + (bold ? 1 : 0);
    }
}

/* ---- layout --------------------------------------------------------------------------------- */

static int point_ok(const mc_plot *p, double x, double y) {
    return isfinite(x) && isfinite(y) && (!p->xlog || x > 0) && (!p->ylog || y > 0);
}

static double tx_of(const mc_plot *p, double x) { return p->xlog ? log10(x) : x; }
static double ty_of(const mc_plot *p, double y) { return p->ylog ? log10(y) : y; }

static double px_of(const mc_plot *p, double x) {
    return p->ax0 + (tx_of(p, x) - p->vx0) / (p->vx1 - p->vx0) * (p->ax1 - p->ax0);
}
static double py_of(const mc_plot *p, double y) {
    return p->ay1 - (ty_of(p, y) - p->vy0) / (p->vy1 - p->vy0) * (p->ay1 - p->ay0);
}

int mc_plot_to_pixel(const mc_plot *p, double x, double y, double *px, double *py) {
    if (!p || !p->laid_out) return mc_err(MC_EARG, "mc_plot_to_pixel: the plot has not been rendered");
    if (px) *px = px_of(p, x);
    if (py) *py = py_of(p, y);
    return MC_OK;
}

/* Data range of one axis (transformed units) over everything plotted. */
static void data_range(const mc_plot *p, int yaxis, double *lo, double *hi) {
    double a = DBL_MAX, b = -DBL_MAX;
    int logax = yaxis ? p->ylog : p->xlog;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        for (int k = 0; k < s->n; k++) {
            if (!point_ok(p, s->x[k], s->y[k])) continue;
            double v = yaxis ? s->y[k] : s->x[k];
            double vals[3] = {v, v, v};
            if (yaxis && s->err && isfinite(s->err[k])) {
                vals[1] = v - fabs(s->err[k]);
                vals[2] = v + fabs(s->err[k]);
            }
            for (int j = 0; j < 3; j++) {
                if (logax && !(vals[j] > 0)) continue;
                double t = logax ? log10(vals[j]) : vals[j];
                if (t < a) a = t;
                if (t > b) b = t;
            }
        }
    }
    for (int i = 0; i < p->npt; i++) {
        if (!point_ok(p, p->pt[i].x, p->pt[i].y)) continue;
        double t = yaxis ? ty_of(p, p->pt[i].y) : tx_of(p, p->pt[i].x);
        if (t < a) a = t;
        if (t > b) b = t;
    }
    if (!yaxis)
        for (int i = 0; i < p->nvl; i++) {
            double v = p->vl[i].x;
            if (!isfinite(v) || (logax && !(v > 0))) continue;
            double t = tx_of(p, v);
            if (t < a) a = t;
            if (t > b) b = t;
        }
    *lo = a;
    *hi = b;
}

/* View range of an axis in transformed units. */
static int axis_view(const mc_plot *p, int yaxis, double *v0, double *v1) {
    int logax = yaxis ? p->ylog : p->xlog, fixed = yaxis ? p->yfixed : p->xfixed;
    if (fixed) {
        double lo = yaxis ? p->ylo : p->xlo, hi = yaxis ? p->yhi : p->xhi;
        if (logax && !(lo > 0))
            return mc_err(MC_EARG, "plot: the %c axis is logarithmic but its range [%g, %g] is not positive",
                          yaxis ? 'y' : 'x', lo, hi);
        *v0 = logax ? log10(lo) : lo;
        *v1 = logax ? log10(hi) : hi;
        return MC_OK;
    }
    double lo, hi;
    data_range(p, yaxis, &lo, &hi);
    if (lo > hi) { /* nothing to show */
        lo = 0;
        hi = 1;
    } else if (hi - lo <= 1e-12 * fmax(1.0, fabs(lo))) { /* one value */
        double d = logax ? 0.5 : (lo != 0 ? fabs(lo) * 0.1 : 1.0);
        lo -= d;
        hi += d;
    } else {
        double pad = 0.04 * (hi - lo);
        lo -= pad;
        hi += pad;
    }
    *v0 = lo;
    *v1 = hi;
    return MC_OK;
}

#define MAXTICKS 128

static int axis_ticks(const mc_plot *p, int yaxis, int max_ticks, mc_plot_tick *t) {
    int logax = yaxis ? p->ylog : p->xlog;
    double v0 = yaxis ? p->vy0 : p->vx0, v1 = yaxis ? p->vy1 : p->vx1;
    double lo = logax ? pow(10.0, v0) : v0, hi = logax ? pow(10.0, v1) : v1;
    return mc_plot_ticks(lo, hi, logax, max_ticks, t, MAXTICKS);
}

/* Legend entries: series with names, then the diagonal. */
static int legend_count(const mc_plot *p) {
    int n = p->diag_label ? 1 : 0;
    for (int i = 0; i < p->ns; i++) n += p->s[i].name != NULL;
    return n;
}

/* ---- drawing the parts ---------------------------------------------------------------------- */

static double line_hw(const canvas *c, int style) { return (style & MC_PLOT_THIN ? 0.5 : 1.0) * c->scale; }

static void draw_series(canvas *c, const mc_plot *p, const series *s) {
    int sc = c->scale;
    double hw = line_hw(c, s->style);
    dasher d = {6.0 * sc, 4.0 * sc, 0};
    /* error bars: crisp 1-pixel lines (snapped to pixel centres) with caps */
    if (s->err) {
        for (int k = 0; k < s->n; k++) {
            if (!point_ok(p, s->x[k], s->y[k]) || !isfinite(s->err[k])) continue;
            double e = fabs(s->err[k]), lo = s->y[k] - e, hi = s->y[k] + e;
            double X = floor(px_of(p, s->x[k])) + 0.5;
            double Y0 = (p->ylog && !(lo > 0)) ? p->ay1 + 10.0 : floor(py_of(p, lo)) + 0.5;
            double Y1 = floor(py_of(p, hi)) + 0.5, hw1 = 0.5 * sc;
            cov_segment(c, X, Y0, X, Y1, hw1);
            cov_segment(c, X - 4 * sc, Y0, X + 4 * sc, Y0, hw1);
            cov_segment(c, X - 4 * sc, Y1, X + 4 * sc, Y1, hw1);
        }
    }
    if (s->style & MC_PLOT_LINE) {
        int have = 0;
        double lx = 0, ly = 0;
        for (int k = 0; k < s->n; k++) {
            if (!point_ok(p, s->x[k], s->y[k])) { have = 0; continue; }
            double X = px_of(p, s->x[k]), Y = py_of(p, s->y[k]);
            if (have) {
                if (s->style & MC_PLOT_DASHED) cov_dashed(c, &d, lx, ly, X, Y, hw);
                else cov_segment(c, lx, ly, X, Y, hw);
            } else if (!(s->style & MC_PLOT_MARKERS)) {
                cov_disc(c, X, Y, hw); /* a lone point still shows */
            }
            lx = X, ly = Y, have = 1;
        }
    }
    if (s->style & MC_PLOT_MARKERS)
        for (int k = 0; k < s->n; k++)
            if (point_ok(p, s->x[k], s->y[k])) cov_disc(c, px_of(p, s->x[k]), py_of(p, s->y[k]), 3.2 * sc);
    cov_flush(c, s->color);
}

/* A legend's sample of a series style, centred vertically at y, from x to x + len. */
static void draw_sample(canvas *c, int x, int y, int len, int style, uint32_t col, int errbar) {
    double hw = line_hw(c, style), yc = y + 0.5;
    if (style & MC_PLOT_LINE) {
        if (style & MC_PLOT_DASHED) {
            dasher d = {6.0 * c->scale, 4.0 * c->scale, 0};
            cov_dashed(c, &d, x, yc, x + len, yc, hw);
        } else {
            cov_segment(c, x, yc, x + len, yc, hw);
        }
    }
    if (errbar) {
        double xm = x + len / 2 + 0.5, e = 4.0 * c->scale, hw1 = 0.5 * c->scale;
        cov_segment(c, xm, yc - e, xm, yc + e, hw1);
        cov_segment(c, xm - 3 * c->scale, yc - e, xm + 3 * c->scale, yc - e, hw1);
        cov_segment(c, xm - 3 * c->scale, yc + e, xm + 3 * c->scale, yc + e, hw1);
    }
    if (style & MC_PLOT_MARKERS) cov_disc(c, x + len / 2.0, yc, 3.2 * c->scale);
    cov_flush(c, col);
}

/* Counts sampled line/marker positions of all series inside the box (for legend placement). */
static int data_in_box(const mc_plot *p, int x0, int y0, int x1, int y1) {
    int hits = 0;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        int have = 0;
        double lx = 0, ly = 0;
        for (int k = 0; k < s->n; k++) {
            if (!point_ok(p, s->x[k], s->y[k])) { have = 0; continue; }
            double X = px_of(p, s->x[k]), Y = py_of(p, s->y[k]);
            if (X >= x0 && X < x1 && Y >= y0 && Y < y1) hits += 4;
            if (have && (s->style & MC_PLOT_LINE)) {
                double len = hypot(X - lx, Y - ly);
                int steps = len > 4 ? (int)fmin(len / 4, 2000) : 0;
                for (int j = 1; j < steps; j++) {
                    double qx = lx + (X - lx) * j / steps, qy = ly + (Y - ly) * j / steps;
                    if (qx >= x0 && qx < x1 && qy >= y0 && qy < y1) hits++;
                }
            }
            lx = X, ly = Y, have = 1;
        }
    }
    if (p->diagonal) { /* the diagonal crosses the box when some corner lies on each side */
        int side[2] = {0, 0};
        int cx[4] = {x0, x1, x0, x1}, cy[4] = {y0, y0, y1, y1};
        for (int k = 0; k < 4; k++) {
            double X = cx[k], Y = cy[k];
            /* y = x in data units: compare the data values at that pixel */
            double tx = p->vx0 + (X - p->ax0) / (p->ax1 - p->ax0) * (p->vx1 - p->vx0);
            double ty = p->vy0 + (p->ay1 - Y) / (p->ay1 - p->ay0) * (p->vy1 - p->vy0);
            double dxv = p->xlog ? pow(10, tx) : tx, dyv = p->ylog ? pow(10, ty) : ty;
            side[dyv > dxv]++;
        }
        if (side[0] && side[1]) hits += 20;
    }
    return hits;
}

static void draw_legend(canvas *c, const mc_plot *p) {
    int n = legend_count(p);
    if (!n || p->legend == MC_LEGEND_NONE) return;
    int sc = c->scale, pad = 7 * sc, sample = 24 * sc, gap = 7 * sc, tw = 0, errbars = 0;
    for (int i = 0; i < p->ns; i++) errbars |= p->s[i].name && p->s[i].err;
    int row = (errbars ? 17 : 15) * sc;
    for (int i = 0; i < p->ns; i++)
        if (p->s[i].name) tw = (int)fmax(tw, text_w(c, p->s[i].name, 0));
    if (p->diag_label) tw = (int)fmax(tw, text_w(c, p->diag_label, 0));
    int bw = pad + sample + gap + tw + pad, bh = pad + n * row - (row - TEXT_H * sc) + pad - 2 * sc;
    int inset = 8 * sc;
    int xs[4] = {p->ax1 - inset - bw, p->ax0 + inset, p->ax1 - inset - bw, p->ax0 + inset};
    int ys[4] = {p->ay0 + inset, p->ay0 + inset, p->ay1 - inset - bh, p->ay1 - inset - bh};
    int pick = 0;
    if (p->legend == MC_LEGEND_AUTO) {
        int best = -1;
        for (int k = 0; k < 4; k++) {
            int h = data_in_box(p, xs[k], ys[k], xs[k] + bw, ys[k] + bh);
            if (best < 0 || h < best) { best = h; pick = k; }
        }
    } else {
        pick = p->legend == MC_LEGEND_UPPER_RIGHT ? 0 : p->legend == MC_LEGEND_UPPER_LEFT ? 1
             : p->legend == MC_LEGEND_LOWER_RIGHT ? 2 : 3;
    }
    int x0 = xs[pick], y0 = ys[pick];
    fill_rect(c, x0, y0, x0 + bw, y0 + bh, C_BG, 0.92f);
    fill_rect(c, x0, y0, x0 + bw, y0 + 1, C_LEGEND_EDGE, 1);
    fill_rect(c, x0, y0 + bh - 1, x0 + bw, y0 + bh, C_LEGEND_EDGE, 1);
    fill_rect(c, x0, y0, x0 + 1, y0 + bh, C_LEGEND_EDGE, 1);
    fill_rect(c, x0 + bw - 1, y0, x0 + bw, y0 + bh, C_LEGEND_EDGE, 1);
    /* line art inside the legend is clipped to the legend box */
    int save[4] = {c->cx0, c->cy0, c->cx1, c->cy1};
    c->cx0 = x0, c->cy0 = y0, c->cx1 = x0 + bw, c->cy1 = y0 + bh;
    int y = y0 + pad - sc;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (!s->name) continue;
        int mid = y + (MC_FONT_ASCENT * sc) / 2 + sc;
        draw_sample(c, x0 + pad, mid, sample, s->style, s->color, s->err != NULL);
        draw_text(c, x0 + pad + sample + gap, y, s->name, C_TEXT, 0, 0);
        y += row;
    }
    if (p->diag_label) {
        int mid = y + (MC_FONT_ASCENT * sc) / 2 + sc;
        draw_sample(c, x0 + pad, mid, sample, MC_PLOT_LINE | MC_PLOT_DASHED | MC_PLOT_THIN, C_REF, 0);
        draw_text(c, x0 + pad + sample + gap, y, p->diag_label, C_TEXT, 0, 0);
    }
    c->cx0 = save[0], c->cy0 = save[1], c->cx1 = save[2], c->cy1 = save[3];
}

/* A label on a white, slightly transparent patch so it stays readable over lines. */
static void label_box(canvas *c, int x, int y, const char *s, uint32_t col) {
    int sc = c->scale, w = text_w(c, s, 0);
    fill_rect(c, x - 3 * sc, y - 2 * sc, x + w + 3 * sc, y + TEXT_H * sc + sc, C_BG, 0.85f);
    draw_text(c, x, y, s, col, 0, 0);
}

/* Of n candidate top-left corners for a w x h label, the first that lies inside the data area
 * and covers the least data. */
static int best_place(const mc_plot *p, const canvas *c, const int *xs, const int *ys, int n, int w, int h) {
    int best = 0;
    long best_score = -1;
    int m = 4 * c->scale; /* margin, including the white patch */
    for (int k = 0; k < n; k++) {
        long score = data_in_box(p, xs[k] - m, ys[k] - m, xs[k] + w + m, ys[k] + h + m);
        if (xs[k] - m < p->ax0 || ys[k] - m < p->ay0 || xs[k] + w + m > p->ax1 || ys[k] + h + m > p->ay1)
            score += 1000000;
        if (best_score < 0 || score < best_score) {
            best_score = score;
            best = k;
        }
    }
    return best;
}

/* ---- render --------------------------------------------------------------------------------- */

int mc_plot_render(mc_plot *p, uint8_t *rgb) {
    if (!p || !rgb) return mc_err(MC_EARG, "mc_plot_render: no plot or no image");
    canvas cv = {p->w, p->h, rgb, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    canvas *c = &cv;
    c->scale = (p->w >= 1600 && p->h >= 1000) ? 2 : 1;
    int sc = c->scale;
    MC_TRY(axis_view(p, 0, &p->vx0, &p->vx1));
    MC_TRY(axis_view(p, 1, &p->vy0, &p->vy1));

    /* Vertical layout: title, data area, tick labels, x label. */
    int pad = 12 * sc, tick = 4 * sc, text_h = TEXT_H * sc;
    int top = pad + (p->title ? text_h + 12 * sc : 4 * sc);
    int bottom = p->h - pad - (p->xlabel ? text_h + 8 * sc : 0) - text_h - tick - 5 * sc;
    p->ay0 = top;
    p->ay1 = bottom;
    if (p->ay1 - p->ay0 < 20) return mc_err(MC_EARG, "plot: %d x %d is too small for the text", p->w, p->h);
    p->laid_out = 1; /* px_of/py_of usable from here on (x side set below) */

    mc_plot_tick yt[MAXTICKS], xt[MAXTICKS];
    int ny = axis_ticks(p, 1, (int)fmax(2, fmin(10, (p->ay1 - p->ay0) / (36 * sc))), yt);
    if (ny < 0) return ny;
    int ylw = 0;
    for (int i = 0; i < ny; i++)
        if (yt[i].major) ylw = (int)fmax(ylw, text_w(c, yt[i].label, 0));
    p->ax0 = pad + (p->ylabel ? text_h + 10 * sc : 0) + ylw + 5 * sc + tick;
    p->ax1 = p->w - pad - 8 * sc;
    if (p->ax1 - p->ax0 < 20) return mc_err(MC_EARG, "plot: %d x %d is too small for the text", p->w, p->h);

    /* x ticks: as many as fit with at least 14 pixels between neighbouring labels. */
    int nx = 0;
    for (int maxt = 10; maxt >= 2; maxt--) {
        nx = axis_ticks(p, 0, maxt, xt);
        if (nx < 0) return nx;
        int fits = 1;
        double prev_right = -1e300;
        for (int i = 0; i < nx && fits; i++) {
            if (!xt[i].major) continue;
            double X = px_of(p, xt[i].v), half = text_w(c, xt[i].label, 0) / 2.0;
            if (X - half - prev_right < 14 * sc) fits = 0;
            prev_right = X + half;
        }
        if (fits) break;
    }
    /* keep the last x label inside the image */
    for (int i = nx - 1; i >= 0; i--)
        if (xt[i].major) {
            double X = px_of(p, xt[i].v);
            int half = text_w(c, xt[i].label, 0) / 2;
            if (X + half > p->w - pad / 2) p->ax1 -= (int)(X + half - (p->w - pad / 2));
            break;
        }

    /* Background and grid. */
    fill_rect(c, 0, 0, p->w, p->h, C_BG, 1);
    for (int pass = 0; pass < 2; pass++) { /* minor grid first, then major on top */
        for (int i = 0; i < nx; i++) {
            if (xt[i].major != pass) continue;
            int X = (int)floor(px_of(p, xt[i].v));
            if (X >= p->ax0 && X < p->ax1) fill_rect(c, X, p->ay0, X + sc, p->ay1, pass ? C_GRID : C_GRID_MINOR, 1);
        }
        for (int i = 0; i < ny; i++) {
            if (yt[i].major != pass) continue;
            int Y = (int)floor(py_of(p, yt[i].v));
            if (Y >= p->ay0 && Y < p->ay1) fill_rect(c, p->ax0, Y, p->ax1, Y + sc, pass ? C_GRID : C_GRID_MINOR, 1);
        }
    }

    /* Line art inside the data area. */
    float *cov = mc_calloc((size_t)p->w * (size_t)p->h, sizeof(float), "plot coverage buffer");
    if (!cov) return MC_ENOMEM;
    c->cov = cov;
    c->dx0 = c->w, c->dy0 = c->h, c->dx1 = 0, c->dy1 = 0;
    c->cx0 = p->ax0, c->cy0 = p->ay0, c->cx1 = p->ax1, c->cy1 = p->ay1;

    if (p->diagonal) {
        /* y = x in data units: sample along x so that it is right on log axes as well */
        dasher d = {6.0 * sc, 4.0 * sc, 0};
        double a = p->vx0, b = p->vx1, lx = 0, ly = 0;
        int have = 0, steps = p->xlog || p->ylog ? 200 : 1;
        for (int k = 0; k <= steps; k++) {
            double t = a + (b - a) * k / steps, x = p->xlog ? pow(10, t) : t;
            if (!point_ok(p, x, x)) { have = 0; continue; }
            double X = px_of(p, x), Y = py_of(p, x);
            if (have) cov_dashed(c, &d, lx, ly, X, Y, 0.75 * sc);
            lx = X, ly = Y, have = 1;
        }
        cov_flush(c, C_REF);
    }
    for (int i = 0; i < p->nvl; i++) {
        double x = p->vl[i].x;
        if (!isfinite(x) || (p->xlog && !(x > 0))) continue;
        double X = floor(px_of(p, x)) + 0.5;
        dasher d = {5.0 * sc, 4.0 * sc, 0};
        cov_dashed(c, &d, X, p->ay1, X, p->ay0, 0.75 * sc);
        cov_flush(c, C_VLINE);
    }
    for (int i = 0; i < p->ns; i++) draw_series(c, p, &p->s[i]);
    for (int i = 0; i < p->npt; i++) {
        if (!point_ok(p, p->pt[i].x, p->pt[i].y)) continue;
        double X = px_of(p, p->pt[i].x), Y = py_of(p, p->pt[i].y);
        cov_disc(c, X, Y, 6.0 * sc);
        cov_flush(c, C_BG);
        cov_disc(c, X, Y, 4.5 * sc);
        cov_flush(c, C_POINT);
    }

    /* Labels of vertical lines and points: inside the data area, on white patches, at the
     * candidate place that covers the least data. */
    for (int i = 0; i < p->nvl; i++) {
        double x = p->vl[i].x;
        if (!p->vl[i].label || !isfinite(x) || (p->xlog && !(x > 0))) continue;
        int X = (int)floor(px_of(p, x)), w = text_w(c, p->vl[i].label, 0);
        if (X < p->ax0 || X >= p->ax1) continue;
        int xs[4] = {X + 6 * sc, X - 6 * sc - w, X + 6 * sc, X - 6 * sc - w};
        int ys[4] = {p->ay0 + 6 * sc, p->ay0 + 6 * sc, p->ay1 - 6 * sc - text_h, p->ay1 - 6 * sc - text_h};
        int k = best_place(p, c, xs, ys, 4, w, text_h);
        label_box(c, xs[k], ys[k], p->vl[i].label, C_VLINE);
    }
    for (int i = 0; i < p->npt; i++) {
        if (!p->pt[i].label || !point_ok(p, p->pt[i].x, p->pt[i].y)) continue;
        double X = px_of(p, p->pt[i].x), Y = py_of(p, p->pt[i].y);
        if (X < p->ax0 || X >= p->ax1 || Y < p->ay0 || Y >= p->ay1) continue;
        int w = text_w(c, p->pt[i].label, 0), d = 9 * sc, ix = (int)X, iy = (int)Y;
        int xs[4] = {ix + d, ix + d, ix - d - w, ix - d - w};
        int ys[4] = {iy - d - text_h, iy + d, iy - d - text_h, iy + d};
        int k = best_place(p, c, xs, ys, 4, w, text_h);
        label_box(c, xs[k], ys[k], p->pt[i].label, C_POINT);
    }

    /* Frame, ticks and tick labels. */
    fill_rect(c, p->ax0 - sc, p->ay0 - sc, p->ax1 + sc, p->ay0, C_FRAME, 1);
    fill_rect(c, p->ax0 - sc, p->ay1, p->ax1 + sc, p->ay1 + sc, C_FRAME, 1);
    fill_rect(c, p->ax0 - sc, p->ay0, p->ax0, p->ay1, C_FRAME, 1);
    fill_rect(c, p->ax1, p->ay0, p->ax1 + sc, p->ay1, C_FRAME, 1);
    for (int i = 0; i < nx; i++) {
        int X = (int)floor(px_of(p, xt[i].v));
        if (X < p->ax0 - 1 || X > p->ax1) continue;
        int len = xt[i].major ? tick : tick / 2;
        fill_rect(c, X, p->ay1 + sc, X + sc, p->ay1 + sc + len, C_FRAME, 1);
        if (xt[i].major) {
            int w = text_w(c, xt[i].label, 0);
            draw_text(c, X - w / 2, p->ay1 + sc + tick + 4 * sc, xt[i].label, C_TEXT, 0, 0);
        }
    }
    for (int i = 0; i < ny; i++) {
        int Y = (int)floor(py_of(p, yt[i].v));
        if (Y < p->ay0 - 1 || Y > p->ay1) continue;
        int len = yt[i].major ? tick : tick / 2;
        fill_rect(c, p->ax0 - sc - len, Y, p->ax0 - sc, Y + sc, C_FRAME, 1);
        if (yt[i].major) {
            int w = text_w(c, yt[i].label, 0);
            /* digits are cap height: centre the cap height on the tick */
            draw_text(c, p->ax0 - sc - tick - 4 * sc - w, Y - (MC_FONT_ASCENT * sc) / 2, yt[i].label, C_TEXT, 0, 0);
        }
    }

    /* Title and axis labels. */
    if (p->title) {
        int w = text_w(c, p->title, 1), cx = (p->ax0 + p->ax1) / 2 - w / 2;
        if (cx + w > p->w - pad) cx = p->w - pad - w;
        if (cx < pad) cx = pad;
        draw_text(c, cx, pad, p->title, C_TITLE, 1, 0);
    }
    if (p->xlabel) {
        int w = text_w(c, p->xlabel, 0);
        draw_text(c, (p->ax0 + p->ax1) / 2 - w / 2, p->h - pad - text_h + 2 * sc, p->xlabel, C_TEXT, 0, 0);
    }
    if (p->ylabel) {
        int w = text_w(c, p->ylabel, 0);
        draw_text(c, pad, (p->ay0 + p->ay1) / 2 + w / 2, p->ylabel, C_TEXT, 0, 1);
    }
    draw_legend(c, p);
    free(cov);
    return MC_OK;
}

int mc_plot_save(mc_plot *p, const char *path) {
    if (!p || !path) return mc_err(MC_EARG, "mc_plot_save: no plot or no path");
    uint8_t *rgb = mc_malloc((size_t)p->w * (size_t)p->h * 3, "plot image");
    if (!rgb) return MC_ENOMEM;
    int rc = mc_plot_render(p, rgb);
    if (rc < 0) mc_err_context(rc, "%s", path);
    else rc = mc_png_write(path, rgb, p->w, p->h, 3);
    free(rgb);
    return rc;
}
