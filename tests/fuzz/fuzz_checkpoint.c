/* fuzz_checkpoint: the safetensors loader on arbitrary bytes.
 *
 * The model has one tensor of each kind the loader must handle (F32, F64, a
 * 0-d scalar, an empty tensor), so inputs grown from the seed corpus reach
 * the data copy.  A rejected file must leave the arrays as they were. */
#include <stdlib.h>
#include <string.h>

#include "wengert.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static float w[6], s, e[1];
    static double b[3];
    const float w0 = 123.0f;
    for (int i = 0; i < 6; i++) w[i] = w0;
    int64_t sw[2] = {2, 3}, sb[1] = {3}, se[2] = {0, 2};
    wg_checkpoint *c = wg_checkpoint_new();
    if (!c) return 0;
    wg_checkpoint_add(c, "w", WG_F32, 2, sw, w);
    wg_checkpoint_add(c, "b", WG_F64, 1, sb, b);
    wg_checkpoint_add(c, "s", WG_F32, 0, NULL, &s);
    wg_checkpoint_add(c, "e", WG_F32, 2, se, e);
    if (wg_checkpoint_load_buffer(c, data, size, "fuzz") == 0) {
        int64_t step;
        double lr;
        wg_checkpoint_meta_i64(c, "step", &step);
        wg_checkpoint_meta_f64(c, "lr", &lr);
    } else {
        const char *msg = wg_checkpoint_error(c);
        for (int i = 0; i < 6; i++)
            if (memcmp(&w[i], &w0, sizeof w0) != 0 || !msg || strncmp(msg, "checkpoint fuzz: ", 17) != 0)
                abort(); /* a rejected file changed the model, or the message is malformed */
    }
    wg_checkpoint_free(c);
    return 0;
}
