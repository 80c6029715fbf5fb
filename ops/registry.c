/* registry.c: the table of every primitive op, generated from ops.def. */
#include "wg_internal.h"

const wg_op *const wg_op_table[WG_N_OPS] = {
#define X(name) &wg_op_##name,
#include "ops.def"
#undef X
};

_Static_assert(sizeof wg_op_table / sizeof wg_op_table[0] == WG_N_OPS,
               "every op in ops.def has one table entry");
