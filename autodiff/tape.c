/* tape.c: the arena, the Wengert list, errors and backward.
 *
 * Memory: a tape owns a chain of blocks.  Allocation bumps a pointer in the
 * current block and moves to the next block (or adds one) when it is full.
 * wg_tape_reset rewinds to the first block and keeps the chain, so a loop
 * that records the same graph every step does no malloc after its first step.
 *
 * Order: every node has a slot, by id, in the tape's chunks (the compact
 * scalar tape, wg_internal.h): a full node's slot points at it, a scalar
 * record is its slot.  A node can only use nodes recorded before it, so the
 * slots from the newest down are a reverse topological order and backward
 * is a plain loop: no graph search, no recursion.
 */
#include <math.h>
#include <stdatomic.h>

#include "wg_clones.h"
#include "wg_internal.h"

enum { WG_FIRST_BLOCK = 1 << 16 };

static _Thread_local char last_error[384];

void wg_set_last_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

const char *wg_last_error(void) { return last_error[0] ? last_error : NULL; }

/* ---- tape lifecycle ----------------------------------------------------- */

wg_tape *wg_tape_new_limited(size_t max_bytes)
{
    wg_tape *t = calloc(1, sizeof *t);
    if (!t) {
        wg_set_last_error("wg_tape_new: out of memory");
        return NULL;
    }
    t->limit = max_bytes;
    t->max_slots = max_bytes ? max_bytes / sizeof(wg_rec) : 0;
    t->gen = 1;
    const char *env = getenv("WG_ANOMALY");
    t->anomaly = env && env[0] && strcmp(env, "0") != 0;
    env = getenv("WG_CHECK_HANDLES");
    t->check_handles = env && env[0] && strcmp(env, "0") != 0;
    wg_tape_update_fast(t);
    return t;
}

wg_tape *wg_tape_new(void) { return wg_tape_new_limited(0); }

/* Tangents and recorded leaf gradients point into the rewound arena.  Out
 * of line: a first-order loop resets once a step and never comes here. */
static __attribute__((noinline, cold)) void forget_higher(wg_tape *t)
{
    for (int l = 0; l < WG_TANGENT_LEVELS; l++) {
        struct wg_tan_level *L = &t->lvl[l];
        if (L->hi) memset(L->tan, 0, L->hi * sizeof *L->tan);
        L->hi = 0;
    }
    if (t->lgrad_hi) memset(t->lgrad, 0, t->lgrad_hi * sizeof *t->lgrad);
    t->lgrad_hi = 0;
    t->fwd_active = false;
}

/* The blocks from b on, freed. */
static void free_blocks(struct wg_block *b)
{
    while (b) {
        struct wg_block *next = b->next;
        free(b);
        b = next;
    }
}

void wg_tape_reset(wg_tape *t)
{
    if (!t || !wg_not_in_backward(t, "tape_reset")) return; /* the pass walks these nodes */
    if (t->check_handles && t->first) {
        /* Retire this pass's blocks whole: no later node is ever put where
         * one of its nodes was, so every handle from it stays readable and
         * stale (its gen is old) until the tape is freed. */
        struct wg_block *last = t->first;
        while (last->next) last = last->next;
        last->next = t->retired;
        t->retired = t->first;
        t->retired_cap = t->capacity;
        t->first = NULL;
        t->capacity = 0;
    }
    for (struct wg_block *b = t->first; b; b = b->next) b->used = 0;
    t->cur = t->first;
    t->n_nodes = 0;
    t->n_recs = 0;
    t->adj_n = 0;
    t->slot = t->slot_end = NULL; /* wg_slot_more goes back to the first chunk */
    if (++t->gen == 0) t->gen = 1;
    t->status = WG_OK;
    t->err[0] = 0;
    if (t->lgrad_hi | t->fwd_active) forget_higher(t); /* fwd_active: tangents were set */
    wg_tape_update_fast(t);
}

void wg_tape_free(wg_tape *t)
{
    if (!t) return;
    free_blocks(t->first);
    free_blocks(t->retired);
    for (int l = 0; l < WG_TANGENT_LEVELS; l++) free(t->lvl[l].tan);
    free(t->gmap);
    free(t->lgrad);
    free(t->scratch);
    for (size_t i = t->n_chunk; i-- > 0;) { /* the last first: a run is freed with its first chunk */
        wg_chunk_hdr *h = (wg_chunk_hdr *)((char *)t->chunk[i] - WG_CHUNK_HDR);
        if (h->first) free(h);
    }
    free(t->chunk);
    free(t->adj);
    free(t->mirror);
    free(t);
}

const char *wg_tape_error(const wg_tape *t)
{
    if (!t) return "invalid handle: the tape is NULL";
    return t->status == WG_OK ? NULL : t->err;
}

wg_status wg_tape_status(const wg_tape *t) { return t ? t->status : WG_ERR_HANDLE; }
size_t wg_tape_nodes(const wg_tape *t) { return t ? t->n_nodes : 0; }
/* The bytes handed out since the reset: the sum of the blocks' `used` (each
 * allocation adds its padding and size to one block), counted here rather
 * than on every allocation. */
static size_t bytes_used(const wg_tape *t)
{
    size_t n = t->n_nodes * sizeof(wg_rec) + t->adj_n * sizeof(wg_adj); /* slots, this pass's adjoints */
    for (const struct wg_block *b = t->first; b; b = b->next) n += b->used;
    return n;
}

size_t wg_tape_bytes_used(const wg_tape *t) { return t ? bytes_used(t) : 0; }
size_t wg_tape_capacity(const wg_tape *t) { return t ? t->capacity : 0; }
void wg_tape_set_anomaly(wg_tape *t, bool on)
{
    if (!t) return;
    t->anomaly = on;
    wg_tape_update_fast(t);
}

void wg_tape_set_check_handles(wg_tape *t, bool on)
{
    if (!t) return;
    t->check_handles = on;
    wg_tape_update_fast(t);
}

/* The first error is the one that matters: later ones are dropped. */
void wg_tape_fail(wg_tape *t, wg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!t)
        vsnprintf(last_error, sizeof last_error, fmt, ap);
    else if (t->status == WG_OK) {
        vsnprintf(t->err, sizeof t->err, fmt, ap);
        t->status = st == WG_OK ? WG_ERR_ARG : st;
        t->fast_gen = 0;
    }
    va_end(ap);
}

/* ---- arena -------------------------------------------------------------- */

static struct wg_block *block_new(wg_tape *t, size_t need)
{
    /* double the total; the first block of a pass after a retired one is as large as it was */
    size_t cap = t->capacity ? t->capacity : t->retired_cap ? t->retired_cap : WG_FIRST_BLOCK;
    if (cap < need) cap = need;
    if (t->limit) {
        if (t->capacity >= t->limit || need > t->limit - t->capacity) return NULL;
        if (cap > t->limit - t->capacity) cap = t->limit - t->capacity;
    }
    /* The header sits in the block's first aligned slot. */
    size_t hdr = (sizeof(struct wg_block) + WG_ALIGN - 1) & ~(size_t)(WG_ALIGN - 1);
    if (need > SIZE_MAX - hdr - WG_ALIGN) return NULL;
    if (cap > SIZE_MAX - hdr - WG_ALIGN) cap = need;
    struct wg_block *b = aligned_alloc(WG_ALIGN, (hdr + cap + WG_ALIGN - 1) & ~(size_t)(WG_ALIGN - 1));
    if (!b && cap > need) { /* doubling is a heuristic: settle for what is needed */
        cap = need;
        b = aligned_alloc(WG_ALIGN, (hdr + cap + WG_ALIGN - 1) & ~(size_t)(WG_ALIGN - 1));
    }
    if (!b) return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    b->mem = (unsigned char *)b + hdr;
    t->capacity += cap;
    return b;
}

/* Out-of-memory messages name the op being recorded or differentiated. */
static void arena_fail(wg_tape *t, size_t bytes)
{
    const char *op = t->in_backward && t->bw_node ? t->bw_node->op->name : t->op_name ? t->op_name : "tape";
    const char *when = t->in_backward ? " in backward" : "";
    if (t->limit)
        wg_tape_fail(t, WG_ERR_NOMEM, "%s: arena: out of memory%s: %zu bytes requested, %zu of the %zu-byte limit in use",
                op, when, bytes, bytes_used(t), t->limit);
    else
        wg_tape_fail(t, WG_ERR_NOMEM, "%s: arena: out of memory%s: %zu bytes requested", op, when, bytes);
}

/* `bytes` rounded up to a multiple of `align` (a power of two <= WG_ALIGN) at
 * an address aligned to it.  Values and gradients take WG_ALIGN; nodes take
 * WG_NODE_ALIGN (8), so a node costs its size and no padding. */
static void *arena_alloc(wg_tape *t, size_t bytes, size_t align)
{
    if (bytes > SIZE_MAX - WG_ALIGN) {
        arena_fail(t, bytes);
        return NULL;
    }
    size_t n = (bytes + align - 1) & ~(align - 1);
    struct wg_block *b = t->cur;
    if (b) {
        size_t pad = ((b->used + align - 1) & ~(align - 1)) - b->used;
        if (b->cap - b->used >= n + pad) {
            b->used += pad;
            goto bump;
        }
    }
    /* Move on to the next kept block that can hold it (a block starts
     * WG_ALIGN-aligned); the ones skipped stay unused for this pass. */
    while (b && b->next) {
        b = b->next;
        if (b->cap - b->used >= n) {
            t->cur = b;
            goto bump;
        }
    }
    {
        struct wg_block *nb = block_new(t, n);
        if (!nb) {
            arena_fail(t, bytes);
            return NULL;
        }
        if (!t->first)
            t->first = nb;
        else if (b)
            b->next = nb;
        b = t->cur = nb;
    }
bump:;
    void *p = b->mem + b->used;
    b->used += n;
    return p;
}

void *wg_arena_alloc(wg_tape *t, size_t bytes) { return arena_alloc(t, bytes, WG_ALIGN); }

/* ---- slots -------------------------------------------------------------- */

/* The slots of ids from n_nodes on: the chunk that holds n_nodes (a new one
 * at a chunk boundary, or the kept one after a reset), up to its end or the
 * limit's count of slots. */
wg_rec *wg_slot_more(wg_tape *t)
{
    const size_t id = t->n_nodes, k = id >> WG_CHUNK_SHIFT;
    if ((t->max_slots && id >= t->max_slots) || id >= UINT32_MAX) {
        arena_fail(t, sizeof(wg_rec));
        return NULL;
    }
    if (k >= t->n_chunk) {
        /* as many chunks again as the tape has, 1 to 64, and no more than the limit allows */
        size_t m = t->n_chunk < 1 ? 1 : t->n_chunk < 64 ? t->n_chunk : 64;
        if (t->max_slots) {
            size_t want = (t->max_slots + WG_CHUNK_SLOTS - 1) / WG_CHUNK_SLOTS - t->n_chunk;
            if (m > want) m = want;
        }
        if (t->n_chunk + m > t->chunk_cap) {
            size_t nc = t->chunk_cap ? 2 * t->chunk_cap : 8;
            while (nc < t->n_chunk + m) nc *= 2;
            wg_rec **p = realloc(t->chunk, nc * sizeof *p);
            if (!p) {
                arena_fail(t, nc * sizeof *p);
                return NULL;
            }
            t->chunk = p;
            t->chunk_cap = nc;
        }
        /* Each block aligned to its size, so a record's address leads to
         * its header and tape. */
        unsigned char *mem = aligned_alloc(WG_CHUNK_BYTES, m * WG_CHUNK_BYTES);
        if (!mem) {
            arena_fail(t, m * WG_CHUNK_BYTES);
            return NULL;
        }
        for (size_t j = 0; j < m; j++) {
            wg_chunk_hdr *h = (wg_chunk_hdr *)(mem + j * WG_CHUNK_BYTES);
            h->tape = t;
            h->first = j == 0;
            t->chunk[t->n_chunk++] = (wg_rec *)((unsigned char *)h + WG_CHUNK_HDR);
        }
    }
    size_t end = (k + 1) << WG_CHUNK_SHIFT;
    if (t->max_slots && end > t->max_slots) end = t->max_slots;
    t->slot = t->chunk[k] + (id & (WG_CHUNK_SLOTS - 1));
    t->slot_end = t->chunk[k] + (end - (k << WG_CHUNK_SHIFT));
    return t->slot;
}

/* ---- nodes -------------------------------------------------------------- */

/* A node of op, the tape's newest; its value's storage is the caller's
 * (inline for one element). */
static wg_tensor *node_alloc(wg_tape *t, const wg_op *op, wg_dtype dt, int ndim, const int64_t *shape)
{
    t->op_name = op->name;
    wg_tensor *n = arena_alloc(t, sizeof *n, WG_NODE_ALIGN);
    if (!n) return NULL;
    wg_rec *s = wg_slot_take(t);
    if (!s) return NULL;
    wg_node_init(t, s, n, op, dt, ndim, shape);
    wg_node_set_inputs(n, NULL, NULL);
    n->val.d = 0;
    n->attr.i[0] = n->attr.i[1] = n->attr.i[2] = 0;
    return n;
}

/* 1 if every dimension is valid and the element count fits; else the error,
 * named `name`, is recorded. */
static int valid_shape(wg_tape *t, const char *name, int ndim, const int64_t *shape)
{
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && (uint64_t)shape[i] > (SIZE_MAX >> 4))) {
            wg_tape_fail(t, WG_ERR_SHAPE, "%s: invalid dimension %lld at axis %d", name, (long long)shape[i], i);
            return 0;
        }
    }
    if (wg_checked_numel(ndim, shape) == SIZE_MAX) {
        wg_tape_fail(t, WG_ERR_NOMEM, "%s: out of memory: tensor too large", name);
        return 0;
    }
    return 1;
}

/* n's value is `data`, not a copy, when it has more than one element; one
 * element is copied, as every 1-element node keeps its value inline (the
 * scalar paths read val, not through data). */
static void node_borrow(wg_tensor *n, const void *data)
{
    if (n->size > 1) {
        n->data = (void *)data;
    } else if (n->size == 1) {
        memcpy(&n->val, data, wg_dtype_size(n->dtype));
    }
}

wg_tensor *wg_node_new(wg_tape *t, const wg_op *op, wg_dtype dt, int ndim, const int64_t *shape)
{
    if (!valid_shape(t, op->name, ndim, shape)) return NULL;
    wg_tensor *n = node_alloc(t, op, dt, ndim, shape);
    if (!n) return NULL;
    if (n->size > 1 && !(n->data = wg_arena_alloc(t, n->size * wg_dtype_size(dt)))) {
        t->n_nodes--; /* give the slot back: the tape holds no node without storage */
        t->slot--;
        return NULL;
    }
    return n;
}

wg_tensor *wg_node_of(wg_tape *t, const wg_op *op, wg_args *a)
{
    if (!op->shape(t, op, a)) return NULL;
    wg_tensor *n = wg_node_new(t, op, (wg_dtype)a->x[0]->dtype, a->out_ndim, a->out);
    if (!n) return NULL;
    wg_node_set_inputs(n, a->x[0], a->n > 1 ? a->x[1] : NULL);
    for (int i = 2; i < a->n; i++) n->flags |= a->x[i]->flags & WG_F_REQ;
    memcpy(n->attr.i, a->attr, sizeof a->attr);
    return n;
}

wg_tensor *wg_node_alias(wg_tape *t, const wg_op *op, wg_tensor *src, int ndim, const int64_t *shape)
{
    wg_tensor *n = node_alloc(t, op, src->dtype, ndim, shape);
    if (n) node_borrow(n, src->data);
    return n;
}

static int has_nonfinite(const wg_tensor *n, const void *buf)
{
    WG_TYPED(n->dtype, {
        const T *p = buf;
        for (size_t i = 0; i < n->size; i++)
            if (!isfinite(p[i])) return 1;
    });
    return 0;
}

static void anomaly_report(wg_tensor *n, const char *pass)
{
    char s0[64] = "", s1[64] = "", out[64];
    if (n->in[0]) wg_fmt_shape(n->in[0], s0, sizeof s0);
    if (n->in[1]) wg_fmt_shape(n->in[1], s1, sizeof s1);
    wg_fmt_shape(n, out, sizeof out);
    wg_tape_fail(n->tape, WG_ERR_NAN, "%s: non-finite value in the %s pass at node %u: inputs %s%s%s, output %s",
            n->op->name, pass, n->id, s0[0] ? s0 : "none", s1[0] ? ", " : "", s1, out);
}

/* Grow a by-id array of node pointers to hold index `need`, zero-filled;
 * 0 and the error on the tape if there is no memory. */
int wg_idmap_reserve(wg_tape *t, wg_tensor ***a, size_t *cap, size_t need)
{
    if (need < *cap) return 1;
    size_t nc = *cap ? *cap : 1024;
    while (nc <= need) nc *= 2;
    wg_tensor **p = realloc(*a, nc * sizeof *p);
    if (!p) {
        wg_tape_fail(t, WG_ERR_NOMEM, "%s: out of memory for %zu node slots", t->op_name ? t->op_name : "tape", nc);
        return 0;
    }
    memset(p + *cap, 0, (nc - *cap) * sizeof *p);
    *a = p;
    *cap = nc;
    return 1;
}

/* Forward mode: n's tangents from its inputs' (the op's JVP rule), recorded
 * like any op, at every tangent level, outermost (0) first.  A rule's own
 * nodes get tangents only at the levels outside its own (t->jvp_at): the
 * nodes computing a level-1 tangent carry level-0 tangents, which is
 * forward-over-forward; level 0's rule nodes get none, so this ends.  Level
 * 0 goes first because an inner rule may use n itself (exp's tangent is
 * tx * n), whose outer tangent must then exist.  Out of line, so that
 * wg_node_done stays a few instructions for every other op. */
static __attribute__((noinline)) int propagate_tangent(wg_tape *t, wg_tensor *n)
{
    const int outer = t->jvp_at, levels = outer ? outer - 1 : WG_TANGENT_LEVELS;
    int k = wg_node_n_in(n);
    wg_tensor *small[8], **tx = small;
    for (int l = 0; l < levels; l++) {
        struct wg_tan_level *L = &t->lvl[l];
        if (!L->hi) continue;
        if (k > 8 && tx == small && !(tx = wg_arena_alloc(t, (size_t)k * sizeof *tx))) return 0;
        bool any = false;
        for (int i = 0; i < k; i++) {
            wg_tensor *x = wg_node_in(n, i);
            tx[i] = x && x->id < L->hi ? L->tan[x->id] : NULL;
            any |= tx[i] != NULL;
        }
        if (!any) continue;
        if (!n->op->jvp) {
            wg_tape_fail(t, WG_ERR_ARG, "%s: no JVP rule: forward mode cannot pass through this op", n->op->name);
            return 0;
        }
        t->jvp_at = (uint8_t)(l + 1);
        wg_tensor *tn = n->op->jvp(t, n, tx);
        t->jvp_at = (uint8_t)outer;
        if (t->status != WG_OK) return 0;
        if (!tn) continue; /* a zero tangent */
        if (!wg_idmap_reserve(t, &L->tan, &L->cap, n->id)) return 0;
        L->tan[n->id] = tn;
        if (n->id >= L->hi) L->hi = n->id + 1;
    }
    return 1;
}

wg_tensor *wg_node_done(wg_tape *t, wg_tensor *n)
{
    if (t->anomaly && n->op != &wg_op_leaf && has_nonfinite(n, n->data)) {
        anomaly_report(n, "forward");
        return NULL;
    }
    if (t->fwd_active && t->jvp_at != 1 && !propagate_tangent(t, n)) return NULL;
    return n;
}

/* A scalar's gradient is zeroed by a store, not a call to memset: a scalar
 * chain zeroes one per node in backward. */
static void zero_bytes(void *p, size_t bytes)
{
    if (bytes == sizeof(double))
        *(double *)p = 0;
    else if (bytes == sizeof(float))
        *(float *)p = 0;
    else
        memset(p, 0, bytes);
}

void *wg_grad_buf(wg_tensor *x)
{
    wg_tape *t = x->tape;
    size_t bytes = x->size * wg_dtype_size(x->dtype);
    if (!x->grad) {
        if (x->size <= 1) {
            x->grad = &x->gval;
        } else {
            x->grad = wg_arena_alloc(t, bytes);
            if (!x->grad) return NULL;
        }
        zero_bytes(x->grad, bytes);
    } else if (x->grad_epoch != t->epoch && !(x->flags & WG_F_LEAF)) {
        zero_bytes(x->grad, bytes);
    }
    x->grad_epoch = t->epoch;
    return x->grad;
}

void *wg_grad_first(wg_tensor *x, bool *first)
{
    wg_tape *t = x->tape;
    *first = false;
    if (x->grad_epoch == t->epoch && x->grad) return x->grad;
    if (!x->grad) {
        if (x->size <= 1) {
            x->grad = &x->gval;
        } else {
            x->grad = wg_arena_alloc(t, x->size * wg_dtype_size(x->dtype));
            if (!x->grad) return NULL;
        }
        *first = true;
    } else if (!(x->flags & WG_F_LEAF)) {
        *first = true; /* an earlier pass's buffer: its old values are overwritten */
    }
    x->grad_epoch = t->epoch;
    return x->grad;
}

/* ---- validation helpers ------------------------------------------------- */

char *wg_fmt_shape(const wg_tensor *x, char *buf, size_t len)
{
    if (wg_is_rec(x)) {
        snprintf(buf, len, "%s[]", wg_h_dtype(x) == WG_F32 ? "f32" : "f64");
        return buf;
    }
    int k = snprintf(buf, len, "%s[", x->dtype == WG_F32 ? "f32" : "f64");
    for (int i = 0; i < x->ndim && k > 0 && (size_t)k < len; i++)
        k += snprintf(buf + k, len - (size_t)k, i ? ",%lld" : "%lld", (long long)x->shape[i]);
    if (k > 0 && (size_t)k < len) snprintf(buf + k, len - (size_t)k, "]");
    return buf;
}

int wg_norm_axis(int axis, int ndim)
{
    int a = axis < 0 ? axis + ndim : axis;
    return (a < 0 || a >= ndim) ? -1 : a;
}

/* 1 if p lies in one of the blocks from b on. */
static bool in_blocks(const struct wg_block *b, const void *p)
{
    for (; b; b = b->next)
        if ((const unsigned char *)p >= b->mem && (const unsigned char *)p < b->mem + b->cap) return true;
    return false;
}

/* NULL if x is a live handle of t, else what is wrong with it.  In
 * check-handles mode nothing is read through x unless it lies in memory of
 * this tape, which is never reused: so every handle of an earlier pass is
 * caught, and a pointer that is no handle of t is never read. */
static const char *handle_problem(const wg_tape *t, const wg_tensor *x)
{
    if (!x) return "is NULL";
    if (!t->check_handles && wg_is_rec(x)) { /* no records are made while handles are checked */
        const wg_rec *r = (const wg_rec *)x;
        if (wg_rec_tape(r) != t) return "belongs to another tape";
        if (wg_rec_stale(t, r)) return "was recorded before the last wg_tape_reset";
        return NULL;
    }
    if (t->check_handles) {
        if (in_blocks(t->retired, x)) return "was recorded before the last wg_tape_reset";
        if (!in_blocks(t->first, x)) return "belongs to another tape"; /* or is no handle: not read */
    }
    if (x->tape != t) return "belongs to another tape";
    if (x->gen != t->gen) return "was recorded before the last wg_tape_reset";
    return NULL;
}

int wg_check_handles(wg_tape *t, const char *op, int n, wg_tensor *const *xs)
{
    if (t->status != WG_OK) return 0;
    t->op_name = op;
    for (int i = 0; i < n; i++) {
        const char *bad = handle_problem(t, xs[i]);
        if (bad) {
            wg_tape_fail(t, WG_ERR_HANDLE, "%s: invalid handle: argument %d %s", op, i + 1, bad);
            return 0;
        }
    }
    return 1;
}

int wg_check_inputs(wg_tape *t, const char *op, int n, wg_tensor **xs)
{
    if (!wg_check_handles(t, op, n, xs)) return 0;
    for (int i = 0; i < n; i++)
        if (xs[i] && wg_is_rec(xs[i]) && !(xs[i] = wg_solid(t, xs[i]))) return 0;
    return 1;
}

wg_tensor *const *wg_check_list(wg_tape *t, const char *op, int n, wg_tensor *const *xs)
{
    if (!wg_check_handles(t, op, n, xs)) return NULL;
    int i = 0;
    while (i < n && !wg_is_rec(xs[i])) i++;
    if (i == n) return xs;
    wg_tensor **copy = wg_arena_alloc(t, (size_t)n * sizeof *copy);
    if (!copy) return NULL;
    memcpy(copy, xs, (size_t)n * sizeof *copy);
    return wg_check_inputs(t, op, n, copy) ? copy : NULL;
}

bool wg_tape_check_handle(wg_tape *t, const char *fn, const char *name, const wg_tensor *x)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", fn);
        return false;
    }
    if (t->status != WG_OK) return false;
    const char *bad = handle_problem(t, x);
    if (bad) wg_tape_fail(t, WG_ERR_HANDLE, "%s: invalid handle: %s %s", fn, name, bad);
    return !bad;
}

/* For the readers, which get no tape: 1 if x is a handle of the current
 * pass of its tape; else 0, and a stale handle is recorded on its tape as
 * "fn: invalid handle: ...".  A handle whose memory the tape reused for a
 * later node cannot be told from that node unless the tape checks handles
 * (wg_tensor.h). */
/* A record read as a node: op, dtype, 0-d, its value and id, its inputs'
 * handles, and its adjoint as the gradient when backward gave it one. */
static void rec_view(const wg_rec *r, wg_tensor *v)
{
    wg_tape *t = wg_rec_tape(r);
    memset(v, 0, sizeof *v);
    v->op = wg_op_table[r->op];
    v->tape = t;
    v->gen = t->gen;
    v->id = r->id;
    v->dtype = (uint8_t)wg_h_dtype((const wg_tensor *)r);
    for (int i = 0; i < WG_MAX_DIMS; i++) v->shape[i] = 1;
    v->size = 1;
    v->data = (void *)&r->val;
    v->flags = (r->tag & WG_R_REQ) ? WG_F_REQ : 0;
    v->n_in = (uint8_t)v->op->arity;
    for (int i = 0; i < v->n_in; i++) v->in[i] = wg_handle_at(t, r->in.x[i]);
    memcpy(&v->val, &r->val, sizeof v->val);
    if (t->adj_epoch == t->epoch && r->id < t->adj_n && !wg_adj_none(&t->adj[r->id])) {
        v->grad = v->dtype == WG_F32 ? (void *)&t->adj[r->id].f[1] : (void *)&t->adj[r->id].d;
        v->grad_epoch = t->epoch;
    }
}

const wg_tensor *wg_reader(const wg_tensor *x, const char *fn, wg_tensor *view)
{
    if (!x) return NULL;
    if (!wg_is_rec(x) && (x->flags & WG_F_MIRROR) && wg_reader_ok(x, fn)) x = x->aux; /* read its record */
    if (!wg_is_rec(x)) return wg_reader_ok(x, fn) ? x : NULL;
    const wg_rec *r = (const wg_rec *)x;
    wg_tape *t = wg_rec_tape(r);
    if (wg_rec_stale(t, r)) {
        if (t->status == WG_OK)
            wg_tape_fail(t, WG_ERR_HANDLE, "%s: invalid handle: the tensor was recorded before the last wg_tape_reset", fn);
        return NULL;
    }
    rec_view(r, view);
    return view;
}

bool wg_reader_ok(const wg_tensor *x, const char *fn)
{
    if (!x) return false;
    if (wg_is_rec(x)) {
        wg_tensor v;
        return wg_reader(x, fn, &v) != NULL;
    }
    wg_tape *t = x->tape;
    if (!t) return false;
    if (x->gen == t->gen && (!t->check_handles || in_blocks(t->first, x))) return true;
    if (t->status == WG_OK)
        wg_tape_fail(t, WG_ERR_HANDLE, "%s: invalid handle: the tensor was recorded before the last wg_tape_reset", fn);
    return false;
}

static wg_tensor *const_node(wg_tape *t, wg_dtype dt, double v, uint8_t flags);

/* x is a weak constant (never a record: numbers become leaves). */
static bool is_weak(const wg_tensor *x) { return !wg_is_rec(x) && (x->flags & WG_F_WEAK); }

int wg_retype_fresh_weak(wg_tape *t, wg_tensor *a, wg_tensor *b)
{
    wg_tensor *weak = is_weak(a) ? a : is_weak(b) ? b : NULL;
    if (!weak || weak->id + 1 != t->n_nodes || weak->size != 1) return 0;
    wg_tensor *other = weak == a ? b : a;
    weak->dtype = (uint8_t)wg_h_dtype(other);
    if (weak->dtype == WG_F32)
        weak->val.f = (float)weak->attr.c;
    else
        weak->val.d = weak->attr.c;
    return 1;
}

int wg_unify_dtypes(wg_tape *t, const char *op, wg_tensor **a, wg_tensor **b)
{
    if (wg_h_dtype(*a) == wg_h_dtype(*b) || wg_retype_fresh_weak(t, *a, *b)) return 1;
    wg_tensor **weak = is_weak(*a) ? a : is_weak(*b) ? b : NULL;
    if (weak) {
        wg_tensor *other = weak == a ? *b : *a;
        *weak = const_node(t, (wg_dtype)wg_h_dtype(other), (*weak)->attr.c, WG_F_LEAF | WG_F_WEAK);
        return *weak != NULL;
    }
    char sa[80], sb[80];
    wg_tape_fail(t, WG_ERR_DTYPE, "%s: dtype mismatch: a is %s, b is %s", op, wg_fmt_shape(*a, sa, sizeof sa),
            wg_fmt_shape(*b, sb, sizeof sb));
    return 0;
}

/* ---- leaves ------------------------------------------------------------- */

static void leaf_vjp(wg_tensor *n) { (void)n; }
/* A leaf's value is its own, or the caller's memory it reads in place; a
 * one-element view or parameter keeps a copy inline (every 1-element node
 * does), which replay refreshes here from the caller's memory. */
static void leaf_fwd(wg_tensor *n)
{
    if (n->size != 1) return;
    if (n->flags & WG_F_PARAM)
        memcpy(&n->val, ((const wg_param *)n->aux)->data, wg_dtype_size(n->dtype));
    else if (n->flags & WG_F_BORROW)
        memcpy(&n->val, (const void *)(uintptr_t)n->attr.i[0], wg_dtype_size(n->dtype));
}
/* A leaf has no inputs: neither rule is ever called, but every entry is whole. */
static wg_tensor *leaf_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)t, (void)n, (void)gy, (void)i;
    return NULL;
}
static wg_tensor *leaf_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    (void)t, (void)n, (void)tx;
    return NULL;
}
/* A leaf's shape rule: the shape given, 0..WG_MAX_DIMS dimensions (each
 * checked by wg_node_new, as every op's output). */
static int leaf_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    const char *fn = g->fn ? g->fn : op->name;
    if (g->ndim < 0 || g->ndim > WG_MAX_DIMS) {
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: ndim must be 0..%d, got %d", fn, WG_MAX_DIMS, g->ndim);
        return 0;
    }
    if (g->ndim > 0 && !g->target) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: shape is NULL for ndim %d", fn, g->ndim);
        return 0;
    }
    g->out_ndim = g->ndim;
    if (g->ndim) memcpy(g->out, g->target, (size_t)g->ndim * sizeof *g->target);
    return 1;
}
const wg_op wg_op_leaf = {.name = "leaf", .id = WG_OP_leaf, .arity = 0, .shape = leaf_shape, .fwd = leaf_fwd, .vjp = leaf_vjp,
                          .vjp_ops = leaf_vjp_ops, .jvp = leaf_jvp};

static int tape_ok(wg_tape *t, const char *fn)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", fn);
        return 0;
    }
    return t->status == WG_OK;
}

static wg_tensor *const_node(wg_tape *t, wg_dtype dt, double v, uint8_t flags)
{
    wg_tensor *n = node_alloc(t, &wg_op_leaf, dt, 0, NULL);
    if (!n) return NULL;
    n->flags = flags;
    n->attr.c = v;
    if (dt == WG_F32)
        n->val.f = (float)v;
    else
        n->val.d = v;
    return n;
}

wg_tensor *wg_scalar(wg_tape *t, wg_dtype dt, double v, bool requires_grad)
{
    if (!tape_ok(t, "scalar")) return NULL;
    if (dt != WG_F32 && dt != WG_F64) {
        wg_tape_fail(t, WG_ERR_DTYPE, "scalar: unknown dtype %d", (int)dt);
        return NULL;
    }
    return wg_node_done(t, const_node(t, dt, v, requires_grad ? (WG_F_REQ | WG_F_LEAF) : WG_F_LEAF));
}

wg_tensor *wg_var(wg_tape *t, double v) { return wg_scalar(t, WG_F64, v, true); }

wg_tensor *wg_const(wg_tape *t, double v)
{
    if (!tape_ok(t, "const")) return NULL;
    return const_node(t, WG_F64, v, WG_F_LEAF | WG_F_WEAK);
}

/* The checks of a leaf's arguments, in order, named fn: the leaf's shape
 * rule, then the dtype. */
static int leaf_args_ok(wg_tape *t, const char *fn, wg_dtype dt, int ndim, const int64_t *shape)
{
    wg_args g = {.fn = fn, .ndim = ndim, .target = shape};
    if (!tape_ok(t, fn) || !wg_op_leaf.shape(t, &wg_op_leaf, &g)) return 0;
    if (dt != WG_F32 && dt != WG_F64) {
        wg_tape_fail(t, WG_ERR_DTYPE, "%s: unknown dtype %d", fn, (int)dt);
        return 0;
    }
    return 1;
}

wg_tensor *wg_tensor_new(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, const void *data,
                         bool requires_grad)
{
    if (!leaf_args_ok(t, "tensor", dt, ndim, shape)) return NULL;
    wg_tensor *n = wg_node_new(t, &wg_op_leaf, dt, ndim, shape);
    if (!n) return NULL;
    n->flags = WG_F_LEAF | (requires_grad ? WG_F_REQ : 0);
    size_t bytes = n->size * wg_dtype_size(dt);
    if (data)
        memcpy(n->data, data, bytes);
    else
        memset(n->data, 0, bytes);
    return wg_node_done(t, n);
}

wg_tensor *wg_tensor_view(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    if (!leaf_args_ok(t, "tensor_view", dt, ndim, shape)) return NULL;
    if (!data) {
        wg_tape_fail(t, WG_ERR_ARG, "tensor_view: data is NULL");
        return NULL;
    }
    /* The kernels read a view with whole-element (vector) loads: a float *
     * off its 4-byte boundary is undefined behaviour there. */
    if ((uintptr_t)data % wg_dtype_size(dt) != 0) {
        wg_tape_fail(t, WG_ERR_ARG, "tensor_view: data %p is not aligned to its %zu-byte elements (%s)", data,
                wg_dtype_size(dt), dt == WG_F32 ? "f32" : "f64");
        return NULL;
    }
    if (!valid_shape(t, "tensor_view", ndim, shape)) return NULL;
    wg_tensor *n = node_alloc(t, &wg_op_leaf, dt, ndim, shape);
    if (!n) return NULL;
    n->flags = WG_F_LEAF;
    node_borrow(n, data); /* read only: a leaf's value is never written */
    n->flags |= WG_F_BORROW;
    n->attr.i[0] = (int64_t)(uintptr_t)data; /* a one-element view's copy is re-read from here (leaf_fwd) */
    return wg_node_done(t, n);
}

wg_tensor *wg_full(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, double v)
{
    wg_tensor *n = wg_tensor_new(t, dt, ndim, shape, NULL, false);
    if (!n) return NULL;
    WG_TYPED(dt, {
        T *p = n->data;
        for (size_t i = 0; i < n->size; i++) p[i] = (T)v;
    });
    return n;
}

wg_tensor *wg_full_like(wg_tape *t, const wg_tensor *x, double v)
{
    if (!tape_ok(t, "full_like")) return NULL;
    wg_tensor *xs[1] = {(wg_tensor *)x};
    if (!wg_check_handles(t, "full_like", 1, xs)) return NULL;
    if (wg_is_rec(x)) return wg_full(t, (wg_dtype)wg_h_dtype(x), 0, NULL, v);
    return wg_full(t, (wg_dtype)x->dtype, x->ndim, x->shape, v);
}

wg_tensor *wg_zeros_like(wg_tape *t, const wg_tensor *x) { return wg_full_like(t, x, 0.0); }

wg_tensor *wg_const_like(wg_tape *t, const wg_tensor *like, const void *data)
{
    return wg_tensor_new(t, (wg_dtype)like->dtype, like->ndim, like->shape, data, false);
}

/* ---- reading ------------------------------------------------------------ */
/* Each reader reads a node, or a record through its view (wg_reader). */
#define READ(x, fn) \
    wg_tensor view_; \
    const wg_tensor *r_ = wg_reader(x, fn, &view_)

wg_dtype wg_dtype_of(const wg_tensor *x)
{
    READ(x, "dtype_of");
    return r_ ? (wg_dtype)r_->dtype : WG_F32;
}
int wg_ndim(const wg_tensor *x)
{
    READ(x, "ndim");
    return r_ ? r_->ndim : 0;
}
static const int64_t scalar_shape[WG_MAX_DIMS] = {1, 1, 1, 1}; /* a record's: 0-d, padded with 1s as a node's */
const int64_t *wg_shape(const wg_tensor *x)
{
    READ(x, "shape");
    return !r_ ? NULL : r_ == &view_ ? scalar_shape : r_->shape;
}
size_t wg_numel(const wg_tensor *x)
{
    READ(x, "numel");
    return r_ ? r_->size : 0;
}
bool wg_requires_grad(const wg_tensor *x)
{
    READ(x, "requires_grad");
    return r_ && (r_->flags & WG_F_REQ);
}
const void *wg_data(const wg_tensor *x)
{
    READ(x, "data");
    return r_ ? r_->data : NULL;
}

int64_t wg_dim(const wg_tensor *x, int axis)
{
    READ(x, "dim");
    if (!r_) return 0;
    int a = wg_norm_axis(axis, r_->ndim);
    return a < 0 ? 0 : r_->shape[a];
}

static double read_at(int dt, const void *p, size_t i)
{
    return dt == WG_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

double wg_get(const wg_tensor *x, size_t i)
{
    READ(x, "get");
    if (!r_ || i >= r_->size) return NAN;
    return read_at(r_->dtype, r_->data, i);
}

double wg_item(const wg_tensor *x) { return wg_get(x, 0); }

static const void *grad_of(const wg_tensor *x)
{
    if (!x->grad) return NULL;
    if (!(x->flags & WG_F_LEAF) && x->grad_epoch != x->tape->epoch) return NULL;
    return x->grad;
}

const void *wg_grad(const wg_tensor *x)
{
    READ(x, "grad");
    return r_ ? grad_of(r_) : NULL;
}

double wg_grad_get(const wg_tensor *x, size_t i)
{
    READ(x, "grad_get");
    if (!r_ || i >= r_->size) return NAN;
    const void *g = grad_of(r_);
    return g ? read_at(r_->dtype, g, i) : 0.0;
}

double wg_grad_item(const wg_tensor *x) { return wg_grad_get(x, 0); }

char *wg_shape_str(const wg_tensor *x, char *buf, size_t len)
{
    if (!buf || !len) return buf;
    if (!x) {
        snprintf(buf, len, "(null)");
        return buf;
    }
    READ(x, "shape_str");
    if (!r_) {
        snprintf(buf, len, "(stale)");
        return buf;
    }
    return wg_fmt_shape(r_, buf, len);
}

/* ---- walking the tape ---------------------------------------------------- */

wg_tensor *wg_tape_last(const wg_tape *t) { return t && t->n_nodes ? wg_handle_at(t, t->n_nodes - 1) : NULL; }
wg_tensor *wg_prev(const wg_tensor *x)
{
    READ(x, "prev");
    return r_ && r_->id > 0 ? wg_handle_at(r_->tape, r_->id - 1) : NULL;
}
size_t wg_node_index(const wg_tensor *x)
{
    READ(x, "node_index");
    return r_ ? r_->id : 0;
}
const char *wg_op_name(const wg_tensor *x)
{
    if (!x) return "(null)";
    READ(x, "op_name");
    return r_ ? r_->op->name : "(stale)";
}
bool wg_is_leaf(const wg_tensor *x)
{
    READ(x, "is_leaf");
    return r_ && (r_->flags & WG_F_LEAF);
}

int wg_n_inputs(const wg_tensor *x)
{
    READ(x, "n_inputs");
    return r_ ? wg_node_n_in(r_) : 0;
}

wg_tensor *wg_input(const wg_tensor *x, int i)
{
    READ(x, "input");
    if (!r_ || i < 0 || i >= wg_node_n_in(r_)) return NULL;
    wg_tensor *in = wg_node_in(r_, i);
    return in && !wg_is_rec(in) && (in->flags & WG_F_MIRROR) ? in->aux : in; /* a record, as the user holds it */
}

/* ---- records' mirrors ------------------------------------------------------ */

wg_tensor *wg_solid(wg_tape *t, wg_tensor *x)
{
    if (!wg_is_rec(x)) return x;
    wg_rec *r = (wg_rec *)x;
    if (r->tag & WG_R_MIRROR) return t->mirror[r->id];
    if (!wg_idmap_reserve(t, &t->mirror, &t->mirror_cap, r->id)) return NULL;
    wg_tensor *m = arena_alloc(t, sizeof *m, WG_NODE_ALIGN);
    if (!m) return NULL;
    rec_view(r, m); /* the record's fields, its value copied */
    m->data = &m->val;
    m->grad = NULL; /* its own, added into the record's adjoint when backward reaches the id */
    m->grad_epoch = 0;
    m->flags |= WG_F_MIRROR;
    m->aux = r;
    t->mirror[r->id] = m;
    r->tag |= WG_R_MIRROR;
    return m;
}

/* ---- backward ----------------------------------------------------------- */

/* 1 if the VJP of n left a non-finite gradient in one of its inputs. */
static int vjp_made_nonfinite(const wg_tensor *n, uint32_t epoch)
{
    for (int i = 0, k = wg_node_n_in(n); i < k; i++) {
        const wg_tensor *x = wg_node_in(n, i);
        if (x && x->grad && x->grad_epoch == epoch && has_nonfinite(x, x->grad)) return 1;
    }
    return 0;
}

/* The checks of one output and its seed (NULL: out must have one element). */
int wg_seed_ok(wg_tape *t, const wg_tensor *out, const wg_tensor *seed)
{
    char so[80], ss[80];
    wg_tensor vo, vs;
    if (wg_is_rec(out)) rec_view((const wg_rec *)out, &vo), out = &vo;
    if (seed && wg_is_rec(seed)) rec_view((const wg_rec *)seed, &vs), seed = &vs;
    if (!seed && out->size != 1) {
        wg_tape_fail(t, WG_ERR_SHAPE, "backward: output must have one element without a seed, got %s",
                wg_fmt_shape(out, so, sizeof so));
        return 0;
    }
    if (seed && (seed->dtype != out->dtype || seed->ndim != out->ndim ||
                 memcmp(seed->shape, out->shape, sizeof out->shape) != 0)) {
        wg_tape_fail(t, WG_ERR_SHAPE, "backward: seed must match the output: output is %s, seed is %s",
                wg_fmt_shape(out, so, sizeof so), wg_fmt_shape(seed, ss, sizeof ss));
        return 0;
    }
    return 1;
}

int wg_not_in_backward(wg_tape *t, const char *fn)
{
    if (!t->in_backward && !t->in_walk) return 1;
    if (t->status == WG_OK)
        wg_tape_fail(t, WG_ERR_ARG,
                     "%s: called inside a backward pass of the same tape (from a VJP rule or the gradient hook)", fn);
    return 0;
}

/* The adjoints of the records with ids below hi, none received yet. */
static int adj_prepare(wg_tape *t, size_t hi)
{
    if (hi > t->adj_cap) {
        size_t nc = t->adj_cap * 2 > hi ? t->adj_cap * 2 : hi;
        wg_adj *p = realloc(t->adj, nc * sizeof *p);
        if (!p) {
            wg_tape_fail(t, WG_ERR_NOMEM, "backward: out of memory for the gradients of %zu scalar nodes", hi);
            return 0;
        }
        t->adj = p;
        t->adj_cap = nc;
    }
    for (size_t i = 0; i < hi; i++) t->adj[i].bits = WG_ADJ_NONE;
    t->adj_n = hi;
    t->adj_epoch = t->epoch;
    return 1;
}

/* The records' contributions to node n (0-d) added into its gradient, the
 * first of the pass stored; 0 if its buffer could not be had. */
static int adj_to_node(wg_tensor *n, const wg_adj *a)
{
    bool first;
    void *g = wg_grad_slot(n, &first);
    if (!g) return 0;
    if (n->dtype == WG_F32)
        *(float *)g = first ? a->f[1] : *(float *)g + a->f[1];
    else
        *(double *)g = first ? a->d : *(double *)g + a->d;
    return 1;
}

/* A one-element tensor's value (a record's or a node's). */
static double scalar_value(const wg_tensor *x)
{
    if (!wg_is_rec(x)) return read_at(x->dtype, x->data, 0);
    const wg_rec *r = (const wg_rec *)x;
    return (r->tag & WG_R_F32) ? (double)r->val.f : r->val.d;
}

/* Anomaly mode at a record: its gradient (is_out: as seeded), or after its
 * VJP the gradients of its inputs, non-finite: reported on its mirror. */
static __attribute__((cold, noinline)) int rec_anomaly(wg_tape *t, wg_rec *s, bool after)
{
    int k = after ? wg_op_table[s->op]->arity : 0;
    bool bad = false;
    if (!after) {
        bad = (s->tag & WG_R_F32) ? !isfinite(t->adj[s->id].f[1]) : !isfinite(t->adj[s->id].d);
    }
    for (int i = 0; i < k && !bad; i++) {
        const wg_adj *a = &t->adj[s->in.x[i]]; /* a node's too: its contributions from records */
        if (!wg_adj_none(a)) bad = (s->tag & WG_R_F32) ? !isfinite(a->f[1]) : !isfinite(a->d);
    }
    if (!bad) return 0;
    wg_tensor *m = wg_solid(t, (wg_tensor *)s);
    if (m) anomaly_report(m, "backward");
    return 1;
}

int wg_backward_many(wg_tape *t, int k, wg_tensor *const *outs, const wg_tensor *const *seeds)
{
    if (!t) {
        wg_set_last_error("backward: invalid handle: the tape is NULL");
        return -1;
    }
    if (!wg_not_in_backward(t, "backward")) return -1;
    bool any = false;
    size_t start = 0; /* the newest output's id */
    for (int j = 0; j < k; j++) {
        wg_tensor *xs[2] = {outs[j], seeds ? (wg_tensor *)seeds[j] : NULL};
        if (!wg_check_handles(t, "backward", xs[1] ? 2 : 1, xs)) return -1;
        if (!wg_seed_ok(t, outs[j], xs[1])) return -1;
        if (wg_h_req(outs[j]) && (!any || wg_h_id(outs[j]) > start)) start = wg_h_id(outs[j]), any = true;
    }
    if (!any) return 0; /* nothing the outputs depend on needs a gradient */
    if (++t->epoch == 0) t->epoch = 1; /* 0 is a fresh node's "never" */
    t->op_name = "backward";
    if (t->n_recs && !adj_prepare(t, start + 1)) return -1;
    for (int j = 0; j < k; j++) {
        wg_tensor *out = outs[j];
        if (!wg_h_req(out)) continue;
        const wg_tensor *seed = seeds ? seeds[j] : NULL;
        if (wg_is_rec(out)) {
            wg_rec *r = (wg_rec *)out;
            double sv = seed ? scalar_value(seed) : 1.0;
            if (r->tag & WG_R_F32)
                wg_adj_add_f(t->adj, r->id, (float)sv);
            else
                wg_adj_add_d(t->adj, r->id, sv);
            continue;
        }
        if (seed && wg_is_rec(seed) && !(seed = wg_solid(t, (wg_tensor *)seed))) return -1;
        void *g = wg_grad_buf(out);
        if (!g) return -1;
        WG_TYPED(out->dtype, {
            T *gp = g;
            if (seed) {
                const T *sp = seed->data;
                for (size_t i = 0; i < out->size; i++) gp[i] += sp[i];
            } else {
                gp[0] += 1;
            }
        });
    }
    const uint32_t epoch = t->epoch;
    const bool anomaly = t->anomaly;
    t->in_backward = true;
    t->bw_threads = wg_parts_threads(); /* once: the pass splits consistently */
    for (size_t id = start + 1; id-- > 0;) {
        wg_rec *s = wg_slot(t, id);
        if (!(s->tag & WG_R_FULL)) {
            /* A record: its mirror's gradient (from full nodes that used it)
             * joins its own, then its VJP from the op's entry. */
            if (s->tag & WG_R_MIRROR) {
                wg_tensor *m = t->mirror[id];
                if (m->grad && m->grad_epoch == epoch) {
                    if (s->tag & WG_R_F32)
                        wg_adj_add_f(t->adj, s->id, m->gval.f);
                    else
                        wg_adj_add_d(t->adj, s->id, m->gval.d);
                }
            }
            if (wg_adj_none(&t->adj[id])) continue;
            if (anomaly && rec_anomaly(t, s, false)) break;
            wg_op_table[s->op]->rec_vjp(t, s);
            if (anomaly && rec_anomaly(t, s, true)) break;
            continue;
        }
        wg_tensor *n = s->in.node;
        /* What records gave a 0-d node, by its id, joins its gradient. */
        if (t->n_recs && !wg_adj_none(&t->adj[id]) && !adj_to_node(n, &t->adj[id])) break;
        /* A gradient of this pass is live exactly when grad_epoch == epoch
         * (wg_grad_buf stamps it after the buffer exists). */
        if (n->grad_epoch != epoch) continue;
        if (n->flags & WG_F_LEAF) {
            /* Every consumer of a leaf was recorded after it, so every VJP
             * into it has run: a parameter's gradient is final here. */
            if ((n->flags & WG_F_PARAM) && t->grad_hook) t->grad_hook(n->aux, t->grad_hook_ctx);
            continue;
        }
        /* Anomaly mode blames the op whose VJP made a non-finite gradient (the
         * seeds are checked at the outputs), so leaves' gradients are covered too. */
        if (anomaly) {
            bool is_out = false;
            for (int j = 0; j < k; j++) is_out |= outs[j] == n;
            if (is_out && has_nonfinite(n, n->grad)) {
                anomaly_report(n, "backward");
                break;
            }
        }
        t->bw_node = n;
        n->op->vjp(n);
        if (t->status != WG_OK) break;
        if (anomaly && vjp_made_nonfinite(n, epoch)) {
            anomaly_report(n, "backward");
            break;
        }
    }
    t->in_backward = false;
    t->bw_threads = 0;
    t->bw_node = NULL;
    return t->status == WG_OK ? 0 : -1;
}

static int backward(wg_tape *t, wg_tensor *out, const wg_tensor *seed)
{
    const wg_tensor *seeds[1] = {seed};
    return wg_backward_many(t, 1, &out, seeds);
}

int wg_backward(wg_tape *t, wg_tensor *out) { return backward(t, out, NULL); }

int wg_backward_seed(wg_tape *t, wg_tensor *out, const wg_tensor *seed)
{
    if (t && !seed && t->status == WG_OK) {
        wg_tape_fail(t, WG_ERR_HANDLE, "backward: invalid handle: the seed is NULL");
        return -1;
    }
    return backward(t, out, seed);
}

/* ---- replay ------------------------------------------------------------ */

int wg_tape_replay(wg_tape *t)
{
    if (!t) {
        wg_set_last_error("replay: invalid handle: the tape is NULL");
        return -1;
    }
    if (t->status != WG_OK) return -1; /* the recording is incomplete: its error stays */
    if (t->in_backward) {
        wg_tape_fail(t, WG_ERR_ARG, "replay: called during backward (from a gradient hook)");
        return -1;
    }
    t->op_name = "replay";
    const size_t count = t->n_nodes;
    const bool anomaly = t->anomaly;
    for (size_t id = 0; id < count; id++) {
        wg_rec *s = wg_slot(t, id);
        if (!(s->tag & WG_R_FULL)) {
            wg_op_table[s->op]->rec_fwd(t, s);
            if (s->tag & WG_R_MIRROR) memcpy(&t->mirror[id]->val, &s->val, sizeof s->val);
            if (anomaly && !isfinite(scalar_value((wg_tensor *)s))) {
                wg_tensor *m = wg_solid(t, (wg_tensor *)s);
                if (m) anomaly_report(m, "replayed forward");
                return -1;
            }
            continue;
        }
        wg_tensor *n = s->in.node;
        n->op->fwd(n);
        if (n->flags & WG_F_LEAF) { /* a new evaluation: no gradient yet (wg_tape_zero_grad) */
            if (n->grad) zero_bytes(n->grad, n->size * wg_dtype_size(n->dtype));
        } else if (anomaly && has_nonfinite(n, n->data)) {
            anomaly_report(n, "replayed forward");
            return -1;
        }
    }
    return 0;
}

int wg_leaf_set(wg_tensor *x_, size_t i, double v)
{
    READ(x_, "leaf_set");
    const wg_tensor *x = r_; /* a record's view: not a leaf, an error below */
    if (!x) return -1;
    wg_tape *t = x->tape;
    if (t->status != WG_OK) return -1;
    char sx[80];
    if (!(x->flags & WG_F_LEAF)) {
        wg_tape_fail(t, WG_ERR_ARG, "leaf_set: node %u is %s %s, not a leaf", x->id, x->op->name,
                wg_fmt_shape(x, sx, sizeof sx));
        return -1;
    }
    if (x->flags & (WG_F_PARAM | WG_F_BORROW)) {
        wg_tape_fail(t, WG_ERR_ARG, "leaf_set: leaf %u (%s) reads the caller's memory (%s): write the new values there",
                x->id, wg_fmt_shape(x, sx, sizeof sx), x->flags & WG_F_PARAM ? "a parameter's data" : "a view");
        return -1;
    }
    if (i >= x->size) {
        wg_tape_fail(t, WG_ERR_ARG, "leaf_set: index %zu out of range for leaf %u (%s, %zu elements)", i, x->id,
                wg_fmt_shape(x, sx, sizeof sx), x->size);
        return -1;
    }
    if (x->dtype == WG_F32)
        ((float *)x->data)[i] = (float)v;
    else
        ((double *)x->data)[i] = v;
    return 0;
}

void wg_tape_set_grad_hook(wg_tape *t, void (*fn)(wg_param *p, void *ctx), void *ctx)
{
    if (!t) return;
    t->grad_hook = fn;
    t->grad_hook_ctx = ctx;
}

void wg_tape_zero_grad(wg_tape *t)
{
    if (!t) return;
    for (size_t id = 0; id < t->n_nodes; id++) {
        wg_rec *s = wg_slot(t, id);
        wg_tensor *n = (s->tag & WG_R_FULL) ? s->in.node : NULL;
        if (n && (n->flags & WG_F_LEAF) && n->grad) memset(n->grad, 0, n->size * wg_dtype_size(n->dtype));
    }
}

/* ---- parameters --------------------------------------------------------- */

wg_param *wg_param_new(wg_dtype dt, int ndim, const int64_t *shape)
{
    if (dt != WG_F32 && dt != WG_F64) {
        wg_set_last_error("param_new: unknown dtype %d", (int)dt);
        return NULL;
    }
    if (ndim < 0 || ndim > WG_MAX_DIMS || (ndim > 0 && !shape)) {
        wg_set_last_error("param_new: ndim must be 0..%d with a shape, got %d", WG_MAX_DIMS, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            wg_set_last_error("param_new: invalid dimension %lld at axis %d", (long long)shape[i], i);
            return NULL;
        }
    }
    size_t n = wg_checked_numel(ndim, shape);
    if (n == SIZE_MAX) {
        wg_set_last_error("param_new: out of memory: tensor too large");
        return NULL;
    }
    /* One allocation: the parameter, then its private part. */
    struct param_box {
        wg_param p;
        struct wg_param_priv priv;
    } *box = calloc(1, sizeof *box);
    if (!box) goto oom;
    wg_param *p = &box->p;
    p->priv = &box->priv;
    p->dtype = dt;
    p->ndim = ndim;
    for (int i = 0; i < WG_MAX_DIMS; i++) p->shape[i] = i < ndim ? shape[i] : 1;
    p->numel = n;
    size_t bytes = (n * wg_dtype_size(dt) + WG_ALIGN - 1) & ~(size_t)(WG_ALIGN - 1);
    if (!bytes) bytes = WG_ALIGN;
    p->data = aligned_alloc(WG_ALIGN, bytes);
    p->grad = aligned_alloc(WG_ALIGN, bytes);
    if (!p->data || !p->grad) {
        wg_param_free(p);
        goto oom;
    }
    memset(p->data, 0, bytes);
    memset(p->grad, 0, bytes);
    return p;
oom:
    wg_set_last_error("param_new: out of memory for %zu elements", n);
    return NULL;
}

void wg_param_free(wg_param *p)
{
    if (!p) return;
    free(p->data);
    free(p->grad);
    free(p);
}

/* In the blocks of rows the last backward wrote (wg_parts.h). */
void wg_param_zero_grad(wg_param *p)
{
    if (!p || !p->grad) return;
    const size_t es = wg_dtype_size(p->dtype);
    const int threads = wg_parts_threads();
    WG_PARAM_BLOCKS(p, threads, blk, lo, hi, memset((char *)p->grad + lo * es, 0, (hi - lo) * es));
}

wg_tensor *wg_use(wg_tape *t, wg_param *p)
{
    if (!tape_ok(t, "use")) return NULL;
    if (!p) {
        wg_tape_fail(t, WG_ERR_HANDLE, "use: invalid handle: the parameter is NULL");
        return NULL;
    }
    /* The fields are public: check them before the tape trusts them. */
    bool ok = (p->dtype == WG_F32 || p->dtype == WG_F64) && p->ndim >= 0 && p->ndim <= WG_MAX_DIMS && p->data &&
              p->grad;
    if (!ok || wg_checked_numel(p->ndim, p->shape) != p->numel || p->numel == SIZE_MAX) {
        wg_tape_fail(t, WG_ERR_ARG, "use: invalid parameter '%.48s': dtype %d, ndim %d, numel %zu, data %s, grad %s",
                p->name, (int)p->dtype, p->ndim, p->numel, p->data ? "set" : "NULL", p->grad ? "set" : "NULL");
        return NULL;
    }
    /* A leaf that reads p->data and accumulates into p->grad directly. */
    wg_tensor *n = node_alloc(t, &wg_op_leaf, p->dtype, p->ndim, p->shape);
    if (!n) return NULL;
    n->flags = WG_F_LEAF | WG_F_REQ | WG_F_PARAM;
    node_borrow(n, p->data);
    n->grad = p->grad;
    n->aux = p;
    return wg_node_done(t, n);
}
