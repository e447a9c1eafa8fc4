// Kernels that exist to test the emulator itself (and the real device's launch path): a
// shared-memory shift with and without the barrier it needs; one block of blockDim.x threads
// over x[0..blockDim.x). A TF32 tensor-core GEMM through nvcuda::wmma, and a cp.async copy with
// and without its wait (layouts at each kernel). Deterministic.
#include "common.cuh"
#ifndef COIN_EMU
#include <cuda_pipeline.h>
#include <mma.h>
#endif

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

// C = A·B through TF32 tensor cores: A is M×K, B is K×N, C is M×N, all row-major, M, N
// multiples of 16 and K of 8. One warp (a block of 32 threads) per 16×16 tile of C: block
// (x, y) computes rows 16y.., columns 16x.., looping over K in steps of 8 with FP32
// accumulation. `convert` != 0 rounds each operand with wmma::__float_to_tf32 first; 0 passes
// FP32 values straight in (the tensor cores then ignore their low mantissa bits).
extern "C" __global__ void __launch_bounds__(32)
    selftest_wmma_gemm(const float* a, const float* b, float* c, int n, int k, int convert) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  const int row = blockIdx.y * 16, col = blockIdx.x * 16;
  for (int kk = 0; kk < k; kk += 8) {
    wmma::load_matrix_sync(fa, a + (long long)row * k + kk, k);
    wmma::load_matrix_sync(fb, b + (long long)kk * n + col, n);
    if (convert) {
      for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
      for (int i = 0; i < fb.num_elements; ++i) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
    }
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c + (long long)row * n + col, acc, n, wmma::mem_row_major);
}

// y[4t..4t+4) = x[4(t+1 mod n)..) through shared memory filled by cp.async (16 bytes a thread,
// one batch), one block of n threads. With `wait` == 0 the __pipeline_wait_prior is missing:
// on the emulator the copied values are still NaN when read.
extern "C" __global__ void __launch_bounds__(256) selftest_cp_async(const float* x, float* y, int wait) {
  __shared__ __align__(16) float s[4 * 256];
  unsigned t = threadIdx.x, n = blockDim.x;
  __pipeline_memcpy_async(&s[4 * t], &x[4 * t], 16);
  __pipeline_commit();
  if (wait) __pipeline_wait_prior(0);
  __syncthreads();
  unsigned from = (t + 1) % n;
  for (int i = 0; i < 4; ++i) y[4 * t + i] = s[4 * from + i];
}
