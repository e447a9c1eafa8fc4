// The TF32 tensor-core GEMM tile shared by conv.cu and linear.cu.
//
// Layout: a block of 128 threads (4 warps) computes a 64×64 tile of C = A·B (A M×K, B K×N)
// over k ∈ [k_begin, k_end) in 16-deep stages. Shared tiles are row-major and padded: A as
// [64][20] (m, k), B as [16][68] (k, n), so fragment pointers stay 32-byte aligned. Warp w owns
// the 32×32 quarter (w / 2, w % 2) of the tile: 2×2 wmma 16×16×8 fragments.
// Loading: each stage's operands are gathered by the family's `Op` into the other buffer with
// 4-byte cp.async (zero written directly where the operand is outside the matrix or the image)
// while the tensor cores work on this one (double buffering). Thread t loads A rows
// t / 16 + 8j at k-column t % 16 (a half-warp reads 16 consecutive k) and B k-rows t / 64 + 2j
// at column t % 64 (a warp reads 32 consecutive n, conflict-free stores). The N side of each
// thread's column is decomposed once per block (`Op::column`); the K side once per stage and k
// into a shared table by 16 threads (`Op::decompose_k`), computed a stage ahead.
// Precision: TF32 rounds each operand to nearest (10 mantissa bits); 3xTF32 splits each into
// hi = tf32(a) and lo = tf32(a − hi) and sums lo·hi, hi·lo, hi·hi (the lo·lo term dropped):
// about FP32 accuracy. Accumulation is FP32 in a fixed k order: deterministic.
#pragma once
#include "common.cuh"
#ifndef COIN_EMU
#include <cuda_pipeline.h>
#include <mma.h>
#endif

namespace tc {
constexpr int BM = 64, BN = 64, BK = 16, LDA = BK + 4, LDB = BN + 4, LDC = BN + 4;
constexpr int THREADS = 128;
enum Prec { TF32 = 1, TF32X3 = 2 };

struct Smem {
  float a[2][BM * LDA];
  float b[2][BK * LDB];
  float c[BM * LDC];
  int kt[2][BK][3];  // the K side of each stage's 16 k, per family
};

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
using namespace nvcuda;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> FragC;

// f ← tf32(f), lo ← tf32(f − tf32(f)).
template <typename F>
__device__ inline void split(F& f, F& lo) {
  for (int i = 0; i < f.num_elements; ++i) {
    float hi = wmma::__float_to_tf32(f.x[i]);
    lo.x[i] = wmma::__float_to_tf32(f.x[i] - hi);
    f.x[i] = hi;
  }
}

// acc += A·B over one 16-deep stage, warp (wm, wn)'s 32×32 quarter.
template <int PREC>
__device__ inline void mma_stage(FragC (&acc)[2][2], const float* as, const float* bs, int wm, int wn) {
  for (int ks = 0; ks < BK; ks += 8) {
    FragA a[2], alo[2];
    FragB b[2], blo[2];
    for (int i = 0; i < 2; ++i) {
      wmma::load_matrix_sync(a[i], as + (wm * 32 + i * 16) * LDA + ks, LDA);
      wmma::load_matrix_sync(b[i], bs + ks * LDB + wn * 32 + i * 16, LDB);
      if (PREC == TF32X3) {
        split(a[i], alo[i]);
        split(b[i], blo[i]);
      } else {
        for (int e = 0; e < a[i].num_elements; ++e) a[i].x[e] = wmma::__float_to_tf32(a[i].x[e]);
        for (int e = 0; e < b[i].num_elements; ++e) b[i].x[e] = wmma::__float_to_tf32(b[i].x[e]);
      }
    }
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        if (PREC == TF32X3) {
          wmma::mma_sync(acc[i][j], alo[i], b[j], acc[i][j]);
          wmma::mma_sync(acc[i][j], a[i], blo[j], acc[i][j]);
        }
        wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
  }
}

// Gathers stage `kb` into buffer `buf` (see the header for the thread mapping).
template <class Op>
__device__ inline void load_stage(const Op& op, Smem& s, int buf, int kb, int k_end, int m0, int m_rows, bool col_ok) {
  int t = threadIdx.x, kl = t % BK, kk = kb + kl;
  for (int j = 0; j < 8; ++j) {
    int ml = t / BK + 8 * j, m = m0 + ml;
    float* dst = &s.a[buf][ml * LDA + kl];
    const float* src = (m < m_rows && kk < k_end) ? op.a_src(m, kk, s.kt[buf][kl]) : nullptr;
    if (src)
      __pipeline_memcpy_async(dst, src, 4);
    else
      *dst = 0.0f;
  }
  int nl = t % BN;
  for (int j = 0; j < 8; ++j) {
    int kr = t / BN + 2 * j, kk2 = kb + kr;
    float* dst = &s.b[buf][kr * LDB + nl];
    const float* src = (col_ok && kk2 < k_end) ? op.b_src(kk2, s.kt[buf][kr]) : nullptr;
    if (src)
      __pipeline_memcpy_async(dst, src, 4);
    else
      *dst = 0.0f;
  }
}

// The K side of stage `kb` into table `buf` (threads 0..15, one k each).
template <class Op>
__device__ inline void stage_table(const Op& op, Smem& s, int buf, int kb, int k_end) {
  int t = threadIdx.x;
  if (t < BK && kb + t < k_end) op.decompose_k(kb + t, s.kt[buf][t]);
}

// The block's tile of C = A·B over [k_begin, k_end), handed to `op.store(m, value)` for every
// row m < m_rows of the thread's column (when `op.column` accepted it).
template <class Op, int PREC>
__device__ inline void gemm_tile(Op& op, int m0, int n0, int m_rows, int n_cols, int k_begin, int k_end) {
  __shared__ __align__(32) Smem s;
  int t = threadIdx.x, warp = t / 32, wm = warp / 2, wn = warp % 2;
  int n = n0 + t % BN;
  bool col_ok = n < n_cols && op.column(n);
  FragC acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  int stages = (k_end - k_begin + BK - 1) / BK;
  if (stages > 0) stage_table(op, s, 0, k_begin, k_end);
  if (stages > 1) stage_table(op, s, 1, k_begin + BK, k_end);
  __syncthreads();
  if (stages > 0) load_stage(op, s, 0, k_begin, k_end, m0, m_rows, col_ok);
  __pipeline_commit();
  for (int st = 0; st < stages; ++st) {
    int buf = st & 1;
    if (st + 1 < stages) load_stage(op, s, buf ^ 1, k_begin + (st + 1) * BK, k_end, m0, m_rows, col_ok);
    __pipeline_commit();
    __pipeline_wait_prior(1);
    __syncthreads();
    mma_stage<PREC>(acc, s.a[buf], s.b[buf], wm, wn);
    // Table `buf` served stage st's loads, issued before the barrier above: free for st + 2.
    if (st + 2 < stages) stage_table(op, s, buf, k_begin + (st + 2) * BK, k_end);
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&s.c[(wm * 32 + i * 16) * LDC + wn * 32 + j * 16], acc[i][j], LDC, wmma::mem_row_major);
  __syncthreads();
  if (!col_ok) return;
  for (int e = t; e < BM * BN; e += THREADS) {
    int ml = e / BN, m = m0 + ml;
    if (m < m_rows) op.store(m, s.c[ml * LDC + t % BN]);
  }
}
#else
template <class Op, int PREC>
__device__ inline void gemm_tile(Op&, int, int, int, int, int, int) {
  __trap();  // built for an architecture without TF32 tensor cores: the host never launches it
}
#endif
}  // namespace tc
