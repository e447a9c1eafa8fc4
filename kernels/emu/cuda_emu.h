// CUDA on the CPU: the execution model the kernels in kernels/*.cu rely on, for the host C++
// compiler. Included (via kernels/common.cuh) when COIN_EMU is defined.
//
// - Blocks run one after another; the threads of a block are cooperative fibers (own stacks;
//   switched by a few instructions of assembly on x86-64, by ucontext elsewhere) that switch
//   only at __syncthreads() and at warp-collective calls (shuffles, votes), which this emulator
//   treats as block-wide barriers: kernels must call them block-uniformly.
// - `__shared__` is a function-local `static thread_local`: shared by the fibers of the block
//   running on this OS thread, private to each test thread. It keeps the previous block's (or
//   launch's) values, as hardware may, so a missing-barrier test must change its data between
//   launches. Dynamic shared memory comes from coin_dynamic_smem() (kernels/common.cuh) and is
//   poisoned with NaNs before every block.
// - Atomics are plain read-modify-writes (fibers never preempt each other).
// - Tensor cores (nvcuda::wmma, TF32) and the cp.async pipeline: kernels/emu/wmma.h and
//   kernels/emu/pipeline.h, included at the end of this file.
// - What it cannot see: races between blocks (they never overlap), warp-synchronous code without
//   barriers, FMA contraction and other rounding differences of the real compiler.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

struct uint3 {
  unsigned x, y, z;
};
// CUDA's 16-byte vector type (vectorised shared and global accesses).
struct alignas(16) float4 {
  float x, y, z, w;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace emu {
// The state of the running block and fiber (set by the scheduler in runtime.cpp).
struct Ctx {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned linear_tid;
  // Counts blocks run on this OS thread: per-block state (the cp.async pipelines) resets when
  // it changes.
  uint64_t block_serial;
};
extern thread_local Ctx ctx;
// Switches back to the scheduler until every fiber of the block has reached this barrier.
void barrier();
// Per-block staging area for warp collectives (one 8-byte slot per thread).
extern thread_local uint64_t shfl_slots[1024];
// Records a kernel-detected error (reported by the launch).
void fail(const char* what);

template <typename T>
inline T shfl_exchange(T v, unsigned src_lane, unsigned width, bool valid) {
  unsigned tid = ctx.linear_tid;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  shfl_slots[tid] = bits;
  barrier();
  unsigned lane = tid % 32, seg = lane / width * width;
  unsigned src = tid - lane + seg + (src_lane % width);
  T out = v;
  if (valid) std::memcpy(&out, &shfl_slots[src], sizeof(T));
  barrier();
  return out;
}
}  // namespace emu

#define threadIdx (::emu::ctx.thread_idx)
#define blockIdx (::emu::ctx.block_idx)
#define blockDim (::emu::ctx.block_dim)
#define gridDim (::emu::ctx.grid_dim)
#define warpSize 32

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __align__(n) __attribute__((aligned(n)))

inline void __syncthreads() { ::emu::barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::emu::barrier(); }
inline void __threadfence() {}

template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  unsigned lane = ::emu::ctx.linear_tid % 32 % width;
  return ::emu::shfl_exchange(v, lane ^ (unsigned)mask, width, true);
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  unsigned lane = ::emu::ctx.linear_tid % 32 % width;
  return ::emu::shfl_exchange(v, lane + delta, width, lane + delta < (unsigned)width);
}
template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  unsigned lane = ::emu::ctx.linear_tid % 32 % width;
  return ::emu::shfl_exchange(v, lane - delta, width, lane >= delta);
}
template <typename T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
  return ::emu::shfl_exchange(v, (unsigned)src, width, true);
}
inline unsigned __ballot_sync(unsigned, int pred) {
  unsigned tid = ::emu::ctx.linear_tid;
  ::emu::shfl_slots[tid] = pred != 0;
  ::emu::barrier();
  unsigned base = tid - tid % 32, out = 0;
  for (unsigned l = 0; l < 32; ++l)
    if (base + l < 1024 && ::emu::shfl_slots[base + l] == 1) out |= 1u << l;
  ::emu::barrier();
  return out;
}
inline int __any_sync(unsigned m, int pred) { return __ballot_sync(m, pred) != 0; }
inline int __all_sync(unsigned m, int pred) {
  unsigned tid = ::emu::ctx.linear_tid, base = tid - tid % 32;
  unsigned n = std::min(32u, ::emu::ctx.block_dim.x * ::emu::ctx.block_dim.y *
                                 ::emu::ctx.block_dim.z - base);
  unsigned full = n == 32 ? 0xffffffffu : ((1u << n) - 1);
  return __ballot_sync(m, pred) == full;
}

template <typename T>
inline T atomicAdd(T* p, T v) {
  T old = *p;
  *p = old + v;
  return old;
}
template <typename T>
inline T atomicMax(T* p, T v) {
  T old = *p;
  *p = std::max(old, v);
  return old;
}
template <typename T>
inline T atomicMin(T* p, T v) {
  T old = *p;
  *p = std::min(old, v);
  return old;
}
template <typename T>
inline T atomicExch(T* p, T v) {
  T old = *p;
  *p = v;
  return old;
}
template <typename T>
inline T atomicCAS(T* p, T cmp, T v) {
  T old = *p;
  if (old == cmp) *p = v;
  return old;
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
using std::max;
using std::min;
inline long long min(long long a, int b) { return a < b ? a : (long long)b; }
inline long long max(long long a, int b) { return a > b ? a : (long long)b; }

#include "pipeline.h"
#include "wmma.h"
