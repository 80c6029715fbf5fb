/* test_handles: stale handles (issue 13, item 3).
 *
 * With handle checks on (wg_tape_set_check_handles, or WG_CHECK_HANDLES=1
 * when the tape is made), every use of a handle from an earlier pass is a
 * WG_ERR_HANDLE error naming the function, in each case that used to go
 * silently wrong: an op on a stale handle whose memory the next pass reused
 * (it read the new node: 25 where an error was due), backward on a stale
 * handle (returned 0 and did nothing), the *_idx losses on last step's
 * logits with a smaller batch (read the labels past their end: ASan sees
 * that), and the readers.  Without checks, what wg_tensor.h promises: a
 * stale handle whose memory holds no node of the current pass is an error.
 */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

static const char *err(wg_tape *t) { return wg_tape_error(t) ? wg_tape_error(t) : "(no error)"; }

/* x*x of the previous pass's x = 5 while the new pass recorded 5 where x was. */
static void reused_node(bool check)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_check_handles(t, check);
    wg_tensor *x = wg_var(t, 3);
    wg_tape_reset(t);
    wg_tensor *y = wg_var(t, 5);
    wg_tensor *z = wg_mul(t, x, x);
    if (check) {
        CHECK(y != x, "a new pass reused a node's memory with handle checks on");
        CHECK(z == NULL && wg_tape_status(t) == WG_ERR_HANDLE, "mul of a stale handle: got %g, %s",
              z ? wg_item(z) : 0.0, err(t));
        CHECK_STR(wg_tape_error(t), "mul: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    } else {
        /* the documented blind spot: the stale handle now is the new node */
        CHECK(y == x && z && wg_item(z) == 25, "without checks the memory is reused (documented): %s", err(t));
    }
    wg_tape_free(t);
}

static void stale_backward(void)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_check_handles(t, true);
    wg_tensor *x = wg_var(t, 2);
    wg_tensor *y = wg_mul(t, x, x);
    wg_tape_reset(t);
    wg_tensor *x2 = wg_var(t, 2);
    (void)wg_mul(t, x2, x2);
    CHECK(wg_backward(t, y) == -1, "backward on a stale handle must fail");
    CHECK_STR(wg_tape_error(t), "backward: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    wg_tape_free(t);
}

/* Last step's logits (128 rows) with this step's 37 labels. */
static void stale_idx_loss(int which)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_check_handles(t, true);
    const int64_t big[2] = {128, 10}, small[2] = {37, 10};
    wg_tensor *old = wg_tensor_new(t, WG_F32, 2, big, NULL, true);
    wg_tape_reset(t);
    (void)wg_tensor_new(t, WG_F32, 2, small, NULL, true);
    int *labels = malloc(37 * sizeof *labels);
    for (int i = 0; i < 37; i++) labels[i] = i % 10;
    wg_tensor *l = which ? wg_nn_cross_entropy_idx(t, old, labels, WG_REDUCE_MEAN)
                         : wg_nn_softmax_cross_entropy_idx(t, old, labels, WG_REDUCE_MEAN);
    CHECK(l == NULL, "a loss on stale logits must fail");
    CHECK_STR(wg_tape_error(t), which ? "cross_entropy_idx: invalid handle: q was recorded before the last wg_tape_reset"
                                      : "softmax_cross_entropy_idx: invalid handle: logits was recorded before the "
                                        "last wg_tape_reset");
    free(labels);
    wg_tape_free(t);
}

/* The readers return their "none" value and record the error. */
static void stale_readers(void)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_check_handles(t, true);
    const int64_t s[1] = {3};
    wg_tensor *x = wg_full(t, WG_F64, 1, s, 7);
    CHECK(wg_item(x) == 7 && wg_numel(x) == 3, "a live handle reads");
    wg_tape_reset(t);
    (void)wg_full(t, WG_F64, 1, s, 9);
    CHECK(isnan(wg_item(x)), "item of a stale handle: %g", wg_item(x));
    CHECK_STR(wg_tape_error(t), "get: invalid handle: the tensor was recorded before the last wg_tape_reset");
    CHECK(wg_numel(x) == 0 && wg_shape(x) == NULL && wg_data(x) == NULL && wg_grad(x) == NULL &&
              wg_input(x, 0) == NULL && wg_ndim(x) == 0,
          "readers of a stale handle");
    wg_tape_free(t);
}

/* The environment variable turns the checks on for a new tape, and a
 * handle of an earlier pass is never confused with one of this pass, over
 * many passes. */
static void env_and_many_passes(void)
{
    setenv("WG_CHECK_HANDLES", "1", 1);
    wg_tape *t = wg_tape_new();
    unsetenv("WG_CHECK_HANDLES");
    wg_tensor *old[20];
    for (int pass = 0; pass < 20; pass++) {
        wg_tape_reset(t);
        old[pass] = wg_add(t, wg_var(t, pass), wg_var(t, 1));
        CHECK(old[pass] && wg_item(old[pass]) == pass + 1, "pass %d: %s", pass, err(t));
    }
    for (int pass = 0; pass < 19; pass++) {
        CHECK(wg_exp(t, old[pass]) == NULL && wg_tape_status(t) == WG_ERR_HANDLE,
              "a handle of pass %d used in pass 19: %s", pass, err(t));
        wg_tape_reset(t);
        (void)wg_add(t, wg_var(t, 0), wg_var(t, 1));
    }
    /* a handle of the current pass is fine */
    wg_tensor *live = wg_tape_last(t);
    CHECK(wg_exp(t, live) != NULL, "a live handle with checks on: %s", err(t));
    wg_tape_free(t);
}

int main(void)
{
    reused_node(false);
    reused_node(true);
    stale_backward();
    stale_idx_loss(0);
    stale_idx_loss(1);
    stale_readers();
    env_and_many_passes();
    /* Without checks: a stale handle whose memory holds no node of the
     * current pass (nothing recorded yet) is still an error. */
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 1);
    wg_tape_reset(t);
    CHECK(wg_exp(t, x) == NULL, "a stale handle before anything is recorded");
    CHECK_STR(wg_tape_error(t), "exp: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    wg_tape_free(t);
    return wg_test_done("test_handles");
}
