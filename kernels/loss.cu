// Binary cross-entropy with logits, f32 (the other losses are compositions of elementwise ops
// and reductions). bce_terms writes each element's stable term max(z,0) − z·y + log1p(e^−|z|)
// (the mean is a reduce_rows launch, deterministic); bce_bwd accumulates dz += (σ(z) − y)·scale
// and, when dy is not null, dy += −z·scale, with scale = upstream gradient (read on the device,
// 1 when null) / n. One element per thread, grid-stride.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(256) bce_terms_f32(const float* z, const float* y, float* out, long long n) {
  COIN_GRID_LOOP(i, n) {
    float zi = z[i];
    out[i] = fmaxf(zi, 0.0f) - zi * y[i] + log1pf(expf(-fabsf(zi)));
  }
}

extern "C" __global__ void __launch_bounds__(256) bce_bwd_f32(const float* z, const float* y, float* dz, float* dy, const float* upstream, long long n, float inv_n) {
  float scale = (upstream ? *upstream : 1.0f) * inv_n;
  COIN_GRID_LOOP(i, n) {
    float zi = z[i];
    float s = zi >= 0.0f ? 1.0f / (1.0f + expf(-zi)) : expf(zi) / (1.0f + expf(zi));
    if (dz) dz[i] += (s - y[i]) * scale;
    if (dy) dy[i] += -zi * scale;
  }
}
