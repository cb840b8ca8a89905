/* test_plot.c — the PNG writer, the bitmap font, axis ticks and the four plot kinds.
 *
 * PNG files are decoded with libpng's own reader and compared with what was written.
 * Ticks are compared with nice numbers worked out by hand for several ranges. Plots are
 * checked structurally on the decoded PNG: the size asked for; pixels of each series' colour
 * where the series passes (mc_plot_to_pixel gives the place); none where a NaN breaks a line
 * or far from any series; the tick labels' glyphs found below the axis; the reference lines and
 * markers in their colours; NaN/Inf, empty series, one-point series and constant data handled.
 */
#include <png.h>
#include <stdint.h>
#include <string.h>
#include "core/core.h"
#include "mc_io.h"
#include "test.h"

/* Colours plot.c documents for its reference line, vertical lines, points and text. */
#define C_REF 0x8A8A8Au
#define C_VLINE 0x505050u
#define C_POINT 0xC62828u
#define C_TEXT 0x222222u
#define C_TITLE 0x111111u

typedef struct image {
    int w, h;
    uint8_t *rgb; /* (h, w, 3) */
} image;

static int load_png(const char *path, image *im) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path)) return -1;
    pi.format = PNG_FORMAT_RGB;
    im->w = (int)pi.width;
    im->h = (int)pi.height;
    im->rgb = malloc(PNG_IMAGE_SIZE(pi));
    if (!im->rgb || !png_image_finish_read(&pi, NULL, im->rgb, 0, NULL)) {
        png_image_free(&pi);
        free(im->rgb);
        return -1;
    }
    return 0;
}

static uint32_t pix(const image *im, int x, int y) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return 0xFFFFFFFFu;
    const uint8_t *p = im->rgb + 3 * ((size_t)y * (size_t)im->w + (size_t)x);
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

/* A pixel of exactly colour col within radius r of (px, py)? */
static int color_near(const image *im, double px, double py, int r, uint32_t col) {
    int cx = (int)floor(px), cy = (int)floor(py);
    for (int y = cy - r; y <= cy + r; y++)
        for (int x = cx - r; x <= cx + r; x++)
            if (pix(im, x, y) == col) return 1;
    return 0;
}

static int count_color(const image *im, int x0, int y0, int x1, int y1, uint32_t col) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += pix(im, x, y) == col;
    return n;
}

/* Renders text with the font into a mask and looks for it, in colour col, anywhere in the
 * box; returns 1 when every ink pixel has colour col and the paper pixels do not. Bold text is
 * the glyph smeared one column to the right (advance one column more). */
static int find_text_style(const image *im, const char *text, uint32_t col, int bold, int x0, int y0, int x1, int y1) {
    int tw = mc_font_text_width(text, bold);
    if (tw <= 0) return 0;
    uint8_t *mask = calloc((size_t)tw * MC_FONT_ROWS, 1);
    int pen = 0;
    for (const char *s = text; *s;) {
        const mc_glyph *g = mc_font_glyph(mc_utf8_next(&s));
        for (int r = 0; r < MC_FONT_ROWS; r++)
            for (int c = 0; c < g->width; c++)
                if ((g->rows[r] >> (g->width - 1 - c)) & 1) {
                    mask[r * tw + pen + c] = 1;
                    if (bold) mask[r * tw + pen + c + 1] = 1;
                }
        pen += g->width + 1 + (bold ? 1 : 0);
    }
    int found = 0;
    for (int y = y0; y < y1 && !found; y++)
        for (int x = x0; x < x1 && !found; x++) {
            int ok = 1;
            for (int r = 0; r < MC_FONT_ROWS && ok; r++)
                for (int c = 0; c < tw && ok; c++) ok = (pix(im, x + c, y + r) == col) == mask[r * tw + c];
            found = ok;
        }
    free(mask);
    return found;
}

static int find_text(const image *im, const char *text, uint32_t col, int x0, int y0, int x1, int y1) {
    return find_text_style(im, text, col, 0, x0, y0, x1, y1);
}

/* ---- PNG ---------------------------------------------------------------------------------- */

static void test_png(const char *dir) {
    char path[1200];
    enum { W = 37, H = 23 };
    uint8_t grey[W * H], rgb[W * H * 3], rgba[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        grey[i] = (uint8_t)(i * 7 + 3);
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)(i * (c + 2) + 11 * c);
        for (int c = 0; c < 4; c++) rgba[4 * i + c] = (uint8_t)(i * (c + 5) + 3 * c);
    }
    png_image pi;
    /* grey */
    snprintf(path, sizeof path, "%s/grey.png", dir);
    REQUIRE_OK(mc_png_write(path, grey, W, H, 1));
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    {
        int r_ = png_image_begin_read_from_file(&pi, path); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "decode %s", path);
    }
    CHECK(pi.width == W && pi.height == H && pi.format == PNG_FORMAT_GRAY, "grey PNG header");
    uint8_t back[W * H * 4];
    pi.format = PNG_FORMAT_GRAY;
    {
        int r_ = png_image_finish_read(&pi, NULL, back, 0, NULL); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "read grey");
    }
    CHECK(memcmp(back, grey, sizeof grey) == 0, "grey pixels round-trip");
    /* RGB */
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    REQUIRE_OK(mc_png_write(path, rgb, W, H, 3));
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    {
        int r_ = png_image_begin_read_from_file(&pi, path); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "decode %s", path);
    }
    CHECK(pi.width == W && pi.height == H && pi.format == PNG_FORMAT_RGB, "RGB PNG header");
    pi.format = PNG_FORMAT_RGB;
    {
        int r_ = png_image_finish_read(&pi, NULL, back, 0, NULL); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "read rgb");
    }
    CHECK(memcmp(back, rgb, sizeof rgb) == 0, "RGB pixels round-trip");
    /* RGBA */
    snprintf(path, sizeof path, "%s/rgba.png", dir);
    REQUIRE_OK(mc_png_write(path, rgba, W, H, 4));
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    {
        int r_ = png_image_begin_read_from_file(&pi, path); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "decode %s", path);
    }
    pi.format = PNG_FORMAT_RGBA;
    {
        int r_ = png_image_finish_read(&pi, NULL, back, 0, NULL); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_, "read rgba");
    }
    CHECK(memcmp(back, rgba, sizeof rgba) == 0, "RGBA pixels round-trip");
    /* errors name the file */
    snprintf(path, sizeof path, "%s/missing/dir/out.png", dir);
    CHECK(mc_png_write(path, rgb, W, H, 3) == MC_EIO && strstr(mc_errmsg(), "out.png"), "unwritable: %s", mc_errmsg());
    snprintf(path, sizeof path, "%s/bad.png", dir);
    CHECK(mc_png_write(path, rgb, W, H, 2) == MC_EARG && strstr(mc_errmsg(), "bad.png"), "2 channels: %s", mc_errmsg());
    CHECK(mc_png_write(path, rgb, 0, H, 3) == MC_EARG && strstr(mc_errmsg(), "bad.png"), "zero width: %s", mc_errmsg());
    FILE *f = fopen(path, "rb");
    CHECK(f == NULL, "nothing written on error");
    if (f) fclose(f);
}

/* ---- font --------------------------------------------------------------------------------- */

static int ink_rows(const mc_glyph *g, int r0, int r1) {
    int n = 0;
    for (int r = r0; r <= r1; r++) n += g->rows[r] != 0;
    return n;
}

static void test_font(void) {
    const mc_glyph *box = mc_font_glyph(0xFFFD);
    CHECK(box->width > 0, "box glyph");
    CHECK(mc_font_glyph(0x4E2D) == box, "unknown character draws as the box");
    for (int ch = 33; ch < 127; ch++) {
        const mc_glyph *g = mc_font_glyph((uint32_t)ch);
        CHECK(g != box && g->width > 0 && g->width <= 16, "glyph '%c' designed (width %d)", ch, g->width);
        int any = 0;
        for (int r = 0; r < MC_FONT_ROWS; r++) {
            any |= g->rows[r] != 0;
            CHECK((g->rows[r] >> g->width) == 0, "glyph '%c' row %d inside its width", ch, r);
        }
        CHECK(any, "glyph '%c' has ink", ch);
    }
    /* Typography facts: capitals and digits reach the cap height (row 0) and stand on the
     * baseline (row 8) without descending; x-height letters leave rows 0..2 empty; g j p q y
     * descend; the period sits on the baseline. */
    for (const char *s = "ABCDEFHIKLMNPRTUVWXYZ0123456789bdhkl"; *s; s++) {
        const mc_glyph *g = mc_font_glyph((uint32_t)*s);
        CHECK(g->rows[0] && g->rows[8] && !ink_rows(g, 9, 10), "'%c' spans the cap height", *s);
    }
    for (const char *s = "acemnorsuvwxz"; *s; s++) {
        const mc_glyph *g = mc_font_glyph((uint32_t)*s);
        CHECK(!ink_rows(g, 0, 2) && g->rows[3] && g->rows[8] && !ink_rows(g, 9, 10), "'%c' is x-height", *s);
    }
    for (const char *s = "gjpqy"; *s; s++) CHECK(ink_rows(mc_font_glyph((uint32_t)*s), 9, 10) > 0, "'%c' descends", *s);
    const mc_glyph *dot = mc_font_glyph('.');
    CHECK(dot->rows[8] && !ink_rows(dot, 0, 6), "period on the baseline");
    /* Digits share one width (columns of numbers line up). */
    for (int d = '1'; d <= '9'; d++) CHECK(mc_font_glyph((uint32_t)d)->width == mc_font_glyph('0')->width, "digit width");
    /* Symbols beyond ASCII exist: × ± − µ ° */
    const uint32_t sym[] = {0xD7, 0xB1, 0x2212, 0xB5, 0xB0};
    for (size_t i = 0; i < sizeof sym / sizeof *sym; i++) CHECK(mc_font_glyph(sym[i]) != box, "symbol U+%04X", (unsigned)sym[i]);
    /* Width: glyph widths plus one column between glyphs. */
    int wa = mc_font_glyph('a')->width, wi = mc_font_glyph('i')->width;
    CHECK(mc_font_text_width("ai", 0) == wa + 1 + wi, "text width");
    CHECK(mc_font_text_width("ai", 1) == wa + 1 + wi + 2, "bold text width");
    CHECK(mc_font_text_width("", 0) == 0, "empty text");
    CHECK(mc_font_text_width("\xc3\x97", 0) == mc_font_glyph(0xD7)->width, "UTF-8 ×");
    const char *bad = "\xff";
    CHECK(mc_utf8_next(&bad) == 0xFFFD, "invalid UTF-8 -> U+FFFD");
}

/* ---- ticks -------------------------------------------------------------------------------- */

static void expect_ticks(double lo, double hi, int log_scale, int max_ticks, const char *const *want, int nwant) {
    mc_plot_tick t[128];
    int n = mc_plot_ticks(lo, hi, log_scale, max_ticks, t, 128);
    REQUIRE(n >= 0, "ticks [%g, %g]: %s", lo, hi, mc_errmsg());
    int k = 0, ok = 1;
    char got[512] = "";
    for (int i = 0; i < n; i++) {
        CHECK(t[i].v >= lo - 1e-9 * fabs(hi - lo) && t[i].v <= hi + 1e-9 * fabs(hi - lo),
              "tick %g inside [%g, %g]", t[i].v, lo, hi);
        if (!t[i].major) continue;
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s", k ? " " : "", t[i].label);
        if (k >= nwant || strcmp(t[i].label, want[k]) != 0) ok = 0;
        /* the label is the number */
        if (ok) CHECK(fabs(strtod(t[i].label, NULL) - t[i].v) <= 1e-9 * fabs(t[i].v), "label %s = %.17g", t[i].label, t[i].v);
        k++;
    }
    CHECK(ok && k == nwant, "ticks [%g, %g]%s max %d: got \"%s\"", lo, hi, log_scale ? " log" : "", max_ticks, got);
}

#define TICKS(lo, hi, lg, mx, ...)                                                                   \
    do {                                                                                             \
        const char *const w_[] = {__VA_ARGS__};                                                      \
        expect_ticks(lo, hi, lg, mx, w_, (int)(sizeof w_ / sizeof *w_));                             \
    } while (0)

static void test_ticks(void) {
    TICKS(0, 1, 0, 6, "0.0", "0.2", "0.4", "0.6", "0.8", "1.0");
    TICKS(0, 1, 0, 11, "0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0");
    TICKS(0, 100, 0, 6, "0", "20", "40", "60", "80", "100");
    TICKS(-3.7, 12.2, 0, 8, "-2", "0", "2", "4", "6", "8", "10", "12");
    TICKS(0.00012, 0.00047, 0, 5, "0.0002", "0.0003", "0.0004");
    TICKS(990, 1010, 0, 5, "990", "995", "1000", "1005", "1010");
    TICKS(1e6, 5e6, 0, 6, "1e6", "2e6", "3e6", "4e6", "5e6");
    TICKS(-0.35, 0.05, 0, 5, "-0.3", "-0.2", "-0.1", "0.0");
    TICKS(0.41, 0.79, 0, 9, "0.45", "0.50", "0.55", "0.60", "0.65", "0.70", "0.75");
    TICKS(-48000, 50000, 0, 6, "-40000", "-20000", "0", "20000", "40000");
    /* log axes: decades; every other decade when too many; 1-2-5 within less than 2 decades */
    TICKS(1e-7, 10, 1, 10, "1e-7", "1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1");
    TICKS(1e-7, 10, 1, 5, "1e-6", "1e-4", "1e-2", "1e0");
    TICKS(50, 200000, 1, 8, "100", "1000", "10000", "100000");
    TICKS(0.004, 2, 1, 8, "0.01", "0.1", "1");
    TICKS(2, 30, 1, 8, "2", "5", "10", "20");
    TICKS(3, 5, 1, 8, "3.0", "3.5", "4.0", "4.5", "5.0");
    /* minor ticks 2..9 on a log axis */
    mc_plot_tick t[128];
    int n = mc_plot_ticks(1, 1000, 1, 10, t, 128), minors = 0;
    for (int i = 0; i < n; i++) minors += !t[i].major;
    CHECK(n == 4 + 3 * 8 - 0 && minors == 24, "1..1000 log: 4 decades and 24 minor ticks (got %d, %d)", n, minors);
    /* errors */
    CHECK(mc_plot_ticks(1, 1, 0, 5, t, 128) == MC_EARG, "empty range");
    CHECK(mc_plot_ticks(0, 10, 1, 5, t, 128) == MC_EARG, "log axis from 0");
    CHECK(mc_plot_ticks(NAN, 10, 0, 5, t, 128) == MC_EARG, "NaN range");
}

/* ---- plots -------------------------------------------------------------------------------- */

static void save_and_load(mc_plot *p, const char *path, image *im, int w, int h) {
    REQUIRE_OK(mc_plot_save(p, path));
    {
        int r_ = load_png(path, im); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 0, "%s decodes as PNG", path);
    }
    CHECK(im->w == w && im->h == h, "%s: %d x %d, asked for %d x %d", path, im->w, im->h, w, h);
}

/* Series s passes through (x[k], y[k]) for the given k: its colour is there. */
static void check_series_at(const mc_plot *p, const image *im, int s, const double *x, const double *y, int k,
                            const char *what) {
    double px, py;
    REQUIRE_OK(mc_plot_to_pixel(p, x[k], y[k], &px, &py));
    CHECK(color_near(im, px, py, 2, mc_plot_color(p, s)), "%s: series %d colour %06X at point %d (%.1f, %.1f)", what, s,
          (unsigned)mc_plot_color(p, s), k, px, py);
}

static void test_lr_finder(const char *dir) {
    enum { N = 100 };
    double lr[N], loss[N];
    int n = 0;
    for (int i = 0; i < N; i++) {
        lr[i] = 1e-7 * pow(10 / 1e-7, i / 100.0);
        double t = log10(lr[i]);
        loss[i] = 0.7 - 0.3 / (1 + exp(-(t + 3) * 2.5)) + (t > -1 ? pow(10, (t + 1) * 1.5) - 1 : 0);
        n++;
        if (loss[i] > 2.5) break;
    }
    loss[5] = NAN; /* a NaN loss early on breaks the line, nothing else */
    mc_plot *p = mc_plot_new(800, 520, "LR finder", "learning rate", "smoothed loss");
    REQUIRE(p, "plot: %s", mc_errmsg());
    REQUIRE_OK(mc_plot_xlog(p, 1));
    int s = mc_plot_series(p, "smoothed loss", lr, loss, n, MC_PLOT_LINE);
    REQUIRE(s == 0, "series index");
    REQUIRE_OK(mc_plot_vline(p, 1e-3, "suggested 1.0e-3"));
    REQUIRE_OK(mc_plot_point(p, 1e-3, loss[70], "min/10"));
    char path[1200];
    snprintf(path, sizeof path, "%s/lr_finder.png", dir);
    image im;
    save_and_load(p, path, &im, 800, 520);
    for (int k = 10; k < n; k += 7)
        if (k != 70) check_series_at(p, &im, s, lr, loss, k, "LR finder");
    /* the NaN at 5 leaves a gap between points 4 and 6 */
    double ax, ay, bx, by;
    mc_plot_to_pixel(p, lr[4], loss[4], &ax, &ay);
    mc_plot_to_pixel(p, lr[6], loss[6], &bx, &by);
    CHECK(bx - ax > 6, "points 4 and 6 are apart (%.1f px)", bx - ax);
    CHECK(!color_near(&im, (ax + bx) / 2, (ay + by) / 2, 1, mc_plot_color(p, s)), "no line across the NaN");
    /* vertical dashed line at 1e-3 and the red point */
    double vx, vy;
    mc_plot_to_pixel(p, 1e-3, loss[70], &vx, &vy);
    int vcount = count_color(&im, (int)vx - 1, 40, (int)vx + 2, 480, C_VLINE);
    CHECK(vcount > 100, "dashed vertical line at the suggested LR (%d pixels)", vcount);
    CHECK(color_near(&im, vx, vy, 1, C_POINT), "suggested-LR marker");
    CHECK(find_text(&im, "suggested 1.0e-3", C_VLINE, (int)vx, 30, (int)vx + 20, 80), "vertical line label");
    /* log x tick labels (decades) under the axis */
    double x0, y0;
    mc_plot_to_pixel(p, 1e-6, loss[0], &x0, &y0);
    CHECK(find_text(&im, "1e-6", C_TEXT, (int)x0 - 20, 440, (int)x0 + 5, 500), "x tick label 1e-6 under its tick");
    CHECK(find_text(&im, "1e-3", C_TEXT, (int)vx - 20, 440, (int)vx + 5, 500), "x tick label 1e-3 under its tick");
    CHECK(find_text(&im, "learning rate", C_TEXT, 300, 480, 500, 520), "x axis label");
    CHECK(find_text_style(&im, "LR finder", C_TITLE, 1, 300, 0, 500, 40), "bold title, centred at the top");
    free(im.rgb);
    mc_plot_free(p);
}

static void test_roc(const char *dir) {
    enum { K = 5, N = 201 };
    static const double auc[K] = {0.81, 0.84, 0.90, 0.93, 0.95};
    static const char *names[K] = {"Atelectasis (AUC 0.810)", "Cardiomegaly (AUC 0.840)", "Consolidation (AUC 0.900)",
                                   "Edema (AUC 0.930)", "Pleural Effusion (AUC 0.950)"};
    double fx[K][N], fy[K][N];
    mc_plot *p = mc_plot_new(640, 640, "ROC curves", "false positive rate", "true positive rate");
    REQUIRE(p, "plot");
    REQUIRE_OK(mc_plot_xrange(p, 0, 1));
    REQUIRE_OK(mc_plot_yrange(p, 0, 1));
    for (int k = 0; k < K; k++) {
        double g = auc[k] / (1 - auc[k]); /* tpr = fpr^(1/g) has AUC g/(g+1) */
        for (int i = 0; i < N; i++) {
            fx[k][i] = i / (N - 1.0);
            fy[k][i] = pow(fx[k][i], 1 / g);
        }
        CHECK(mc_plot_series(p, names[k], fx[k], fy[k], N, MC_PLOT_LINE) == k, "series %d", k);
    }
    REQUIRE_OK(mc_plot_diagonal(p, "chance"));
    /* distinct colours */
    for (int a = 0; a < K; a++)
        for (int b = a + 1; b < K; b++) CHECK(mc_plot_color(p, a) != mc_plot_color(p, b), "colours %d, %d differ", a, b);
    char path[1200];
    snprintf(path, sizeof path, "%s/roc.png", dir);
    image im;
    save_and_load(p, path, &im, 640, 640);
    /* Each curve where it is apart from the others: at fpr = 0.3..0.6 the curves are > 4 px apart. */
    for (int k = 0; k < K; k++)
        for (int i = 60; i <= 120; i += 20) check_series_at(p, &im, k, fx[k], fy[k], i, "ROC");
    /* chance diagonal (dashed, anti-aliased): neutral grey pixels darker than the grid along
     * y = x, below all curves */
    int hits = 0;
    for (double t = 0.2; t < 0.8; t += 0.05) {
        double px, py;
        mc_plot_to_pixel(p, t, t, &px, &py);
        int found = 0;
        for (int y = (int)py - 2; y <= (int)py + 2; y++)
            for (int x = (int)px - 2; x <= (int)px + 2; x++) {
                uint32_t v = pix(&im, x, y);
                int r = (int)(v >> 16) & 255, g = (int)(v >> 8) & 255, b = (int)v & 255;
                found |= v != 0xFFFFFFFFu && r == g && g == b && r <= 0xC0 && r >= 0x80;
            }
        hits += found;
    }
    CHECK(hits >= 8, "chance diagonal drawn (%d of 12 places)", hits);
    /* no curve colour in the lower right triangle far from all curves (below the diagonal) */
    double px0, py0, px1, py1;
    mc_plot_to_pixel(p, 0.7, 0.3, &px0, &py0);
    mc_plot_to_pixel(p, 0.95, 0.05, &px1, &py1);
    int stray = 0;
    for (int k = 0; k < K; k++) stray += count_color(&im, (int)px0, (int)py0, (int)px1, (int)py1, mc_plot_color(p, k));
    /* the legend may sit there: its samples are short lines; anything more is wrong */
    CHECK(stray < 5 * 60, "series colours away from the series: %d pixels", stray);
    /* the tick labels are the nice numbers, at their ticks */
    mc_plot_tick t[32];
    int n = mc_plot_ticks(0, 1, 0, 6, t, 32);
    CHECK(n == 6, "6 ticks on [0, 1]");
    for (int i = 0; i < n; i++) {
        double X, Y;
        mc_plot_to_pixel(p, t[i].v, 0, &X, &Y);
        CHECK(find_text(&im, t[i].label, C_TEXT, (int)X - 15, (int)Y, (int)X + 2, (int)Y + 20),
              "x tick label \"%s\" under x = %g", t[i].label, t[i].v);
        mc_plot_to_pixel(p, 0, t[i].v, &X, &Y);
        CHECK(find_text(&im, t[i].label, C_TEXT, (int)X - 40, (int)Y - 10, (int)X - 4, (int)Y + 2),
              "y tick label \"%s\" left of y = %g", t[i].label, t[i].v);
    }
    CHECK(find_text(&im, "Atelectasis (AUC 0.810)", C_TEXT, 0, 0, 640, 640), "legend entry text");
    CHECK(find_text(&im, "chance", C_TEXT, 0, 0, 640, 640), "legend entry for the diagonal");
    free(im.rgb);
    mc_plot_free(p);
}

static void test_training_log(const char *dir) {
    enum { N = 2000 };
    static double it[N], loss[N];
    mc_rng r;
    mc_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        it[i] = i * 16.0;
        loss[i] = 0.45 + 0.3 * exp(-i / 400.0) + 0.03 * mc_rng_normal(&r);
    }
    loss[100] = INFINITY;
    loss[101] = -INFINITY;
    double vx[5] = {6400, 12800, 19200, 25600, 32000}, vy[5] = {0.62, 0.53, 0.50, 0.49, 0.49};
    mc_plot *p = mc_plot_new(900, 500, "Training loss", "iteration", "loss");
    REQUIRE(p, "plot");
    {
        int r_ = mc_plot_series(p, "train", it, loss, N, MC_PLOT_LINE | MC_PLOT_THIN); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 0, "series");
    }
    {
        int r_ = mc_plot_series(p, "validation", vx, vy, 5, MC_PLOT_LINE | MC_PLOT_MARKERS); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 1, "series");
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/training.png", dir);
    image im;
    save_and_load(p, path, &im, 900, 500);
    for (int k = 0; k < 5; k++) check_series_at(p, &im, 1, vx, vy, k, "validation markers");
    /* the thin line's centre pixels are blended: look for its hue, not its exact colour */
    uint32_t col = mc_plot_color(p, 0);
    int near = 0;
    for (int k = 200; k < N; k += 150) {
        double px, py;
        mc_plot_to_pixel(p, it[k], loss[k], &px, &py);
        int found = 0;
        for (int y = (int)py - 1; y <= (int)py + 1 && !found; y++)
            for (int x = (int)px - 1; x <= (int)px + 1 && !found; x++) {
                uint32_t v = pix(&im, x, y);
                int dr = (int)((v >> 16) & 255) - (int)((col >> 16) & 255), dg = (int)((v >> 8) & 255) - (int)((col >> 8) & 255),
                    db = (int)(v & 255) - (int)(col & 255);
                found = dr * dr + dg * dg + db * db < 3 * 40 * 40;
            }
        near += found;
    }
    CHECK(near >= 11, "thin training line found at %d of 12 places", near);
    /* the infinities did not blow up the y range: the view stays near the finite data */
    double ylo_px, yhi_px;
    mc_plot_to_pixel(p, 0, 0.3, NULL, &ylo_px);
    mc_plot_to_pixel(p, 0, 0.9, NULL, &yhi_px);
    CHECK(ylo_px - yhi_px > 300, "y range follows the finite data (0.3..0.9 spans %.0f px)", ylo_px - yhi_px);
    free(im.rgb);
    mc_plot_free(p);
}

static void test_auc_vs_size(const char *dir) {
    double sz[6] = {500, 1000, 2000, 5000, 20000, 190000};
    double a1[6] = {0.70, 0.74, 0.78, 0.82, 0.85, 0.875}, e1[6] = {0.03, 0.025, 0.02, 0.012, 0.008, 0.004};
    double a2[6] = {0.66, 0.70, 0.74, 0.78, 0.81, 0.835}, e2[6] = {0.02, 0.02, 0.018, 0.01, NAN, 0.003};
    mc_plot *p = mc_plot_new(760, 500, "Mean AUC vs training-set size", "training images", "mean AUC \xc2\xb1 sd");
    REQUIRE(p, "plot");
    REQUIRE_OK(mc_plot_xlog(p, 1));
    int s1 = mc_plot_errorbars(p, "Baseline", sz, a1, e1, 6, 0);
    int s2 = mc_plot_errorbars(p, "Color Module", sz, a2, e2, 6, 0);
    REQUIRE(s1 == 0 && s2 == 1, "series");
    char path[1200];
    snprintf(path, sizeof path, "%s/auc_vs_size.png", dir);
    image im;
    save_and_load(p, path, &im, 760, 500);
    for (int k = 0; k < 6; k++) {
        check_series_at(p, &im, s1, sz, a1, k, "AUC baseline");
        check_series_at(p, &im, s2, sz, a2, k, "AUC color");
        /* error bar ends (caps) */
        double top[1] = {a1[k] + e1[k]}, bot[1] = {a1[k] - e1[k]}, xs[1] = {sz[k]};
        double px, py;
        mc_plot_to_pixel(p, xs[0], top[0], &px, &py);
        /* caps are crisp 1-pixel lines 9 pixels wide in the series colour */
        int cap = 0;
        for (int dy = -1; dy <= 1; dy++) {
            int run = 0;
            for (int dx = -3; dx <= 3; dx++) run += pix(&im, (int)px + dx, (int)py + dy) == mc_plot_color(p, s1);
            if (run > cap) cap = run;
        }
        CHECK(cap == 7, "error bar cap at %g (%d of 7 px)", sz[k], cap);
        (void)bot;
    }
    /* decade labels */
    double X, Y;
    mc_plot_to_pixel(p, 1000, 0.7, &X, &Y);
    CHECK(find_text(&im, "1000", C_TEXT, (int)X - 15, 400, (int)X, 480), "x tick 1000");
    mc_plot_to_pixel(p, 10000, 0.7, &X, &Y);
    CHECK(find_text(&im, "10000", C_TEXT, (int)X - 18, 400, (int)X, 480), "x tick 10000");
    CHECK(find_text(&im, "mean AUC \xc2\xb1 sd", C_TEXT, 0, 0, 60, 500) == 0, "the y label is rotated, not horizontal");
    free(im.rgb);
    mc_plot_free(p);
}

static void test_degenerate(const char *dir) {
    char path[1200];
    image im;
    /* constant y, a single point, an empty series, all-NaN series, negative x on a log axis */
    double x[4] = {1, 2, 3, 4}, y[4] = {0.5, 0.5, 0.5, 0.5}, nan4[4] = {NAN, NAN, NAN, NAN};
    double lx[4] = {-1, 0, 10, 100}, ly[4] = {1, 2, 3, 4};
    mc_plot *p = mc_plot_new(400, 300, "flat", NULL, NULL);
    REQUIRE(p, "plot");
    {
        int r_ = mc_plot_series(p, "flat", x, y, 4, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ >= 0, "series: %s", mc_errmsg());
    }
    {
        int r_ = mc_plot_series(p, "empty", x, y, 0, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 1, "empty series");
    }
    {
        int r_ = mc_plot_series(p, "nan", x, nan4, 4, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 2, "NaN series");
    }
    {
        int r_ = mc_plot_series(p, "one", x, y, 1, MC_PLOT_MARKERS); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ == 3, "one point");
    }
    snprintf(path, sizeof path, "%s/flat.png", dir);
    save_and_load(p, path, &im, 400, 300);
    check_series_at(p, &im, 0, x, y, 1, "constant series");
    check_series_at(p, &im, 0, x, y, 3, "constant series");
    free(im.rgb);
    mc_plot_free(p);

    p = mc_plot_new(400, 300, NULL, NULL, NULL);
    REQUIRE(p, "plot");
    {
        int r_ = mc_plot_series(p, NULL, x, nan4, 4, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ >= 0, "series: %s", mc_errmsg());
    }
    {
        int r_ = mc_plot_series(p, NULL, x, y, 0, 0); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ >= 0, "series: %s", mc_errmsg());
    }
    snprintf(path, sizeof path, "%s/nothing.png", dir);
    save_and_load(p, path, &im, 400, 300); /* no finite data at all */
    free(im.rgb);
    mc_plot_free(p);

    p = mc_plot_new(400, 300, "log with x <= 0", "x", "y");
    REQUIRE(p, "plot");
    REQUIRE_OK(mc_plot_xlog(p, 1));
    REQUIRE_OK(mc_plot_ylog(p, 1));
    {
        int r_ = mc_plot_series(p, "s", lx, ly, 4, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
        REQUIRE(r_ >= 0, "series: %s", mc_errmsg());
    }
    snprintf(path, sizeof path, "%s/logneg.png", dir);
    save_and_load(p, path, &im, 400, 300);
    check_series_at(p, &im, 0, lx, ly, 2, "log series");
    check_series_at(p, &im, 0, lx, ly, 3, "log series");
    free(im.rgb);
    /* a fixed non-positive range on a log axis is an error naming the file */
    REQUIRE_OK(mc_plot_xrange(p, 0, 10));
    CHECK(mc_plot_save(p, path) == MC_EARG && strstr(mc_errmsg(), "logneg.png"), "log range error: %s", mc_errmsg());
    mc_plot_free(p);

    /* many series: colours cycle, the second round dashed; a huge value far outside a fixed range */
    p = mc_plot_new(500, 400, "many", NULL, NULL);
    REQUIRE(p, "plot");
    REQUIRE_OK(mc_plot_yrange(p, 0, 30));
    double sx[2] = {0, 1}, sy[30][2];
    for (int i = 0; i < 30; i++) {
        sy[i][0] = i;
        sy[i][1] = i == 29 ? 1e300 : i + 0.5;
        {
            int r_ = mc_plot_series(p, NULL, sx, sy[i], 2, MC_PLOT_LINE); /* REQUIRE evaluates its condition twice */
            REQUIRE(r_ == i, "series %d", i);
        }
    }
    CHECK(mc_plot_color(p, 0) == mc_plot_color(p, 14) && mc_plot_color(p, 0) != mc_plot_color(p, 1), "palette of 14");
    snprintf(path, sizeof path, "%s/many.png", dir);
    save_and_load(p, path, &im, 500, 400);
    free(im.rgb);
    mc_plot_free(p);

    CHECK(mc_plot_new(10, 10, NULL, NULL, NULL) == NULL, "too small a plot");
    CHECK(mc_plot_to_pixel(NULL, 0, 0, NULL, NULL) == MC_EARG, "to_pixel without a plot");
    p = mc_plot_new(400, 300, NULL, NULL, NULL);
    CHECK(mc_plot_to_pixel(p, 0, 0, NULL, NULL) == MC_EARG, "to_pixel before rendering");
    CHECK(mc_plot_xrange(p, 2, 1) == MC_EARG, "reversed range");
    snprintf(path, sizeof path, "%s/no/such/dir/p.png", dir);
    CHECK(mc_plot_save(p, path) == MC_EIO && strstr(mc_errmsg(), "p.png"), "unwritable plot: %s", mc_errmsg());
    mc_plot_free(p);
}

int main(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", mc_test_tmp());
    test_png(dir);
    test_font();
    test_ticks();
    test_lr_finder(dir);
    test_roc(dir);
    test_training_log(dir);
    test_auc_vs_size(dir);
    test_degenerate(dir);
    return mc_test_done("test_plot");
}
