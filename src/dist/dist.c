/* dist.c — ranks over MPI (OpenMPI), NCCL for GPU buffers, or one process (see dist.h).
 *
 * Sums are MPI_Reduce to rank 0 followed by MPI_Bcast, not MPI_Allreduce: the MPI standard lets
 * an all-reduce give different roundings on different ranks (its algorithm may add in another
 * order on each), and data-parallel training needs the same bits everywhere. Every MPI call
 * returns its error (MPI_ERRORS_RETURN) as an mc_err naming the rank and the host. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dist/dist_internal.h"
#ifdef MC_MPI
#include <mpi.h>
#endif

struct mc_dist {
    int rank, size, local_rank, local_size;
    int world;          /* 1: made by mc_dist_init (MPI_Finalize when freed) */
    int mpi;            /* 1: MPI was initialised by us */
    int has_comm;       /* 1: comm is ours to free */
    char host[256];
    double comm_s;
#ifdef MC_MPI
    MPI_Comm comm;
#endif
    void *nccl;         /* the NCCL communicator (dist_nccl.c), made when first needed */
};

#ifdef MC_MPI
/* the clock of the communication time (only MPI communicates) */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#endif

int mc_dist_compiled(void) {
#if defined(MC_MPI) && defined(MC_GPU)
    return 2;
#elif defined(MC_MPI)
    return 1;
#else
    return 0;
#endif
}

static int env_int(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 0 || v > 1 << 24 ? -1 : (int)v;
}

int mc_dist_launched(int *size) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; sizes[i]; i++) {
        int v = env_int(sizes[i]);
        if (v >= 0) {
            *size = v;
            return v > 1;
        }
    }
    /* srun: a job step of several tasks (the batch script itself is not one) */
    int steps = env_int("SLURM_STEP_NUM_TASKS"), step_id = env_int("SLURM_STEP_ID");
    if (steps > 1 && step_id >= 0 && getenv("SLURM_PROCID")) {
        *size = steps;
        return 1;
    }
    *size = getenv("PMIX_RANK") || getenv("PMI_RANK") ? 0 : 1;
    return *size == 0;
}

static mc_dist *one_process(void) {
    mc_dist *d = mc_calloc(1, sizeof *d, "process group");
    if (!d) return NULL;
    d->size = 1;
    d->local_size = 1;
    d->world = 1;
    if (gethostname(d->host, sizeof d->host - 1) != 0) snprintf(d->host, sizeof d->host, "?");
    return d;
}

#ifdef MC_MPI
static int mpi_fail(const mc_dist *d, int code, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return mc_err(MC_EIO, "rank %d of %d (host %s): %s failed: %s", d->rank, d->size, d->host, what, msg);
}
#define MPI_TRY(d, call, what)                                                                     \
    do {                                                                                           \
        int mpi_rc_ = (call);                                                                      \
        if (mpi_rc_ != MPI_SUCCESS) return mpi_fail(d, mpi_rc_, what);                             \
    } while (0)

static int fill_ranks(mc_dist *d) {
    MPI_TRY(d, MPI_Comm_rank(d->comm, &d->rank), "MPI_Comm_rank");
    MPI_TRY(d, MPI_Comm_size(d->comm, &d->size), "MPI_Comm_size");
    MPI_Comm node;
    MPI_TRY(d, MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
    MPI_TRY(d, MPI_Comm_rank(node, &d->local_rank), "MPI_Comm_rank");
    MPI_TRY(d, MPI_Comm_size(node, &d->local_size), "MPI_Comm_size");
    MPI_Comm_free(&node);
    return MC_OK;
}
#endif

int mc_dist_init(mc_dist **out) {
    *out = NULL;
    int n = 1;
    int launched = mc_dist_launched(&n);
#ifndef MC_MPI
    if (launched)
        return mc_err(MC_EUNSUP, "started as one of %d processes (mpirun/srun), but this medcolor was built "
                                 "without MPI: build it with `make MPI=1` (OpenMPI: apt-get install openmpi-bin "
                                 "libopenmpi-dev), or start one process", n);
    return (*out = one_process()) ? MC_OK : MC_ENOMEM;
#else
    mc_dist *d = one_process();
    if (!d) return MC_ENOMEM;
    if (!launched) {
        *out = d;
        return MC_OK;
    }
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        free(d);
        return mc_err(MC_EIO, "host %s: MPI_Init failed (started by a launcher as one of %d processes)", d->host, n);
    }
    d->mpi = !inited;
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    d->has_comm = 1;
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    int rc = fill_ranks(d);
    if (rc < 0) {
        mc_dist_free(d);
        return rc;
    }
    *out = d;
    return MC_OK;
#endif
}


void mc_dist_free(mc_dist *d) {
    if (!d) return;
    mc_dist_nccl_free(d->nccl);
#ifdef MC_MPI
    if (d->has_comm) MPI_Comm_free(&d->comm);
    if (d->mpi) MPI_Finalize();
#endif
    free(d);
}

void mc_dist_abort(mc_dist *d, int code) {
#ifdef MC_MPI
    if (d && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
#endif
    (void)d;
    (void)code;
}

int mc_dist_split(mc_dist *d, int colour, mc_dist **out) {
    *out = NULL;
    if (!d || d->size == 1) {
        if (colour < 0) return MC_OK;
        *out = one_process();
        if (*out) (*out)->world = 0;
        return *out ? MC_OK : MC_ENOMEM;
    }
#ifdef MC_MPI
    MPI_Comm c;
    MPI_TRY(d, MPI_Comm_split(d->comm, colour < 0 ? MPI_UNDEFINED : colour, d->rank, &c), "MPI_Comm_split");
    if (colour < 0) return MC_OK;
    mc_dist *s = mc_calloc(1, sizeof *s, "process group");
    if (!s) return MC_ENOMEM;
    memcpy(s->host, d->host, sizeof s->host);
    s->comm = c;
    s->has_comm = 1;
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    int rc = fill_ranks(s);
    if (rc < 0) {
        mc_dist_free(s);
        return rc;
    }
    *out = s;
#endif
    return MC_OK;
}

int mc_dist_rank(const mc_dist *d) { return d ? d->rank : 0; }
int mc_dist_size(const mc_dist *d) { return d ? d->size : 1; }
int mc_dist_local_rank(const mc_dist *d) { return d ? d->local_rank : 0; }
int mc_dist_local_size(const mc_dist *d) { return d ? d->local_size : 1; }
int mc_dist_is_root(const mc_dist *d) { return !d || d->rank == 0; }
void mc_dist_part(const mc_dist *d, int n, int *lo, int *hi) {
    const int r = mc_dist_rank(d), N = mc_dist_size(d);
    *lo = (int)((long long)n * r / N);
    *hi = (int)((long long)n * (r + 1) / N);
}
const char *mc_dist_host(const mc_dist *d) { return d ? d->host : ""; }
double mc_dist_comm_seconds(const mc_dist *d) { return d ? d->comm_s : 0; }

/* the MPI calls take int counts: large buffers go in pieces */
#define CHUNK ((size_t)1 << 28)

#ifdef MC_MPI
static int sum_mpi(mc_dist *d, void *v, size_t n, MPI_Datatype t, size_t esize) {
    char *p = v;
    for (size_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        void *q = p + o * esize;
        MPI_TRY(d, MPI_Reduce(d->rank == 0 ? MPI_IN_PLACE : q, q, k, t, MPI_SUM, 0, d->comm), "MPI_Reduce");
        MPI_TRY(d, MPI_Bcast(q, k, t, 0, d->comm), "MPI_Bcast");
    }
    return MC_OK;
}
#endif

int mc_dist_sum_f(mc_dist *d, float *v, size_t n) {
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    int rc = sum_mpi(d, v, n, MPI_FLOAT, sizeof(float));
    d->comm_s += now() - t0;
    return rc;
#else
    return MC_OK;
#endif
}

int mc_dist_sum_d(mc_dist *d, double *v, size_t n) {
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    int rc = sum_mpi(d, v, n, MPI_DOUBLE, sizeof(double));
    d->comm_s += now() - t0;
    return rc;
#else
    return MC_OK;
#endif
}

int mc_dist_max_i(mc_dist *d, int *v) {
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT, MPI_MAX, d->comm), "MPI_Allreduce");
    d->comm_s += now() - t0;
#endif
    return MC_OK;
}

int mc_dist_bcast(mc_dist *d, void *buf, size_t bytes, int root) {
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    char *p = buf;
    for (size_t o = 0; o < bytes; o += CHUNK) {
        int k = (int)(bytes - o < CHUNK ? bytes - o : CHUNK);
        MPI_TRY(d, MPI_Bcast(p + o, k, MPI_BYTE, root, d->comm), "MPI_Bcast");
    }
    d->comm_s += now() - t0;
#endif
    return MC_OK;
}

int mc_dist_gather(mc_dist *d, const void *send, size_t bytes, void *recv, int root) {
    if (!d || d->size == 1) {
        if (recv != send) memcpy(recv, send, bytes);
        return MC_OK;
    }
#ifdef MC_MPI
    if (bytes > (size_t)1 << 30)
        return mc_err(MC_EARG, "rank %d (host %s): gather of %zu bytes per rank (at most 1 GiB)", d->rank, d->host, bytes);
    double t0 = now();
    MPI_TRY(d, MPI_Gather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, root, d->comm), "MPI_Gather");
    d->comm_s += now() - t0;
#endif
    return MC_OK;
}

/* ---- non-blocking sums: the reduce to rank 0 started now, progressed by the caller's tests,
 * finished (then broadcast) later: the same arithmetic as mc_dist_sum_f's reduce + broadcast
 * pair, with its first half overlapped with the caller's work (gradient buckets, dist_train.c) */
struct mc_dist_isum {
    float *v;
    size_t n;
    int nreq, done;
#ifdef MC_MPI
    MPI_Request req[];
#endif
};

int mc_dist_isum_start(mc_dist *d, float *v, size_t n, mc_dist_isum **out) {
    *out = NULL;
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    int nreq = (int)((n + CHUNK - 1) / CHUNK);
    mc_dist_isum *s = mc_calloc(1, sizeof *s + (size_t)(nreq ? nreq : 1) * sizeof(MPI_Request), "reduction");
    if (!s) return MC_ENOMEM;
    s->v = v;
    s->n = n;
    for (size_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        float *q = v + o;
        int rc = MPI_Ireduce(d->rank == 0 ? MPI_IN_PLACE : q, q, k, MPI_FLOAT, MPI_SUM, 0, d->comm, &s->req[s->nreq]);
        if (rc != MPI_SUCCESS) {
            free(s);
            return mpi_fail(d, rc, "MPI_Ireduce");
        }
        s->nreq++;
    }
    d->comm_s += now() - t0;
    *out = s;
#else
    (void)v, (void)n;
#endif
    return MC_OK;
}

int mc_dist_isum_test(mc_dist *d, mc_dist_isum *s) {
    if (!s || s->done) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    int flag = 0;
    MPI_TRY(d, MPI_Testall(s->nreq, s->req, &flag, MPI_STATUSES_IGNORE), "MPI_Testall");
    s->done = flag;
    d->comm_s += now() - t0;
#else
    (void)d;
#endif
    return MC_OK;
}

int mc_dist_isum_finish(mc_dist *d, mc_dist_isum *s) {
    if (!s) return MC_OK;
    if (!d) { /* abandoned on an error path (the job is ending): the memory only */
        free(s);
        return MC_OK;
    }
    int rc = MC_OK;
#ifdef MC_MPI
    double t0 = now();
    int mrc = s->done ? MPI_SUCCESS : MPI_Waitall(s->nreq, s->req, MPI_STATUSES_IGNORE);
    if (mrc != MPI_SUCCESS) rc = mpi_fail(d, mrc, "MPI_Waitall");
    for (size_t o = 0; o < s->n && rc == MC_OK; o += CHUNK) {
        int k = (int)(s->n - o < CHUNK ? s->n - o : CHUNK);
        mrc = MPI_Bcast(s->v + o, k, MPI_FLOAT, 0, d->comm);
        if (mrc != MPI_SUCCESS) rc = mpi_fail(d, mrc, "MPI_Bcast");
    }
    d->comm_s += now() - t0;
#else
    (void)d;
#endif
    free(s);
    return rc;
}

int mc_dist_barrier(mc_dist *d) {
    if (!d || d->size == 1) return MC_OK;
#ifdef MC_MPI
    double t0 = now();
    MPI_TRY(d, MPI_Barrier(d->comm), "MPI_Barrier");
    d->comm_s += now() - t0;
#endif
    return MC_OK;
}

/* for dist_nccl.c: the rank 0 -> all broadcast of NCCL's unique id, and the fields it needs */
int mc_dist_nccl_slot(mc_dist *d, void ***slot) {
    *slot = &d->nccl;
    return MC_OK;
}
void mc_dist_add_comm_time(mc_dist *d, double s) {
    if (d) d->comm_s += s;
}
