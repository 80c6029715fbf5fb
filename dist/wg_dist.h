/* wg_dist.h: data-parallel training over MPI (optional: built when meson
 * finds MPI; link with the wengert_dist library, or dist_dep in this tree).
 *
 * Every process holds the whole model and its own share of each batch, runs
 * forward and backward on that share, and the processes then sum their
 * weighted gradients so that all of them take the same optimiser step, as
 * PyTorch's DistributedDataParallel and Horovod do:
 *
 *     MPI_Init(&argc, &argv);                       (the program's own call)
 *     wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, n, params, 0);
 *     if (!d) { fprintf(stderr, "%s\n", wg_last_error()); ... }   (on every rank)
 *     wg_dist_broadcast(d);                         (rank 0's initial weights)
 *     wg_batcher_shard(&bt, wg_dist_rank(d), wg_dist_size(d));
 *     while (wg_batcher_next(&bt, &idx, &count)) {
 *         ... forward on this rank's `count` samples, loss = mean over them ...
 *         wg_optim_zero_grad(opt);
 *         wg_dist_begin(d, t, (double)count / (double)bt.global_count);
 *         wg_backward(t, loss);                     (reductions start in here)
 *         wg_dist_end(d);                           (waits; grads now global)
 *         wg_optim_step(opt);
 *     }
 *
 * or, without overlap, wg_backward then wg_dist_allreduce(d, weight).
 *
 * The reduction.  Each rank multiplies its gradient by its weight (its share
 * of the global batch, so that P processes on a global batch B follow one
 * process on B even when B/P is not whole) and the weighted gradients are
 * summed in rank order, ((w0 g0 + w1 g1) + w2 g2) + ..., always in that
 * association, in the parameter's dtype.  MPI_Allreduce does not promise an
 * order: the association depends on the algorithm Open MPI picks for the
 * message size and process count, and MPI_Iallreduce (libnbc) and
 * MPI_Allreduce (the tuned component) pick differently, so the overlapped and
 * the blocking path would not agree to the bit at 3 processes or more.  Here
 * MPI only moves data: a reduce-scatter as MPI_Ialltoallv (rank j receives
 * slice j of every rank's bucket), the sum of the slices in rank order on
 * rank j, and an MPI_Iallgatherv of the summed slices.  That sends the same
 * 2 (P-1)/P of a bucket per rank as a ring allreduce, and the bits depend on
 * the process count only: runs repeat bit for bit and the overlapped and the
 * blocking reductions give the same gradients.
 *
 * Buckets.  Parameters are packed into buckets of about `bucket_bytes` (one
 * dtype per bucket), from the last parameter to the first, as backward
 * finishes them.  wg_dist_begin puts a gradient hook on the tape
 * (wg_tape_set_grad_hook): when backward finishes every parameter of the
 * next bucket, the bucket is packed and its reduce-scatter started; later
 * reports test the started buckets and start their all-gather, so MPI
 * progresses while backward still computes.  Buckets start in a fixed order
 * on every rank (MPI matches collectives by order).  wg_dist_end starts what
 * is left and waits.
 *
 * Collective calls: every function taking a wg_dist_group except rank, size,
 * n_buckets and the stats is collective over the communicator: every rank must make the same
 * calls in the same order, also after an error (call wg_dist_end even when
 * backward failed, then wg_dist_agree on the outcome), or the others wait.
 *
 * Errors: -1 or NULL with the message in wg_last_error(); MPI's errors are
 * returned, not fatal, on the library's own communicators.  Nothing aborts.
 * wg_dist_new checks every rank's parameter list (count, dtypes, shapes)
 * against rank 0's and fails on every rank, with one message naming the
 * rank and the parameter, when one differs.
 */
#ifndef WG_DIST_H
#define WG_DIST_H

/* MPI's C API only: in C++ Open MPI's mpi.h would also pull its old C++
 * bindings (removed from MPI 3), which do not compile warning-free. */
#if defined(__cplusplus) && !defined(OMPI_SKIP_MPICXX)
#define OMPI_SKIP_MPICXX 1
#endif
#if defined(__cplusplus) && !defined(MPICH_SKIP_MPICXX)
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_dist_group wg_dist_group;

/* The default bucket size.  PyTorch's DDP uses 25 MiB; the MLPs of bench/
 * are 0.4 and 2.7 MB in all, so 1 MiB gives them 1 and 2 buckets. */
#define WG_DIST_BUCKET_BYTES ((size_t)1 << 20)

/* For programs of their own (demos, bench): MPI_Init_thread with
 * MPI_THREAD_FUNNELED unless MPI is initialised already; 0 or -1.  A
 * library never initialises MPI behind its caller's back: wg_dist_new wants
 * it initialised.  wg_dist_finalize calls MPI_Finalize if this did the init. */
int wg_dist_init(int *argc, char ***argv);
void wg_dist_finalize(void);
/* True when this process was started by mpirun/mpiexec (Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK of other launchers). */
bool wg_dist_launched(void);

/* Collective over comm (duplicated: the caller's communicator is not used
 * for the library's messages).  params: the model's parameter list, the same
 * layout on every rank, borrowed (they must outlive the wg_dist_group).
 * bucket_bytes 0 means WG_DIST_BUCKET_BYTES; a bucket closes once it holds
 * at least that many bytes, so 1 gives one bucket per parameter. */
wg_dist_group *wg_dist_new(MPI_Comm comm, size_t n, wg_param *const *params, size_t bucket_bytes);
/* Frees the group and its communicators (MPI_Comm_free, collective: every
 * rank frees its group).  NULL is a no-op.  Call it before MPI_Finalize. */
void wg_dist_free(wg_dist_group *d);

int wg_dist_rank(const wg_dist_group *d);
int wg_dist_size(const wg_dist_group *d);
int wg_dist_n_buckets(const wg_dist_group *d);

/* Every parameter's data from rank 0 to all ranks. */
int wg_dist_broadcast(wg_dist_group *d);

/* Blocking: after backward, every parameter's gradient becomes
 * sum over ranks r of weight_r * grad_r (in rank order).  weight: this
 * rank's share of the loss (its samples / the global batch's, or
 * 1.0 / size for a plain mean), finite and >= 0. */
int wg_dist_allreduce(wg_dist_group *d, double weight);

/* Overlapped: wg_dist_begin before wg_backward(t, ...) (before or after
 * the forward pass) puts the hook on t; wg_dist_end after backward finishes
 * the reductions and removes the hook.  Zero the gradients before
 * wg_backward; the result is bit for bit wg_dist_allreduce's.  At its first
 * report the hook counts each parameter's leaves on t (a walk over the
 * tape's nodes), so a parameter recorded twice is sent once, complete. */
int wg_dist_begin(wg_dist_group *d, wg_tape *t, double weight);
int wg_dist_end(wg_dist_group *d);

/* Collective: 0 when every rank passes rc == 0; else -1 on every rank, and
 * wg_last_error() is "rank R: msg" of the lowest failing rank R (msg may be
 * NULL).  For decisions all ranks must share: a checkpoint rank 0 wrote, a
 * file every rank loaded, a failed step. */
int wg_dist_agree(wg_dist_group *d, int rc, const char *msg);

/* Time and traffic since wg_dist_new (or the last reset).  wait_seconds:
 * blocked in wg_dist_end / wg_dist_allreduce (communication not hidden);
 * hook_seconds: spent in the backward hook (packing, starting and testing
 * the reductions, so this part runs inside backward); steps: reductions. */
typedef struct wg_dist_stats {
    int64_t steps;
    int64_t started_in_backward; /* buckets whose reduction the hook started */
    double wait_seconds, hook_seconds;
    size_t bytes; /* one step's gradient bytes (all buckets) */
} wg_dist_stats;
wg_dist_stats wg_dist_get_stats(const wg_dist_group *d);
void wg_dist_reset_stats(wg_dist_group *d);

#ifdef __cplusplus
}
#endif
#endif
