// Kernels that exist to test the emulator itself (and the real device's launch path): a
// shared-memory shift with and without the barrier it needs. Layout: one block of blockDim.x
// threads over x[0..blockDim.x). Deterministic.
#include "common.cuh"

// y[t] = x[t-1] (y[0] = x[blockDim.x-1]) through shared memory, correctly synchronised.
extern "C" __global__ void __launch_bounds__(1024) selftest_shift_sync(const float* x, float* y) {
  __shared__ float s[1024];
  unsigned t = threadIdx.x, n = blockDim.x;
  s[t] = x[t];
  __syncthreads();
  y[t] = s[(t + n - 1) % n];
}

// The same with the barrier missing: right under an in-order schedule for every thread but 0,
// wrong under a shuffled one.
extern "C" __global__ void __launch_bounds__(1024) selftest_shift_racy(const float* x, float* y) {
  __shared__ float s[1024];
  unsigned t = threadIdx.x, n = blockDim.x;
  s[t] = x[t];
  y[t] = s[(t + n - 1) % n];
}

// Block sum through coin_block_sum: y[blockIdx.x] = sum of x over the block's slice.
extern "C" __global__ void __launch_bounds__(1024) selftest_block_sum(const float* x, float* y) {
  __shared__ float scratch[32];
  float v = coin_block_sum(x[blockIdx.x * blockDim.x + threadIdx.x], scratch);
  if (threadIdx.x == 0) y[blockIdx.x] = v;
}

// The runtime's tests launch this one (argument checks, launch limits, guard pages); the ops
// fill buffers with the runtime's Gpu::fill (a driver memset), not a kernel.
extern "C" __global__ void __launch_bounds__(256) fill_f32(float* y, long long n, float v) {
  COIN_GRID_LOOP(i, n) { y[i] = v; }
}
