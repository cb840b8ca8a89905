/* fuzz_gzip.c — gunzip (mc_gunzip) on the bytes as they are, with a 16 MiB limit: succeeds only
 * for complete members (each with its CRC and length), and then zlib's own uncompress of the
 * first member must agree with the start of the result. */
#include "fuzz.h"
#include <zlib.h>
#include "data/data_internal.h"

static int one(const uint8_t *data, size_t size) {
    char *out = NULL;
    size_t n = 0;
    int rc = mc_gunzip("x.csv.gz", data, size, (size_t)16 << 20, &out, &n);
    if (rc < 0) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.csv.gz"));
    int bad = out[n] != 0;
    /* the first member again, through zlib's inflate in one call */
    z_stream z;
    memset(&z, 0, sizeof z);
    unsigned char *ref = malloc(n + 1);
    if (inflateInit2(&z, 15 + 16) == Z_OK) {
        z.next_in = (unsigned char *)(uintptr_t)data;
        z.avail_in = (uInt)size;
        z.next_out = ref;
        z.avail_out = (uInt)(n + 1);
        int zr = inflate(&z, Z_FINISH);
        size_t got = n + 1 - z.avail_out;
        if (zr != Z_STREAM_END || got > n || memcmp(ref, out, got) != 0) {
            fprintf(stderr, "fuzz: zlib reads the first member differently (zlib %d, %zu of %zu bytes)\n", zr, got, n);
            bad = 1;
        }
        inflateEnd(&z);
    }
    free(ref);
    free(out);
    return bad;
}
MC_FUZZ_TARGET(gzip)
