// Batch normalisation over NCHW, f32, statistics per channel over N·H·W (biased variance).
// Channel sums come in two passes over the data for the statistics (mean, then Σ(x−mean)²: no
// cancellation), one for the backward sums (Σgy, Σgy·x̂). A channel of at most two chunks
// (BN_CHUNK values in the launcher) is summed by one block: bn_stats / bn_bwd_reduce, threads
// striding over the channel's N·HW values, then coin_block_sum. Longer channels (the 256² maps:
// a million values each) use the whole grid: bn_partial sums each chunk with a block per
// (chunk, channel) into a workspace [C, chunks], and reduce_rows (reduce.cu) sums each
// channel's partials in chunk order. No atomics anywhere: deterministic. bn_apply / bn_bwd_data: one element per thread in a
// grid-stride loop over the whole tensor (channel = i / HW mod C), so any number of planes fits
// (ResNet-18 at batch 128 has 65,536: more than grid.y holds) and small planes use every thread.
// gamma/beta may be null (affine-free, as CBN's inner BN).
#include "common.cuh"

// Sizes of an N×C×HW batch, eps (bn_stats) and 1/(N·HW) (bn_bwd_data).
struct BnParams {
  long long n, c, hw;
  float eps, inv_m;
};

extern "C" __global__ void __launch_bounds__(256) bn_stats_f32(const float* x, float* mean, float* invstd, float* var, BnParams p) {
  long long n = p.n, c = p.c, hw = p.hw;
  float eps = p.eps;
  __shared__ float scratch[32];
  long long ch = blockIdx.x, m = n * hw;
  float s = 0.0f;
  for (long long j = threadIdx.x; j < m; j += blockDim.x) s += x[(j / hw * c + ch) * hw + j % hw];
  float mu = coin_block_sum(s, scratch) / (float)m;
  float q = 0.0f;
  for (long long j = threadIdx.x; j < m; j += blockDim.x) {
    float d = x[(j / hw * c + ch) * hw + j % hw] - mu;
    q += d * d;
  }
  float va = coin_block_sum(q, scratch) / (float)m;
  if (threadIdx.x == 0) {
    mean[ch] = mu;
    var[ch] = va;
    invstd[ch] = 1.0f / sqrtf(va + eps);
  }
}

// Which sums bn_partial takes.
enum BnPartial { BN_SUM_X = 0, BN_SUM_SQUARED_DEVIATION = 1, BN_SUM_GRAD = 2 };

// Grid (chunks, C): block (k, ch) sums the channel's values [k·chunk, (k + 1)·chunk) (in
// N·HW order) into ws[ch·chunks + k]: x (BN_SUM_X), (x − mean)² (BN_SUM_SQUARED_DEVIATION), or
// gy and, into ws2, gy·x̂ (BN_SUM_GRAD). Each thread walks its values plane by plane: one
// division to start, none per value.
extern "C" __global__ void __launch_bounds__(256) bn_partial_f32(const float* x, const float* gy, const float* mean, const float* invstd, float* ws, float* ws2, BnParams p, int mode, long long chunk) {
  __shared__ float scratch[32];
  long long c = p.c, hw = p.hw, m = p.n * hw, ch = blockIdx.y, k = blockIdx.x;
  long long lo = k * chunk, hi = min(m, lo + chunk);
  float mu = mode == BN_SUM_X ? 0.0f : mean[ch], is = mode == BN_SUM_GRAD ? invstd[ch] : 0.0f;
  long long j = lo + threadIdx.x, b = j / hw, q = j % hw;
  float s = 0.0f, s2 = 0.0f;
  for (; j < hi; j += blockDim.x) {
    long long i = (b * c + ch) * hw + q;
    if (mode == BN_SUM_X) {
      s += x[i];
    } else if (mode == BN_SUM_SQUARED_DEVIATION) {
      float d = x[i] - mu;
      s += d * d;
    } else {
      s += gy[i];
      s2 += gy[i] * (x[i] - mu) * is;
    }
    for (q += blockDim.x; q >= hw; q -= hw) ++b;
  }
  s = coin_block_sum(s, scratch);
  if (mode == BN_SUM_GRAD) s2 = coin_block_sum(s2, scratch);
  if (threadIdx.x == 0) {
    ws[ch * gridDim.x + k] = s;
    if (mode == BN_SUM_GRAD) ws2[ch * gridDim.x + k] = s2;
  }
}

// invstd[ch] = 1/√(var[ch] + eps).
extern "C" __global__ void __launch_bounds__(256) bn_invstd_f32(const float* var, float* invstd, BnParams p) {
  COIN_GRID_LOOP(ch, p.c) invstd[ch] = 1.0f / sqrtf(var[ch] + p.eps);
}

// Grid: (blocks over H·W, N·C planes); 32-bit index math within a plane.
extern "C" __global__ void __launch_bounds__(256) bn_apply_f32(const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta, float* y, BnParams p) {
  long long c = p.c, hw = p.hw;
  COIN_GRID_LOOP(i, p.n * c * hw) {
    long long ch = i / hw % c;
    float gm = gamma ? gamma[ch] : 1.0f, bt = beta ? beta[ch] : 0.0f;
    y[i] = (x[i] - mean[ch]) * invstd[ch] * gm + bt;
  }
}

// Per channel: sum_gy = Σ gy, sum_gyx = Σ gy·x̂ (x̂ = (x − mean)·invstd).
extern "C" __global__ void __launch_bounds__(256) bn_bwd_reduce_f32(const float* x, const float* gy, const float* mean, const float* invstd, float* sum_gy, float* sum_gyx, BnParams p) {
  long long n = p.n, c = p.c, hw = p.hw;
  __shared__ float scratch[32];
  long long ch = blockIdx.x, m = n * hw;
  float mu = mean[ch], is = invstd[ch], a = 0.0f, b = 0.0f;
  for (long long j = threadIdx.x; j < m; j += blockDim.x) {
    long long i = (j / hw * c + ch) * hw + j % hw;
    a += gy[i];
    b += gy[i] * (x[i] - mu) * is;
  }
  a = coin_block_sum(a, scratch);
  b = coin_block_sum(b, scratch);
  if (threadIdx.x == 0) {
    sum_gy[ch] = a;
    sum_gyx[ch] = b;
  }
}

// gx += γ·invstd·(gy − (Σgy + x̂·Σgy·x̂)/m) (training mode).
extern "C" __global__ void __launch_bounds__(256) bn_bwd_data_f32(const float* x, const float* gy, const float* mean, const float* invstd, const float* gamma, const float* sum_gy, const float* sum_gyx, float* gx, BnParams p) {
  long long c = p.c, hw = p.hw;
  float inv_m = p.inv_m;
  COIN_GRID_LOOP(i, p.n * c * hw) {
    long long ch = i / hw % c;
    float is = invstd[ch], gm = gamma ? gamma[ch] : 1.0f;
    float a = sum_gy[ch] * inv_m, b = sum_gyx[ch] * inv_m;
    float xh = (x[i] - mean[ch]) * is;
    gx[i] += gm * is * (gy[i] - (a + xh * b));
  }
}
