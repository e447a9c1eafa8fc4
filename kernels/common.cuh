// Shared by every kernel file: the emulation switch, dynamic shared memory and index helpers.
// Kernel signatures are parsed by build.rs, so keep each one on the form
// `extern "C" __global__ void __launch_bounds__(N) name(type name, ...)`, with parameter types
// from: pointers to float/int/long long/unsigned char, int, long long, float, and parameter
// structs. A parameter struct is declared in its family's .cu file as `struct Name { ... };`
// (build.rs tabulates its field offsets; the Rust mirror in src/ops/<family>/gpu.rs is checked
// against them); op codes and modes as `enum Name { A = 0, ... };` (build.rs turns them into
// Rust constants).
#pragma once

#ifdef COIN_EMU
#include "emu/cuda_emu.h"
namespace emu {
void* dynamic_smem();
}
template <typename T>
__device__ inline T* coin_dynamic_smem() {
  return reinterpret_cast<T*>(::emu::dynamic_smem());
}
#else
template <typename T>
__device__ inline T* coin_dynamic_smem() {
  extern __shared__ __align__(16) unsigned char coin_smem_bytes[];
  return reinterpret_cast<T*>(coin_smem_bytes);
}
#endif

// Asks nvcc to unroll the next loop (register arrays indexed by its counter stay in registers);
// nothing on the emulator.
#ifdef COIN_EMU
#define COIN_UNROLL
#else
#define COIN_UNROLL _Pragma("unroll")
#endif

// A grid-stride loop over [0, n).
#define COIN_GRID_LOOP(i, n)                                                         \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024), in a fixed order:
// shuffles within warps, then warp 0 over the warps' partials. Every thread gets the result.
// `scratch` holds 32 floats of shared memory. Deterministic for a given block size.
__device__ inline float coin_block_sum(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float s = lane < warps ? scratch[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  __syncthreads();
  return s;
}
