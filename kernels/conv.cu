// 2-D convolution, f32, NCHW, weights [Cout, Cin, K, K], square kernels, stride, zero padding.
//
// Implicit GEMMs (the im2col matrix is never materialised; each tile gathers its operands from
// the tensors, zero outside the image) on the shared 64×64 tile of kernels/gemm_tile.cuh — FP32
// on the SIMT cores, TF32 or 3xTF32 on the tensor cores — with the gathers of
// kernels/conv_gemm_ops.cuh:
//   forward         M = Cout, N = batch·Ho·Wo, K = Cin·K·K:  y  = W · im2col(x)     (y written)
//   backward-data   M = Cin,  N = batch·H·W,   K = Cout·K·K: gx += Wᵀ · col(gy)    (accumulates)
//     stride s > 1: s² sub-convolutions (grid z = phase) over each phase's valid taps only
//   backward-weight M = Cout, N = Cin·K·K,     K = batch·Ho·Wo: gw  = gy · im2col(x)ᵀ (gw written)
// When their tiles fill less than the GPU (backward-weight's few large-K tiles, the 8×8
// layers), forward, stride-1 backward-data and backward-weight split K across grid z into a
// workspace; conv2d_splitk_sum_f32 sums the splits in a fixed order: no float atomics,
// deterministic.
//
// Thin layers, where a 64-row tile would hold one useful row, take FP32 kernels of their own
// (bandwidth-bound: one pass over the large tensor):
//   conv2d_direct_fwd     Cin·K·K ≤ 27 (the 1-channel input): a thread per output element.
//   conv2d_cout1_fwd      Cout = 1: a thread per output pixel, the Cin·K·K weights in shared
//                         memory.
//   conv2d_cout1_bwd_weight  Cout = 1, K ≤ 7: block (split, ci) sums its pixel range into K·K
//                         register accumulators, then fixed-order block sums; splits summed in
//                         order by conv2d_splitk_sum_f32.
//   conv2d_cin1_bwd_data  Cin = 1: a thread per input pixel over the valid taps only (stride
//                         phases), the Cout·K·K weights in shared memory.
// Every output is summed by one thread or one fixed-order reduction: deterministic.
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

// out[i] (+)= Σ_z ws[z·mn + i], z in order: the deterministic second pass of split-K
// (`accumulate` 0: the forward's fresh output, 1: a gradient added to).
extern "C" __global__ void __launch_bounds__(256) conv2d_splitk_sum_f32(const float* ws, float* out, int splits, long long mn, int accumulate) {
  COIN_GRID_LOOP(i, mn) {
    float s = 0.0f;
    for (int z = 0; z < splits; ++z) s += ws[(long long)z * mn + i];
    out[i] = accumulate ? out[i] + s : s;
  }
}

#include "conv_gemm_ops.cuh"

// ---- thin layers (see the header)

// Largest kernel side of conv2d_cout1_bwd_weight (its K·K accumulators live in registers).
constexpr int THIN_KMAX = 7;

extern "C" __global__ void __launch_bounds__(256) conv2d_cout1_fwd_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g) {
  float* ws = coin_dynamic_smem<float>();
  int kk = g.k * g.k, taps = g.cin * kk;
  for (int i = threadIdx.x; i < taps; i += blockDim.x) ws[i] = wt[i];
  __syncthreads();
  float b0 = bias ? bias[0] : 0.0f;
  int hw = g.ho * g.wo;
  long long plane = (long long)g.h * g.w;
  COIN_GRID_LOOP(i, (long long)g.n * hw) {
    int b = (int)(i / hw), q = (int)(i % hw);
    int ih0 = q / g.wo * g.stride - g.pad, iw0 = q % g.wo * g.stride - g.pad;
    const float* xp = x + (long long)b * g.cin * plane;
    float s = 0.0f;
    for (int ci = 0; ci < g.cin; ++ci, xp += plane) {
      const float* wp = ws + ci * kk;
      for (int kh = 0; kh < g.k; ++kh) {
        int ih = ih0 + kh;
        if (ih < 0 || ih >= g.h) continue;
        for (int kw = 0; kw < g.k; ++kw) {
          int iw = iw0 + kw;
          if (iw >= 0 && iw < g.w) s += xp[ih * g.w + iw] * wp[kh * g.k + kw];
        }
      }
    }
    y[i] = s + b0;
  }
}

// Grid (splits, cin): block (z, ci) sums the output pixels [z·chunk, (z + 1)·chunk) into
// ws[z·cin·K·K + ci·K·K + tap].
extern "C" __global__ void __launch_bounds__(256) conv2d_cout1_bwd_weight_f32(const float* x, const float* gy, float* ws, ConvGeom g, int chunk) {
  __shared__ float scratch[32];
  int ci = blockIdx.y, z = blockIdx.x, hw = g.ho * g.wo;
  int total = g.n * hw, lo = z * chunk;  // pixels of the batch: int (the launcher checks)
  int hi = total - lo < chunk ? total : lo + chunk;
  float acc[THIN_KMAX * THIN_KMAX];
  COIN_UNROLL
  for (int t = 0; t < THIN_KMAX * THIN_KMAX; ++t) acc[t] = 0.0f;
  for (int p = lo + threadIdx.x; p < hi; p += blockDim.x) {
    int b = p / hw, q = p % hw;
    int ih0 = q / g.wo * g.stride - g.pad, iw0 = q % g.wo * g.stride - g.pad;
    const float* xp = x + ((long long)b * g.cin + ci) * g.h * g.w;
    float gv = gy[p];  // Cout = 1: gy is [n, 1, ho, wo]
    COIN_UNROLL
    for (int kh = 0; kh < THIN_KMAX; ++kh) {
      int ih = ih0 + kh;
      if (kh >= g.k || ih < 0 || ih >= g.h) continue;
      COIN_UNROLL
      for (int kw = 0; kw < THIN_KMAX; ++kw) {
        int iw = iw0 + kw;
        if (kw < g.k && iw >= 0 && iw < g.w) acc[kh * THIN_KMAX + kw] += gv * xp[ih * g.w + iw];
      }
    }
  }
  int kk = g.k * g.k;
  float* out = ws + (long long)z * g.cin * kk + (long long)ci * kk;
  COIN_UNROLL
  for (int kh = 0; kh < THIN_KMAX; ++kh) {
    COIN_UNROLL
    for (int kw = 0; kw < THIN_KMAX; ++kw) {
      if (kh >= g.k || kw >= g.k) continue;  // uniform over the block: the barriers below are safe
      float s = coin_block_sum(acc[kh * THIN_KMAX + kw], scratch);
      if (threadIdx.x == 0) out[kh * g.k + kw] = s;
    }
  }
}

// gx (Cin = 1) += Σ over the taps that reach each input pixel: kh ≡ (ih + pad) mod stride, with
// oh = (ih + pad − kh) / stride falling by one per step.
extern "C" __global__ void __launch_bounds__(256) conv2d_cin1_bwd_data_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  float* ws = coin_dynamic_smem<float>();
  int kk = g.k * g.k, taps = g.cout * kk;
  for (int i = threadIdx.x; i < taps; i += blockDim.x) ws[i] = wt[i];
  __syncthreads();
  int hw = g.h * g.w, ohw = g.ho * g.wo, s = g.stride;
  COIN_GRID_LOOP(i, (long long)g.n * hw) {
    int b = (int)(i / hw), q = (int)(i % hw);
    int th = q / g.w + g.pad, tw = q % g.w + g.pad;
    int kh0 = th % s, kw0 = tw % s, oh0 = th / s, ow0 = tw / s;
    const float* gp = gy + (long long)b * g.cout * ohw;
    float acc = 0.0f;
    for (int co = 0; co < g.cout; ++co, gp += ohw) {
      const float* wp = ws + co * kk;
      for (int kh = kh0, oh = oh0; kh < g.k && oh >= 0; kh += s, --oh) {
        if (oh >= g.ho) continue;
        for (int kw = kw0, ow = ow0; kw < g.k && ow >= 0; kw += s, --ow)
          if (ow < g.wo) acc += wp[kh * g.k + kw] * gp[oh * g.wo + ow];
      }
    }
    gx[i] += acc;
  }
}

// ---- the implicit GEMMs

template <int PREC>
__device__ inline void conv_tile_fwd(const float* x, const float* wt, const float* bias, float* y, ConvGeom g, int kchunk) {
  ConvFwdOp op{x, wt, bias, y, g};
  int k = g.cin * g.k * g.k, k0 = blockIdx.z * kchunk;
  tile::gemm_tile<ConvFwdOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cout, g.n * g.ho * g.wo, k0, min(k, k0 + kchunk));
}
template <int PREC>
__device__ inline void conv_tile_bwd_data(const float* wt, const float* gy, float* gx, ConvGeom g, int kchunk) {
  ConvBwdDataOp op{wt, gy, gx, g};
  int k = g.cout * g.k * g.k, k0 = blockIdx.z * kchunk;
  tile::gemm_tile<ConvBwdDataOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cin, g.n * g.h * g.w, k0, min(k, k0 + kchunk));
}
template <int PREC>
__device__ inline void conv_tile_bwd_data_strided(const float* wt, const float* gy, float* gx, ConvGeom g) {
  ConvBwdDataPhaseOp op{wt, gy, gx, g};
  op.phase(blockIdx.z);
  int n_cols = op.columns(), k = op.depth();
  if (k == 0 || (int)blockIdx.x * tile::BN >= n_cols) return;  // whole block: no barrier passed yet
  tile::gemm_tile<ConvBwdDataPhaseOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cin, n_cols, 0, k);
}
template <int PREC>
__device__ inline void conv_tile_bwd_weight(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  ConvBwdWeightOp op{x, gy, ws, g};
  int k = g.n * g.ho * g.wo, k0 = blockIdx.z * kchunk;
  tile::gemm_tile<ConvBwdWeightOp, PREC>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, g.cout, g.cin * g.k * g.k, k0, min(k, k0 + kchunk));
}

// One kernel per pass and precision, written out (build.rs reads the signatures). With split-K
// (grid z > 1) y and gx are the workspace of the splits.
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_f32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g, int kchunk) {
  conv_tile_fwd<tile::FP32>(x, wt, bias, y, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_f32(const float* wt, const float* gy, float* gx, ConvGeom g, int kchunk) {
  conv_tile_bwd_data<tile::FP32>(wt, gy, gx, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_strided_f32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data_strided<tile::FP32>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_f32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::FP32>(x, gy, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_tf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g, int kchunk) {
  conv_tile_fwd<tile::TF32>(x, wt, bias, y, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_tf32(const float* wt, const float* gy, float* gx, ConvGeom g, int kchunk) {
  conv_tile_bwd_data<tile::TF32>(wt, gy, gx, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_strided_tf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data_strided<tile::TF32>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_tf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::TF32>(x, gy, ws, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_fwd_3xtf32(const float* x, const float* wt, const float* bias, float* y, ConvGeom g, int kchunk) {
  conv_tile_fwd<tile::TF32X3>(x, wt, bias, y, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_3xtf32(const float* wt, const float* gy, float* gx, ConvGeom g, int kchunk) {
  conv_tile_bwd_data<tile::TF32X3>(wt, gy, gx, g, kchunk);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_data_strided_3xtf32(const float* wt, const float* gy, float* gx, ConvGeom g) {
  conv_tile_bwd_data_strided<tile::TF32X3>(wt, gy, gx, g);
}
extern "C" __global__ void __launch_bounds__(128, 1) conv2d_bwd_weight_3xtf32(const float* x, const float* gy, float* ws, ConvGeom g, int kchunk) {
  conv_tile_bwd_weight<tile::TF32X3>(x, gy, ws, g, kchunk);
}
