// Pooling over NCHW planes, f32. Layout: planes = N·C, each h × w input, ho × wo output.
// Thread mapping: one output (forward) or one input (backward) element per thread, grid-stride.
// Backward kernels gather (each input element sums the outputs that used it, in a fixed order):
// no atomics, deterministic; they accumulate into gx.
#include "common.cuh"

// Plane geometry: planes h × w in, ho × wo out, window k, stride s, padding p (avg_pool reads
// only k: its stride is k, its padding 0).
struct PoolParams {
  long long planes;
  int h, w, ho, wo, k, s, p;
  int pad_;
};

// avg_pool2d with window = stride = k, no padding.
extern "C" __global__ void __launch_bounds__(256) avg_pool_fwd_f32(const float* x, float* y, PoolParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, k = q.k;
  COIN_GRID_LOOP(i, planes * ho * wo) {
    int ox = (int)(i % wo), oy = (int)(i / wo % ho);
    const float* p = x + i / ((long long)ho * wo) * h * w;
    float s = 0.0f;
    for (int dy = 0; dy < k; ++dy)
      for (int dx = 0; dx < k; ++dx) s += p[(oy * k + dy) * w + ox * k + dx];
    y[i] = s / (float)(k * k);
  }
}

extern "C" __global__ void __launch_bounds__(256) avg_pool_bwd_f32(const float* gy, float* gx, PoolParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, k = q.k;
  COIN_GRID_LOOP(i, planes * h * w) {
    int ix = (int)(i % w), iy = (int)(i / w % h);
    int oy = iy / k, ox = ix / k;
    if (oy < ho && ox < wo) gx[i] += gy[i / ((long long)h * w) * ho * wo + oy * wo + ox] / (float)(k * k);
  }
}

// max_pool2d (k, stride s, padding p): y and the winning input index within the plane
// (first maximum in row-major window order; NaN wins; padded cells never win).
extern "C" __global__ void __launch_bounds__(256) max_pool_fwd_f32(const float* x, float* y, int* arg, PoolParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, k = q.k, s = q.s, p = q.p;
  COIN_GRID_LOOP(i, planes * ho * wo) {
    int ox = (int)(i % wo), oy = (int)(i / wo % ho);
    const float* xp = x + i / ((long long)ho * wo) * h * w;
    float best = 0.0f;
    int bi = -1;
    for (int dy = 0; dy < k; ++dy) {
      int iy = oy * s - p + dy;
      if (iy < 0 || iy >= h) continue;
      for (int dx = 0; dx < k; ++dx) {
        int ix = ox * s - p + dx;
        if (ix < 0 || ix >= w) continue;
        float v = xp[iy * w + ix];
        if (bi < 0 || v > best || (v != v && best == best)) {
          best = v;
          bi = iy * w + ix;
        }
      }
    }
    y[i] = best;
    arg[i] = bi;
  }
}

extern "C" __global__ void __launch_bounds__(256) max_pool_bwd_f32(const float* gy, const int* arg, float* gx, PoolParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, k = q.k, s = q.s, p = q.p;
  COIN_GRID_LOOP(i, planes * h * w) {
    int ix = (int)(i % w), iy = (int)(i / w % h), me = iy * w + ix;
    long long base = i / ((long long)h * w) * ho * wo;
    // Outputs whose window covers (iy, ix): oy·s − p ≤ iy ≤ oy·s − p + k − 1.
    int oy0 = max(0, (iy + p - k + s) / s), oy1 = min(ho - 1, (iy + p) / s);
    int ox0 = max(0, (ix + p - k + s) / s), ox1 = min(wo - 1, (ix + p) / s);
    float acc = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy)
      for (int ox = ox0; ox <= ox1; ++ox)
        if (arg[base + oy * wo + ox] == me) acc += gy[base + oy * wo + ox];
    gx[i] += acc;
  }
}
