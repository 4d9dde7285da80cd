/*
 * nn_test.c — test data and double-precision activations for the kernel tests (nn_test.h).
 */
#include "nn_test.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void nn_test_seed(uint64_t seed)
{
    rng_state = seed;
}

float nn_test_frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0) - 1.0);
}

float *nn_test_rand_vec(size_t n, float scale)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) v[i] = nn_test_frand() * scale;
    return v;
}

double nn_test_act(nn_act act, double x)
{
    if (act == NN_ACT_QUICK_GELU) return x / (1.0 + exp(-1.702 * x));
    if (act == NN_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x;
}
