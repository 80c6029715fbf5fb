/* dist.c: data-parallel gradient reduction over MPI (wg_dist.h).
 *
 * A bucket's life in one step:
 *   idle --(all its parameters reported, and every earlier bucket started)-->
 *   packed (buf = weight * grad) and MPI_Ialltoallv posted on comm_a: rank j
 *   receives slice j of every rank's buf into recv, P slices in rank order
 *   --(that completes)--> slice j summed in rank order into buf, then
 *   MPI_Iallgatherv (in place) posted on comm_g --(completes)--> buf holds
 *   the global sum: copied into the gradients.
 * Buckets go through both collectives in index order on every rank, each
 * phase on its own communicator, so the calls match whatever the timing: a
 * rank may start gather k before scatter k+1 and another the other way.
 */
#include "wg_dist.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IDLE, SCATTER, GATHER, DONE };

typedef struct bucket {
    int dtype;
    size_t first, end; /* parameters [first, end) of the list */
    size_t n;          /* elements */
    void *buf;         /* n: this rank's weighted gradient, then the sum */
    void *recv;        /* size * slice of this rank: every rank's slice */
    int *cnt, *off;    /* per rank: slice length and offset in buf */
    int *rcnt, *roff;  /* per rank: this rank's slice length, and r times it (in recv) */
    int pending;       /* parameter reports still awaited this step */
    int state;
    MPI_Request req;
} bucket;

struct wg_dist_group {
    MPI_Comm comm, comm_a, comm_g; /* control, reduce-scatter, all-gather */
    int rank, size;
    size_t n;
    wg_param **params;
    size_t *bucket_of; /* parameter -> bucket */
    int *uses;         /* reports awaited per parameter this step */
    struct { void *grad; size_t i; } *by_grad; /* sorted: a gradient buffer -> its parameter */
    bucket *b;
    int nb;
    int next_start, next_sum; /* the next bucket to pack / to sum */
    double weight;
    wg_tape *tape;     /* between wg_dist_begin and wg_dist_end */
    bool counted;      /* uses and pending are counted for this step */
    int err; /* an MPI error inside the hook, reported by wg_dist_end */
    char errmsg[256];
    wg_dist_stats st;
};

static int we_initialised;

/* ---- errors -------------------------------------------------------------- */

static int mpi_fail(const char *fn, const char *call, int rc)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
    wg_set_last_error("%s: %s failed: %s", fn, call, s);
    return -1;
}
#define MPI_TRY(fn, call)                                 \
    do {                                                  \
        int rc_ = (call);                                 \
        if (rc_ != MPI_SUCCESS) return mpi_fail(fn, #call, rc_); \
    } while (0)

static MPI_Datatype mpi_type(int dt) { return dt == WG_F32 ? MPI_FLOAT : MPI_DOUBLE; }
static size_t esize(int dt) { return dt == WG_F32 ? sizeof(float) : sizeof(double); }

/* ---- MPI set-up helpers for programs of their own -------------------------- */

int wg_dist_init(int *argc, char ***argv)
{
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) return 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        wg_set_last_error("dist_init: MPI_Init_thread failed");
        return -1;
    }
    we_initialised = 1;
    return 0;
}

void wg_dist_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (we_initialised && !fin) MPI_Finalize();
    we_initialised = 0;
}

bool wg_dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

/* ---- agreement ---------------------------------------------------------- */

int wg_dist_agree(wg_dist_group *d, int rc, const char *msg)
{
    if (!d) {
        wg_set_last_error("dist_agree: the group is NULL");
        return -1;
    }
    int mine = rc == 0 ? d->size : d->rank, first = d->size;
    MPI_TRY("dist_agree", MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm));
    if (first == d->size) return 0;
    char buf[384] = {0};
    if (d->rank == first) snprintf(buf, sizeof buf, "rank %d: %s", first, msg ? msg : "failed");
    MPI_TRY("dist_agree", MPI_Bcast(buf, (int)sizeof buf, MPI_CHAR, first, d->comm));
    buf[sizeof buf - 1] = 0;
    wg_set_last_error("%s", buf);
    return -1;
}

/* ---- set-up ------------------------------------------------------------- */

static void fmt_layout(char *s, size_t len, const int64_t *e)
{
    int k = snprintf(s, len, "%s[", e[0] == WG_F32 ? "f32" : e[0] == WG_F64 ? "f64" : "dtype?");
    for (int i = 0; i < e[1] && i < WG_MAX_DIMS && k > 0 && (size_t)k < len; i++)
        k += snprintf(s + k, len - (size_t)k, i ? ",%lld" : "%lld", (long long)e[2 + i]);
    if (k > 0 && (size_t)k < len) snprintf(s + k, len - (size_t)k, "]");
}

enum { DESC = 2 + WG_MAX_DIMS }; /* dtype, ndim, shape */

static void describe(const wg_param *p, int64_t *e)
{
    e[0] = p->dtype;
    e[1] = p->ndim;
    for (int i = 0; i < WG_MAX_DIMS; i++) e[2 + i] = i < p->ndim ? p->shape[i] : 1;
}

/* Every rank's list against rank 0's: the same collectives on every rank
 * whatever it finds, then one agreement, so a mismatch cannot hang. */
static int check_layout(wg_dist_group *d)
{
    int64_t n0 = (int64_t)d->n;
    MPI_TRY("dist_new", MPI_Bcast(&n0, 1, MPI_INT64_T, 0, d->comm));
    if (n0 < 0 || (uint64_t)n0 > SIZE_MAX / (DESC * sizeof(int64_t))) n0 = 0;
    int64_t *ref = calloc((size_t)n0 * DESC + 1, sizeof *ref);
    char msg[400] = "";
    int bad = !ref;
    if (!ref) snprintf(msg, sizeof msg, "out of memory for %lld parameter descriptions", (long long)n0);
    if (ref && d->rank == 0)
        for (size_t i = 0; i < d->n; i++) describe(d->params[i], ref + i * DESC);
    /* With no memory here, still take part (into a one-element dummy). */
    int64_t dummy[DESC];
    int rc = MPI_Bcast(ref ? ref : dummy, ref ? (int)((size_t)n0 * DESC) : 0, MPI_INT64_T, 0, d->comm);
    if (rc != MPI_SUCCESS) {
        free(ref);
        return mpi_fail("dist_new", "MPI_Bcast", rc);
    }
    if (!bad && (int64_t)d->n != n0) {
        bad = 1;
        snprintf(msg, sizeof msg, "dist_new: the parameter list differs from rank 0's: %zu parameters here, %lld on rank 0",
                 d->n, (long long)n0);
    }
    for (size_t i = 0; !bad && i < d->n; i++) {
        int64_t e[DESC];
        describe(d->params[i], e);
        if (memcmp(e, ref + i * DESC, sizeof e) != 0) {
            char here[80], there[80];
            fmt_layout(here, sizeof here, e);
            fmt_layout(there, sizeof there, ref + i * DESC);
            bad = 1;
            snprintf(msg, sizeof msg,
                     "dist_new: the parameter list differs from rank 0's: parameter %zu ('%.48s') is %s here, %s on rank 0",
                     i, d->params[i]->name, here, there);
        }
    }
    free(ref);
    return wg_dist_agree(d, bad, msg);
}

static int cmp_grad(const void *a, const void *b)
{
    const char *x = *(void *const *)a, *y = *(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Parameters from the last to the first (the order backward finishes
 * them), a new bucket when the dtype changes or the bucket is full. */
static int make_buckets(wg_dist_group *d, size_t cap)
{
    d->b = calloc(d->n ? d->n : 1, sizeof *d->b);
    if (!d->b) return -1;
    size_t i = d->n;
    while (i > 0) {
        bucket *k = &d->b[d->nb++];
        k->dtype = d->params[i - 1]->dtype;
        k->end = i;
        size_t bytes = 0;
        while (i > 0 && (int)d->params[i - 1]->dtype == k->dtype && bytes < cap) {
            bytes += d->params[i - 1]->numel * esize(k->dtype);
            d->bucket_of[--i] = (size_t)(k - d->b);
        }
        k->first = i;
        k->n = bytes / esize(k->dtype);
        if (k->n > (size_t)INT_MAX) {
            wg_set_last_error("dist_new: a bucket of %zu elements is more than one MPI message holds (%d): parameter %zu",
                    k->n, INT_MAX, k->first);
            return -1;
        }
        size_t mine = k->n * (size_t)(d->rank + 1) / (size_t)d->size - k->n * (size_t)d->rank / (size_t)d->size;
        size_t es = esize(k->dtype);
        k->buf = malloc(k->n ? k->n * es : 1);
        k->recv = malloc(mine ? mine * es * (size_t)d->size : 1);
        k->cnt = malloc(sizeof(int) * (size_t)d->size);
        k->off = malloc(sizeof(int) * (size_t)d->size);
        k->rcnt = malloc(sizeof(int) * (size_t)d->size);
        k->roff = malloc(sizeof(int) * (size_t)d->size);
        if (!k->buf || !k->recv || !k->cnt || !k->off || !k->rcnt || !k->roff) return -1;
        for (int r = 0; r < d->size; r++) {
            size_t lo = k->n * (size_t)r / (size_t)d->size, hi = k->n * (size_t)(r + 1) / (size_t)d->size;
            k->off[r] = (int)lo;
            k->cnt[r] = (int)(hi - lo);
            k->rcnt[r] = (int)mine;
            k->roff[r] = r * (int)mine;
        }
        k->req = MPI_REQUEST_NULL;
    }
    return 0;
}

static void dist_release(wg_dist_group *d)
{
    if (!d) return;
    for (int k = 0; k < d->nb; k++) {
        if (d->b[k].req != MPI_REQUEST_NULL) MPI_Request_free(&d->b[k].req);
        free(d->b[k].buf);
        free(d->b[k].recv);
        free(d->b[k].cnt);
        free(d->b[k].off);
        free(d->b[k].rcnt);
        free(d->b[k].roff);
    }
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) {
        if (d->comm_g != MPI_COMM_NULL) MPI_Comm_free(&d->comm_g);
        if (d->comm_a != MPI_COMM_NULL) MPI_Comm_free(&d->comm_a);
        if (d->comm != MPI_COMM_NULL) MPI_Comm_free(&d->comm);
    }
    if (d->tape) wg_tape_set_grad_hook(d->tape, NULL, NULL);
    free(d->b);
    free(d->by_grad);
    free(d->uses);
    free(d->bucket_of);
    free(d->params);
    free(d);
}

void wg_dist_free(wg_dist_group *d) { dist_release(d); }

wg_dist_group *wg_dist_new(MPI_Comm comm, size_t n, wg_param *const *params, size_t bucket_bytes)
{
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (!inited || fin) {
        wg_set_last_error("dist_new: MPI is not initialised (call MPI_Init first; wengert does not)");
        return NULL;
    }
    if (comm == MPI_COMM_NULL || (n && !params)) {
        wg_set_last_error("dist_new: %s", comm == MPI_COMM_NULL ? "the communicator is MPI_COMM_NULL"
                                                                : "params is NULL");
        return NULL;
    }
    /* Local argument errors still go through the agreement below (after
     * the communicators exist), so every rank fails together. */
    char local[320] = "";
    for (size_t i = 0; i < n && !local[0]; i++) {
        const wg_param *p = params[i];
        if (!p || !p->data || !p->grad || (p->dtype != WG_F32 && p->dtype != WG_F64))
            snprintf(local, sizeof local, "dist_new: parameter %zu is %s", i,
                     !p ? "NULL" : "not a valid wg_param (dtype, data or grad)");
        for (size_t j = 0; j < i && !local[0]; j++)
            if (params[j] == p) snprintf(local, sizeof local, "dist_new: parameter %zu is also parameter %zu", i, j);
    }
    wg_dist_group *d = calloc(1, sizeof *d);
    if (!d) {
        wg_set_last_error("dist_new: out of memory");
        return NULL;
    }
    d->comm = d->comm_a = d->comm_g = MPI_COMM_NULL;
    if (MPI_Comm_dup(comm, &d->comm) != MPI_SUCCESS) {
        free(d);
        wg_set_last_error("dist_new: MPI_Comm_dup failed");
        return NULL;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    if (MPI_Comm_dup(d->comm, &d->comm_a) != MPI_SUCCESS || MPI_Comm_dup(d->comm, &d->comm_g) != MPI_SUCCESS) {
        wg_set_last_error("dist_new: MPI_Comm_dup failed");
        dist_release(d);
        return NULL;
    }
    MPI_Comm_set_errhandler(d->comm_a, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(d->comm_g, MPI_ERRORS_RETURN);
    d->n = n;
    d->params = malloc(sizeof *d->params * (n ? n : 1));
    d->bucket_of = malloc(sizeof *d->bucket_of * (n ? n : 1));
    d->uses = calloc(n ? n : 1, sizeof *d->uses);
    d->by_grad = malloc(sizeof *d->by_grad * (n ? n : 1));
    int oom = !d->params || !d->bucket_of || !d->uses || !d->by_grad;
    if (oom && !local[0]) snprintf(local, sizeof local, "dist_new: out of memory for %zu parameters", n);
    if (!oom) {
        memcpy(d->params, params, sizeof *d->params * n);
        if (local[0]) d->n = 0; /* describe nothing invalid */
    }
    if (wg_dist_agree(d, local[0] != 0, local) != 0) {
        dist_release(d);
        return NULL;
    }
    if (check_layout(d) != 0) {
        dist_release(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        d->by_grad[i].grad = params[i]->grad;
        d->by_grad[i].i = i;
    }
    qsort(d->by_grad, n, sizeof *d->by_grad, cmp_grad);
    char m[256] = "";
    int mb = make_buckets(d, bucket_bytes ? bucket_bytes : WG_DIST_BUCKET_BYTES);
    if (mb != 0)
        snprintf(m, sizeof m, "%s", wg_last_error() ? wg_last_error() : "dist_new: out of memory for the buckets");
    if (wg_dist_agree(d, mb, m) != 0) {
        dist_release(d);
        return NULL;
    }
    for (int k = 0; k < d->nb; k++) d->st.bytes += d->b[k].n * esize(d->b[k].dtype);
    return d;
}

int wg_dist_rank(const wg_dist_group *d) { return d ? d->rank : 0; }
int wg_dist_size(const wg_dist_group *d) { return d ? d->size : 1; }
int wg_dist_n_buckets(const wg_dist_group *d) { return d ? d->nb : 0; }
wg_dist_stats wg_dist_get_stats(const wg_dist_group *d) { return d ? d->st : (wg_dist_stats){0}; }
void wg_dist_reset_stats(wg_dist_group *d)
{
    if (!d) return;
    size_t bytes = d->st.bytes;
    d->st = (wg_dist_stats){.bytes = bytes};
}

int wg_dist_broadcast(wg_dist_group *d)
{
    if (!d) {
        wg_set_last_error("dist_broadcast: the group is NULL");
        return -1;
    }
    for (size_t i = 0; i < d->n; i++) {
        wg_param *p = d->params[i];
        /* In pieces of at most INT_MAX elements (MPI's count is an int). */
        for (size_t at = 0; at < p->numel;) {
            size_t c = p->numel - at < (size_t)INT_MAX ? p->numel - at : (size_t)INT_MAX;
            MPI_TRY("dist_broadcast",
                    MPI_Bcast((char *)p->data + at * esize(p->dtype), (int)c, mpi_type(p->dtype), 0, d->comm));
            at += c;
        }
    }
    return 0;
}

/* ---- the reduction, one bucket at a time --------------------------------- */

static int valid_weight(double w) { return isfinite(w) && w >= 0; }

/* buf = weight * grad over the bucket's parameters. */
static void pack(wg_dist_group *d, bucket *k)
{
    size_t at = 0;
    const double w = d->weight;
    for (size_t i = k->first; i < k->end; i++) {
        const wg_param *p = d->params[i];
        if (k->dtype == WG_F32) {
            float *o = (float *)k->buf + at;
            const float *g = p->grad;
            for (size_t j = 0; j < p->numel; j++) o[j] = (float)(w * (double)g[j]);
        } else {
            double *o = (double *)k->buf + at;
            const double *g = p->grad;
            for (size_t j = 0; j < p->numel; j++) o[j] = w * g[j];
        }
        at += p->numel;
    }
}

/* This rank's slice of the sum: every rank's part in rank order, into buf. */
static void sum_slice(const wg_dist_group *d, bucket *k)
{
    const size_t m = (size_t)k->cnt[d->rank], P = (size_t)d->size;
#define SUM_SLICE(T)                                                    \
    do {                                                                \
        const T *r = k->recv;                                           \
        T *o = (T *)k->buf + k->off[d->rank];                           \
        for (size_t j = 0; j < m; j++) {                                \
            T s = r[j];                                                 \
            for (size_t q = 1; q < P; q++) s += r[q * m + j];           \
            o[j] = s;                                                   \
        }                                                               \
    } while (0)
    if (k->dtype == WG_F32)
        SUM_SLICE(float);
    else
        SUM_SLICE(double);
#undef SUM_SLICE
}

static void unpack(wg_dist_group *d, const bucket *k)
{
    size_t at = 0, es = esize(k->dtype);
    for (size_t i = k->first; i < k->end; i++) {
        wg_param *p = d->params[i];
        memcpy(p->grad, (const char *)k->buf + at * es, p->numel * es);
        at += p->numel;
    }
}

/* One process: the weighted gradient is the sum (w g, as pack computes). */
static void scale_alone(wg_dist_group *d, bucket *k)
{
    if (d->weight == 1.0) return;
    pack(d, k);
    unpack(d, k);
}

/* Nonblocking collectives read the count arrays until they complete: they
 * live in the bucket. */
static int start_scatter(wg_dist_group *d, bucket *k, int blocking)
{
    pack(d, k);
    MPI_Datatype ty = mpi_type(k->dtype);
    int e = blocking ? MPI_Alltoallv(k->buf, k->cnt, k->off, ty, k->recv, k->rcnt, k->roff, ty, d->comm_a)
                     : MPI_Ialltoallv(k->buf, k->cnt, k->off, ty, k->recv, k->rcnt, k->roff, ty, d->comm_a, &k->req);
    if (e != MPI_SUCCESS) return mpi_fail("dist", blocking ? "MPI_Alltoallv" : "MPI_Ialltoallv", e);
    k->state = SCATTER;
    return 0;
}

static int start_gather(wg_dist_group *d, bucket *k, int blocking)
{
    sum_slice(d, k);
    MPI_Datatype ty = mpi_type(k->dtype);
    int e = blocking ? MPI_Allgatherv(MPI_IN_PLACE, 0, ty, k->buf, k->cnt, k->off, ty, d->comm_g)
                     : MPI_Iallgatherv(MPI_IN_PLACE, 0, ty, k->buf, k->cnt, k->off, ty, d->comm_g, &k->req);
    if (e != MPI_SUCCESS) return mpi_fail("dist", blocking ? "MPI_Allgatherv" : "MPI_Iallgatherv", e);
    k->state = GATHER;
    return 0;
}

int wg_dist_allreduce(wg_dist_group *d, double weight)
{
    if (!d || !valid_weight(weight)) {
        wg_set_last_error(d ? "dist_allreduce: the weight must be finite and >= 0, got %g"
                            : "dist_allreduce: the group is NULL", weight);
        return -1;
    }
    double t0 = MPI_Wtime();
    d->weight = weight;
    for (int i = 0; i < d->nb; i++) {
        bucket *k = &d->b[i];
        if (d->size == 1) {
            scale_alone(d, k);
            continue;
        }
        if (start_scatter(d, k, 1) != 0 || start_gather(d, k, 1) != 0) return -1;
        unpack(d, k);
        k->state = IDLE;
    }
    d->st.steps++;
    d->st.wait_seconds += MPI_Wtime() - t0;
    return 0;
}

/* ---- overlapped ----------------------------------------------------------- */

/* Start every bucket that is complete, in order; move the started ones on
 * as far as their collectives allow without waiting. */
static int advance(wg_dist_group *d)
{
    while (d->next_start < d->nb && d->b[d->next_start].pending == 0) {
        bucket *k = &d->b[d->next_start++];
        if (d->size == 1) {
            scale_alone(d, k);
            k->state = DONE;
        } else if (start_scatter(d, k, 0) != 0) {
            return -1;
        }
        if (d->tape) d->st.started_in_backward++;
    }
    while (d->next_sum < d->next_start) {
        bucket *k = &d->b[d->next_sum];
        if (k->state == SCATTER) {
            int done = 0;
            MPI_TRY("dist", MPI_Test(&k->req, &done, MPI_STATUS_IGNORE));
            if (!done) break;
            if (start_gather(d, k, 0) != 0) return -1;
        }
        d->next_sum++;
    }
    return 0;
}

static ptrdiff_t param_index(const wg_dist_group *d, const void *grad)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *g = d->by_grad[mid].grad;
        if (g == (const char *)grad) return (ptrdiff_t)d->by_grad[mid].i;
        if (g < (const char *)grad) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* How many leaves of each parameter the tape holds: a gradient is final at
 * the last report of its parameter (wg_tape_set_grad_hook).  Counted at the
 * first report, when the tape is complete. */
static void count_uses(wg_dist_group *d)
{
    memset(d->uses, 0, sizeof *d->uses * (d->n ? d->n : 1));
    for (wg_tensor *x = wg_tape_last(d->tape); x; x = wg_prev(x)) {
        if (!wg_is_leaf(x) || !wg_requires_grad(x)) continue;
        ptrdiff_t i = param_index(d, wg_grad(x));
        if (i >= 0 && d->uses[i]++ == 0) d->b[d->bucket_of[i]].pending++;
    }
    d->counted = true;
}

static void hook(wg_param *p, void *ctx)
{
    wg_dist_group *d = ctx;
    double t0 = MPI_Wtime();
    if (!d->counted) count_uses(d);
    ptrdiff_t i = param_index(d, p->grad);
    if (i < 0 || d->uses[i] <= 0) return; /* not in the list, or a report past the count */
    if (--d->uses[i] == 0) d->b[d->bucket_of[i]].pending--;
    if (!d->err && advance(d) != 0) {
        d->err = 1;
        snprintf(d->errmsg, sizeof d->errmsg, "%s", wg_last_error() ? wg_last_error() : "dist: MPI failed");
    }
    d->st.hook_seconds += MPI_Wtime() - t0;
}

int wg_dist_begin(wg_dist_group *d, wg_tape *t, double weight)
{
    if (!d || !t || !valid_weight(weight)) {
        wg_set_last_error(!d ? "dist_begin: the group is NULL"
                          : !t ? "dist_begin: the tape is NULL"
                               : "dist_begin: the weight must be finite and >= 0, got %g", weight);
        return -1;
    }
    if (d->tape) {
        wg_set_last_error("dist_begin: called twice without wg_dist_end");
        return -1;
    }
    d->weight = weight;
    d->err = 0;
    d->counted = false;
    d->next_start = d->next_sum = 0;
    for (int k = 0; k < d->nb; k++) d->b[k].pending = 0, d->b[k].state = IDLE;
    d->tape = t;
    wg_tape_set_grad_hook(t, hook, d);
    return 0;
}

int wg_dist_end(wg_dist_group *d)
{
    if (!d || !d->tape) {
        wg_set_last_error(d ? "dist_end: no wg_dist_begin before it" : "dist_end: the group is NULL");
        return -1;
    }
    double t0 = MPI_Wtime();
    wg_tape_set_grad_hook(d->tape, NULL, NULL);
    d->tape = NULL;
    int rc = d->err ? -1 : 0;
    /* Backward is over: every gradient is final.  Start the rest in order. */
    for (int k = 0; k < d->nb; k++) d->b[k].pending = 0;
    if (!rc && advance(d) != 0) rc = -1;
    for (int i = 0; i < d->nb && !rc; i++) {
        bucket *k = &d->b[i];
        if (k->state == SCATTER) {
            int e = MPI_Wait(&k->req, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS) rc = mpi_fail("dist_end", "MPI_Wait", e);
            else if (start_gather(d, k, 0) != 0) rc = -1;
        }
    }
    for (int i = 0; i < d->nb && !rc; i++) {
        bucket *k = &d->b[i];
        if (k->state == GATHER) {
            int e = MPI_Wait(&k->req, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS) rc = mpi_fail("dist_end", "MPI_Wait", e);
            else unpack(d, k);
        }
        k->state = IDLE;
    }
    if (d->err) wg_set_last_error("%s", d->errmsg);
    d->st.steps++;
    d->st.wait_seconds += MPI_Wtime() - t0;
    return rc;
}
