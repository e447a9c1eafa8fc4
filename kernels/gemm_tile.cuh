// The GEMM tile shared by conv.cu and linear.cu, on the SIMT cores (FP32) or the TF32 tensor
// cores (TF32, 3xTF32).
//
// Layout: a block of 128 threads computes a 64×64 tile of C = A·B (A M×K, B K×N) over
// k ∈ [k_begin, k_end) in 16-deep stages. Shared tiles are k-major and padded: A as [16][68]
// (k, m), B as [16][68] (k, n): 16-byte aligned rows for float4 reads, 32-byte aligned fragment
// pointers. Compute: FP32 — thread t owns the 8×4 micro-tile at rows 8·(t / 16), columns
// 4·(t % 16), reading two float4 of A and one of B per k (32 FFMA per 3 LDS.128); TF32 and
// 3xTF32 — warp w owns the 32×32 quarter (w / 2, w % 2) as 2×2 wmma 16×16×8 fragments.
// Loading: each stage's operands are gathered by the family's `Op` into the other buffer with
// 4-byte cp.async (zero written directly where the operand is outside the matrix or the image)
// while this one is computed (double buffering). Thread t loads A at k-column t % 16 for rows
// t / 16 + 8j (a half-warp reads 16 consecutive k) and B k-rows t / 64 + 2j at column t % 64
// (a warp reads 32 consecutive n, conflict-free stores). The N side of each thread's column is
// decomposed once per block (`Op::column`); the K side once per stage and k into a shared table
// by 16 threads (`Op::decompose_k`), computed a stage ahead: no division in the main loop.
// Precision: TF32 rounds each operand to nearest (10 mantissa bits); 3xTF32 splits each into
// hi = tf32(a) and lo = tf32(a − hi) and sums lo·hi, hi·lo, hi·hi (the lo·lo term dropped):
// about FP32 accuracy. Accumulation is FP32 in a fixed k order: deterministic.
#pragma once
#include "common.cuh"
#ifndef COIN_EMU
#include <cuda_pipeline.h>
#include <mma.h>
#endif

namespace tile {
constexpr int BM = 64, BN = 64, BK = 16, LDA = BM + 4, LDB = BN + 4, LDC = BN + 4;
constexpr int THREADS = 128;
enum Prec { FP32 = 0, TF32 = 1, TF32X3 = 2 };

struct Smem {
  float a[2][BK * LDA];
  float b[2][BK * LDB];
  float c[BM * LDC];
  int kt[2][BK][3];  // the K side of each stage's 16 k, per family
};

// acc[i][j] (rows 8·ty + i, columns 4·tx + j) += A·B over one stage, FP32 FMA.
__device__ inline void simt_stage(float (&acc)[8][4], const float* as, const float* bs) {
  int t = threadIdx.x, ty = t / 16, tx = t % 16;
  for (int k = 0; k < BK; ++k) {
    float4 a0 = *reinterpret_cast<const float4*>(as + k * LDA + 8 * ty);
    float4 a1 = *reinterpret_cast<const float4*>(as + k * LDA + 8 * ty + 4);
    float4 b4 = *reinterpret_cast<const float4*>(bs + k * LDB + 4 * tx);
    float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
    float b[4] = {b4.x, b4.y, b4.z, b4.w};
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
  }
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define COIN_TENSOR_CORES 1
using namespace nvcuda;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> FragA;
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
      wmma::load_matrix_sync(a[i], as + ks * LDA + wm * 32 + i * 16, LDA);
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
#endif

// Gathers stage `kb` into buffer `buf` (see the header for the thread mapping).
template <class Op>
__device__ inline void load_stage(const Op& op, Smem& s, int buf, int kb, int k_end, int m0, int m_rows, bool col_ok) {
  int t = threadIdx.x, kl = t % BK, kk = kb + kl;
  for (int j = 0; j < 8; ++j) {
    int ml = t / BK + 8 * j, m = m0 + ml;
    float* dst = &s.a[buf][kl * LDA + ml];
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
  int t = threadIdx.x;
  int n = n0 + t % BN;
  bool col_ok = n < n_cols && op.column(n);
  float acc[8][4] = {};
#ifdef COIN_TENSOR_CORES
  int warp = t / 32, wm = warp / 2, wn = warp % 2;
  FragC frag[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(frag[i][j], 0.0f);
#endif
#ifndef COIN_TENSOR_CORES
  if (PREC != FP32) __trap();  // no TF32 tensor cores on this architecture: never launched
#endif
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
    if (PREC == FP32) simt_stage(acc, s.a[buf], s.b[buf]);
#ifdef COIN_TENSOR_CORES
    else
      mma_stage<PREC>(frag, s.a[buf], s.b[buf], wm, wn);
#endif
    // Table `buf` served stage st's loads, issued before the barrier above: free for st + 2.
    if (st + 2 < stages) stage_table(op, s, buf, k_begin + (st + 2) * BK, k_end);
    __syncthreads();
  }
  if (PREC == FP32) {
    int ty = t / 16, tx = t % 16;
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) s.c[(8 * ty + i) * LDC + 4 * tx + j] = acc[i][j];
  }
#ifdef COIN_TENSOR_CORES
  else {
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        wmma::store_matrix_sync(&s.c[(wm * 32 + i * 16) * LDC + wn * 32 + j * 16], frag[i][j], LDC, wmma::mem_row_major);
  }
#endif
  __syncthreads();
  if (!col_ok) return;
  for (int e = t; e < BM * BN; e += THREADS) {
    int ml = e / BN, m = m0 + ml;
    if (m < m_rows) op.store(m, s.c[ml * LDC + t % BN]);
  }
}
}  // namespace tile
