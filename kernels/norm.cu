// Batch normalisation over NCHW, f32, statistics per channel over N·H·W (biased variance).
// bn_stats / bn_bwd_reduce: one block per channel, threads stride over the channel's N·HW
// values, then coin_block_sum; two passes for the statistics (mean, then Σ(x−mean)²), so no
// cancellation and no atomics: deterministic. bn_apply / bn_bwd_data: one element per thread in a
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
