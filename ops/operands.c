/* operands.c: wg_add, wg_sub, wg_mul, wg_div, wg_max, wg_min and wg_pow as
 * real functions of two tensors, so their names are addressable (&wg_add).
 * Calls written wg_add(t, a, b) go through wg_ops.h's macros (numbers as
 * operands) straight to wg__add; the parentheses around each name here keep
 * those macros from expanding. */
#include "wg_ops.h"

wg_tensor *(wg_add)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__add(t, a, b); }
wg_tensor *(wg_sub)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__sub(t, a, b); }
wg_tensor *(wg_mul)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__mul(t, a, b); }
wg_tensor *(wg_div)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__div(t, a, b); }
wg_tensor *(wg_max)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__max(t, a, b); }
wg_tensor *(wg_min)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__min(t, a, b); }
wg_tensor *(wg_pow)(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg__pow(t, a, b); }
/* Tensors only, so no macro: the function is the API. */
wg_tensor *wg_mask(wg_tape *t, wg_tensor *x, wg_tensor *m) { return wg__mask(t, x, m); }
