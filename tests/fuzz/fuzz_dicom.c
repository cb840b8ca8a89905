/* fuzz_dicom.c — DICOM decoding through GDCM and the grey values of src/data/dicom.c (x.dcm). The
 * first input byte's low bit sets a user window (2048, 1024); the rest is the file. The header
 * probe runs first; a decoded image must have the size the probe gave and every pixel in [0, 1].
 * In a build without GDCM every input is refused with a message naming the file. */
#include "fuzz.h"
#include "mc_image.h"

static int one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.dcm", data + 1, size - 1);
    mc_image_window win = {data[0] & 1, 2048.0, 1024.0};
    mc_image_info info;
    int prc = mc_image_probe(path, &info), bad = 0;
    if (prc < 0) bad = mc_fuzz_check_error(prc, MC_FUZZ_NAMES("x.dcm"));
    mc_image img = {0};
    int rc = mc_image_load_grey_window(path, &img, &win);
    if (rc < 0) {
        bad |= mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.dcm"));
    } else if (img.w < 1 || img.h < 1) {
        fprintf(stderr, "fuzz: decoded a %dx%d image\n", img.w, img.h);
        bad = 1;
    } else {
        if (prc == 0 && (info.w != img.w || info.h != img.h)) {
            fprintf(stderr, "fuzz: the probe said %dx%d, the decoder gave %dx%d\n", info.w, info.h, img.w, img.h);
            bad = 1;
        }
        for (size_t i = 0; i < (size_t)img.w * img.h; i++)
            if (!(img.px[i] >= 0.0f && img.px[i] <= 1.0f)) {
                fprintf(stderr, "fuzz: pixel %zu is %g\n", i, (double)img.px[i]);
                bad = 1;
                break;
            }
    }
    mc_image_free(&img);
    return bad;
}
MC_FUZZ_TARGET(dicom)
