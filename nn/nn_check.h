/* nn_check.h: private to nn/.  Argument checks at the entry of a composite,
 * so that a NULL handle is reported with the composite's own name ("sigmoid:
 * invalid handle: x is NULL") instead of the name of an op inside it. */
#ifndef WG_NN_CHECK_H
#define WG_NN_CHECK_H

#include "wg_nn.h"

/* 1 if fn may run on t with these inputs; else 0, with the error recorded
 * (or left alone when the tape already holds an earlier one). */
static inline int nn_ok(wg_tape *t, const char *fn, int n, wg_tensor *const *xs, const char *const *names)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", fn);
        return 0;
    }
    if (wg_tape_status(t) != WG_OK) return 0;
    /* NULL, another tape's, or stale: checked before anything reads a
     * shape through it (the *_idx losses size the labels by it) */
    for (int i = 0; i < n; i++)
        if (!wg_tape_check_handle(t, fn, names[i], xs[i])) return 0;
    return 1;
}

#define NN_CHECK1(t, fn, x) \
    do { wg_tensor *xs_[1] = {(x)}; const char *ns_[1] = {#x}; if (!nn_ok((t), (fn), 1, xs_, ns_)) return NULL; } while (0)
#define NN_CHECK2(t, fn, x, y) \
    do { wg_tensor *xs_[2] = {(x), (y)}; const char *ns_[2] = {#x, #y}; if (!nn_ok((t), (fn), 2, xs_, ns_)) return NULL; } while (0)
#define NN_CHECK3(t, fn, x, y, z)                                                        \
    do {                                                                                 \
        wg_tensor *xs_[3] = {(x), (y), (z)};                                             \
        const char *ns_[3] = {#x, #y, #z};                                               \
        if (!nn_ok((t), (fn), 3, xs_, ns_)) return NULL;                                 \
    } while (0)

#endif
