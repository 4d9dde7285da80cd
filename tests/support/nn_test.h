/*
 * nn_test.h — what the kernel tests (test_nn, test_quant) share: a seeded xorshift generator
 * of test data and the activations in double precision, the references they compare against.
 */
#ifndef AE_NN_TEST_H
#define AE_NN_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

/* Restarts the generator (each test program seeds it once, first). */
void nn_test_seed(uint64_t seed);
/* uniform in [-1, 1) */
float nn_test_frand(void);
/* n values nn_test_frand() * scale, malloc'ed (at least one float) */
float *nn_test_rand_vec(size_t n, float scale);
/* act(x) in double: x / (1 + exp(-1.702 x)), 0.5 x (1 + erf(x / √2)), or x */
double nn_test_act(nn_act act, double x);

#endif
