// Dense GEMM for linear layers and matmul: C = β·C + op(A)·op(B) (+ bias[n]), with op(A) M×K
// (A stored M×K, or K×M when ta) and op(B) K×N (B stored K×N, or N×K when tb), row-major; β is
// 0 (write) or 1 (accumulate). gemm_{f32,tf32,3xtf32}: the shared 64×64 tile of
// kernels/gemm_tile.cuh (FP32 on the SIMT cores, TF32 or 3xTF32 on the tensor cores), reading
// the operands in place. Deterministic (fixed K order).
// gemv_f32: the same product for one row of A (M = 1: the spectral norm's power iteration,
// single-sample layers), one thread per output column summing over k in order (B not
// transposed: a warp reads consecutive columns), instead of a 64×64 tile with one useful row.
#include "common.cuh"
#include "gemm_tile.cuh"

// Sizes, operand layouts (ta, tb: 1 = stored transposed) and β (0 write, 1 accumulate).
struct GemmParams {
  int m, n, k, ta, tb, beta;
};

// op(A) [m × k] and op(B) [k × n] read in place; C = β·C + A·B + bias at the thread's column.
struct GemmOp {
  const float *a, *b, *bias;
  float* c;
  GemmParams p;
  int nn;
  __device__ bool column(int n) {
    nn = n;
    return true;
  }
  __device__ void decompose_k(int, int*) const {}
  __device__ const float* a_src(int m, int kk, const int*) const {
    return p.ta ? a + (long long)kk * p.m + m : a + (long long)m * p.k + kk;
  }
  __device__ const float* b_src(int kk, const int*) const {
    return p.tb ? b + (long long)nn * p.k + kk : b + (long long)kk * p.n + nn;
  }
  __device__ void store(int m, float v) const {
    long long o = (long long)m * p.n + nn;
    v += bias ? bias[nn] : 0.0f;
    c[o] = p.beta ? c[o] + v : v;
  }
};

// One kernel per precision, written out (build.rs reads the signatures).
extern "C" __global__ void __launch_bounds__(128, 1) gemm_f32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  GemmOp op{a, b, bias, c, p};
  tile::gemm_tile<GemmOp, tile::FP32>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, p.m, p.n, 0, p.k);
}
extern "C" __global__ void __launch_bounds__(128, 1) gemm_tf32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  GemmOp op{a, b, bias, c, p};
  tile::gemm_tile<GemmOp, tile::TF32>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, p.m, p.n, 0, p.k);
}
extern "C" __global__ void __launch_bounds__(128, 1) gemm_3xtf32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  GemmOp op{a, b, bias, c, p};
  tile::gemm_tile<GemmOp, tile::TF32X3>(op, blockIdx.y * tile::BM, blockIdx.x * tile::BN, p.m, p.n, 0, p.k);
}

extern "C" __global__ void __launch_bounds__(256) gemv_f32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  COIN_GRID_LOOP(n, (long long)p.n) {
    float s = 0.0f;
    for (int k = 0; k < p.k; ++k) s += a[k] * (p.tb ? b[n * p.k + k] : b[(long long)k * p.n + n]);
    s += bias ? bias[n] : 0.0f;
    c[n] = p.beta ? c[n] + s : s;
  }
}
