/* util.c — checked allocation, checked file i/o, atomic writes, the init PRNG. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (n > (SIZE_MAX - 63) / sizeof(float)) {
        mc_err(MC_ENOMEM, "out of memory (%zu floats) for %s", n, what);
        return NULL;
    }
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
    /* reading: a regular file (a FIFO would block, /dev/zero never end) */
    if (!strcmp(mode, "r") || !strcmp(mode, "rb")) return mc_fopen_regular(path);
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

const char *mc_size_str(size_t bytes, char *buf, size_t n) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    int u = -1;
    size_t v = bytes;
    while (u < 3 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0) snprintf(buf, n, "%zu bytes", bytes);
    else snprintf(buf, n, "%zu %s", v, units[u]);
    return buf;
}

static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* O_NONBLOCK: opening a FIFO must not wait for a writer; cleared again for a regular file. */
int mc_open_regular(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return mc_err(MC_EIO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return mc_err(MC_EIO, "%s: cannot stat (%s)", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mc_err(MC_EIO, "%s: is %s, not a regular file", path, file_kind(sb.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return mc_err(MC_EIO, "%s: cannot open (%s)", path, strerror(e));
    }
    if (size) *size = sb.st_size > 0 ? (size_t)sb.st_size : 0;
    return fd;
}

FILE *mc_fopen_regular(const char *path) {
    int fd = mc_open_regular(path, NULL);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        mc_err(MC_EIO, "%s: cannot open (%s)", path, strerror(e));
    }
    return f;
}

static int too_large(const char *path, size_t size, size_t max) {
    char lim[32];
    if (size > max)
        return mc_err(MC_EIO, "%s: %zu bytes, over the %s limit for this kind of file (docs/robustness.md)", path,
                      size, mc_size_str(max, lim, sizeof lim));
    return mc_err(MC_EIO, "%s: over the %s limit for this kind of file (docs/robustness.md)", path,
                  mc_size_str(max, lim, sizeof lim));
}

int mc_fread_all_max(const char *path, size_t max, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    size_t size;
    int fd = mc_open_regular(path, &size);
    if (fd < 0) return fd;
    if (size > max) {
        close(fd);
        return too_large(path, size, max);
    }
    /* room for the size fstat gave and one byte more, to notice a file that grows; never more
     * than max + 1 bytes are read */
    size_t cap = size + 1, n = 0;
    if (cap < 4096) cap = 4096;
    if (cap > max + 1) cap = max + 1;
    char *buf = mc_malloc(cap + 1, path);
    if (!buf) {
        close(fd);
        return MC_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (n > max) { /* grew past the limit while being read */
                free(buf);
                close(fd);
                return too_large(path, 0, max);
            }
            size_t nc = cap > max / 2 ? max + 1 : cap * 2;
            char *nb = mc_realloc(buf, nc + 1, path);
            if (!nb) {
                free(buf);
                close(fd);
                return MC_ENOMEM;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return mc_err(MC_EIO, "%s: read error (%s)", path, strerror(e));
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return too_large(path, 0, max);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return MC_OK;
}

int mc_fread_all(const char *path, char **out, size_t *len) { return mc_fread_all_max(path, MC_TEXT_MAX, out, len); }

int mc_text_no_nul(const char *path, const char *text, size_t len) {
    const char *z = memchr(text, 0, len);
    if (!z) return MC_OK;
    int line = 1;
    for (const char *p = text; p < z; p++) line += *p == '\n';
    return mc_err(MC_EPARSE, "%s:%d: holds a NUL byte (at byte %zu): not a text file", path, line,
                  (size_t)(z - text));
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
