/* demo.c — the bundled demo dataset: synthetic chest-X-ray-like images in CheXpert's layout,
 * generated here, with the five paper labels drawn into the image so that a network can learn
 * them:
 *   Cardiomegaly      the heart shadow is wider
 *   Pleural Effusion  fluid (bright, with a meniscus) fills the base of one lung
 *   Edema             hazy, patchy brightening of both lungs
 *   Atelectasis       a thin bright plate-like band across a lung
 *   Consolidation     a dense bright patch in a lung
 * plus anatomy (body, lungs, spine, ribs, heart), random position, contrast and noise. Some
 * labels are written as uncertain (-1.0): the finding is then drawn faintly, so that the
 * uncertainty policies matter. Everything comes from the seed.
 *
 * Layout: DIR/CheXpert-v1.0-small/{train.csv,valid.csv,train/patientNNNNN/study1/view1_frontal.jpg,
 * valid/...}; valid.csv has only 0/1 as the real one. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "core/core.h"

typedef struct jerr_t {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jerr_exit(j_common_ptr c) {
    jerr_t *e = (jerr_t *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* 8-bit grey JPEG, quality 95 */
static int write_jpeg(FILE *f, const char *path, void *arg) {
    const uint8_t *px = ((const uint8_t **)arg)[0];
    const int *wh = ((const int **)arg)[1];
    struct jpeg_compress_struct ci;
    jerr_t je;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jerr_exit;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&ci);
        return mc_err(MC_EIO, "%s: JPEG encoding failed: %s", path, je.msg);
    }
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)wh[0];
    ci.image_height = (JDIMENSION)wh[1];
    ci.input_components = 1;
    ci.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * wh[0]);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

static double U(mc_rng *r, double a, double b) { return a + (b - a) * mc_rng_uniform(r); }

/* soft ellipse mask: 1 inside, 0 outside, smooth edge of width `soft` (in normalised radius) */
static double ellipse(double x, double y, double cx, double cy, double rx, double ry, double soft) {
    double d = sqrt((x - cx) * (x - cx) / (rx * rx) + (y - cy) * (y - cy) / (ry * ry));
    double t = (1.0 - d) / soft;
    return t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t);
}

static double gauss(double x, double y, double cx, double cy, double s) {
    return exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * s * s));
}

enum { ATEL = 0, CARDIO, CONSOL, EDEMA, EFFUSION, NLAB };

/* draws one image (w x h, values 0..255) for the given label strengths (0, 0.5 uncertain, 1) */
static void draw(uint8_t *px, int w, int h, const double *lab, mc_rng *r) {
    double ox = U(r, -0.04, 0.04), oy = U(r, -0.03, 0.03), sc = U(r, 0.95, 1.05);
    double contrast = U(r, 0.8, 1.2), bright = U(r, -0.06, 0.06);
    int eff_side = mc_rng_uniform(r) < 0.5 ? -1 : 1, atel_side = mc_rng_uniform(r) < 0.5 ? -1 : 1;
    int cons_side = mc_rng_uniform(r) < 0.5 ? -1 : 1;
    double cons_y = U(r, 0.35, 0.6), cons_x = U(r, 0.12, 0.2), atel_y = U(r, 0.3, 0.55), atel_a = U(r, -0.4, 0.4);
    double eff_h = U(r, 0.18, 0.28);
    double edema_ph[6];
    for (int i = 0; i < 6; i++) edema_ph[i] = U(r, 0, 2 * M_PI);
    double heart_rx = 0.15 * (1 + 0.6 * lab[CARDIO]) * U(r, 0.93, 1.07);
    for (int j = 0; j < h; j++) {
        for (int i = 0; i < w; i++) {
            /* normalised coordinates: x in [-0.5, 0.5] (centre 0), y in [0, 1] top to bottom */
            double x = ((i + 0.5) / w - 0.5 - ox) / sc, y = ((j + 0.5) / h - oy) / sc;
            double v = 0.08;
            double body = ellipse(x, y, 0, 0.55, 0.47, 0.6, 0.15);
            v += 0.47 * body;
            double lungs = 0;
            for (int s = -1; s <= 1; s += 2) {
                double lung = ellipse(x, y, s * 0.2, 0.45, 0.15, 0.3, 0.25);
                lungs += lung;
                /* ribs: faint arcs */
                double rib = 0.5 + 0.5 * sin(2 * M_PI * (y * 9 + 0.6 * x * x * 10 * s * s));
                v += lung * (-0.3 + 0.05 * rib);
                if (s == eff_side && lab[EFFUSION] > 0) {
                    double top = 0.75 - eff_h + 0.05 * ((x * s) - 0.2) * ((x * s) - 0.2) * 20; /* meniscus */
                    double f = y > top ? fmin(1, (y - top) / 0.02) : 0;
                    v += lab[EFFUSION] * 0.38 * f * lung;
                }
                if (s == atel_side && lab[ATEL] > 0) {
                    double d = (y - atel_y) - atel_a * (x - s * 0.2);
                    v += lab[ATEL] * 0.35 * exp(-d * d / (2 * 0.028 * 0.028)) * lung;
                }
                if (s == cons_side && lab[CONSOL] > 0) v += lab[CONSOL] * 0.35 * gauss(x, y, s * cons_x, cons_y, 0.07) * lung;
            }
            if (lab[EDEMA] > 0) {
                /* hazy, patchy opacity, strongest near the hila (the centre) */
                double tex = 0.6 + 0.2 * sin(18 * x + edema_ph[0]) * sin(15 * y + edema_ph[1]) +
                             0.2 * sin(11 * (x + y) + edema_ph[2]);
                v += lab[EDEMA] * 0.22 * tex * fmin(1, lungs) * (0.5 + 1.0 * (1 - fabs(x) * 2));
            }
            v += 0.22 * ellipse(x, y, 0, 0.5, 0.035, 0.55, 0.4); /* spine */
            v += 0.28 * ellipse(x, y, -0.04, 0.62, heart_rx, 0.13, 0.3); /* heart */
            v = (v - 0.4) * contrast + 0.4 + bright + 0.025 * mc_rng_normal(r);
            px[(size_t)j * w + i] = (uint8_t)(v < 0 ? 0 : v > 1 ? 255 : (int)(v * 255 + 0.5));
        }
    }
}

static const char *const LABELS[NLAB] = {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"};

static int make_split(const char *dir, const char *split, int n, int w, int h, uint64_t seed, int first_patient,
                      int allow_uncertain) {
    char path[4096];
    snprintf(path, sizeof path, "%s/CheXpert-v1.0-small/%s.csv", dir, split);
    FILE *csv = mc_fopen(path, "w");
    if (!csv) return MC_EIO;
    fprintf(csv, "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
                 "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
                 "Pleural Effusion,Pleural Other,Fracture,Support Devices\n");
    uint8_t *px = mc_malloc((size_t)w * h, "demo image");
    if (!px) {
        fclose(csv);
        return MC_ENOMEM;
    }
    int rc = MC_OK;
    mc_rng r;
    mc_rng_seed(&r, seed);
    for (int k = 0; k < n && rc == MC_OK; k++) {
        double lab[NLAB];
        int val[NLAB]; /* 1, 0, -1 as written */
        for (int l = 0; l < NLAB; l++) {
            double p = l == EFFUSION ? 0.4 : 0.3;
            int pos = mc_rng_uniform(&r) < p;
            int unc = allow_uncertain && mc_rng_uniform(&r) < 0.08;
            val[l] = unc ? -1 : pos;
            lab[l] = unc ? 0.5 : pos;
        }
        /* edema often comes with cardiomegaly, as in real data */
        if (val[CARDIO] == 1 && val[EDEMA] == 0 && mc_rng_uniform(&r) < 0.3) {
            val[EDEMA] = 1;
            lab[EDEMA] = 1;
        }
        draw(px, w, h, lab, &r);
        int patient = first_patient + k;
        char rel[256];
        snprintf(rel, sizeof rel, "CheXpert-v1.0-small/%s/patient%05d/study1", split, patient);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if ((rc = mc_mkdirs(path)) < 0) break;
        snprintf(path, sizeof path, "%s/%s/view1_frontal.jpg", dir, rel);
        const void *arg[2] = {px, (int[2]){w, h}};
        if ((rc = mc_write_atomic(path, write_jpeg, (void *)arg)) < 0) break;
        int any = 0;
        for (int l = 0; l < NLAB; l++) any |= val[l] != 0;
        char v[NLAB][8];
        for (int l = 0; l < NLAB; l++) snprintf(v[l], sizeof v[l], "%s", val[l] == 1 ? "1.0" : val[l] == -1 ? "-1.0" : (mc_rng_uniform(&r) < 0.5 ? "0.0" : ""));
        fprintf(csv, "%s/view1_frontal.jpg,%s,%d,Frontal,AP,%s,,%s,,,%s,%s,,%s,,%s,,,\n", rel,
                mc_rng_uniform(&r) < 0.5 ? "Female" : "Male", 20 + (int)(mc_rng_uniform(&r) * 70), any ? "" : "1.0",
                v[CARDIO], v[EDEMA], v[CONSOL], v[ATEL], v[EFFUSION]);
    }
    free(px);
    if (fclose(csv) != 0 && rc == MC_OK) rc = mc_err(MC_EIO, "%s/CheXpert-v1.0-small/%s.csv: write error", dir, split);
    return rc;
}

int mc_demo_make(const char *dir, int n_train, int n_valid, int w, int h, uint64_t seed) {
    char path[4096];
    snprintf(path, sizeof path, "%s/CheXpert-v1.0-small", dir);
    MC_TRY(mc_mkdirs(path));
    MC_TRY(make_split(dir, "train", n_train, w, h, seed, 1, 1));
    /* valid.csv has only 0/1, like the real one */
    MC_TRY(make_split(dir, "valid", n_valid, w, h, seed ^ 0x5eed5eedULL, 90000, 0));
    (void)LABELS;
    return MC_OK;
}

/* ---- the colorization demo sets (docs/colorize.md) ------------------------------------------
 * colour: a dark grey background (L 6-22: a gradient and faint noise, no chroma) and 3-6 shapes,
 * discs in the class "discs", squares in "squares", each of one lightness L in one of three bands
 * (30-42, 55-65, 78-92); a shape's chroma has the magnitude 34 and a hue set by its band (250
 * degrees, blue; 140, green; 40, orange) and turned by 90 degrees in squares: the colour is a function of grey
 * level and structure, so a network that sees L alone can learn it. Edges are smoothed over a
 * pixel. Lab -> sRGB (mc_lab_to_srgb), 8-bit PNG.
 * xray: demo X-rays (draw above) as grey PNGs, NORMAL without findings, PNEUMONIA with a
 * consolidation (and edema in a third of them). */
#include "mc_imaging.h"
#include "mc_io.h"

static double smooth01(double t) { return t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t); }

static void draw_color(uint8_t *rgb, double *lab, int s, int squares, mc_rng *r) {
    double l0 = U(r, 6, 14), l1 = U(r, 14, 22), ang = U(r, 0, 2 * M_PI);
    size_t n = (size_t)s * s;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            double t = 0.5 + 0.5 * (cos(ang) * (x - s / 2.0) + sin(ang) * (y - s / 2.0)) / (0.5 * s);
            double *p = lab + 3 * ((size_t)y * s + x);
            p[0] = l0 + (l1 - l0) * t + 0.8 * mc_rng_normal(r);
            p[1] = p[2] = 0;
        }
    int k = 3 + (int)(mc_rng_uniform(r) * 4);
    for (int q = 0; q < k; q++) {
        /* the lightness from one of three bands with gaps between them, so that the band (and
         * with it the hue) is clear from L */
        static const double band[3][2] = {{30, 42}, {55, 65}, {78, 92}};
        int k3 = (int)(mc_rng_uniform(r) * 3);
        double cx = U(r, 0.1, 0.9) * s, cy = U(r, 0.1, 0.9) * s, rad = U(r, 0.08, 0.18) * s;
        double L = U(r, band[k3][0], band[k3][1]);
        double hue = (k3 == 0 ? 250 : k3 == 1 ? 140 : 40) + (squares ? 90 : 0);
        double a = 34 * cos(hue * M_PI / 180), b = 34 * sin(hue * M_PI / 180);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double d = squares ? fmax(fabs(dx), fabs(dy)) : sqrt(dx * dx + dy * dy);
                double m = smooth01(rad - d + 0.5);
                if (m <= 0) continue;
                double *p = lab + 3 * ((size_t)y * s + x);
                p[0] += m * (L - p[0]);
                p[1] += m * (a - p[1]);
                p[2] += m * (b - p[2]);
            }
    }
    mc_lab_to_srgb(lab, n, lab);
    for (size_t i = 0; i < 3 * n; i++) rgb[i] = (uint8_t)floor(lab[i] * 255 + 0.5);
}

static int colorize_split(const char *dir, const char *kind, const char *split, int n, int s, uint64_t seed) {
    static const char *const cls_color[2] = {"discs", "squares"}, *const cls_xray[2] = {"NORMAL", "PNEUMONIA"};
    int color = !strcmp(kind, "color");
    const char *const *cls = color ? cls_color : cls_xray;
    char path[4096];
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s/%s/%s", dir, kind, split, cls[c]);
        MC_TRY(mc_mkdirs(path));
    }
    size_t np = (size_t)s * s;
    uint8_t *px = mc_malloc(3 * np, "demo image");
    double *lab = mc_malloc(3 * np * sizeof(double), "demo image");
    int rc = px && lab ? MC_OK : MC_ENOMEM;
    mc_rng r;
    mc_rng_seed(&r, seed);
    for (int k = 0; k < n && rc == MC_OK; k++) {
        int c = k % 2; /* balanced */
        if (color) {
            draw_color(px, lab, s, c, &r);
        } else {
            double l[NLAB] = {0};
            if (c) {
                l[CONSOL] = 1;
                l[EDEMA] = mc_rng_uniform(&r) < 1.0 / 3 ? 1 : 0;
            }
            draw(px, s, s, l, &r);
        }
        snprintf(path, sizeof path, "%s/%s/%s/%s/%05d.png", dir, kind, split, cls[c], k / 2);
        rc = mc_png_write(path, px, s, s, color ? 3 : 1);
    }
    free(px);
    free(lab);
    return rc;
}

int mc_demo_colorize_make(const char *dir, int n_train, int n_valid, int size, uint64_t seed) {
    if (n_train < 2 || n_valid < 2 || size < 8)
        return mc_err(MC_EARG, "colorization demo: %d + %d images of %dx%d: at least 2 + 2 of 8x8", n_train, n_valid,
                      size, size);
    MC_TRY(colorize_split(dir, "color", "train", n_train, size, seed));
    MC_TRY(colorize_split(dir, "color", "val", n_valid, size, seed ^ 0x5eed5eedULL));
    MC_TRY(colorize_split(dir, "xray", "train", n_train, size, seed + 1));
    MC_TRY(colorize_split(dir, "xray", "val", n_valid, size, (seed + 1) ^ 0x5eed5eedULL));
    return MC_OK;
}
