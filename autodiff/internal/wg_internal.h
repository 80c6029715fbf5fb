/* wg_internal.h: the node and op types.  Only autodiff/ and ops/ may include
 * this file: meson gives nn/ and optim/ no include path to it, and the guard
 * below stops a copy from compiling elsewhere.  So composites cannot write
 * gradients. */
#ifndef WG_INTERNAL_H
#define WG_INTERNAL_H

#ifndef WG_BUILDING_CORE
#error "wg_internal.h is private to autodiff/ and ops/: use the public headers"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_higher.h"
#include "wg_ops.h"
#include "wg_tensor.h"

/* Library bugs (broken invariants), never user errors: print and abort. */
#define WG_ASSERT(c)                                                                  \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "wengert: internal error at %s:%d: %s\n", __FILE__, __LINE__, \
                    #c);                                                              \
            abort();                                                                  \
        }                                                                             \
    } while (0)

typedef enum {
#define X(name) WG_OP_##name,
#include "ops.def"
#undef X
    WG_N_OPS
} wg_op_id;

/* One entry of the op table: everything about a primitive, side by side.
 * Nothing outside the entry knows which op a node is: the tape, backward,
 * the recorded (create-graph) backward and forward mode reach an op only
 * through these fields.
 *
 *   fwd      recompute n's value from its inputs' (the same kernel the
 *            constructor runs; replay and checks use it)
 *   vjp      the fast numeric VJP: accumulate n->grad into the inputs' grads
 *   vjp_ops  the same VJP written with wengert's own ops, so it is recorded
 *            and can be differentiated again: input i's cotangent for the
 *            output cotangent gy, shaped like input i (NULL: no second-order
 *            rule; a create-graph pass through the op is a tape error)
 *   jvp      forward mode: n's tangent from its inputs' tangents tx[i]
 *            (NULL entries are zero tangents), recorded with wengert's ops;
 *            NULL result: a zero tangent (or an error on the tape)
 *   n_inputs, input
 *            for ops whose inputs are not n->in[0..n_in) (concat, custom
 *            ops keep theirs in aux); NULL: n->in
 *   binary   the op's constructor, for binary elementwise ops: autodiff/
 *            accumulates recorded gradients through the table's add
 *   shape    the shape rule: checks the inputs and attributes a constructor
 *            got (wg_args) and gives the output's shape and the attributes
 *            the node keeps; every constructor runs it before it makes the
 *            node (wg_node_of).  The scalar fast paths skip it only where
 *            its answer is known: 0-d live operands of one dtype give 0-d. */
typedef struct wg_args wg_args;
struct wg_rec;
typedef struct wg_op {
    const char *name;
    wg_op_id id;
    int arity; /* inputs; -1: variable (concat, custom ops) */
    int (*shape)(wg_tape *t, const struct wg_op *op, wg_args *a); /* 1, or 0 with the error on t */
    void (*fwd)(wg_tensor *n);
    void (*vjp)(wg_tensor *n);
    wg_tensor *(*vjp_ops)(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i);
    wg_tensor *(*jvp)(wg_tape *t, wg_tensor *n, wg_tensor *const *tx);
    int (*n_inputs)(const wg_tensor *n);
    wg_tensor *(*input)(const wg_tensor *n, int i);
    wg_tensor *(*binary)(wg_tape *t, wg_tensor *a, wg_tensor *b);
    /* The compact scalar tape (below): the same forward and VJP for a
     * record, generated from the expressions of fwd and vjp; NULL for ops
     * whose scalar results are full nodes. */
    void (*rec_fwd)(wg_tape *t, struct wg_rec *r);
    void (*rec_vjp)(wg_tape *t, const struct wg_rec *r);
} wg_op;

/* A constructor's arguments, for its op's shape rule: the inputs and
 * attributes as the user gave them, and what the rule gives back. */
struct wg_args {
    const char *fn;        /* the name errors use; NULL: the op's */
    int n;                 /* the inputs x[0..n) */
    wg_tensor *const *x;
    int64_t i[3];          /* attributes: axis, keepdim, all / start, end / trans flags / axes */
    int ndim;              /* a target shape: reshape, broadcast_to, a leaf's */
    const int64_t *target;
    /* out */
    int out_ndim;
    int64_t out[WG_MAX_DIMS];
    int64_t attr[3];       /* the node's attr.i: an axis made non-negative, a clamped start */
};

#define X(name) extern const wg_op wg_op_##name;
#include "ops.def"
#undef X
extern const wg_op *const wg_op_table[WG_N_OPS];

enum {
    WG_F_REQ = 1,   /* requires a gradient */
    WG_F_LEAF = 2,  /* a leaf: its gradient accumulates over backward calls */
    WG_F_WEAK = 4,  /* a number given as an operand: adopts the other dtype */
    WG_F_BORROW = 8, /* a view (wg_tensor_view): reads the caller's memory at attr.i[0] (an
                        address); one element is a copy inline, which replay re-reads */
    WG_F_PARAM = 16, /* a parameter's leaf (wg_use): aux is the wg_param */
    WG_F_MIRROR = 32, /* a record's full node (wg_solid): aux is the record, id its id */
};

/* One node of the Wengert list.  The forward value is computed when the node
 * is recorded; a 1-element tensor keeps value and gradient inline. */
struct wg_tensor {
    const wg_op *op; /* first: an 8-aligned pointer, so the first byte is even (a record's is odd) */
    wg_tape *tape;
    uint32_t gen;        /* tape generation at recording (catches stale handles) */
    uint32_t id;         /* index on the tape */
    uint32_t grad_epoch; /* backward pass that last zeroed grad */
    uint8_t dtype, ndim, flags, n_in;
    int64_t shape[WG_MAX_DIMS];
    size_t size;
    void *data;
    void *grad;
    wg_tensor *in[2];
    union { double d; float f; } val, gval; /* storage when size <= 1: then data == &val always,
                                                 and grad == &gval unless a leaf's */
    union {
        double c;       /* pow_c exponent, weak constant value */
        int64_t i[3];   /* axis, keepdim / start, end / trans flags */
    } attr;
    void *aux; /* per-op saved data: argmax indices, concat's input list */
};

struct wg_block {
    struct wg_block *next;
    size_t cap, used;
    unsigned char *mem;
};

/* ---- the compact scalar tape ---------------------------------------------
 * Every node has a slot, in recording order, in the tape's chunks: slot id
 * is node id.  A full node's slot points at it.  A 0-d result of a binary
 * or unary elementwise op on live 0-d operands is not a full node but a
 * record, 24 bytes in its slot: op, flags, the input ids, the value.  Its
 * handle is the slot's address, told from a node by its first byte (odd
 * for a slot, even for a node, whose first field is an 8-aligned pointer);
 * its gradient lives in an array by id allocated at backward (t->adj), so
 * a recorded binary scalar op costs 32 bytes.  The chunks are aligned to
 * their size with a header, so a record leads to its tape.
 *
 * Code outside the fast paths never reads a record: wg_check_inputs gives
 * it the record's mirror (wg_solid), a full 0-d node of the same op, value
 * and id whose inputs are the record's input handles, made once on first
 * use.  A mirror's gradient is added into the record's when backward
 * reaches the id; backward, the recorded walk, replay and the readers go by
 * slot. */
enum {
    WG_R_SLOT = 1,  /* always set: the first byte of a slot is odd */
    WG_R_REQ = 2,   /* requires a gradient */
    WG_R_F32 = 4,   /* dtype f32 (else f64) */
    WG_R_MIRROR = 8, /* has a mirror: t->mirror[id] */
    WG_R_FULL = 16, /* the slot of a full node (in.node), never a handle */
};
/* A record's inputs, two bits each (input i's << 2 i): it requires a
 * gradient; it is a node (its value in the node, its slot WG_R_FULL). */
enum { WG_RI_REQ = 1, WG_RI_NODE = 2 };
typedef struct wg_rec {
    uint8_t tag; /* WG_R_* */
    uint8_t op;  /* wg_op_id */
    uint8_t in_tag; /* WG_RI_* of input 0, and << 2 of input 1 */
    uint8_t unused;
    uint32_t id;
    union {
        uint32_t x[2]; /* the inputs' ids (x[1] unused for a unary op) */
        wg_tensor *node; /* WG_R_FULL */
    } in;
    union { double d; float f; } val;
} wg_rec;
_Static_assert(sizeof(wg_rec) == 24, "a record is 24 bytes");
/* 1,024 slots a chunk (24 KiB after the header) in a 32 KiB-aligned block,
 * whose last 8 KiB are never touched.  A tape's first chunk is one block
 * from the heap (a program that makes many small tapes pays for no mmap);
 * then runs of 2, 4, ... 64 blocks, in one allocation each. */
enum {
    WG_CHUNK_SHIFT = 10,
    WG_CHUNK_SLOTS = 1 << WG_CHUNK_SHIFT,
    WG_CHUNK_BYTES = 32 << 10,
    WG_CHUNK_HDR = 64,
};
_Static_assert(WG_CHUNK_HDR + WG_CHUNK_SLOTS * 24 <= WG_CHUNK_BYTES, "a chunk's slots fit its block");
typedef struct {
    wg_tape *tape;
    bool first; /* the first chunk of an allocation (a run of chunks, freed with it) */
} wg_chunk_hdr;
/* A record's adjoint: an f64's is the 8-byte word, an f32's the upper half
 * of it.  A word holding WG_ADJ_NONE has received nothing this pass (as a
 * node's grad_epoch says): the first contribution is stored, not added.
 * A 0-d node that is a record's input gets the record's contributions the
 * same way, by its id; backward adds them into its gradient when it
 * reaches the node, before the node's own VJP. */
#define WG_ADJ_NONE UINT64_C(0x7ff8dead00000000)
typedef union {
    uint64_t bits;
    uint32_t half[2];
    double d;
    float f[2];
} wg_adj;
/* Nothing received: the upper half (an f32's value, an f64's sign,
 * exponent and top of the fraction) is WG_ADJ_NONE's.  A 4-byte read, so
 * it is forwarded from an f32's 4-byte store (an 8-byte one is not, and
 * stalled each op of an f32 chain). */
static inline bool wg_adj_none(const wg_adj *p) { return p->half[1] == (uint32_t)(WG_ADJ_NONE >> 32); }

struct wg_tape {
    struct wg_block *first, *cur;
    struct wg_block *retired;  /* check_handles: earlier passes' blocks, never reused, freed with the tape */
    size_t retired_cap;        /* the last retired pass's capacity: the next pass's first block */
    size_t limit;      /* 0: no limit */
    size_t capacity;   /* sum of block sizes */
    wg_rec **chunk;   /* the slots' chunks (n_chunk of chunk_cap), each pointing at its first slot */
    size_t n_chunk, chunk_cap;
    wg_rec *slot, *slot_end; /* the next node's slot (id n_nodes) and the end of what it may use */
    size_t max_slots; /* with a limit: limit / sizeof(wg_rec) */
    size_t n_recs;    /* records this pass */
    wg_adj *adj;      /* backward: records' adjoints by id, [0, adj_n) valid in epoch adj_epoch */
    size_t adj_cap, adj_n;
    uint32_t adj_epoch;
    wg_tensor **mirror; /* a record's mirror, by id (WG_R_MIRROR) */
    size_t mirror_cap;
    /* Not next to gen: a node copies both, and one 8-byte load of the pair
     * right after the 4-byte store of n_nodes cannot be store-forwarded (the
     * stall cost 2.4 ns per scalar op, a third of its recording). */
    size_t n_nodes;
    uint32_t gen, epoch; /* gen: never 0 */
    uint32_t fast_gen;   /* gen while recording needs no checks (no error, no anomaly mode), else 0 */
    bool anomaly;
    bool check_handles;        /* WG_CHECK_HANDLES: reset retires the blocks instead of reusing them */
    bool in_backward;
    bool in_walk;     /* a recorded (create-graph) backward is walking: autodiff/higher.c */
    bool fwd_active;  /* some node has a tangent: ops propagate tangents (wg_node_done) */
    /* 0, or 1 + the level whose JVP rule is being recorded: the rule's nodes
     * get tangents only at the levels outside it (below that level) */
    uint8_t jvp_at;
    /* forward mode, one slot per nesting level (wg_set_tangent_at): the
     * tangent of node id, NULL for zero; tan_hi: one past the highest id
     * with a tangent this pass */
    struct wg_tan_level {
        wg_tensor **tan;
        size_t cap, hi;
    } lvl[WG_TANGENT_LEVELS];
    wg_tensor **gmap; /* recorded backward: the cotangent of node id (scratch, gmap_cap entries) */
    size_t gmap_cap;
    wg_tensor **lgrad; /* wg_backward_ex(CREATE_GRAPH): a leaf's recorded gradient, by id */
    size_t lgrad_cap, lgrad_hi;
    void *scratch; /* the functional numeric backward's saved leaf gradients */
    size_t scratch_cap;
    int bw_threads;            /* in backward: the thread count of the whole pass (wg_parts.h) */
    const char *op_name;       /* the op being recorded: names out-of-memory errors */
    const wg_tensor *bw_node;  /* in backward, the node whose VJP runs: the same */
    void (*grad_hook)(wg_param *p, void *ctx); /* wg_tape_set_grad_hook */
    void *grad_hook_ctx;
    wg_status status;
    char err[384];
};

/* A node's inputs, for every op alike. */
static inline int wg_node_n_in(const wg_tensor *n) { return n->op->n_inputs ? n->op->n_inputs(n) : n->n_in; }
static inline wg_tensor *wg_node_in(const wg_tensor *n, int i)
{
    return n->op->input ? n->op->input(n, i) : n->in[i];
}

/* ---- arena and nodes (autodiff/tape.c) --------------------------------- */
/* Values and gradients are WG_ALIGN-aligned, nodes WG_NODE_ALIGN-aligned, and
 * every allocation is rounded up to its alignment, so a block's `used` stays
 * a multiple of WG_NODE_ALIGN and a node needs no padding. */
enum { WG_ALIGN = 64, WG_NODE_ALIGN = 8 };
_Static_assert(sizeof(struct wg_tensor) % WG_NODE_ALIGN == 0, "a node is a whole number of node slots");

void *wg_arena_alloc(wg_tape *t, size_t bytes); /* 64-byte aligned; NULL + error on failure */
/* ---- slots and records (autodiff/tape.c) ---------------------------------- */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "a slot's tag is the low byte of a node's op pointer");
/* The slot of node id (id < n_nodes). */
static inline wg_rec *wg_slot(const wg_tape *t, size_t id)
{
    return t->chunk[id >> WG_CHUNK_SHIFT] + (id & (WG_CHUNK_SLOTS - 1));
}
/* x is a record's handle (or a slot address), not a node. */
static inline bool wg_is_rec(const wg_tensor *x) { return *(const uint8_t *)x & WG_R_SLOT; }
static inline wg_tape *wg_rec_tape(const wg_rec *r)
{
    return ((const wg_chunk_hdr *)((uintptr_t)r & ~(uintptr_t)(WG_CHUNK_BYTES - 1)))->tape;
}
/* The handle of node id: its node, or its record. */
static inline wg_tensor *wg_handle_at(const wg_tape *t, size_t id)
{
    wg_rec *s = wg_slot(t, id);
    return (s->tag & WG_R_FULL) ? s->in.node : (wg_tensor *)s;
}
/* A record handle of an earlier pass: its slot is past the newest, or is a
 * node's now (a slot reused by a newer record aliases it, as a node's
 * reused memory does). */
static inline bool wg_rec_stale(const wg_tape *t, const wg_rec *r)
{
    return (r->tag & WG_R_FULL) || r->id >= t->n_nodes;
}
/* A handle's dtype, id and gradient flag, for a node or a record alike. */
static inline int wg_h_dtype(const wg_tensor *x)
{
    return wg_is_rec(x) ? ((((const wg_rec *)x)->tag & WG_R_F32) ? WG_F32 : WG_F64) : x->dtype;
}
static inline uint32_t wg_h_id(const wg_tensor *x) { return wg_is_rec(x) ? ((const wg_rec *)x)->id : x->id; }
static inline bool wg_h_req(const wg_tensor *x)
{
    return wg_is_rec(x) ? (((const wg_rec *)x)->tag & WG_R_REQ) != 0 : (x->flags & WG_F_REQ) != 0;
}
/* The next slot, when the current chunk (or the limit) is used up: a new
 * chunk; NULL with the error recorded. */
wg_rec *wg_slot_more(wg_tape *t);
/* The slot of the next node, id n_nodes, and the node count advanced. */
static inline wg_rec *wg_slot_take(wg_tape *t)
{
    if (t->slot == t->slot_end && !wg_slot_more(t)) return NULL;
    t->n_nodes++;
    return t->slot++;
}
/* A new record of op with the given tag (WG_R_REQ, WG_R_F32), input tags
 * and input ids, in the next slot, which the caller has checked is there
 * (t->slot != t->slot_end; else wg_rec_room); the caller writes its value. */
static inline wg_rec *wg_rec_put(wg_tape *t, int op, unsigned tag, unsigned in_tag, uint32_t a, uint32_t b)
{
    wg_rec *r = t->slot++;
    r->tag = (uint8_t)(tag | WG_R_SLOT);
    r->op = (uint8_t)op;
    r->in_tag = (uint8_t)in_tag;
    r->id = (uint32_t)t->n_nodes++;
    r->in.x[0] = a;
    r->in.x[1] = b;
    t->n_recs++;
    return r;
}
/* Room for op's record when the chunk is full: 0 with the error recorded. */
static inline int wg_rec_room(wg_tape *t, int op)
{
    t->op_name = wg_op_table[op]->name; /* names an out-of-memory error */
    return wg_slot_more(t) != NULL;
}
/* A scalar operand of a fast path: a live 0-d handle of t (record or node)
 * while t records without checks (wg_scalar_live), read into id, tag
 * (WG_R_REQ, WG_R_F32) and value. */
typedef struct {
    uint32_t id;
    unsigned tag; /* WG_R_REQ, WG_R_F32 */
    unsigned in_tag; /* WG_RI_*, as a record's input */
    union { double d; float f; } v;
} wg_scl;
static inline bool wg_scl_of(const wg_tape *t, const wg_tensor *x, wg_scl *o)
{
    if (!x) return false;
    if (!wg_is_rec(x)) {
        if (x->ndim != 0 || x->gen != t->fast_gen || x->tape != t) return false;
        if (!(x->flags & WG_F_MIRROR)) {
            o->id = x->id;
            o->tag = ((x->flags & WG_F_REQ) ? WG_R_REQ : 0u) | (x->dtype == WG_F32 ? WG_R_F32 : 0u);
            o->in_tag = ((x->flags & WG_F_REQ) ? WG_RI_REQ : 0u) | WG_RI_NODE;
            memcpy(&o->v, &x->val, sizeof o->v);
            return true;
        }
        x = (const wg_tensor *)x->aux; /* a mirror: the record it stands for */
    }
    const wg_rec *r = (const wg_rec *)x;
    if (!t->fast_gen || wg_rec_stale(t, r) || wg_rec_tape(r) != t) return false;
    o->id = r->id;
    o->tag = r->tag & (WG_R_REQ | WG_R_F32);
    o->in_tag = (r->tag & WG_R_REQ) ? WG_RI_REQ : 0u;
    memcpy(&o->v, &r->val, sizeof o->v);
    return true;
}
/* x as a full node: x itself, or its record's mirror (made on first use:
 * a full 0-d node with the record's op, value, id and input handles).
 * NULL with the error recorded when there is no memory. */
wg_tensor *wg_solid(wg_tape *t, wg_tensor *x);

/* Write v (float or double) as a record's value, all 8 bytes: the next op
 * reads the value with one 8-byte load, which a 4-byte store would stall. */
#define WG_REC_SET(r, T, v)                                                 \
    do {                                                                   \
        union { double d; float f; uint64_t u; } w_ = {.u = 0};            \
        if (sizeof(T) == sizeof(float))                                    \
            w_.f = (float)(v);                                             \
        else                                                               \
            w_.d = (double)(v);                                            \
        memcpy(&(r)->val, &w_, sizeof w_);                                 \
    } while (0)
/* The value of a record r's input i, whose slot is s, as T. */
#define WG_REC_IN(r, i, s, T) \
    (((r)->in_tag & (WG_RI_NODE << 2 * (i))) ? *(const T *)&(s)->in.node->val : *(const T *)&(s)->val)
/* Add c to the adjoint of id (the first contribution of a pass stored). */
static inline void wg_adj_add_d(wg_adj *adj, uint32_t id, double c)
{
    wg_adj *p = &adj[id];
    p->d = wg_adj_none(p) ? c : p->d + c;
}
static inline void wg_adj_add_f(wg_adj *adj, uint32_t id, float c)
{
    wg_adj *p = &adj[id];
    p->f[1] = wg_adj_none(p) ? c : p->f[1] + c;
}

/* The fields every node needs, its slot, and the node becomes the tape's
 * newest.  Field by field: a compound literal would zero the whole node
 * first.  Left to the caller: flags, n_in and in (wg_node_set_inputs), val
 * (the forward writes it) and attr (read only by the op that sets it, and
 * by wg_retype_fresh_weak behind WG_F_WEAK, set with it); gval is zeroed
 * when a gradient first lands there.  aux is cleared here: it is read by
 * other code than its op's (a parameter's leaf: the matmul VJP's block
 * note), and a recycled node must never carry another op's fields. */
static inline void wg_node_init(wg_tape *t, wg_rec *s, wg_tensor *n, const wg_op *op, int dt, int ndim,
                                const int64_t *shape)
{
    n->op = op;
    n->tape = t;
    n->gen = t->gen;
    n->id = (uint32_t)(t->n_nodes - 1);
    n->grad_epoch = 0;
    n->dtype = (uint8_t)dt;
    n->ndim = (uint8_t)ndim;
    size_t size = 1;
    for (int i = 0; i < WG_MAX_DIMS; i++) {
        n->shape[i] = i < ndim ? shape[i] : 1;
        size *= (size_t)n->shape[i];
    }
    n->size = size;
    n->data = &n->val;
    n->grad = NULL;
    n->aux = NULL;
    s->tag = WG_R_SLOT | WG_R_FULL;
    s->op = (uint8_t)op->id;
    s->id = n->id;
    s->in.node = n;
}
/* A new node with its value buffer; records the error and returns NULL on failure. */
wg_tensor *wg_node_new(wg_tape *t, const wg_op *op, wg_dtype dt, int ndim, const int64_t *shape);
/* A node's inputs, a and b (b NULL for a unary op, both NULL for a leaf),
 * and the flags they give it: every op's constructor sets them here (all
 * other flags start clear). */
static inline void wg_node_set_inputs(wg_tensor *n, wg_tensor *a, wg_tensor *b)
{
    n->n_in = (uint8_t)((a != NULL) + (b != NULL));
    n->in[0] = a;
    n->in[1] = b;
    n->flags = ((a ? a->flags : 0) | (b ? b->flags : 0)) & WG_F_REQ;
}
/* The node of op on a->x[0..a->n): op's shape rule, then a new node of
 * that shape with x[0]'s dtype, its inputs (the first two in n->in, the
 * gradient flag of all) and attr.i from the rule.  The caller runs the
 * forward.  NULL with the error recorded. */
wg_tensor *wg_node_of(wg_tape *t, const wg_op *op, wg_args *a);
/* The shape rule of ops whose output is shaped like their first input
 * (unary elementwise ops, detach). */
int wg_same_shape(wg_tape *t, const wg_op *op, wg_args *a);
/* A node whose data aliases `src`'s value (no copy). */
wg_tensor *wg_node_alias(wg_tape *t, const wg_op *op, wg_tensor *src, int ndim, const int64_t *shape);
/* Gradient buffer of x for the current backward pass: allocated and zeroed on
 * first use, zeroed again if it belongs to an earlier pass (leaves excepted). */
void *wg_grad_buf(wg_tensor *x);
/* The same buffer without the zeroing: *first is set when no contribution
 * has landed in it yet this pass (it holds stale values or none), and the
 * caller must then store every element instead of adding: a VJP that
 * covers its input whole writes it in one pass, where zero-then-add took
 * two (a memset was a quarter of ode's time).  A leaf's gradient
 * accumulates over passes, so only a new leaf buffer is first.  A VJP that
 * covers only part of x (a broadcast sum, a slice, a scatter) zeroes the
 * rest itself, or takes wg_grad_buf. */
void *wg_grad_first(wg_tensor *x, bool *first);
/* x's gradient for this pass without a call when it is already live or is a
 * 1-element intermediate's (inline).  *first is set for the latter's first
 * contribution in the pass: the slot holds an old value, so the VJP stores
 * rather than adds (in a scalar chain, zero-then-add put a second store-to-
 * load round trip on the critical path). */
static inline void *wg_grad_slot(wg_tensor *x, bool *first)
{
    const uint32_t epoch = x->tape->epoch;
    *first = false;
    if (x->grad_epoch == epoch && x->grad) return x->grad;
    if (x->size == 1 && !(x->flags & WG_F_LEAF)) {
        x->grad = &x->gval;
        x->grad_epoch = epoch;
        *first = true;
        return x->grad;
    }
    return wg_grad_buf(x);
}
/* wg_grad_buf without the call when it can: the slot, zeroed if first. */
static inline void *wg_grad_acc(wg_tensor *x)
{
    bool first;
    void *g = wg_grad_slot(x, &first);
    if (first) x->gval.d = 0;
    return g;
}
/* For the ops' record rules (rec_fwd, rec_vjp), inside WG_TYPED(WG_REC_DT(r)):
 * a record's dtype, its adjoint as T, and c added to r's input i (id x)
 * when that requires a gradient. */
#define WG_REC_DT(r) (((r)->tag & WG_R_F32) ? WG_F32 : WG_F64)
#define WG_REC_G(t, r, T) (sizeof(T) == sizeof(float) ? (T)(t)->adj[(r)->id].f[1] : (T)(t)->adj[(r)->id].d)
#define WG_REC_ACC(t, r, i, x, T, c)                                  \
    do {                                                              \
        if ((r)->in_tag & (WG_RI_REQ << 2 * (i))) {                   \
            if (sizeof(T) == sizeof(float))                           \
                wg_adj_add_f((t)->adj, x, (float)(c));                \
            else                                              \
                wg_adj_add_d((t)->adj, x, (double)(c));               \
        }                                                             \
    } while (0)

/* After a forward kernel ran: anomaly check, the tangent in forward mode
 * (the op's JVP rule), then the node is final; NULL on error. */
wg_tensor *wg_node_done(wg_tape *t, wg_tensor *n);
/* The numeric backward from k outputs at once, each seeded (seeds NULL, or
 * an entry NULL: 1 for a one-element output), walking from the newest. */
int wg_backward_many(wg_tape *t, int k, wg_tensor *const *outs, const wg_tensor *const *seeds);
/* 1 if no backward pass of t is running; else 0 with the error "fn: called
 * inside a backward pass of the same tape ..." (a VJP rule or the gradient
 * hook called backward, grad_of or reset: the pass's scratch state would be
 * overwritten under it). */
int wg_not_in_backward(wg_tape *t, const char *fn);
/* The checks of an output and its seed (NULL: out must have one element);
 * 0 with the error recorded. */
int wg_seed_ok(wg_tape *t, const wg_tensor *out, const wg_tensor *seed);
/* Grow a by-id array of node pointers (zero-filled) so that index `need`
 * exists; 0 with the error on the tape when out of memory. */
int wg_idmap_reserve(wg_tape *t, wg_tensor ***a, size_t *cap, size_t need);

/* A constant node with like's shape and dtype and the values of data (in like's dtype). */
wg_tensor *wg_const_like(wg_tape *t, const wg_tensor *like, const void *data);

/* ---- helpers for the ops' recorded VJPs and JVPs (ops/elementwise.c) ---- */
/* g summed over the axes along which `like` was broadcast to g's shape, and
 * given like's shape: the cotangent of a broadcast operand. */
wg_tensor *wg_sum_to(wg_tape *t, wg_tensor *g, const wg_tensor *like);

/* ---- errors ------------------------------------------------------------- */
/* For readers, which get no tape: 1 if x is a handle of the current pass of
 * its tape; else 0, and a stale handle is recorded on its tape as "fn:
 * invalid handle: ..." (autodiff/tape.c). */
bool wg_reader_ok(const wg_tensor *x, const char *fn);
void wg_set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if the op may run: the tape has no error and every input is a live handle
 * of this tape (else records "op: invalid handle: argument N ..." and returns 0). */
int wg_check_handles(wg_tape *t, const char *op, int n, wg_tensor *const *xs);
/* The same, and each record in xs replaced by its mirror (wg_solid), so the
 * op sees full nodes only. */
int wg_check_inputs(wg_tape *t, const char *op, int n, wg_tensor **xs);
/* wg_check_inputs for a list the caller owns: xs itself when it holds no
 * record, else a copy in the arena with mirrors; NULL on error. */
wg_tensor *const *wg_check_list(wg_tape *t, const char *op, int n, wg_tensor *const *xs);
/* What a reader reads for handle x: the node, or the view of a record (a
 * mirror reads its record) written into *view; NULL, with a stale handle
 * recorded on its tape, if x is not live. */
const wg_tensor *wg_reader(const wg_tensor *x, const char *fn, wg_tensor *view);
/* A weak constant recorded just now (the tape's last node, so nothing has
 * read it yet) takes the other operand's dtype in place instead of being
 * copied into a new node; 1 if it did. */
int wg_retype_fresh_weak(wg_tape *t, wg_tensor *a, wg_tensor *b);
/* Weak constants take the dtype of the other operand; then dtypes must match. */
int wg_unify_dtypes(wg_tape *t, const char *op, wg_tensor **a, wg_tensor **b);
/* "f32[2,3]" */
char *wg_fmt_shape(const wg_tensor *x, char *buf, size_t len);
/* Normalise a possibly negative axis for ndim dims; -1 when out of range. */
int wg_norm_axis(int axis, int ndim);

/* ---- fast math (ops/unary.c) -------------------------------------------- */
enum { WG_VEC_EXP, WG_VEC_TANH };
/* y[0..n) = exp or tanh of x[0..n) (dtype dt; y == x allowed) through
 * glibc's vector math and true, when wg_set_fast_math is on and libmvec was
 * found; else false, and nothing is written. */
bool wg_vec_math(int fn, int dt, const void *x, void *y, size_t n);

/* ---- typed kernels ----------------------------------------------------- */
/* Run the statements once with T = float or T = double.  With <tgmath.h>,
 * exp(), log(), ... pick the precision from T. */
#define WG_TYPED(dt, ...)              \
    do {                               \
        if ((dt) == WG_F32) {          \
            typedef float T;           \
            __VA_ARGS__                \
        } else {                       \
            typedef double T;          \
            __VA_ARGS__                \
        }                              \
    } while (0)

static inline size_t wg_dtype_size(int dt) { return dt == WG_F32 ? sizeof(float) : sizeof(double); }
static inline size_t wg_shape_numel(int ndim, const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}
static inline bool wg_needs_grad(const wg_tensor *x) { return x->flags & WG_F_REQ; }

/* The largest product of a shape's nonzero dimensions (2^60 - 1).  Bounding
 * the nonzero ones, not just the element count, keeps every stride and count
 * computed from an accepted shape inside int64_t, empty tensors included
 * ([0, 2^62, 2^62] has no elements but 2^124 as a stride). */
#define WG_MAX_NUMEL (SIZE_MAX >> 4)
/* The element count of a shape, or SIZE_MAX if a dimension is negative or
 * the nonzero dimensions multiply past WG_MAX_NUMEL. */
static inline size_t wg_checked_numel(int ndim, const int64_t *shape)
{
    size_t n = 1, nz = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return SIZE_MAX;
        if (shape[i] == 0) {
            n = 0;
            continue;
        }
        if (nz > WG_MAX_NUMEL / (size_t)shape[i]) return SIZE_MAX;
        nz *= (size_t)shape[i];
        n *= (size_t)shape[i];
    }
    return n;
}
/* fast_gen after a change of gen, status or anomaly mode. */
static inline void wg_tape_update_fast(wg_tape *t)
{
    t->fast_gen = t->status == WG_OK && !t->anomaly && !t->fwd_active && !t->check_handles ? t->gen : 0;
}

#endif
