/* fuzz_calc: the calculator's language (demos/grad_lang.c) on arbitrary
 * programs: parse, then record on a tape with inputs x, y, z, run backward
 * and take the Hessian (as grad --hessian does).  The parser is separate from demos/grad.c's main, so the harness
 * links grad_lang.c itself; nothing in the demo is changed for fuzzing.  The
 * tape is capped at 64 MiB, so a program that grows without bound is a
 * clean WG_ERR_NOMEM, not an out-of-memory report from the fuzzer. */
#include <stdlib.h>
#include <string.h>

#include "grad_lang.h"
#include "wengert.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[512];
    gl_program *p = gl_new();
    if (!p) return 0;
    int rc = gl_add_input(p, "x=0.5", 1, err, sizeof err);
    if (!rc) rc = gl_add_input(p, "y=-2", 2, err, sizeof err);
    if (!rc) rc = gl_add_input(p, "z=3e-3", 3, err, sizeof err);
    if (rc) abort();
    /* gl_parse keeps pointers into the source: give it its own copy. */
    char *src = malloc(size ? size : 1);
    if (!src) {
        gl_free(p);
        return 0;
    }
    memcpy(src, data, size);
    rc = gl_parse(p, src, size, err, sizeof err);
    if (rc == GL_OK) {
        for (int k = 0; k < 2; k++) {
            wg_tape *t = wg_tape_new_limited((size_t)64 << 20);
            wg_tensor *out = NULL, *leaves[3];
            double H[9];
            if (t && gl_eval(p, t, k ? WG_F32 : WG_F64, NULL, &out, leaves, err, sizeof err) == GL_OK &&
                wg_numel(out) == 1 && wg_backward(t, out) == 0)
                wg_hessian_of(t, out, 3, leaves, H); /* grad --hessian: a recorded backward, then 3 through it */
            wg_tape_free(t);
        }
    } else if (rc == GL_USER && !err[0]) {
        abort(); /* a user error without a message */
    }
    gl_free(p);
    free(src);
    return 0;
}
