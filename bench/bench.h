/* bench.h — the clocks and helpers every benchmark program times with (bench_step,
 * bench_transfer, bench_loader): wall clock, the process's CPU time (all threads: the work done,
 * which a busy machine disturbs less), peak RSS, and a comparison for qsort on doubles. */
#ifndef MC_BENCH_H
#define MC_BENCH_H
#include <sys/resource.h>
#include <time.h>

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* peak resident memory of this process in MB (Linux reports kilobytes) */
static inline double maxrss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}
#endif
