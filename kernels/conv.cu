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
#include "common.cuh"

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
