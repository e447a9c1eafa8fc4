// 2-D convolution, f32, NCHW, weights [Cout, Cin, K, K], square kernels, stride, zero padding.
//
// conv2d_direct_fwd: one output element per thread (grid-stride), looping over Cin·K·K — for
// the tiny channel counts of the 1-channel CT input, where a GEMM tile would be mostly empty.
//
// conv2d_igemm_*: shared-memory tiled implicit GEMM; the im2col matrix is never materialised,
// each tile gathers its elements from the tensors on the fly (zero outside the image):
//   forward      M = Cout, N = batch·Ho·Wo, K = Cin·K·K:  y  = W · im2col(x)       (y written)
//   backward-data M = Cin, N = batch·H·W,  K = Cout·K·K:  gx += Wᵀ · col(gy)      (accumulates)
//   backward-weight M = Cout, N = Cin·K·K, K = batch·Ho·Wo: gw += gy · im2col(x)ᵀ (accumulates)
// Thread mapping: 256 threads as 16×16; tile BM×BN with BK = 16; thread (ty, tx) owns rows
// ty + 16·i and columns tx + 16·j of the tile (conflict-free shared reads). Tiles: 64×64,
// 32×128 (few output rows, many columns: the wide layers at 256²) and 128×32 (many rows, few
// columns: the deep 8×8 layers); the host picks one per problem shape. Shared memory: 2·16·(BM
// or BN) floats, static. Backward-weight splits K across blockIdx.z into a workspace and a
// second kernel sums the splits in a fixed order: no float atomics, deterministic.
//
// conv2d_tc_*_{tf32,3xtf32}: the same three GEMMs on TF32 tensor cores (kernels/tc_gemm.cuh:
// 64×64 tiles, 128 threads as 4 warps of 2×2 wmma fragments, cp.async double buffering, FP32
// accumulation in a fixed k order). Each pass's operands are gathered by a small Op struct
// below: the thread's output column is decomposed once per block (`column`), the k side once
// per stage into a shared table (`decompose_k`), so the gather itself is a few adds and bound
// checks. Backward-weight splits K across blockIdx.z as the FP32 kernels do.
#include "common.cuh"
#include "tc_gemm.cuh"

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

// The GEMM operands of each mode. A is M×K, B is K×N.
template <int MODE>
__device__ inline float conv_a(const float* wt, const float* gy, const ConvGeom& g, int m, int kk) {
  if (MODE == 0) return wt[(long long)m * g.cin * g.k * g.k + kk];
  if (MODE == 1) {
    int kk2 = g.k * g.k, co = kk / kk2, r = kk % kk2;
    return wt[((long long)co * g.cin + m) * kk2 + r];
  }
  int hw = g.ho * g.wo, b = kk / hw, q = kk % hw;
  return gy[((long long)b * g.cout + m) * hw + q];
}

template <int MODE>
__device__ inline float conv_b(const float* x, const float* gy, const ConvGeom& g, int kk, int nn) {
  int kk2 = g.k * g.k;
  if (MODE == 0) {
    int ci = kk / kk2, r = kk % kk2, kh = r / g.k, kw = r % g.k;
    int hw = g.ho * g.wo, b = nn / hw, q = nn % hw, oh = q / g.wo, ow = q % g.wo;
    int ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0f;
    return x[(((long long)b * g.cin + ci) * g.h + ih) * g.w + iw];
  }
  if (MODE == 1) {
    int co = kk / kk2, r = kk % kk2, kh = r / g.k, kw = r % g.k;
    int hw = g.h * g.w, b = nn / hw, q = nn % hw, ih = q / g.w, iw = q % g.w;
    int th = ih + g.pad - kh, tw = iw + g.pad - kw;
    if (th < 0 || tw < 0 || th % g.stride || tw % g.stride) return 0.0f;
    int oh = th / g.stride, ow = tw / g.stride;
    if (oh >= g.ho || ow >= g.wo) return 0.0f;
    return gy[(((long long)b * g.cout + co) * g.ho + oh) * g.wo + ow];
  }
  int hw = g.ho * g.wo, b = kk / hw, q = kk % hw, oh = q / g.wo, ow = q % g.wo;
  int ci = nn / kk2, r = nn % kk2, kh = r / g.k, kw = r % g.k;
  int ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return 0.0f;
  return x[(((long long)b * g.cin + ci) * g.h + ih) * g.w + iw];
}

template <int MODE, int BM, int BN>
__device__ inline void conv_igemm(const float* x, const float* wt, const float* gy, const float* bias, float* out, ConvGeom g, int kchunk) {
  constexpr int BK = 16, TM = BM / 16, TN = BN / 16;
  __shared__ float As[BK][BM];
  __shared__ float Bs[BK][BN];
  int kk2 = g.k * g.k;
  int M = MODE == 1 ? g.cin : g.cout;
  int N = MODE == 0 ? g.n * g.ho * g.wo : (MODE == 1 ? g.n * g.h * g.w : g.cin * kk2);
  int K = MODE == 0 ? g.cin * kk2 : (MODE == 1 ? g.cout * kk2 : g.n * g.ho * g.wo);
  int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  int k_begin = MODE == 2 ? blockIdx.z * kchunk : 0;
  int k_end = MODE == 2 ? min(K, k_begin + kchunk) : K;
  int t = threadIdx.x, ty = t / 16, tx = t % 16;
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  for (int kb = k_begin; kb < k_end; kb += BK) {
    for (int e = t; e < BM * BK; e += 256) {
      int ml = e / BK, kl = e % BK, m = m0 + ml, kk = kb + kl;
      As[kl][ml] = (m < M && kk < k_end) ? conv_a<MODE>(wt, gy, g, m, kk) : 0.0f;
    }
    for (int e = t; e < BK * BN; e += 256) {
      int kl = e / BN, nl = e % BN, nn = n0 + nl, kk = kb + kl;
      Bs[kl][nl] = (nn < N && kk < k_end) ? conv_b<MODE>(x, gy, g, kk, nn) : 0.0f;
    }
    __syncthreads();
    for (int kl = 0; kl < BK; ++kl) {
      float a[TM], b[TN];
      for (int i = 0; i < TM; ++i) a[i] = As[kl][ty + 16 * i];
      for (int j = 0; j < TN; ++j) b[j] = Bs[kl][tx + 16 * j];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < TM; ++i) {
    int m = m0 + ty + 16 * i;
    if (m >= M) continue;
    for (int j = 0; j < TN; ++j) {
      int nn = n0 + tx + 16 * j;
      if (nn >= N) continue;
      if (MODE == 0) {
        int hw = g.ho * g.wo, b = nn / hw, q = nn % hw;
        out[((long long)b * g.cout + m) * hw + q] = acc[i][j] + (bias ? bias[m] : 0.0f);
      } else if (MODE == 1) {
        int hw = g.h * g.w, b = nn / hw, q = nn % hw;
        out[((long long)b * g.cin + m) * hw + q] += acc[i][j];
      } else {
        out[((long long)blockIdx.z * M + m) * N + nn] = acc[i][j];
      }
    }
  }
}

// One kernel per tile shape and pass (written out: build.rs reads the signatures).
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_fwd_64x64_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_igemm<0, 64, 64>(x, wt, nullptr, bias, y, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_data_64x64_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_igemm<1, 64, 64>(nullptr, wt, gy, nullptr, gx, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_weight_64x64_f32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_igemm<2, 64, 64>(x, nullptr, gy, nullptr, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_fwd_32x128_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_igemm<0, 32, 128>(x, wt, nullptr, bias, y, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_data_32x128_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_igemm<1, 32, 128>(nullptr, wt, gy, nullptr, gx, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_weight_32x128_f32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_igemm<2, 32, 128>(x, nullptr, gy, nullptr, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_fwd_128x32_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_igemm<0, 128, 32>(x, wt, nullptr, bias, y, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_data_128x32_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_igemm<1, 128, 32>(nullptr, wt, gy, nullptr, gx, g, 0);
}
extern "C" __global__ void __launch_bounds__(256) conv2d_igemm_bwd_weight_128x32_f32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_igemm<2, 128, 32>(x, nullptr, gy, nullptr, ws, g, kchunk);
}

// gw[i] += Σ_z ws[z·mn + i], z in order: the deterministic second pass of split-K.
extern "C" __global__ void __launch_bounds__(256) conv2d_splitk_sum_f32(const float* ws, float* gw, int splits, long long mn) {
  COIN_GRID_LOOP(i, mn) {
    float s = 0.0f;
    for (int z = 0; z < splits; ++z) s += ws[(long long)z * mn + i];
    gw[i] += s;
  }
}

// ---- tensor-core passes (see the header and kernels/tc_gemm.cuh)

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
__device__ inline void conv_tc_fwd(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  ConvFwdOp op{x, wt, bias, y, g};
  tc::gemm_tile<ConvFwdOp, PREC>(op, blockIdx.y * tc::BM, blockIdx.x * tc::BN, g.cout, g.n * g.ho * g.wo, 0, g.cin * g.k * g.k);
}
template <int PREC>
__device__ inline void conv_tc_bwd_data(const float* wt, const float* gy, float* gx, ConvGeom g) {
  ConvBwdDataOp op{wt, gy, gx, g};
  tc::gemm_tile<ConvBwdDataOp, PREC>(op, blockIdx.y * tc::BM, blockIdx.x * tc::BN, g.cin, g.n * g.h * g.w, 0, g.cout * g.k * g.k);
}
template <int PREC>
__device__ inline void conv_tc_bwd_weight(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  ConvBwdWeightOp op{x, gy, ws, g};
  int k = g.n * g.ho * g.wo, k0 = blockIdx.z * kchunk;
  tc::gemm_tile<ConvBwdWeightOp, PREC>(op, blockIdx.y * tc::BM, blockIdx.x * tc::BN, g.cout, g.cin * g.k * g.k, k0, min(k, k0 + kchunk));
}

extern "C" __global__ void __launch_bounds__(128) conv2d_tc_fwd_tf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_tc_fwd<tc::TF32>(x, wt, bias, y, g);
}
extern "C" __global__ void __launch_bounds__(128) conv2d_tc_fwd_3xtf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  conv_tc_fwd<tc::TF32X3>(x, wt, bias, y, g);
}
extern "C" __global__ void __launch_bounds__(128) conv2d_tc_bwd_data_tf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tc_bwd_data<tc::TF32>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128) conv2d_tc_bwd_data_3xtf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tc_bwd_data<tc::TF32X3>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128) conv2d_tc_bwd_weight_tf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tc_bwd_weight<tc::TF32>(x, gy, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128) conv2d_tc_bwd_weight_3xtf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tc_bwd_weight<tc::TF32X3>(x, gy, ws, g, kchunk);
}
