/* rng: the simulator's only source of randomness (splitmix64 seeding
 * xoshiro256**; every decision of a run derives from the seed), plus small
 * shared helpers (allocation, hashing). */
#include "sim.h"

#include <stdlib.h>

void *sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	return q;
}

uint64_t sim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
	uint64_t st = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = sim_splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
	if (n <= 1)
		return 0;
	/* Lemire-style rejection keeps the distribution exact. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do {
		x = sim_rng_next(r);
	} while (x >= limit);
	return x % n;
}

uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + sim_rng_below(r, hi - lo + 1);
}

bool sim_rng_ppm(struct sim_rng *r, uint32_t ppm)
{
	if (ppm == 0)
		return false;
	if (ppm >= 1000000u)
		return true;
	return sim_rng_below(r, 1000000u) < ppm;
}

uint64_t sim_rng_pick(struct sim_rng *r, const uint32_t *v, size_t n)
{
	return v[sim_rng_below(r, n)];
}

uint64_t sim_rng_core(void *ctx)
{
	return sim_rng_next(ctx);
}

uint64_t sim_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}
