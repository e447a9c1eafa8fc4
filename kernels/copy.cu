// Block copies behind narrow, cat and split (and their backward): with both tensors viewed as
// [outer, mid, inner], dst[o, dst_off + m, i] (=|+=) src[o, src_off + m, i] for m < len.
// One element per thread, grid-stride; deterministic.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(256) copy_block_f32(const float* src, float* dst, long long outer, long long src_mid, long long dst_mid, long long src_off, long long dst_off, long long len, long long inner, int accumulate) {
  COIN_GRID_LOOP(j, outer * len * inner) {
    long long i = j % inner, m = j / inner % len, o = j / (inner * len);
    float v = src[(o * src_mid + src_off + m) * inner + i];
    long long d = (o * dst_mid + dst_off + m) * inner + i;
    dst[d] = accumulate ? dst[d] + v : v;
  }
}
