/* dist.h — the processes of one data-parallel run: ranks, reductions, broadcast, gather.
 *
 * Everything about ranks lives in src/dist/ (docs/distributed.md): the trainer and the engine
 * only call the hooks below. Built with MPI (make MPI=1, the default when mpicc is found) it
 * runs over OpenMPI, and over NCCL for GPU buffers (make GPU=1 MPI=1); without MPI the same
 * functions exist with one process (size 1), and a launch by mpirun/srun of N > 1 processes is
 * refused (every copy would otherwise train the whole run alone into the same files).
 *
 * Results are bitwise identical on every rank: sums are reduced to rank 0 and broadcast (MPI),
 * or by NCCL's all-reduce, so every rank applies the same update (checked by mc_dist_check).
 * A NULL mc_dist * everywhere means "one process": every function is then a no-op that
 * succeeds, so single-process callers pass NULL.
 *
 * Errors come back as mc_err codes whose message names the rank and its host; the CLI prints
 * them and ends the whole job (mc_dist_abort), never one rank alone.
 */
#ifndef MC_DIST_H
#define MC_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

typedef struct mc_dist mc_dist;
typedef struct mc_net mc_net;

/* 1 when this build has MPI (make MPI=1), 2 when it also has NCCL (GPU=1 MPI=1), 0 otherwise. */
int mc_dist_compiled(void);
/* Whether the environment says this process was started by a launcher (mpirun, srun, PMI) as one
 * of *size > 1 processes (size read from the launcher's variables; 0 when unknown). */
int mc_dist_launched(int *size);
/* The world of this process: MPI_Init when started by a launcher, else (or without MPI) one
 * process. Without MPI, a launch of more than one process is an error saying how to build. */
int mc_dist_init(mc_dist **out);
/* MPI_Finalize (world) or frees a sub-group. NULL: nothing. */
void mc_dist_free(mc_dist *d);
/* Ends every process of the job at once (MPI_Abort) with `code`; returns only without MPI or
 * with one process (the caller then exits as usual). */
void mc_dist_abort(mc_dist *d, int code);
/* Sub-groups (tests: a 2-rank run and a 3-rank resume inside one mpirun -np 3): the ranks with
 * the same colour >= 0 form one group, numbered by their rank in d; colour < 0: *out = NULL. A
 * collective call: every rank of d calls it. */
int mc_dist_split(mc_dist *d, int colour, mc_dist **out);

int mc_dist_rank(const mc_dist *d);       /* 0 for NULL */
int mc_dist_size(const mc_dist *d);       /* 1 for NULL */
int mc_dist_local_rank(const mc_dist *d); /* rank among the processes of this host (its GPU) */
int mc_dist_local_size(const mc_dist *d); /* processes on this host */
int mc_dist_is_root(const mc_dist *d);    /* rank 0 (and NULL) */
/* This rank's contiguous part [*lo, *hi) of n items cut among the ranks (n * r / N ..
 * n * (r + 1) / N; empty when n < N for some); [0, n) for NULL or one process. */
void mc_dist_part(const mc_dist *d, int n, int *lo, int *hi);
const char *mc_dist_host(const mc_dist *d);

/* In-place sums over every rank (the same bits on each). */
int mc_dist_sum_f(mc_dist *d, float *v, size_t n);
int mc_dist_sum_d(mc_dist *d, double *v, size_t n);
/* In-place sum of a GPU buffer (device memory) over NCCL; MC_EUNSUP in a build without NCCL. */
int mc_dist_sum_device(mc_dist *d, float *v, size_t n);
/* *v = the largest of every rank's *v */
int mc_dist_max_i(mc_dist *d, int *v);
/* Rank root's `bytes` bytes at buf reach every rank. */
int mc_dist_bcast(mc_dist *d, void *buf, size_t bytes, int root);
/* Each rank's `bytes` at send, concatenated in rank order at recv on root (recv: size*bytes;
 * only read on root). */
int mc_dist_gather(mc_dist *d, const void *send, size_t bytes, void *recv, int root);
int mc_dist_barrier(mc_dist *d);
/* A sum started now and finished later (every rank calls the three in the same order as its
 * other collectives): mc_dist_isum_start begins the reduce to rank 0 of v[0..n) (*out NULL with
 * one process: nothing to do); mc_dist_isum_test lets MPI progress it (call it now and then);
 * mc_dist_isum_finish waits for it, broadcasts the sum into every rank's v and frees it: the
 * same bits on every rank (with 3 or more ranks MPI's non-blocking reduce may add in another
 * order than its blocking one). Until finished, v must not be touched. d NULL: s is only freed
 * (an error path whose job is ending). */
typedef struct mc_dist_isum mc_dist_isum;
int mc_dist_isum_start(mc_dist *d, float *v, size_t n, mc_dist_isum **out);
int mc_dist_isum_test(mc_dist *d, mc_dist_isum *s);
int mc_dist_isum_finish(mc_dist *d, mc_dist_isum *s);
/* Seconds spent in this group's communication since it was made (for the bench and the log). */
double mc_dist_comm_seconds(const mc_dist *d);

/* ---- the trainer's hooks (dist_train.c) ------------------------------------------------- */
struct mc_net_opts;
/* A rank's network options: batch = global/N (MC_EARG naming both when N does not divide it; the
 * message offers batch_per_rank unless per_rank is -1: a run that has no such setting) or,
 * per_rank 1, batch itself; the CUDA device gpu + local rank; on the CPU, when threads is 0 (all
 * cores), this host's cores shared among its ranks. batch: the batch asked for (the cfg's when
 * the experiment gives none). */
int mc_dist_net_opts(mc_dist *d, struct mc_net_opts *o, int batch, int per_rank);
/* The same for a network from cfg (with the overrides set, NULL-terminated): the batch asked for
 * is o->batch, or the cfg's when 0. Nothing changes with one process. */
int mc_dist_net_opts_cfg(mc_dist *d, struct mc_net_opts *o, const char *cfg, const char *const *set, int per_rank);
typedef struct mc_dist_train_opts {
    int bn_local;    /* 1: batch norm uses each rank's own statistics (DDP's default); 0: the
                      * statistics of the whole global batch (synchronised, the default here) */
    int check_every; /* iterations between weight checksums (0: 100); also at every checkpoint */
} mc_dist_train_opts;

/* Starts data-parallel training of net: every rank takes rank 0's parameters, buffers and
 * momentum, and the network's loss normalisation (and batch norm unless bn_local) becomes that of
 * the global batch. mc_dist_detach undoes the hooks (and waits for every rank). */
int mc_dist_attach(mc_dist *d, mc_net *net, const mc_dist_train_opts *o);
int mc_dist_detach(mc_dist *d, mc_net *net);
/* After backward: every rank's gradient becomes the sum of all of them (the gradient of the
 * global batch's loss: the loss is normalised by the global count, see cost.c). */
int mc_dist_grads(mc_dist *d, mc_net *net);
/* Of the current (or last) attachment's gradient buckets: how many began their sum during a
 * backward pass (overlapped), and how many were summed in all (dist_train.c; tests, bench). */
void mc_dist_overlap(long *early, long *total);
/* After the update of iteration it: per-rank BN statistics are replaced by rank 0's (bn_local),
 * and every check_every iterations the weights' checksum is compared across ranks. */
int mc_dist_step_done(mc_dist *d, mc_net *net, long it);
/* The checksum comparison itself: MC_ENUM naming the ranks whose parameters, buffers or momentum
 * differ from rank 0's. */
int mc_dist_check(mc_dist *d, mc_net *net, long it);
/* Whether any rank's flag is set (a signal reached one rank: every rank stops at the same
 * iteration). */
int mc_dist_any(mc_dist *d, int flag, int *any);
/* Validation/eval shards: rank r evaluates its part of every batch; this sums the shards'
 * outputs (each entry written by one rank, zero elsewhere, so the sum is exact) and the loss
 * sums, so that every rank holds the whole result. */
int mc_dist_gather_eval(mc_dist *d, float *probs, size_t n, double *lsum, double *lcnt);

#endif
