/* bench_loader.c — loader throughput in images/s at 320×320 with training augmentation.
 *
 * Not a test: `make bench` builds and runs it (build/bench_loader). By hand, from the repository root:
 *   gcc -std=c11 -D_GNU_SOURCE -O3 -Iinclude -Isrc bench/bench_loader.c src/data/image.c \
 *       src/data/transform.c src/data/loader.c src/core/error.c src/core/util.c \
 *       -lpng -ljpeg -lz -lm -lpthread -o /tmp/bench_loader && /tmp/bench_loader [DIR]
 *
 * It writes two synthetic datasets into DIR (default /tmp/medcolor-bench; kept for re-runs):
 *   nih/   64 × 1024×1024 8-bit grey PNG (ChestX-ray14 size; smooth anatomy-like structure plus
 *          noise so that files compress like the real ones, ~0.3–0.5 bytes per pixel)
 *   chx/   64 × 390×320 grey JPEG, quality 90 (CheXpert-v1.0-small size)
 * then runs the loader (batch 16, train = random crop + rotate/zoom, shuffle; 32 timed batches
 * after a first one) for each with 1 and 2 worker threads and prints images/s (wall clock) and
 * CPU ms per image (what it costs whatever else runs on the machine), plus the single-thread
 * cost of each stage. On a loaded machine the wall-clock figures understate what 2 free cores
 * give: 2000 / (CPU ms per image) images/s.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <png.h>
#include <jpeglib.h> /* after stdio.h: it needs FILE and size_t */
#include "core/core.h"
#include "mc_image.h"
#include "bench.h"

#define NIMG 64

/* A chest-X-ray-like 8-bit image: smooth blobs and gradients plus noise of a few levels. */
static void synth(unsigned char *px, int w, int h, uint64_t seed) {
    mc_rng r;
    mc_rng_seed(&r, seed);
    double cx[6], cy[6], sx[6], sy[6], a[6];
    for (int k = 0; k < 6; k++) {
        cx[k] = w * (0.2 + 0.6 * mc_rng_uniform(&r));
        cy[k] = h * (0.2 + 0.6 * mc_rng_uniform(&r));
        sx[k] = w * (0.08 + 0.2 * mc_rng_uniform(&r));
        sy[k] = h * (0.08 + 0.25 * mc_rng_uniform(&r));
        a[k] = 60.0 * (mc_rng_uniform(&r) - 0.3);
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = 40.0 + 120.0 * y / h + 30.0 * sin(x * 0.02) * cos(y * 0.015);
            for (int k = 0; k < 6; k++) {
                double dx = (x - cx[k]) / sx[k], dy = (y - cy[k]) / sy[k];
                v += a[k] * exp(-0.5 * (dx * dx + dy * dy));
            }
            v += 2.5 * mc_rng_normal(&r);
            px[(size_t)y * w + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
        }
}

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

static int write_jpeg8(const char *path, int w, int h, const unsigned char *px, int quality) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr); /* default handler exits on error: acceptable in a bench */
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f);
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* Makes the images if missing; fills paths; returns the mean file size in bytes. */
static double make_set(const char *dir, const char *sub, int w, int h, int jpeg, char **paths) {
    char d[600];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    mkdir(dir, 0755);
    mkdir(d, 0755);
    unsigned char *px = malloc((size_t)w * h);
    if (!px) return -1;
    double total = 0;
    for (int i = 0; i < NIMG; i++) {
        paths[i] = malloc(700);
        if (!paths[i]) return -1;
        snprintf(paths[i], 700, "%s/%05d.%s", d, i, jpeg ? "jpg" : "png");
        if (file_size(paths[i]) <= 0) {
            synth(px, w, h, 1000 + (uint64_t)i);
            int rc = jpeg ? write_jpeg8(paths[i], w, h, px, 90) : write_png8(paths[i], w, h, px);
            if (rc != 0) {
                fprintf(stderr, "cannot write %s\n", paths[i]);
                free(px);
                return -1;
            }
        }
        total += (double)file_size(paths[i]);
    }
    free(px);
    return total / NIMG;
}

/* Returns images/s (wall clock); *cpu_ms gets the process CPU time per image. */
static double run_loader(const mc_dataset *ds, int threads, int batches, double *cpu_ms) {
    mc_loader_opts o;
    mc_loader_opts_default(&o); /* batch 16, 320×320, prefetch 2 */
    o.train = 1;
    o.shuffle = 1;
    o.seed = 1;
    o.threads = threads;
    o.prefetch = 4;
    mc_loader *ld;
    if (mc_loader_new(&ld, ds, &o) < 0) {
        fprintf(stderr, "%s\n", mc_errmsg());
        return -1;
    }
    mc_batch *b;
    double t0 = 0, c0 = 0;
    int imgs = 0;
    for (int k = 0; k < batches + 1; k++) {
        if (mc_loader_next(ld, &b) < 0 || !b) {
            fprintf(stderr, "%s\n", mc_errmsg());
            mc_loader_free(ld);
            return -1;
        }
        if (k == 0) { /* the first batch includes thread start-up */
            t0 = now();
            c0 = cpu_now();
        } else {
            imgs += b->n;
        }
    }
    double dt = now() - t0;
    *cpu_ms = 1e3 * (cpu_now() - c0) / imgs;
    mc_loader_free(ld);
    return imgs / dt;
}

static void stage_times(const char *path) {
    mc_image img = {0};
    mc_xform *ws;
    if (mc_xform_new(&ws) < 0) return;
    float *out = malloc(320 * 320 * sizeof(float));
    mc_aug_opts ao;
    mc_aug_opts_default(&ao);
    const int reps = 20;
    double t0 = now();
    for (int i = 0; i < reps; i++) mc_image_load_grey(path, &img);
    double t_dec = (now() - t0) / reps;
    mc_aug_params p;
    mc_aug_draw(&ao, 1, img.w, img.h, 0, &p);
    mc_norm nm = {MC_NORM_MEAN, MC_NORM_STD};
    t0 = now();
    for (int i = 0; i < reps; i++) mc_preprocess(ws, &img, &p, &nm, out, 320, 320);
    double t_res = (now() - t0) / reps;
    p.rotate = p.zoom = 1;
    p.angle_deg = 7.0;
    p.scale = 1.05;
    t0 = now();
    for (int i = 0; i < reps; i++) mc_preprocess(ws, &img, &p, &nm, out, 320, 320);
    double t_aug = (now() - t0) / reps;
    printf("    per image, 1 thread: decode %.2f ms; crop+resize+normalise %.2f ms; "
           "crop+resize+warp+normalise %.2f ms\n",
           1e3 * t_dec, 1e3 * t_res, 1e3 * t_aug);
    free(out);
    mc_xform_free(ws);
    mc_image_free(&img);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/medcolor-bench";
    static char *pnih[NIMG], *pchx[NIMG];
    printf("bench_loader: preparing images in %s ...\n", dir);
    double snih = make_set(dir, "nih", 1024, 1024, 0, pnih);
    double schx = make_set(dir, "chx", 390, 320, 1, pchx);
    if (snih < 0 || schx < 0) return 1;
    const struct {
        const char *name;
        char **paths;
        double size;
    } sets[2] = {{"1024x1024 8-bit PNG (ChestX-ray14 size)", pnih, snih},
                 {"390x320 JPEG q90 (CheXpert-small size)", pchx, schx}};
    for (int s = 0; s < 2; s++) {
        mc_dataset ds;
        memset(&ds, 0, sizeof ds);
        ds.n = NIMG;
        ds.paths = sets[s].paths;
        printf("%s, mean file %.0f KB:\n", sets[s].name, sets[s].size / 1024.0);
        stage_times(sets[s].paths[0]);
        for (int t = 1; t <= 2; t++) {
            double cpu_ms;
            double ips = run_loader(&ds, t, 32, &cpu_ms);
            if (ips < 0) return 1;
            printf("    loader, %d thread%s, batch 16, 320x320, train augmentation: %.0f images/s "
                   "(a batch of 16 every %.0f ms; %.2f CPU ms per image)\n",
                   t, t > 1 ? "s" : "", ips, 16e3 / ips, cpu_ms);
        }
    }
    for (int i = 0; i < NIMG; i++) {
        free(pnih[i]);
        free(pchx[i]);
    }
    return 0;
}
