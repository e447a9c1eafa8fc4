// Fused Adam / AdamW over a flat parameter arena (p, g, m, v all n floats). Thread mapping:
// one element per thread, grid-stride. No shared memory; deterministic. Matches
// optim::Adam::step: coupled L2 (g += wd·p) or decoupled decay (p *= 1 − lr·wd), then
// m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², p −= step_size·m / (√v / √bc2 + eps), with
// step_size = lr / bc1 computed on the host.
#include "common.cuh"

// One step's hyper-parameters over n values (bias corrections folded in on the host).
struct AdamParams {
  long long n;
  float lr, b1, b2, eps, wd, step_size, bc2_sqrt;
  int decoupled;
};

extern "C" __global__ void __launch_bounds__(256) adam_f32(float* p, const float* g, float* m, float* v, AdamParams h) {
  long long n = h.n;
  float lr = h.lr, b1 = h.b1, b2 = h.b2, eps = h.eps, wd = h.wd, step_size = h.step_size;
  float bc2_sqrt = h.bc2_sqrt;
  int decoupled = h.decoupled;
  COIN_GRID_LOOP(i, n) {
    float gi = g[i], pi = p[i];
    if (wd != 0.0f) {
      if (decoupled) pi *= 1.0f - lr * wd;
      else gi += wd * pi;
    }
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
  }
}

// Exponential moving average of a parameter arena: avg += w·(live − avg) over n floats (the
// averaged copy of the networks, w = 1 − decay). Thread mapping: one element per thread,
// grid-stride; no shared memory; deterministic (each element independent).
extern "C" __global__ void __launch_bounds__(256) ema_f32(float* avg, const float* live, long long n, float w) {
  COIN_GRID_LOOP(i, n) {
    float a = avg[i];
    avg[i] = a + w * (live[i] - a);
  }
}
