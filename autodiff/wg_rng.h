/* wg_rng.h: the one source of randomness, explicit and seeded.
 *
 * xoshiro256** (Blackman and Vigna), its state seeded from one 64-bit number
 * through splitmix64.  The same seed gives the same stream on every machine.
 * Normals come from the Box-Muller transform. */
#ifndef WG_RNG_H
#define WG_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_rng {
    uint64_t s[4];
    double spare; /* the second normal of the last Box-Muller pair */
    int has_spare;
} wg_rng;

void wg_rng_seed(wg_rng *r, uint64_t seed);
uint64_t wg_rng_next(wg_rng *r);
double wg_rng_uniform(wg_rng *r);             /* [0, 1), 53 random bits */
double wg_rng_normal(wg_rng *r);              /* N(0, 1) */
uint64_t wg_rng_below(wg_rng *r, uint64_t n); /* uniform in [0, n), unbiased; 0 if n = 0 */

#ifdef __cplusplus
}
#endif
#endif
