/* util.c — checked allocation, checked file i/o, atomic writes, the init PRNG. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"

void *mc_malloc(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    if (!p) mc_err(MC_ENOMEM, "out of memory (%zu bytes) for %s", n, what);
    return p;
}

void *mc_calloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) mc_err(MC_ENOMEM, "out of memory (%zu x %zu bytes) for %s", count, size, what);
    return p;
}

void *mc_realloc(void *p, size_t n, const char *what) {
    void *q = realloc(p, n ? n : 1);
    if (!q) mc_err(MC_ENOMEM, "out of memory (%zu bytes) for %s", n, what);
    return q;
}

char *mc_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mc_malloc(n, "string");
    if (p) memcpy(p, s, n);
    return p;
}

float *mc_alloc_floats(size_t n, const char *what) {
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0) {
        mc_err(MC_ENOMEM, "out of memory (%zu bytes) for %s", bytes, what);
        return NULL;
    }
    return p;
}

void mc_free_aligned(void *p) { free(p); }

FILE *mc_fopen(const char *path, const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f) mc_err(MC_EIO, "%s: cannot open (%s)", path, strerror(errno));
    return f;
}

int mc_fread(void *dst, size_t size, size_t count, FILE *f, const char *path) {
    size_t got = fread(dst, size, count, f);
    if (got != count) {
        if (ferror(f)) return mc_err(MC_EIO, "%s: read error (%s)", path, strerror(errno));
        return mc_err(MC_EIO, "%s: file is truncated (wanted %zu items of %zu bytes, got %zu)",
                      path, count, size, got);
    }
    return MC_OK;
}

int mc_fwrite(const void *src, size_t size, size_t count, FILE *f, const char *path) {
    if (fwrite(src, size, count, f) != count)
        return mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
    return MC_OK;
}

int mc_fread_all(const char *path, char **out, size_t *len) {
    FILE *f = mc_fopen(path, "rb");
    if (!f) return MC_EIO;
    size_t cap = 1 << 16, n = 0;
    char *buf = mc_malloc(cap + 1, path);
    if (!buf) { fclose(f); return MC_ENOMEM; }
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            char *nb = mc_realloc(buf, cap * 2 + 1, path);
            if (!nb) { free(buf); fclose(f); return MC_ENOMEM; }
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return mc_err(MC_EIO, "%s: read error (%s)", path, strerror(e));
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return MC_OK;
}

int mc_write_atomic(const char *path, int (*writer)(FILE *f, const char *path, void *arg), void *arg) {
    size_t n = strlen(path) + 32;
    char *tmp = mc_malloc(n, "temporary file name");
    if (!tmp) return MC_ENOMEM;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = mc_fopen(tmp, "wb");
    if (!f) { free(tmp); return MC_EIO; }
    /* the writer and the messages name the file the user asked for, not the temporary */
    int rc = writer(f, path, arg);
    if (rc == MC_OK && fflush(f) != 0) rc = mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
    if (rc == MC_OK && fsync(fileno(f)) != 0) rc = mc_err(MC_EIO, "%s: fsync failed (%s)", path, strerror(errno));
    if (fclose(f) != 0 && rc == MC_OK) rc = mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
    if (rc == MC_OK && rename(tmp, path) != 0)
        rc = mc_err(MC_EIO, "%s: cannot rename %s over it (%s)", path, tmp, strerror(errno));
    if (rc != MC_OK) unlink(tmp);
    free(tmp);
    return rc;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mc_rng_seed(mc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mc_rng_u64(mc_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mc_rng_uniform(mc_rng *r) { return (double)(mc_rng_u64(r) >> 11) * 0x1.0p-53; }

double mc_rng_normal(mc_rng *r) {
    double u1 = mc_rng_uniform(r), u2 = mc_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int mc_edit_distance(const char *a, const char *b, int icase) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64]; /* optimal string alignment: insert, delete, substitute, swap neighbours */
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int x = (unsigned char)a[i - 1], y = (unsigned char)b[j - 1];
            int xp = i > 1 ? (unsigned char)a[i - 2] : 0, yp = j > 1 ? (unsigned char)b[j - 2] : 0;
            if (icase) {
                x = tolower(x);
                y = tolower(y);
                xp = tolower(xp);
                yp = tolower(yp);
            }
            int c = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && x == yp && xp == y && d[i - 2][j - 2] + 1 < c) c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}
