/* core.h — internal helpers shared by every part of the library (not installed).
 *
 * Errors: every library function returns an int status (MC_OK = 0, negative = error) or a
 * pointer (NULL = error). The human-readable message of the last error of the calling thread
 * is kept in a thread-local buffer and read with mc_errmsg(). Set it with mc_err(); the
 * function returns the code so that `return mc_err(MC_EIO, "%s: cannot open", path);` reads
 * naturally. The library never exits; only main() does.
 */
#ifndef MC_CORE_H
#define MC_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "medcolor.h"

#if defined(__GNUC__)
#define MC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MC_PRINTF(a, b)
#endif

/* Sets the thread's error message and returns code. */
int mc_err(int code, const char *fmt, ...) MC_PRINTF(2, 3);
/* Prepends "prefix: " to the current message (adds context on the way up); returns code. */
int mc_err_context(int code, const char *fmt, ...) MC_PRINTF(2, 3);

/* Evaluate an int-returning call; on error return its code from the enclosing function. */
#define MC_TRY(expr)                                                                               \
    do {                                                                                           \
        int mc_try_rc_ = (expr);                                                                   \
        if (mc_try_rc_ < 0) return mc_try_rc_;                                                     \
    } while (0)

/* Checked allocation: on failure they set "out of memory (N bytes) for WHAT" and return NULL. */
void *mc_malloc(size_t n, const char *what);
void *mc_calloc(size_t count, size_t size, const char *what);
void *mc_realloc(void *p, size_t n, const char *what);
char *mc_strdup(const char *s);
/* 64-byte aligned float buffer (for SIMD/BLAS); free with mc_free_aligned(). */
float *mc_alloc_floats(size_t n, const char *what);
void mc_free_aligned(void *p);

/* Files: fopen/fread/fwrite wrappers that report the path; mc_fopen for reading ("r", "rb") is
 * mc_fopen_regular (below). */
FILE *mc_fopen(const char *path, const char *mode);
int mc_fread(void *dst, size_t size, size_t count, FILE *f, const char *path);
int mc_fwrite(const void *src, size_t size, size_t count, FILE *f, const char *path);

/* Reading input files (docs/robustness.md). Where a file is read, it must be a regular file:
 * a FIFO, a directory or a device (/dev/zero, /dev/stdin) is refused with a message naming the
 * path and what it is, without blocking on it. Whole-file reads are bounded: text files (cfg,
 * .data, .exp, .grid, list and run files) by MC_TEXT_MAX bytes, label CSVs by MC_CSV_MAX bytes
 * (compressed and after gunzip); more is an error naming the file and the limit. */
#define MC_TEXT_MAX ((size_t)256 << 20)
#define MC_CSV_MAX ((size_t)1 << 30)
/* Opens a regular file for reading ("rb"); NULL with the message set otherwise. */
FILE *mc_fopen_regular(const char *path);
/* Opens a regular file read-only (O_CLOEXEC); the descriptor, or a negative code. *size: its size. */
int mc_open_regular(const char *path, size_t *size);
/* Reads a whole regular file of at most max bytes into *out (NUL-terminated; free() it).
 * mc_fread_all: max = MC_TEXT_MAX. */
int mc_fread_all_max(const char *path, size_t max, char **out, size_t *len);
int mc_fread_all(const char *path, char **out, size_t *len);
/* MC_OK when text[0..len) holds no NUL byte, else an error "path:LINE: ... NUL byte". */
int mc_text_no_nul(const char *path, const char *text, size_t len);
/* "256 MiB", "1 GiB", "4096 bytes": a limit for messages, into buf. */
const char *mc_size_str(size_t bytes, char *buf, size_t n);
/* Atomic write: write to "path.tmp.PID", fsync, rename over path. The writer callback gets
 * the open FILE and the target path (for its messages) and returns a status. On any failure
 * the old file is untouched and the temporary removed. */
int mc_write_atomic(const char *path, int (*writer)(FILE *f, const char *path, void *arg), void *arg);

/* Edit distance of two short strings (insertions, deletions, substitutions and swaps of
 * neighbours count 1; icase: ignoring case), for "did you mean" hints;
 * 99 when either is longer than 63 characters. */
int mc_edit_distance(const char *a, const char *b, int icase);

/* Small deterministic PRNG for initialisation (xoshiro256**, seeded via splitmix64). */
typedef struct mc_rng { uint64_t s[4]; } mc_rng;
void mc_rng_seed(mc_rng *r, uint64_t seed);
uint64_t mc_rng_u64(mc_rng *r);
double mc_rng_uniform(mc_rng *r);            /* [0, 1) */
double mc_rng_normal(mc_rng *r);             /* N(0, 1), Box–Muller */

#endif
