/* dicom.h — DICOM images: the file read through GDCM (src/data/dicom_gdcm.cpp, C++, compiled only
 * in a build with GDCM: make DICOM=1, the default when libgdcm-dev is installed) and the grey
 * values computed from it (src/data/dicom.c, C: MONOCHROME1, the modality LUT or rescale, the VOI
 * LUT or window, the user's window; docs/dicom.md).
 *
 * The shim does only what needs GDCM: it parses the file, refuses what the decoder cannot turn
 * into one grey image (no Pixel Data, several frames, colour, packed or 32-bit samples, a
 * transfer syntax GDCM cannot decode), decodes the pixel data (uncompressed, RLE, JPEG baseline
 * and lossless, JPEG-LS through CharLS, JPEG 2000 through OpenJPEG) and hands back the stored
 * values and the attributes that say how to display them, as the file has them. It never throws
 * (every C++ exception is caught) and prints nothing (GDCM's own messages are switched off).
 * GDCM (Debian's build keeps assert() on) asserts on some damaged files: dicom.c interposes
 * glibc's __assert_fail so that an assertion inside a guarded GDCM call becomes an error for that
 * file instead of abort() (dicom.c, gdcm_guarded; docs/robustness.md). */
#ifndef MC_DICOM_H
#define MC_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A LUT of the Modality LUT or VOI LUT Sequence (its first item): LUT Descriptor (0028,3002) and
 * LUT Data (0028,3006), entries as 16-bit words (little-endian files only). */
typedef struct mc_dicom_lut {
    int present;    /* 0: no such sequence (or an empty one) */
    int n;          /* entries: the descriptor's first value, 0 meaning 65536 */
    int first;      /* the first stored value mapped (the descriptor's second value, signed when
                       the pixels are) */
    int bits;       /* bits per entry (the descriptor's third value) */
    int ndata;      /* 16-bit words in LUT Data */
    uint16_t *data; /* [ndata], malloc'd */
} mc_dicom_lut;

/* What the shim read (strings NUL-terminated, trailing spaces removed; "" when absent). */
typedef struct mc_dicom_raw {
    int w, h;
    int bits_allocated, bits_stored, high_bit, pixel_rep; /* pixel_rep 1: signed */
    char photometric[32];      /* (0028,0004): MONOCHROME1 or MONOCHROME2 (others are refused) */
    char ts[96];               /* the transfer syntax: its name (UID) */
    int32_t *px;               /* [h][w] the decoded samples as GDCM gives them (signed when
                                  pixel_rep is 1), malloc'd */
    char slope[64], intercept[64];       /* (0028,1053), (0028,1052) DS */
    char center[256], width[256];        /* (0028,1050), (0028,1051) DS, possibly several "a\b" */
    char voi_function[32];               /* (0028,1056) CS */
    mc_dicom_lut modality, voi;          /* (0028,3000), (0028,3010) */
} mc_dicom_raw;

/* Error kinds of the shim (mapped to MC_E* by dicom.c). */
enum { MC_DICOM_OK = 0, MC_DICOM_EPARSE = 1, MC_DICOM_EUNSUP = 2, MC_DICOM_ENOMEM = 3 };

/* Reads the DICOM file held in data[0..len) (the whole file, read by dicom.c: GDCM never opens
 * it) into *raw (zeroed first). Returns MC_DICOM_OK, or an MC_DICOM_E* kind with a one-line
 * message in msg (without the file name: the caller adds it). max_pixels: larger images are
 * refused before decoding. decode 0: the header only (size, bits, photometric; px stays NULL
 * and the display attributes empty). On error nothing stays allocated. dicom.c calls it only
 * under its assertion guard (GDCM's asserts become errors; dicom.c, gdcm_guarded). */
int mc_dicom_gdcm_read(const void *data, size_t len, mc_dicom_raw *raw, size_t max_pixels, int decode,
                       char *msg, size_t msgn);
void mc_dicom_raw_free(mc_dicom_raw *raw);
/* 1 when this build decodes DICOM (GDCM linked), else 0. */
int mc_dicom_supported(void);

#ifdef __cplusplus
}
#endif

#ifndef __cplusplus
#include "mc_image.h"
/* ---- the C side (dicom.c, image.c) ------------------------------------------------------------ */
/* The DICOM file at path as grey in [0, 1] into *img (docs/dicom.md: stored values, modality LUT
 * or rescale, then win when on, else the file's VOI LUT or first window, else the full range of
 * the modality output; MONOCHROME1 inverted). Errors name the file. */
int mc_dicom_load_grey(const char *path, mc_image *img, const mc_image_window *win);
/* Header only: size, channels 1, depth = Bits Stored, format MC_IMAGE_DICOM. */
int mc_dicom_probe(const char *path, mc_image_info *info);
/* The VOI window functions of PS3.3 C.11.2.1.2 mapped to [0, 1] (output range ymin..ymax taken as
 * 0..1): fn MC_VOI_LINEAR (width >= 1), MC_VOI_LINEAR_EXACT, MC_VOI_SIGMOID (width > 0). */
enum { MC_VOI_LINEAR = 0, MC_VOI_LINEAR_EXACT = 1, MC_VOI_SIGMOID = 2 };
double mc_voi_window(int fn, double x, double center, double width);
/* image.c: makes room for w x h floats in img (contents not kept); errors name path. */
int mc_image_reserve(mc_image *img, size_t w, size_t h, const char *path);
#define MC_IMAGE_MAX_PIXELS ((size_t)1 << 28)
#endif
#endif
