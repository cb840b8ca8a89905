/* pngout.c — write 8-bit grey, RGB or RGBA images as PNG with libpng, atomically.
 *
 * libpng reports errors by longjmp from its error callback; the callback keeps libpng's
 * message so the error we return names the file and says what went wrong. The file is
 * written to a temporary name and renamed over the target (mc_write_atomic), so a reader
 * never sees half a PNG.
 */
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include "core/core.h"
#include "mc_io.h"

typedef struct png_job {
    const uint8_t *pixels; /* (height, width, channels) */
    int width, height, channels;
    char msg[200];         /* libpng's error message */
} png_job;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int write_png(FILE *f, const char *path, void *arg) {
    png_job *job = arg;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_png_error, on_png_warning);
    if (!png) return mc_err(MC_ENOMEM, "%s: cannot create the PNG writer", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return mc_err(MC_ENOMEM, "%s: cannot create the PNG info", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return mc_err(MC_EIO, "%s: PNG write failed (%s)", path, job->msg);
    }
    int type = job->channels == 1 ? PNG_COLOR_TYPE_GRAY
             : job->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGB_ALPHA;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)job->width, (png_uint_32)job->height, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)job->width * (size_t)job->channels;
    for (int y = 0; y < job->height; y++)
        png_write_row(png, (png_const_bytep)(job->pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (ferror(f)) return mc_err(MC_EIO, "%s: write error", path);
    return MC_OK;
}

int mc_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (!path) return mc_err(MC_EARG, "mc_png_write: no path");
    if (!pixels) return mc_err(MC_EARG, "%s: no pixels to write", path);
    if (width <= 0 || height <= 0 || width > 1000000 || height > 1000000)
        return mc_err(MC_EARG, "%s: bad image size %d x %d", path, width, height);
    if (channels != 1 && channels != 3 && channels != 4)
        return mc_err(MC_EARG, "%s: %d channels (PNG output takes 1, 3 or 4)", path, channels);
    png_job job = {pixels, width, height, channels, ""};
    return mc_write_atomic(path, write_png, &job);
}
