// Deterministic sums over one axis of a tensor viewed as [outer, mid, inner] → [outer, inner].
// No atomics: each output is summed by one thread (reduce_mid: thread per (o, i), loop over mid
// in order; coalesced across inner) or one block (reduce_rows, inner = 1: block per row,
// strided partial sums then coin_block_sum), so results are bitwise stable run to run. Long
// rows in few of them (a whole parameter arena, a loss over a batch) take two passes:
// reduce_rows_split sums fixed chunks of each row, a block per (chunk, row), into a workspace
// [outer, chunks], which reduce_rows then sums in chunk order: the whole grid works, still
// deterministic.
#include "common.cuh"

// The view [outer, mid, inner] and the factor applied to each sum (reduce_rows: inner = 1).
struct ReduceParams {
  long long outer, mid, inner;
  float scale;
  int pad_;
};

extern "C" __global__ void __launch_bounds__(256) reduce_mid_f32(const float* x, float* y, ReduceParams p) {
  long long outer = p.outer, mid = p.mid, inner = p.inner;
  float scale = p.scale;
  COIN_GRID_LOOP(j, outer * inner) {
    long long o = j / inner, i = j % inner;
    const float* p = x + o * mid * inner + i;
    float s = 0.0f;
    for (long long m = 0; m < mid; ++m) s += p[m * inner];
    y[j] = s * scale;
  }
}

extern "C" __global__ void __launch_bounds__(256) reduce_rows_f32(const float* x, float* y, ReduceParams p) {
  __shared__ float scratch[32];
  long long rows = p.outer, cols = p.mid;
  float scale = p.scale;
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* p = x + r * cols;
    float s = 0.0f;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += p[c];
    s = coin_block_sum(s, scratch);
    if (threadIdx.x == 0) y[r] = s * scale;
  }
}

// ws[r·chunks + k] = Σ of row r's chunk k (columns [k·chunk, (k+1)·chunk)); grid (chunks, rows).
extern "C" __global__ void __launch_bounds__(256) reduce_rows_split_f32(const float* x, float* ws, ReduceParams p, long long chunk) {
  __shared__ float scratch[32];
  long long cols = p.mid, r = blockIdx.y, k = blockIdx.x;
  long long lo = k * chunk, hi = min(cols, lo + chunk);
  const float* row = x + r * cols;
  float s = 0.0f;
  for (long long c = lo + threadIdx.x; c < hi; c += blockDim.x) s += row[c];
  s = coin_block_sum(s, scratch);
  if (threadIdx.x == 0) ws[r * gridDim.x + k] = s;
}
