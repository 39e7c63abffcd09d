/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rng.h - the workloads' pseudo-random numbers (definitions in rng.c): reproducible
 * from a --seed, never from the clock.
 */
#ifndef WORKLOADS_LIB_RNG_H
#define WORKLOADS_LIB_RNG_H

#include <stdint.h>

/* A 64-bit mix of x (splitmix64's finaliser): a hash, or a stream when iterated. */
uint64_t splitmix64(uint64_t x);
/* The next number of the xorshift64 stream in *state (never 0: seed it odd). */
uint64_t xorshift64(uint64_t *state);
#endif /* WORKLOADS_LIB_RNG_H */
