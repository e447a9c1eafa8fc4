// Block copies behind narrow, cat and split (and their backward): with both tensors viewed as
// [outer, mid, inner], dst[o, dst_off + m, i] (=|+=) src[o, src_off + m, i] for m < len.
// One element per thread, grid-stride; deterministic.
#include "common.cuh"

// The two views and the copied rows; accumulate: 0 writes, 1 adds.
struct CopyParams {
  long long outer, src_mid, dst_mid, src_off, dst_off, len, inner;
  int accumulate;
  int pad_;
};

extern "C" __global__ void __launch_bounds__(256) copy_block_f32(const float* src, float* dst, CopyParams p) {
  long long outer = p.outer, src_mid = p.src_mid, dst_mid = p.dst_mid, src_off = p.src_off;
  long long dst_off = p.dst_off, len = p.len, inner = p.inner;
  int accumulate = p.accumulate;
  COIN_GRID_LOOP(j, outer * len * inner) {
    long long i = j % inner, m = j / inner % len, o = j / (inner * len);
    float v = src[(o * src_mid + src_off + m) * inner + i];
    long long d = (o * dst_mid + dst_off + m) * inner + i;
    dst[d] = accumulate ? dst[d] + v : v;
  }
}
