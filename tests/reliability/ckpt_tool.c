/* ckpt_tool: the C side of the numpy interoperability test.
 *
 *   ckpt_tool write FILE   saves the reference model below
 *   ckpt_tool check FILE   loads FILE (written by numpy_interop.py) and checks it
 *
 * Reference model, the same formulas as numpy_interop.py:
 *   w  F32 [3,4]  w[i] = i/4 - 3/2          (python: "w" = arange(12)*0.25 - 1.5)
 *   b  F64 [4]    b[i] = 1/(i+1)
 *   s  F32 []     2.5
 *   e  F32 [0,2]  empty
 * The file from python holds w[i] = i/2 + 1, b[i] = -(i+1)/3, s = -3.75. */
#include "wengert.h"
#include "wg_test.h"

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: ckpt_tool write|check FILE\n");
        return 2;
    }
    int writing = strcmp(argv[1], "write") == 0;
    float w[12], s = 0, e[1] = {0};
    double b[4];
    int64_t sw[2] = {3, 4}, sb[1] = {4}, se[2] = {0, 2};
    for (int i = 0; i < 12; i++) w[i] = writing ? (float)i / 4 - 1.5f : 0;
    for (int i = 0; i < 4; i++) b[i] = writing ? 1.0 / (i + 1) : 0;
    if (writing) s = 2.5f;
    wg_checkpoint *c = wg_checkpoint_new();
    CHECK(wg_checkpoint_add(c, "w", WG_F32, 2, sw, w) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_add(c, "b", WG_F64, 1, sb, b) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_add(c, "s", WG_F32, 0, NULL, &s) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_add(c, "e", WG_F32, 2, se, e) == 0, "%s", wg_checkpoint_error(c));
    if (writing) {
        wg_checkpoint_set_meta_i64(c, "step", 7);
        wg_checkpoint_set_meta(c, "optimizer", "sgd");
        CHECK(wg_checkpoint_save(c, argv[2]) == 0, "%s", wg_checkpoint_error(c));
    } else {
        CHECK(wg_checkpoint_load(c, argv[2]) == 0, "%s", wg_checkpoint_error(c));
        for (int i = 0; i < 12; i++) CHECK(w[i] == (float)i / 2 + 1, "w[%d] = %g", i, w[i]);
        for (int i = 0; i < 4; i++) CHECK(b[i] == -(double)(i + 1) / 3, "b[%d] = %.17g", i, b[i]);
        CHECK(s == -3.75f, "s = %g", s);
        CHECK_STR(wg_checkpoint_meta(c, "step"), "11");
        CHECK_STR(wg_checkpoint_meta(c, "written_by"), "numpy");
    }
    wg_checkpoint_free(c);
    return wg_test_done(writing ? "ckpt_tool write" : "ckpt_tool check");
}
