// 2-D convolution, f32, NCHW, weights [Cout, Cin, K, K], square kernels, stride, zero padding.
//
// conv2d_direct_fwd: one output element per thread (grid-stride), looping over Cin·K·K — for
// the tiny channel counts of the 1-channel CT input, where a GEMM tile would be mostly empty.
//
// conv2d_{fwd,bwd_data,bwd_weight}_{f32,tf32,3xtf32}: implicit GEMMs (the im2col matrix is
// never materialised; each tile gathers its operands from the tensors, zero outside the image)
// on the shared 64×64 tile of kernels/gemm_tile.cuh — FP32 on the SIMT cores, TF32 or 3xTF32 on
// the tensor cores:
//   forward       M = Cout, N = batch·Ho·Wo, K = Cin·K·K:  y  = W · im2col(x)       (y written)
//   backward-data M = Cin,  N = batch·H·W,   K = Cout·K·K: gx += Wᵀ · col(gy)      (accumulates)
//   backward-weight M = Cout, N = Cin·K·K,   K = batch·Ho·Wo: gw += gy · im2col(x)ᵀ
// Each pass's operands are gathered by a small Op struct below: the thread's output column is
// decomposed once per block (`column`), the k side once per stage into a shared table
// (`decompose_k`), so the gather itself is a few adds and bound checks. Backward-weight splits K
// across blockIdx.z into a workspace and a second kernel sums the splits in a fixed order: no
// float atomics, deterministic.
#include "common.cuh"
#include "gemm_tile.cuh"

// Geometry of a 2-D convolution (NCHW input, [Cout, Cin, K, K] weights, square kernel).
struct ConvGeom {
  int n, cin, h, w, cout, k, stride, pad, ho, wo;
};

extern "C" __global__ void __launch_bounds__(256) conv2d_direct_fwd_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  long long total = (long long)g.n * g.cout * g.ho * g.wo;
  COIN_GRID_LOOP(i, total) {
    int ow = (int)(i % g.wo), oh = (int)(i / g.wo % g.ho);
    int co = (int)(i / ((long long)g.wo * g.ho) % g.cout), b = (int)(i / ((long long)g.wo * g.ho * g.cout));
    float s = bias ? bias[co] : 0.0f;
    for (int ci = 0; ci < g.cin; ++ci) {
      const float* xp = x + ((long long)b * g.cin + ci) * g.h * g.w;
      const float* wp = wt + ((long long)co * g.cin + ci) * g.k * g.k;
      for (int kh = 0; kh < g.k; ++kh) {
        int ih = oh * g.stride - g.pad + kh;
        if (ih < 0 || ih >= g.h) continue;
        for (int kw = 0; kw < g.k; ++kw) {
          int iw = ow * g.stride - g.pad + kw;
          if (iw >= 0 && iw < g.w) s += xp[ih * g.w + iw] * wp[kh * g.k + kw];
        }
      }
    }
    y[i] = s;
  }
}

// gw[i] += Σ_z ws[z·mn + i], z in order: the deterministic second pass of split-K.
extern "C" __global__ void __launch_bounds__(256) conv2d_splitk_sum_f32(const float* ws, float* gw, int splits, long long mn) {
  COIN_GRID_LOOP(i, mn) {
    float s = 0.0f;
    for (int z = 0; z < splits; ++z) s += ws[(long long)z * mn + i];
    gw[i] += s;
  }
}

// ---- the three passes (see the header and kernels/gemm_tile.cuh)

// Forward: A = W [cout × cin·k·k] (contiguous), B = im2col(x) [cin·k·k × n·ho·wo].
struct ConvFwdOp {
  const float *x, *wt, *bias;
  float* y;
  ConvGeom g;
  long long xb, yb;  // the column's sample offsets in x and y
  int ih0, iw0, q;   // its input origin and output pixel
  __device__ bool column(int nn) {
    int hw = g.ho * g.wo, b = nn / hw;
    q = nn % hw;
    ih0 = q / g.wo * g.stride - g.pad;
    iw0 = q % g.wo * g.stride - g.pad;
    xb = (long long)b * g.cin * g.h * g.w;
    yb = (long long)b * g.cout * hw;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (ci·h·w, kh, kw)
    int kk2 = g.k * g.k, r = kk % kk2;
    d[0] = kk / kk2 * g.h * g.w;
    d[1] = r / g.k;
    d[2] = r % g.k;
  }
  __device__ const float* a_src(int m, int kk, const int*) const {
    return wt + (long long)m * g.cin * g.k * g.k + kk;
  }
  __device__ const float* b_src(int, const int* d) const {
    int ih = ih0 + d[1], iw = iw0 + d[2];
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return nullptr;
    return x + xb + d[0] + ih * g.w + iw;
  }
  __device__ void store(int m, float v) const {
    y[yb + (long long)m * g.ho * g.wo + q] = v + (bias ? bias[m] : 0.0f);
  }
};

// Backward-data: A = Wᵀ [cin × cout·k·k] (gathered), B = col(gy) [cout·k·k × n·h·w]; gx +=.
struct ConvBwdDataOp {
  const float *wt, *gy;
  float* gx;
  ConvGeom g;
  long long gyb, gxb;
  int ih, iw;
  __device__ bool column(int nn) {
    int hw = g.h * g.w, b = nn / hw, q = nn % hw;
    ih = q / g.w;
    iw = q % g.w;
    gyb = (long long)b * g.cout * g.ho * g.wo;
    gxb = (long long)b * g.cin * hw + q;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (co, kh, kw)
    int kk2 = g.k * g.k, r = kk % kk2;
    d[0] = kk / kk2;
    d[1] = r / g.k;
    d[2] = r % g.k;
  }
  __device__ const float* a_src(int m, int, const int* d) const {
    return wt + ((long long)d[0] * g.cin + m) * g.k * g.k + d[1] * g.k + d[2];
  }
  __device__ const float* b_src(int, const int* d) const {
    int th = ih + g.pad - d[1], tw = iw + g.pad - d[2];
    if (th < 0 || tw < 0) return nullptr;
    if (g.stride > 1 && (th % g.stride || tw % g.stride)) return nullptr;
    int oh = th / g.stride, ow = tw / g.stride;
    if (oh >= g.ho || ow >= g.wo) return nullptr;
    return gy + gyb + ((long long)d[0] * g.ho + oh) * g.wo + ow;
  }
  __device__ void store(int m, float v) const { gx[gxb + (long long)m * g.h * g.w] += v; }
};

// Backward-weight: A = gy [cout × n·ho·wo], B = im2col(x)ᵀ [n·ho·wo × cin·k·k]; split k slice
// blockIdx.z into the workspace.
struct ConvBwdWeightOp {
  const float *x, *gy;
  float* ws;
  ConvGeom g;
  long long out;  // the column's offset in this split's workspace
  int cplane, kh, kw;
  __device__ bool column(int nn) {
    int kk2 = g.k * g.k, r = nn % kk2;
    cplane = nn / kk2 * g.h * g.w;
    kh = r / g.k - g.pad;
    kw = r % g.k - g.pad;
    out = (long long)blockIdx.z * g.cout * g.cin * kk2 + nn;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (b, oh, ow)
    int hw = g.ho * g.wo, q = kk % hw;
    d[0] = kk / hw;
    d[1] = q / g.wo;
    d[2] = q % g.wo;
  }
  __device__ const float* a_src(int m, int, const int* d) const {
    return gy + (((long long)d[0] * g.cout + m) * g.ho + d[1]) * g.wo + d[2];
  }
  __device__ const float* b_src(int, const int* d) const {
    int ih = d[1] * g.stride + kh, iw = d[2] * g.stride + kw;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return nullptr;
    return x + (long long)d[0] * g.cin * g.h * g.w + cplane + ih * g.w + iw;
  }
  __device__ void store(int m, float v) const {
    ws[out + (long long)m * g.cin * g.k * g.k] = v;
  }
};

template <int PREC>
__device__ inline void conv_tile_fwd(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  ConvFwdOp op{x, wt, bias, y, g};
  tile::gemm_tile<ConvFwdOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cout, g.n * g.ho * g.wo, 0, g.cin * g.k * g.k);
}
template <int PREC>
__device__ inline void conv_tile_bwd_data(const float* wt, const float* gy, float* gx, ConvGeom g) {
  ConvBwdDataOp op{wt, gy, gx, g};
  tile::gemm_tile<ConvBwdDataOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cin, g.n * g.h * g.w, 0, g.cout * g.k * g.k);
}
template <int PREC>
__device__ inline void conv_tile_bwd_weight(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  ConvBwdWeightOp op{x, gy, ws, g};
  int k = g.n * g.ho * g.wo, k0 = blockIdx.z * kchunk;
  tile::gemm_tile<ConvBwdWeightOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cout, g.cin * g.k * g.k, k0, min(k, k0 + kchunk));
}

// One kernel per pass and precision, written out (build.rs reads the signatures).
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_tile_fwd<tile::FP32>(x, wt, bias, y, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data<tile::FP32>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_f32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::FP32>(x, gy, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_tf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_tile_fwd<tile::TF32>(x, wt, bias, y, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_tf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data<tile::TF32>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_tf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::TF32>(x, gy, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_3xtf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_tile_fwd<tile::TF32X3>(x, wt, bias, y, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_3xtf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data<tile::TF32X3>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_3xtf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::TF32X3>(x, gy, ws, g, kchunk);
}
