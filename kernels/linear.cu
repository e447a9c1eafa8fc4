// Dense GEMM for linear layers and matmul, f32: C = β·C + op(A)·op(B) (+ bias[n]), with op(A)
// M×K (A stored M×K, or K×M when ta) and op(B) K×N (B stored K×N, or N×K when tb), row-major.
// β is 0 (write) or 1 (accumulate). Tiles of 64×64 with BK = 16 in static shared memory; 256
// threads as 16×16, each owning a 4×4 strided micro-tile. Deterministic (fixed K order).
// gemm_tc_{tf32,3xtf32}: the same product on TF32 tensor cores (kernels/tc_gemm.cuh: 64×64
// tiles of 128 threads, cp.async double buffering, FP32 accumulation in a fixed k order).
#include "common.cuh"
#include "tc_gemm.cuh"

// Sizes, operand layouts (ta, tb: 1 = stored transposed) and β (0 write, 1 accumulate).
struct GemmParams {
  int m, n, k, ta, tb, beta;
};

extern "C" __global__ void __launch_bounds__(256) gemm_f32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  int m = p.m, n = p.n, k = p.k, ta = p.ta, tb = p.tb, beta = p.beta;
  constexpr int BM = 64, BN = 64, BK = 16;
  __shared__ float As[BK][BM];
  __shared__ float Bs[BK][BN];
  int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, t = threadIdx.x, ty = t / 16, tx = t % 16;
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  for (int kb = 0; kb < k; kb += BK) {
    for (int e = t; e < BM * BK; e += 256) {
      int ml = ta ? e % BM : e / BK, kl = ta ? e / BM : e % BK, mm = m0 + ml, kk = kb + kl;
      As[kl][ml] = (mm < m && kk < k) ? (ta ? a[(long long)kk * m + mm] : a[(long long)mm * k + kk]) : 0.0f;
    }
    for (int e = t; e < BK * BN; e += 256) {
      int kl = tb ? e % BK : e / BN, nl = tb ? e / BK : e % BN, nn = n0 + nl, kk = kb + kl;
      Bs[kl][nl] = (nn < n && kk < k) ? (tb ? b[(long long)nn * k + kk] : b[(long long)kk * n + nn]) : 0.0f;
    }
    __syncthreads();
    for (int kl = 0; kl < BK; ++kl) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = As[kl][ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = Bs[kl][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) {
    int mm = m0 + ty + 16 * i;
    if (mm >= m) continue;
    for (int j = 0; j < 4; ++j) {
      int nn = n0 + tx + 16 * j;
      if (nn >= n) continue;
      float v = acc[i][j] + (bias ? bias[nn] : 0.0f);
      long long o = (long long)mm * n + nn;
      c[o] = beta ? c[o] + v : v;
    }
  }
}

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

extern "C" __global__ void __launch_bounds__(128) gemm_tc_tf32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  GemmOp op{a, b, bias, c, p};
  tc::gemm_tile<GemmOp, tc::TF32>(op, blockIdx.y * tc::BM, blockIdx.x * tc::BN, p.m, p.n, 0, p.k);
}
extern "C" __global__ void __launch_bounds__(128) gemm_tc_3xtf32(const float* a, const float* b, const float* bias, float* c, GemmParams p) {
  GemmOp op{a, b, bias, c, p};
  tc::gemm_tile<GemmOp, tc::TF32X3>(op, blockIdx.y * tc::BM, blockIdx.x * tc::BN, p.m, p.n, 0, p.k);
}
