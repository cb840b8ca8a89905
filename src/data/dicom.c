/* dicom.c — DICOM grey values from what the GDCM shim read (src/data/dicom.h, docs/dicom.md).
 *
 * Order (PS3.3 C.11, PS3.4 N.2.1.1; pydicom's apply_modality_lut + apply_voi_lut):
 *   1. the stored value s: the low Bits Stored bits of the decoded sample (higher bits, e.g.
 *      overlay bits, dropped), sign-extended when Pixel Representation is 1;
 *   2. modality: the Modality LUT Sequence's first LUT, LUT[clamp(s − first, 0, n − 1)], output
 *      range [0, 2^bits − 1]; else m = s × Rescale Slope + Rescale Intercept (both present), output
 *      range the stored range through the same line; else m = s, the stored range;
 *   3. VOI: the user's window (LINEAR); else the VOI LUT Sequence's first LUT,
 *      LUT[clamp(floor(m − first), 0, n − 1)] / (2^bits − 1); else the first Window Center/Width
 *      with the VOI LUT Function (LINEAR when absent, LINEAR_EXACT, SIGMOID); else
 *      (m − lo) / (hi − lo) over the modality output range;
 *   4. MONOCHROME1: y = 1 − y.
 * The VOI functions' output range ymin..ymax is taken as 0..1, which is what pydicom's output
 * becomes after (y − ymin) / (ymax − ymin). Computed in double, stored as float32.
 *
 * Without GDCM (make DICOM=0) the shim is replaced by a stub that refuses every DICOM file with
 * an error saying how to rebuild. */
#include "data/dicom.h"

#include <ctype.h>
#include <errno.h> /* program_invocation_short_name */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/core.h"

void mc_dicom_raw_free(mc_dicom_raw *raw) {
    if (!raw) return;
    free(raw->px);
    free(raw->modality.data);
    free(raw->voi.data);
    raw->px = NULL;
    raw->modality.data = raw->voi.data = NULL;
}

#ifndef MC_DICOM
int mc_dicom_gdcm_read(const void *data, size_t len, mc_dicom_raw *raw, size_t max_pixels, int decode, char *msg,
                       size_t msgn) {
    (void)data, (void)len, (void)max_pixels, (void)decode;
    memset(raw, 0, sizeof *raw);
    snprintf(msg, msgn,
             "a DICOM file, and this medcolor was built without DICOM support: install libgdcm-dev "
             "(scripts/install-deps.sh) and rebuild (make clean && make DICOM=1)");
    return MC_DICOM_EUNSUP;
}
int mc_dicom_supported(void) { return 0; }
#endif

int mc_image_dicom_supported(void) { return mc_dicom_supported(); }

double mc_voi_window(int fn, double x, double c, double w) {
    if (fn == MC_VOI_SIGMOID) return 1.0 / (1.0 + exp(-4.0 * (x - c) / w));
    if (fn == MC_VOI_LINEAR) {
        c -= 0.5;
        w -= 1.0;
    }
    if (x <= c - w / 2) return 0.0;
    if (x > c + w / 2) return 1.0;
    return (x - c) / w + 0.5;
}

/* A DS value (the first of several "a\b"): a finite decimal number, else an error naming the
 * file, the attribute and the text. */
static int parse_ds(const char *path, const char *what, const char *text, double *v) {
    char buf[80];
    size_t n = strcspn(text, "\\");
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, text, n);
    buf[n] = 0;
    char *s = buf, *e;
    while (*s == ' ') s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ') s[--len] = 0;
    *v = strtod(s, &e);
    if (!s[0] || *e || !isfinite(*v) || strspn(s, "0123456789+-.eE") != len)
        return mc_err(MC_EPARSE, "%s: %s '%s' is not a number", path, what, text);
    return MC_OK;
}

/* A LUT's entry count and bits checked against its data. */
static int check_lut(const char *path, const char *what, const mc_dicom_lut *l) {
    if (l->bits < 1 || l->bits > 16)
        return mc_err(MC_EUNSUP, "%s: %s with %d bits per entry (1 to 16)", path, what, l->bits);
    if (l->ndata < l->n)
        return mc_err(MC_EPARSE, "%s: %s has %d entries in LUT Data, its descriptor says %d", path, what, l->ndata,
                      l->n);
    return MC_OK;
}

static double lut_at(const mc_dicom_lut *l, double x) {
    double i = floor(x - (double)l->first);
    int k = i <= 0 ? 0 : i >= (double)(l->n - 1) ? l->n - 1 : (int)i;
    return (double)l->data[k];
}

/* ---- the structure check before GDCM -------------------------------------------------------
 * GDCM allocates (and zeroes) an element's declared length before reading it: a 500-byte file
 * declaring a 4 GiB element would cost 4 GiB. So the file's element structure is walked first
 * (headers read, values skipped): every defined length must fit in what is left of the file (of
 * the enclosing item), sequences and encapsulated Pixel Data (undefined lengths) are followed
 * item by item, at most 32 levels deep. The transfer syntax (0002,0010) says implicit/explicit
 * VR and the byte order; without a meta group the first element tells (a valid VR at byte 4:
 * explicit), little endian. Deflated data sets are refused (GDCM would inflate them unchecked). */
typedef struct dscan {
    FILE *f;
    const char *path;
    uint64_t size;
    int explicit_vr, big;
    /* the image attributes of the top-level data set (-1: absent), checked before GDCM, which
     * asserts on some values it does not expect (Samples per Pixel > 4, ...) */
    int spp, rows, cols, ba, bs, hb, pr, pixels;
    char pi[24], frames[24];
    char ts[72], ms_meta[72], ms_ds[72]; /* (0002,0010), (0002,0002), (0008,0016) */
    int nfrag;                           /* items of the top-level encapsulated Pixel Data */
    uint64_t frag_off, frag_len;         /* its first fragment after the offset table */
} dscan;

static int scan_read(dscan *d, uint64_t off, void *buf, size_t n, uint64_t end, const char *what) {
    if (off + n > end)
        return mc_err(MC_EPARSE, "%s: truncated or corrupt DICOM: %s at byte %llu runs past %s", d->path, what,
                      (unsigned long long)off, end == d->size ? "the end of the file" : "its enclosing item");
    if (fseeko(d->f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, d->f) != n)
        return mc_err(MC_EIO, "%s: read error at byte %llu", d->path, (unsigned long long)off);
    return MC_OK;
}

static uint32_t u16at(const unsigned char *p, int big) { return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0]; }
static uint32_t u32at(const unsigned char *p, int big) {
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int long_vr(const unsigned char *vr) {
    static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        if (vr[0] == l[i][0] && vr[1] == l[i][1]) return 1;
    return 0;
}

/* a VR of PS3.5 Table 6.2-1 */
static int known_vr(const unsigned char *vr) {
    static const char v[] = "AEASATCSDADSDTFDFLISLOLTOBODOFOLOVOWPNSHSLSQSSSTSVTMUCUIULUNURUSUTUV";
    for (size_t i = 0; i + 1 < sizeof v; i += 2)
        if (vr[0] == v[i] && vr[1] == v[i + 1]) return 1;
    return 0;
}

static int scan_items(dscan *d, uint64_t *pos, uint64_t end, int depth, int fragments, int bounded);

/* The elements from *pos to end (or to an item delimitation when delim); meta: the meta group
 * (explicit VR little endian whatever the data set is). */
static int scan_elements(dscan *d, uint64_t *pos, uint64_t end, int depth, int delim, int meta) {
    if (depth > 32) return mc_err(MC_EUNSUP, "%s: DICOM sequences nested more than 32 deep", d->path);
    uint64_t glen_from = 0, glen = 0; /* the meta group's (0002,0000): where GDCM expects the data set */
    int has_glen = 0;
    for (;;) {
        if (*pos >= end) {
            if (delim) return mc_err(MC_EPARSE, "%s: truncated or corrupt DICOM: an item without its end", d->path);
            break;
        }
        unsigned char h[12];
        MC_TRY(scan_read(d, *pos, h, 8, end, "an element header"));
        int ex = meta ? 1 : d->explicit_vr, big = meta ? 0 : d->big;
        uint32_t group = u16at(h, big), elem = u16at(h + 2, big);
        if (meta && group != 0x0002) break; /* the data set starts here */
        if (group == 0xFFFE) {
            if (elem == 0xE00D && delim) {
                if (u32at(h + 4, big) != 0)
                    return mc_err(MC_EPARSE, "%s: corrupt DICOM: an item delimiter with length %u at byte %llu", d->path,
                                  (unsigned)u32at(h + 4, big), (unsigned long long)*pos);
                *pos += 8;
                return MC_OK;
            }
            return mc_err(MC_EPARSE, "%s: corrupt DICOM: item tag (FFFE,%04X) among elements at byte %llu", d->path,
                          (unsigned)elem, (unsigned long long)*pos);
        }
        uint64_t hlen = 8;
        uint32_t len;
        int sq = 0;
        if (ex) {
            if (!known_vr(h + 4)) /* GDCM would guess, and some guesses end in its asserts */
                return mc_err(MC_EPARSE, "%s: corrupt DICOM: element (%04X,%04X) at byte %llu has no valid VR (%s)", d->path,
                              (unsigned)group, (unsigned)elem, (unsigned long long)*pos, meta ? "file meta group" : "explicit VR");
            if (long_vr(h + 4)) {
                MC_TRY(scan_read(d, *pos, h, 12, end, "an element header"));
                len = u32at(h + 8, big);
                hlen = 12;
                sq = (h[4] == 'S' && h[5] == 'Q') || (h[4] == 'U' && h[5] == 'N');
            } else {
                len = u16at(h + 6, big);
            }
        } else {
            len = u32at(h + 4, big);
            sq = 1; /* implicit VR: a value that starts with an item is a sequence */
        }
        *pos += hlen;
        if (!meta && depth == 0 && group == 0x7FE0 && elem == 0x0010) d->pixels = 1;
        if (len == 0xFFFFFFFFu) {
            int pixels = group == 0x7FE0 && elem == 0x0010;
            if (!sq && !pixels && !(ex && (h[4] == 'O' && (h[5] == 'B' || h[5] == 'W'))))
                return mc_err(MC_EPARSE, "%s: corrupt DICOM: element (%04X,%04X) of undefined length is not a sequence",
                              d->path, (unsigned)group, (unsigned)elem);
            MC_TRY(scan_items(d, pos, end, depth + 1, pixels, 0));
            continue;
        }
        if (*pos + len > end)
            return mc_err(MC_EPARSE, "%s: truncated or corrupt DICOM: element (%04X,%04X) at byte %llu declares %u bytes, %llu are left",
                          d->path, (unsigned)group, (unsigned)elem, (unsigned long long)(*pos - hlen), (unsigned)len,
                          (unsigned long long)(end - *pos));
        if (!meta && depth == 0 && group == 0x0028) {
            int *us = elem == 0x0002 ? &d->spp : elem == 0x0010 ? &d->rows : elem == 0x0011 ? &d->cols
                    : elem == 0x0100 ? &d->ba : elem == 0x0101 ? &d->bs : elem == 0x0102 ? &d->hb
                    : elem == 0x0103 ? &d->pr : NULL;
            char *text = elem == 0x0004 ? d->pi : elem == 0x0008 ? d->frames : NULL;
            if (us) {
                unsigned char v[2];
                /* GDCM asserts when one of these is not US in an explicit-VR file (fuzz_dicom on main:
                 * Bits Stored as SS) */
                if (ex && !(h[4] == 'U' && h[5] == 'S'))
                    return mc_err(MC_EPARSE, "%s: corrupt DICOM: (0028,%04X) has VR %c%c, not US", d->path,
                                  (unsigned)elem, isprint(h[4]) ? h[4] : '?', isprint(h[5]) ? h[5] : '?');
                if (len != 2)
                    return mc_err(MC_EPARSE, "%s: corrupt DICOM: (0028,%04X) holds %u bytes, not one 16-bit value", d->path,
                                  (unsigned)elem, (unsigned)len);
                MC_TRY(scan_read(d, *pos, v, 2, end, "a value"));
                *us = (int)u16at(v, big);
            } else if (text) {
                size_t n = len < 23 ? len : 23;
                MC_TRY(scan_read(d, *pos, text, n, end, "a value"));
                text[n] = 0;
                for (size_t i = 0; i < n; i++)
                    if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e) text[i] = ' ';
                char *a = text;
                while (*a == ' ') a++;
                memmove(text, a, strlen(a) + 1);
                n = strlen(text);
                while (n > 0 && text[n - 1] == ' ') text[--n] = 0;
            }
        }
        if ((meta && (elem == 0x0002 || elem == 0x0010)) || (!meta && depth == 0 && group == 0x0008 && elem == 0x0016)) {
            char *t = !meta ? d->ms_ds : elem == 0x0002 ? d->ms_meta : d->ts;
            size_t n = len < 71 ? len : 71;
            MC_TRY(scan_read(d, *pos, t, n, end, "a UID"));
            t[n] = 0;
            while (n > 0 && (t[n - 1] == 0 || t[n - 1] == ' ')) t[--n] = 0;
            for (size_t i = 0; i < n; i++)
                if (!((t[i] >= '0' && t[i] <= '9') || t[i] == '.')) t[i] = '?';
        }
        if (meta && elem == 0x0000 && len == 4) {
            unsigned char g[4];
            MC_TRY(scan_read(d, *pos, g, 4, end, "the meta group length"));
            glen = u32at(g, 0), glen_from = *pos + 4, has_glen = 1;
        }
        if (meta && group == 0x0002 && elem == 0x0010) { /* the transfer syntax (read above) */
            if (!strcmp(d->ts, "1.2.840.10008.1.2")) d->explicit_vr = 0;
            if (!strcmp(d->ts, "1.2.840.10008.1.2.2")) d->big = 1;
            if (!strcmp(d->ts, "1.2.840.10008.1.2.1.99"))
                return mc_err(MC_EUNSUP, "%s: Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99): not supported "
                              "(gdcmconv --raw makes it readable)", d->path);
        }
        if (sq && len >= 8 && group != 0x7FE0) {
            unsigned char it[4];
            MC_TRY(scan_read(d, *pos, it, 4, end, "a value"));
            if (u16at(it, big) == 0xFFFE && u16at(it + 2, big) == 0xE000) {
                uint64_t p = *pos;
                MC_TRY(scan_items(d, &p, *pos + len, depth + 1, 0, 1));
            }
        }
        *pos += len;
    }
    if (meta && has_glen && *pos - glen_from != glen)
        return mc_err(MC_EPARSE, "%s: corrupt DICOM: File Meta Information Group Length (0002,0000) says %llu bytes, the group "
                      "has %llu", d->path, (unsigned long long)glen, (unsigned long long)(*pos - glen_from));
    return MC_OK;
}

/* Items (FFFE,E000) up to the sequence delimitation (FFFE,E0DD), or to end when bounded (a sequence
 * of defined length). fragments: encapsulated Pixel Data (items are raw bytes). */
static int scan_items(dscan *d, uint64_t *pos, uint64_t end, int depth, int fragments, int bounded) {
    if (depth > 32) return mc_err(MC_EUNSUP, "%s: DICOM sequences nested more than 32 deep", d->path);
    int big = d->big;
    for (;;) {
        if (bounded && *pos >= end) return MC_OK;
        unsigned char h[8];
        MC_TRY(scan_read(d, *pos, h, 8, end, "an item header"));
        uint32_t group = u16at(h, big), elem = u16at(h + 2, big), len = u32at(h + 4, big);
        *pos += 8;
        if (group == 0xFFFE && elem == 0xE0DD) {
            if (len != 0) /* GDCM would read it as a fragment of that length */
                return mc_err(MC_EPARSE, "%s: corrupt DICOM: a sequence delimiter with length %u at byte %llu", d->path,
                              (unsigned)len, (unsigned long long)(*pos - 8));
            return MC_OK;
        }
        if (group != 0xFFFE || elem != 0xE000)
            return mc_err(MC_EPARSE, "%s: corrupt DICOM: (%04X,%04X) where a sequence item was expected (byte %llu)",
                          d->path, (unsigned)group, (unsigned)elem, (unsigned long long)(*pos - 8));
        if (len == 0xFFFFFFFFu) {
            if (fragments) return mc_err(MC_EPARSE, "%s: corrupt DICOM: a pixel data fragment of undefined length", d->path);
            MC_TRY(scan_elements(d, pos, end, depth + 1, 1, 0));
            continue;
        }
        if (*pos + len > end)
            return mc_err(MC_EPARSE, "%s: truncated or corrupt DICOM: an item at byte %llu declares %u bytes, %llu are left",
                          d->path, (unsigned long long)(*pos - 8), (unsigned)len, (unsigned long long)(end - *pos));
        if (!fragments) {
            uint64_t p = *pos;
            MC_TRY(scan_elements(d, &p, *pos + len, depth + 1, 0, 0));
        } else if (depth == 1 && d->nfrag++ == 1) {
            d->frag_off = *pos, d->frag_len = len;
        }
        *pos += len;
    }
}

/* The image attributes GDCM will meet, as medcolor accepts them (the shim checks the same after
 * GDCM's reading; here they keep GDCM off values it asserts on). */
static int check_image_attrs(const dscan *d) {
    /* the transfer syntaxes GDCM 3.0.21 decodes (an unknown one sends GDCM to an assert) */
    static const char *const ts_ok[] = {
        "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"};
    if (d->ts[0]) {
        size_t i = 0;
        while (i < sizeof ts_ok / sizeof ts_ok[0] && strcmp(d->ts, ts_ok[i]) != 0) i++;
        if (i == sizeof ts_ok / sizeof ts_ok[0])
            return mc_err(MC_EUNSUP, "%s: Transfer Syntax %s: not supported (uncompressed, RLE, JPEG baseline/extended/"
                          "lossless, JPEG-LS, JPEG 2000; gdcmconv --raw converts others GDCM knows)", d->path, d->ts);
    }
    if (d->ms_meta[0] && d->ms_ds[0] && strcmp(d->ms_meta, d->ms_ds) != 0)
        return mc_err(MC_EPARSE, "%s: corrupt DICOM: SOP Class %s in the meta group, %s in the data set", d->path, d->ms_meta,
                      d->ms_ds);
    /* GDCM's image reader asserts on Samples per Pixel > 4 even without Pixel Data (found by
     * fuzz_dicom on main: 4000 and no pixels) */
    if (d->spp == 0 || d->spp > 4)
        return mc_err(MC_EPARSE, "%s: corrupt DICOM: Samples per Pixel (0028,0002) %d (1 to 4)", d->path, d->spp);
    if (!d->pixels) return MC_OK; /* the shim says "without Pixel Data" */
    static const struct { int off; const char *name; } need[] = {
        {offsetof(dscan, spp), "Samples per Pixel (0028,0002)"}, {offsetof(dscan, rows), "Rows (0028,0010)"},
        {offsetof(dscan, cols), "Columns (0028,0011)"}, {offsetof(dscan, ba), "Bits Allocated (0028,0100)"},
        {offsetof(dscan, bs), "Bits Stored (0028,0101)"}, {offsetof(dscan, hb), "High Bit (0028,0102)"},
        {offsetof(dscan, pr), "Pixel Representation (0028,0103)"}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (*(const int *)((const char *)d + need[i].off) < 0)
            return mc_err(MC_EPARSE, "%s: an image without %s", d->path, need[i].name);
    if (!d->pi[0]) return mc_err(MC_EPARSE, "%s: an image without Photometric Interpretation (0028,0004)", d->path);
    if (d->frames[0] && strcmp(d->frames, "1") != 0)
        return mc_err(MC_EUNSUP, "%s: a multi-frame image (Number of Frames %s): one frame only (extract it first)", d->path,
                      d->frames);
    if (d->spp != 1 || (strcmp(d->pi, "MONOCHROME1") != 0 && strcmp(d->pi, "MONOCHROME2") != 0))
        return mc_err(MC_EUNSUP, "%s: Photometric Interpretation %s with %d sample(s) per pixel: grey only (MONOCHROME1 or "
                      "MONOCHROME2)", d->path, d->pi, d->spp);
    if (d->ba != 8 && d->ba != 16) return mc_err(MC_EUNSUP, "%s: Bits Allocated %d: 8 or 16 only", d->path, d->ba);
    if (d->bs < 1 || d->bs > d->ba || d->hb != d->bs - 1)
        return mc_err(MC_EUNSUP, "%s: Bits Stored %d, High Bit %d with Bits Allocated %d: the stored bits must be the low ones",
                      d->path, d->bs, d->hb, d->ba);
    if (d->pr != 0 && d->pr != 1) return mc_err(MC_EPARSE, "%s: Pixel Representation %d (0 or 1)", d->path, d->pr);
    if (d->rows == 0 || d->cols == 0) return mc_err(MC_EPARSE, "%s: image has zero size (%dx%d)", d->path, d->cols, d->rows);
    return MC_OK;
}

/* An RLE frame (PS3.5 Annex G) whose segments decode short makes GDCM assert: its header (the
 * segment count, one segment per byte of a sample, and their offsets) and every segment's PackBits
 * output (at least Rows × Columns bytes) are checked first. */
static int check_rle(const dscan *d) {
    if (d->nfrag < 2) return mc_err(MC_EPARSE, "%s: RLE Pixel Data without a fragment", d->path);
    if (d->frag_len < 64 || d->frag_len > ((uint64_t)1 << 31))
        return mc_err(MC_EPARSE, "%s: corrupt RLE: a fragment of %llu bytes", d->path, (unsigned long long)d->frag_len);
    unsigned char *b = malloc((size_t)d->frag_len);
    if (!b) return mc_err(MC_ENOMEM, "%s: out of memory", d->path);
    int rc = scan_read((dscan *)d, d->frag_off, b, (size_t)d->frag_len, d->size, "the RLE fragment");
    uint32_t nseg = rc == MC_OK ? u32at(b, 0) : 0, want = (uint32_t)(d->ba / 8);
    uint64_t need = (uint64_t)d->rows * (uint64_t)d->cols;
    if (rc == MC_OK && nseg != want)
        rc = mc_err(MC_EPARSE, "%s: corrupt RLE: %u segments for %d-bit grey (%u expected)", d->path, nseg, d->ba, want);
    for (uint32_t k = 0; rc == MC_OK && k < nseg; k++) {
        uint64_t s = u32at(b + 4 + 4 * k, 0), e = k + 1 < nseg ? u32at(b + 8 + 4 * k, 0) : d->frag_len;
        if (s < 64 || e > d->frag_len || s >= e) {
            rc = mc_err(MC_EPARSE, "%s: corrupt RLE: segment %u at bytes %llu..%llu of a %llu-byte fragment", d->path, k + 1,
                        (unsigned long long)s, (unsigned long long)e, (unsigned long long)d->frag_len);
            break;
        }
        uint64_t out = 0, i = s;
        while (out < need && i < e) {
            int n = (int)(signed char)b[i++];
            if (n >= 0) {
                if (i + (uint64_t)n + 1 > e) break;
                out += (uint64_t)n + 1, i += (uint64_t)n + 1;
            } else if (n != -128) {
                if (i + 1 > e) break;
                out += (uint64_t)(1 - n), i++;
            }
        }
        if (out < need)
            rc = mc_err(MC_EPARSE, "%s: corrupt RLE: segment %u decodes to %llu bytes, the image needs %llu", d->path, k + 1,
                        (unsigned long long)out, (unsigned long long)need);
    }
    free(b);
    return rc;
}

/* Without a File Meta group (whether or not "DICM" precedes the data set) GDCM guesses the data
 * set's encoding from its first element (gdcm::FileMetaInformation::ReadCompat, GDCM 3.0): group
 * 0008, or element 0010 (a private creator): little endian; group 0800 (read little endian):
 * big endian; either way explicit VR when a VR is where it would be. Any other first element
 * with a VR: big endian when its group or element read little endian exceeds 0xFF, else little.
 * The structure is then walked as GDCM will read it: with a guess of its own, this walk passed a
 * file GDCM read big endian (an element of 3.5 GB zeroed; found by fuzz_dicom). "??" is GDCM's
 * name of an invalid VR, which it takes for one; the (0000,0000) command element GDCM skips;
 * neither is an image: refused, as is a first element without a VR that GDCM's guess leaves
 * (it gives up). */
static int guess_encoding(dscan *d, const unsigned char *h, uint64_t pos) {
    uint32_t g = u16at(h, 0), e = u16at(h + 2, 0);
    int vr = known_vr(h + 4);
    if (h[4] == '?' && h[5] == '?')
        return mc_err(MC_EPARSE, "%s: corrupt DICOM: the first element (%04X,%04X) at byte %llu has VR '?\?'", d->path,
                      (unsigned)g, (unsigned)e, (unsigned long long)pos);
    if (g == 0x0008 || (g != 0x0800 && e == 0x0010)) {
        d->big = 0;
        d->explicit_vr = vr;
    } else if (g == 0x0800) {
        d->big = 1;
        d->explicit_vr = vr;
    } else if (vr) {
        d->big = g > 0xFF || e > 0xFF;
        d->explicit_vr = 1;
    } else {
        return mc_err(MC_EPARSE, "%s: not a DICOM file GDCM can read: no File Meta group, and the first element "
                      "(%04X,%04X) at byte %llu tells neither its byte order nor its VR", d->path, (unsigned)g, (unsigned)e,
                      (unsigned long long)pos);
    }
    return MC_OK;
}

static int dicom_prescan(const char *path) {
    FILE *f = mc_fopen_regular(path);
    if (!f) return MC_EIO;
    struct stat st;
    dscan d = {f, path, 0, 1, 0, -1, -1, -1, -1, -1, -1, -1, 0, "", "", "", "", "", 0, 0, 0};
    int rc = fstat(fileno(f), &st) == 0 ? MC_OK : mc_err(MC_EIO, "%s: cannot stat", path);
    d.size = (uint64_t)st.st_size;
    uint64_t pos = 0;
    unsigned char h[132];
    if (rc == MC_OK && d.size >= 132 && fread(h, 1, 132, f) == 132 && !memcmp(h + 128, "DICM", 4)) pos = 132;
    if (rc == MC_OK) rc = scan_read(&d, pos, h, 8, d.size, "the first element");
    if (rc == MC_OK && u16at(h, 0) == 0x0002) {
        rc = scan_elements(&d, &pos, d.size, 0, 0, 1); /* meta group */
        if (rc == MC_OK && !d.ts[0]) /* GDCM's guessing asserts on some such files (fuzz_dicom) */
            rc = mc_err(MC_EPARSE, "%s: corrupt DICOM: a File Meta group without Transfer Syntax UID (0002,0010)", path);
        if (rc == MC_OK && pos >= d.size) rc = mc_err(MC_EPARSE, "%s: corrupt DICOM: nothing after the File Meta group", path);
    }
    if (rc == MC_OK && u16at(h, 0) != 0x0002) rc = guess_encoding(&d, h, pos);
    if (rc == MC_OK) rc = scan_elements(&d, &pos, d.size, 0, 0, 0);
    if (rc == MC_OK) rc = check_image_attrs(&d);
    if (rc == MC_OK && d.pixels && !strcmp(d.ts, "1.2.840.10008.1.2.5")) rc = check_rle(&d);
    fclose(f);
    return rc;
}

static int to_mc(int kind) {
    return kind == MC_DICOM_ENOMEM ? MC_ENOMEM : kind == MC_DICOM_EUNSUP ? MC_EUNSUP : MC_EPARSE;
}

/* ---- GDCM's assertions ----------------------------------------------------------------------
 * Debian builds GDCM with assert() on, and GDCM asserts on some damaged files (fuzz_dicom found
 * a dozen: each is refused before GDCM by the checks above, and tests/regress/dicom/ keeps them).
 * So that one the checks do not foresee ends with an error for that file, not with abort() of a
 * whole training run: this definition of glibc's __assert_fail takes the place of libc's for the
 * whole program (the executable's symbol comes first in the dynamic linker's lookup, also for
 * libgdcm*.so), and while the calling thread is inside gdcm_guarded it records the assertion and
 * longjmps back out of GDCM. The C++ frames skipped leak what they held (the reader's data set:
 * bounded by the file; tests/lsan.supp), never a file descriptor: GDCM reads the file from a
 * buffer this file owns and frees. Outside a guarded call it does what glibc's does: the message
 * on stderr, then abort(). */
static _Thread_local jmp_buf *gdcm_jump;
static _Thread_local char gdcm_assertion[200];

#ifdef MC_DICOM
void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func) __attribute__((noreturn));
void __assert_fail(const char *expr, const char *file, unsigned int line, const char *func) {
    if (gdcm_jump) {
        const char *base = file ? strrchr(file, '/') : NULL;
        snprintf(gdcm_assertion, sizeof gdcm_assertion, "%s at %s:%u", expr ? expr : "?",
                 base ? base + 1 : file ? file : "?", line);
        for (char *p = gdcm_assertion; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        jmp_buf *j = gdcm_jump;
        gdcm_jump = NULL;
        longjmp(*j, 1);
    }
    fprintf(stderr, "%s: %s:%u: %s%sAssertion `%s' failed.\n", program_invocation_short_name, file, line,
            func ? func : "", func ? ": " : "", expr);
    fflush(stderr);
    abort();
}
#endif

/* At most this many bytes of a DICOM file are read (for GDCM, which never opens the file itself):
 * twice the largest image's pixel data, 16-bit (MC_IMAGE_MAX_PIXELS). */
#define MC_DICOM_FILE_MAX (4 * MC_IMAGE_MAX_PIXELS)

/* mc_dicom_gdcm_read with gdcm_jump set: an assertion in GDCM returns here through longjmp. */
static int guarded_call(const char *data, size_t len, mc_dicom_raw *raw, int decode, char *msg, size_t msgn) {
    jmp_buf jb;
    volatile int kind = MC_DICOM_EPARSE;
    if (setjmp(jb) == 0) {
        gdcm_jump = &jb;
        kind = mc_dicom_gdcm_read(data, len, raw, MC_IMAGE_MAX_PIXELS, decode, msg, msgn);
        gdcm_jump = NULL;
        return kind;
    }
    /* raw's buffers: NULL (zeroed by the caller) or malloc'd, whatever GDCM got to */
    mc_dicom_raw_free(raw);
    snprintf(msg, msgn, "corrupt DICOM: GDCM's internal check failed on it (%s)", gdcm_assertion);
    return MC_DICOM_EPARSE;
}

/* mc_dicom_gdcm_read on path's bytes under the assertion guard; an MC_* code with the message
 * naming path. */
static int gdcm_guarded(const char *path, mc_dicom_raw *raw, int decode) {
    char *data = NULL;
    size_t len = 0;
    memset(raw, 0, sizeof *raw);
    MC_TRY(mc_fread_all_max(path, MC_DICOM_FILE_MAX, &data, &len));
    char msg[600];
    msg[0] = 0;
    int kind = guarded_call(data, len, raw, decode, msg, sizeof msg);
    free(data);
    if (kind != MC_DICOM_OK) return mc_err(to_mc(kind), "%s: %s", path, msg);
    return MC_OK;
}

int mc_dicom_probe(const char *path, mc_image_info *info) {
    if (mc_dicom_supported()) MC_TRY(dicom_prescan(path)); /* without GDCM: the stub's message */
    mc_dicom_raw raw;
    MC_TRY(gdcm_guarded(path, &raw, 0));
    info->format = MC_IMAGE_DICOM;
    info->w = raw.w;
    info->h = raw.h;
    info->channels = 1;
    info->depth = raw.bits_stored;
    mc_dicom_raw_free(&raw);
    return MC_OK;
}

int mc_dicom_load_grey(const char *path, mc_image *img, const mc_image_window *win) {
    if (mc_dicom_supported()) MC_TRY(dicom_prescan(path)); /* without GDCM: the stub's message */
    mc_dicom_raw raw;
    MC_TRY(gdcm_guarded(path, &raw, 1));
    int rc = MC_OK;
    const int bs = raw.bits_stored, rep = raw.pixel_rep;
    const double slo = rep ? -ldexp(1.0, bs - 1) : 0.0, shi = rep ? ldexp(1.0, bs - 1) - 1.0 : ldexp(1.0, bs) - 1.0;

    /* modality */
    int modlut = raw.modality.present, rescale = 0;
    double slope = 1.0, icpt = 0.0, ylo = slo, yhi = shi;
    if (modlut) {
        rc = check_lut(path, "Modality LUT Sequence (0028,3000)", &raw.modality);
        ylo = 0.0, yhi = ldexp(1.0, raw.modality.bits) - 1.0;
    } else if (raw.slope[0] || raw.intercept[0]) {
        if (!raw.slope[0] || !raw.intercept[0])
            rc = mc_err(MC_EPARSE, "%s: Rescale %s without Rescale %s", path, raw.slope[0] ? "Slope" : "Intercept",
                        raw.slope[0] ? "Intercept" : "Slope");
        if (rc == MC_OK) rc = parse_ds(path, "Rescale Slope (0028,1053)", raw.slope, &slope);
        if (rc == MC_OK) rc = parse_ds(path, "Rescale Intercept (0028,1052)", raw.intercept, &icpt);
        if (rc == MC_OK && slope == 0.0) rc = mc_err(MC_EPARSE, "%s: Rescale Slope (0028,1053) is 0", path);
        rescale = 1;
        double a = slo * slope + icpt, b = shi * slope + icpt;
        ylo = a < b ? a : b, yhi = a < b ? b : a;
    }
    if (rc == MC_OK && !(isfinite(ylo) && isfinite(yhi) && yhi > ylo))
        rc = mc_err(MC_EPARSE, "%s: the modality output range [%g, %g] is empty or not finite", path, ylo, yhi);

    /* VOI */
    enum { V_USER, V_LUT, V_WINDOW, V_FULL } voi = V_FULL;
    int fn = MC_VOI_LINEAR;
    double c = 0.0, w = 1.0, lutmax = 1.0;
    if (rc == MC_OK) {
        if (win && win->on) {
            voi = V_USER;
            c = win->center, w = win->width;
            if (!(isfinite(c) && isfinite(w) && w >= 1.0))
                rc = mc_err(MC_EARG, "%s: window %g,%g: the width must be >= 1", path, c, w);
        } else if (raw.voi.present) {
            voi = V_LUT;
            rc = check_lut(path, "VOI LUT Sequence (0028,3010)", &raw.voi);
            lutmax = ldexp(1.0, raw.voi.bits) - 1.0;
        } else if (raw.center[0] || raw.width[0]) {
            voi = V_WINDOW;
            if (!raw.center[0] || !raw.width[0])
                rc = mc_err(MC_EPARSE, "%s: Window %s without Window %s", path, raw.center[0] ? "Center" : "Width",
                            raw.center[0] ? "Width" : "Center");
            if (rc == MC_OK) rc = parse_ds(path, "Window Center (0028,1050)", raw.center, &c);
            if (rc == MC_OK) rc = parse_ds(path, "Window Width (0028,1051)", raw.width, &w);
            const char *f = raw.voi_function;
            if (rc == MC_OK) {
                if (!f[0] || !strcmp(f, "LINEAR"))
                    fn = MC_VOI_LINEAR;
                else if (!strcmp(f, "LINEAR_EXACT"))
                    fn = MC_VOI_LINEAR_EXACT;
                else if (!strcmp(f, "SIGMOID"))
                    fn = MC_VOI_SIGMOID;
                else
                    rc = mc_err(MC_EUNSUP, "%s: VOI LUT Function (0028,1056) '%s': LINEAR, LINEAR_EXACT or SIGMOID",
                                path, f);
            }
            if (rc == MC_OK && (fn == MC_VOI_LINEAR ? w < 1.0 : w <= 0.0))
                rc = mc_err(MC_EPARSE, "%s: Window Width (0028,1051) %g with VOI LUT Function %s: must be %s", path, w,
                            f[0] ? f : "LINEAR", fn == MC_VOI_LINEAR ? ">= 1" : "> 0");
        }
    }
    if (rc == MC_OK) rc = mc_image_reserve(img, (size_t)raw.w, (size_t)raw.h, path);
    if (rc < 0) {
        mc_dicom_raw_free(&raw);
        img->w = img->h = 0;
        return rc;
    }

    const int32_t mask = (int32_t)((1u << bs) - 1u), sign = (int32_t)(1u << (bs - 1));
    const int mono1 = !strcmp(raw.photometric, "MONOCHROME1");
    const size_t n = (size_t)raw.w * (size_t)raw.h;
    for (size_t i = 0; i < n; i++) {
        int32_t s = raw.px[i] & mask;
        if (rep && (s & sign)) s -= (int32_t)(1u << bs);
        double m = modlut ? lut_at(&raw.modality, (double)s) : rescale ? (double)s * slope + icpt : (double)s;
        double y;
        switch (voi) {
        case V_USER: y = mc_voi_window(MC_VOI_LINEAR, m, c, w); break;
        case V_LUT: y = lut_at(&raw.voi, m) / lutmax; break;
        case V_WINDOW: y = mc_voi_window(fn, m, c, w); break;
        default: y = (m - ylo) / (yhi - ylo); break;
        }
        if (!(y >= 0.0)) y = 0.0; /* LUT entries above 2^bits − 1, rounding at the range's ends */
        if (y > 1.0) y = 1.0;
        img->px[i] = (float)(mono1 ? 1.0 - y : y);
    }
    img->w = raw.w;
    img->h = raw.h;
    mc_dicom_raw_free(&raw);
    return MC_OK;
}
