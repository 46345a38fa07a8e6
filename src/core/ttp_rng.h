/*
 * ttp_rng.h — the counter-based generator as inline functions, shared by the
 * C library and the CUDA kernels (compiled as __host__ __device__ there), so
 * that every rank and every device produce bit-identical projection entries.
 */
#ifndef TTP_RNG_H
#define TTP_RNG_H

#include <stdint.h>

#if defined(__CUDACC__)
#define TTP_HD __host__ __device__ __forceinline__
#else
#define TTP_HD static inline
#endif

TTP_HD uint64_t ttp_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A pure function of (key, counter): splitmix64 finalisers over both words. */
TTP_HD uint64_t ttp_rng_hash(uint64_t key, uint64_t counter)
{
    uint64_t z = ttp_mix64(key + 0x9e3779b97f4a7c15ULL);
    z = ttp_mix64(z ^ (counter * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL));
    return ttp_mix64(z + counter);
}

/* Uniform in [0, 1) with 53 bits. */
TTP_HD double ttp_rng_hash_uniform(uint64_t key, uint64_t counter)
{
    return (double)(ttp_rng_hash(key, counter) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* TTP_RNG_H */
