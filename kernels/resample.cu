// Resampling of NCHW planes, f32: nearest upsampling by an integer factor and bilinear resizing
// (PyTorch's align_corners true or false). Thread mapping: one output (forward) or one input
// (backward) element per thread, grid-stride. Backward kernels gather the outputs each input fed,
// in a fixed order: no atomics, deterministic; they accumulate into gx. Source coordinates are
// computed in double, as the reference, so border indices agree exactly.
#include "common.cuh"

// Plane geometry: planes h × w in, ho × wo out; s is nearest upsampling's factor (ho = h·s),
// align is bilinear's align_corners (0 or 1).
struct ResampleParams {
  long long planes;
  int h, w, ho, wo, s, align;
};

extern "C" __global__ void __launch_bounds__(256) upsample_nearest_fwd_f32(const float* x, float* y, ResampleParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, s = q.s, ho = h * s, wo = w * s;
  COIN_GRID_LOOP(i, planes * ho * wo) {
    int ox = (int)(i % wo), oy = (int)(i / wo % ho);
    y[i] = x[i / ((long long)ho * wo) * h * w + (oy / s) * w + ox / s];
  }
}

extern "C" __global__ void __launch_bounds__(256) upsample_nearest_bwd_f32(const float* gy, float* gx, ResampleParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, s = q.s, ho = h * s, wo = w * s;
  COIN_GRID_LOOP(i, planes * h * w) {
    int ix = (int)(i % w), iy = (int)(i / w % h);
    const float* g = gy + i / ((long long)h * w) * ho * wo;
    float acc = 0.0f;
    for (int dy = 0; dy < s; ++dy)
      for (int dx = 0; dx < s; ++dx) acc += g[(iy * s + dy) * wo + ix * s + dx];
    gx[i] += acc;
  }
}

// Source of output index o: lower index, upper index, weight of the upper one.
__device__ inline void coin_bilinear_src(int o, int in, int out, int align, int* i0, int* i1, float* l) {
  double src;
  if (align) src = out > 1 ? (double)o * (in - 1) / (out - 1) : 0.0;
  else {
    src = ((double)o + 0.5) * in / out - 0.5;
    if (src < 0.0) src = 0.0;
  }
  int a = (int)src;  // src ≥ 0: truncation is floor
  if (a > in - 1) a = in - 1;
  *i0 = a;
  *i1 = a + 1 < in ? a + 1 : in - 1;
  *l = (float)(src - a);
}

extern "C" __global__ void __launch_bounds__(256) bilinear_fwd_f32(const float* x, float* y, ResampleParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, align = q.align;
  COIN_GRID_LOOP(i, planes * ho * wo) {
    int ox = (int)(i % wo), oy = (int)(i / wo % ho);
    const float* p = x + i / ((long long)ho * wo) * h * w;
    int y0, y1, x0, x1;
    float ly, lx;
    coin_bilinear_src(oy, h, ho, align, &y0, &y1, &ly);
    coin_bilinear_src(ox, w, wo, align, &x0, &x1, &lx);
    float top = p[y0 * w + x0] * (1.0f - lx) + p[y0 * w + x1] * lx;
    float bot = p[y1 * w + x0] * (1.0f - lx) + p[y1 * w + x1] * lx;
    y[i] = top * (1.0f - ly) + bot * ly;
  }
}

// Weight of input index `me` in output o's interpolation along one axis.
__device__ inline float coin_bilinear_weight(int o, int me, int in, int out, int align) {
  int i0, i1;
  float l;
  coin_bilinear_src(o, in, out, align, &i0, &i1, &l);
  return (i0 == me ? 1.0f - l : 0.0f) + (i1 == me ? l : 0.0f);
}

// Min 2 blocks per SM: without the hint ptxas caps this kernel at 64 registers on sm_80 and
// spills; with it, 77 registers and no spill.
extern "C" __global__ void __launch_bounds__(256, 2) bilinear_bwd_f32(const float* gy, float* gx, ResampleParams q) {
  long long planes = q.planes;
  int h = q.h, w = q.w, ho = q.ho, wo = q.wo, align = q.align;
  // Outputs that can touch input index i along an axis lie within ±(out/in + 2) of its image.
  COIN_GRID_LOOP(i, planes * h * w) {
    int ix = (int)(i % w), iy = (int)(i / w % h);
    const float* g = gy + i / ((long long)h * w) * ho * wo;
    int ry = ho / h + 3, rx = wo / w + 3;
    int cy = (int)(((float)iy + 0.5f) * ((float)ho / (float)h));
    int cx = (int)(((float)ix + 0.5f) * ((float)wo / (float)w));
    float acc = 0.0f;
    for (int oy = max(0, cy - ry); oy <= min(ho - 1, cy + ry); ++oy) {
      float wy = coin_bilinear_weight(oy, iy, h, ho, align);
      if (wy == 0.0f) continue;
      for (int ox = max(0, cx - rx); ox <= min(wo - 1, cx + rx); ++ox) {
        float wx = coin_bilinear_weight(ox, ix, w, wo, align);
        if (wx != 0.0f) acc += wy * wx * g[oy * wo + ox];
      }
    }
    gx[i] += acc;
  }
}
