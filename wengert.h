/* wengert.h: the whole public API.  Every public name starts with wg_. */
#ifndef WENGERT_H
#define WENGERT_H

#include "wg_tensor.h"
#include "wg_ops.h"
#include "wg_rng.h"
#include "wg_gradcheck.h"
#include "wg_higher.h"
#include "wg_nn.h"
#include "wg_optim.h"
#include "wg_idx.h"
#include "wg_checkpoint.h"

#endif
