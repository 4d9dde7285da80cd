/*
 * backend.c — which compute kernels this process runs (chosen once from the CPU, or forced
 * with AE_KERNELS=scalar|avx2|avx512), for `aesthete info` and benchmark reports.
 */
#include "aesthete.h"
#include "nn/nn.h"

const char *ae_kernels(void) { return nn_kernel_name(); }
