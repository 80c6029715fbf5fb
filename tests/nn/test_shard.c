/* test_shard: wg_batcher_shard.  P batchers made alike, each sharded to its
 * rank, must together give exactly the batches of one unsharded batcher:
 * rank r's share is the slice [c r/P, c (r+1)/P) of the global batch of c,
 * in order, over several shuffled epochs with a last partial batch, for
 * P = 1..5 including shares that are empty (batch 3 on 5 ranks). */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

static void check(size_t n, size_t batch, int P, int drop_last)
{
    wg_batcher one, sh[8];
    CHECK(wg_batcher_init(&one, n, batch, true, drop_last, 42) == 0, "init");
    for (int r = 0; r < P; r++) {
        CHECK(wg_batcher_init(&sh[r], n, batch, true, drop_last, 42) == 0, "init");
        CHECK(wg_batcher_shard(&sh[r], r, P) == 0, "shard %d of %d: %s", r, P, wg_last_error());
    }
    for (int call = 0; call < 40; call++) {
        const size_t *idx;
        size_t c;
        bool more = wg_batcher_next(&one, &idx, &c);
        size_t at = 0;
        for (int r = 0; r < P; r++) {
            const size_t *ri;
            size_t rc;
            bool rm = wg_batcher_next(&sh[r], &ri, &rc);
            CHECK(rm == more, "n %zu batch %zu P %d call %d rank %d: more %d, want %d", n, batch, P, call, r, rm, more);
            if (!more) continue;
            CHECK(sh[r].global_count == c, "global_count %zu, want %zu", sh[r].global_count, c);
            size_t lo = c * (size_t)r / (size_t)P, hi = c * (size_t)(r + 1) / (size_t)P;
            CHECK(rc == hi - lo && lo == at, "P %d rank %d: %zu rows from %zu, want %zu from %zu", P, r, rc, at,
                  hi - lo, lo);
            for (size_t k = 0; k < rc && k + at < c; k++)
                CHECK(ri[k] == idx[at + k], "P %d rank %d row %zu: sample %zu, want %zu", P, r, k, ri[k], idx[at + k]);
            at += rc;
        }
        if (more) CHECK(at == c, "P %d: shares cover %zu of %zu rows", P, at, c);
    }
    wg_batcher_free(&one);
    for (int r = 0; r < P; r++) wg_batcher_free(&sh[r]);
}

int main(void)
{
    for (int P = 1; P <= 5; P++) {
        check(70, 25, P, 0);
        check(70, 25, P, 1);
        check(11, 3, P, 0);
    }
    wg_batcher b;
    CHECK(wg_batcher_init(&b, 10, 4, false, false, 1) == 0, "init");
    CHECK(wg_batcher_shard(&b, 2, 2) == -1, "rank 2 of 2 accepted");
    CHECK_STR(wg_last_error(), "batcher_shard: need an initialised batcher and 0 <= rank < size: rank 2, size 2");
    CHECK(wg_batcher_shard(&b, 0, 0) == -1, "size 0 accepted");
    CHECK(wg_batcher_shard(NULL, 0, 1) == -1, "NULL accepted");
    wg_batcher_free(&b);
    return wg_test_done("test_shard");
}
