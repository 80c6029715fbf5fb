/* rng.c: xoshiro256** seeded with splitmix64; Box-Muller normals. */
#include <math.h>

#include "wg_rng.h"

static const double two_pi = 6.283185307179586476925286766559;
__extension__ typedef unsigned __int128 u128;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void wg_rng_seed(wg_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t wg_rng_next(wg_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double wg_rng_uniform(wg_rng *r) { return (double)(wg_rng_next(r) >> 11) * 0x1.0p-53; }

double wg_rng_normal(wg_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - wg_rng_uniform(r); /* (0, 1]: log(u1) is finite */
    double u2 = wg_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(two_pi * u2);
    r->has_spare = 1;
    return rad * cos(two_pi * u2);
}

uint64_t wg_rng_below(wg_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Lemire's multiply-shift with rejection of the biased low range. */
    u128 m = (u128)wg_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = -n % n;
        while (lo < thresh) {
            m = (u128)wg_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}
