// The cp.async pipeline primitives for the emulator (<cuda_pipeline.h>): asynchronous copies
// from global to shared memory in batches. Included by cuda_emu.h.
//
// - __pipeline_memcpy_async(dst, src, n) (n = 4, 8 or 16) reads the source now but leaves the
//   destination holding NaN bytes until the copy completes; __pipeline_commit() closes the
//   thread's current batch; __pipeline_wait_prior(k) completes every committed batch but the k
//   newest. So a read of the destination before the wait that covers its copy sees NaN, and a
//   missing wait fails a test instead of reading data the GPU may not have written yet.
// - The state is per thread of the running block; a new block starts with none pending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace emu {
struct PendingCopy {
  void* dst;
  size_t n;
  unsigned char bytes[16];
};
struct ThreadPipeline {
  uint64_t block = ~0ull;  // the block this state belongs to (block_serial)
  std::vector<PendingCopy> open;
  std::vector<std::vector<PendingCopy>> committed;
};
inline thread_local ThreadPipeline pipelines[1024];

inline ThreadPipeline& my_pipeline() {
  ThreadPipeline& p = pipelines[ctx.linear_tid];
  if (p.block != ctx.block_serial) {
    p.block = ctx.block_serial;
    p.open.clear();
    p.committed.clear();
  }
  return p;
}
}  // namespace emu

inline void __pipeline_memcpy_async(void* dst, const void* src, size_t n, size_t = 0) {
  if (n != 4 && n != 8 && n != 16) {
    ::emu::fail("__pipeline_memcpy_async: size must be 4, 8 or 16 bytes");
    return;
  }
  ::emu::PendingCopy c{dst, n, {}};
  std::memcpy(c.bytes, src, n);
  std::memset(dst, 0xFF, n);  // NaN until the copy completes
  ::emu::my_pipeline().open.push_back(c);
}

inline void __pipeline_commit() {
  ::emu::ThreadPipeline& p = ::emu::my_pipeline();
  p.committed.push_back(std::move(p.open));
  p.open.clear();
}

inline void __pipeline_wait_prior(size_t prior) {
  ::emu::ThreadPipeline& p = ::emu::my_pipeline();
  while (p.committed.size() > prior) {
    for (const ::emu::PendingCopy& c : p.committed.front()) std::memcpy(c.dst, c.bytes, c.n);
    p.committed.erase(p.committed.begin());
  }
}
