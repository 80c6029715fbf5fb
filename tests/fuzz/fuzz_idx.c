/* fuzz_idx: the IDX reader (io/idx.c) on arbitrary bytes.  A rejected file
 * must leave the output empty and a message naming the file. */
#include <stdlib.h>
#include <string.h>

#include "wengert.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    wg_idx x;
    char err[512];
    err[0] = 0;
    wg_status st = wg_idx_parse(data, size, "fuzz.idx", &x, err, sizeof err);
    if (st == WG_OK) {
        size_t n = 1;
        for (int i = 0; i < x.ndim; i++) n *= (size_t)x.shape[i];
        if (n != x.numel || (n && memcmp(x.data, data + size - n, n) != 0)) abort(); /* elements are the tail */
        wg_idx_free(&x);
    } else if (x.data || !strstr(err, "fuzz.idx")) {
        abort();
    }
    return 0;
}
