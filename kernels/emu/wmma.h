// nvcuda::wmma for the emulator: TF32 tensor-core tiles (16×16×8, FP32 accumulation), the shape
// the convolutions use. Included by cuda_emu.h.
//
// - Fragments have an opaque layout of the emulator's own: lane l of a warp holds elements
//   [l·n, (l+1)·n) of the tile in row-major order (n = num_elements: 4 for matrix_a 16×8 and
//   matrix_b 8×16, 8 for the 16×16 accumulator). Kernels may read and write frag.x[i]
//   element-wise, as on the GPU, but must not assume which tile element an index is.
// - load_matrix_sync, store_matrix_sync and fill_fragment touch only the calling thread's
//   elements; mma_sync is warp-collective: every thread stages its A, B and C elements, a
//   barrier (block-wide, as every warp collective in this emulator: call it block-uniformly),
//   then each thread computes its D elements, and a second barrier frees the staging area.
// - TF32: wmma::__float_to_tf32 rounds to nearest with ties away from zero (cvt.rna.tf32.f32)
//   and keeps 10 mantissa bits. mma_sync reads only the top 19 bits of each A and B element:
//   an FP32 value passed in without conversion has its low 13 mantissa bits dropped (the
//   hardware ignores them). Products are summed in FP32 over k in order, then C is added.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace emu {
// Per-warp staging for mma_sync: A (16×8), B (8×16) and C (16×16) of each of 32 warps.
inline thread_local float wmma_a[32][128];
inline thread_local float wmma_b[32][128];
inline thread_local float wmma_c[32][256];

inline float tf32_truncate(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u &= 0xFFFFE000u;
  std::memcpy(&x, &u, 4);
  return x;
}
}  // namespace emu

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K>
struct tile_shape;
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
 public:
  static constexpr int rows = tile_shape<Use, M, N, K>::rows;
  static constexpr int cols = tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols / 32;
  float x[num_elements];
};

inline float __float_to_tf32(float in) {
  if (!std::isfinite(in)) return in;
  uint32_t u;
  std::memcpy(&u, &in, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;  // to nearest, ties away from zero (sign-magnitude)
  std::memcpy(&in, &u, 4);
  return in;
}

namespace detail {
// The tile element (row, column) that element i of this thread's fragment holds.
template <typename F>
inline void element(int i, int& r, int& c) {
  int e = (int)(::emu::ctx.linear_tid % 32) * F::num_elements + i;
  r = e / F::cols;
  c = e % F::cols;
}
template <typename F>
inline void load(F& f, const float* p, unsigned ldm, bool row) {
  for (int i = 0; i < F::num_elements; ++i) {
    int r, c;
    element<F>(i, r, c);
    f.x[i] = row ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r];
  }
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major>& f, const float* p,
                             unsigned ldm) {
  detail::load(f, p, ldm, true);
}
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major>& f, const float* p,
                             unsigned ldm) {
  detail::load(f, p, ldm, false);
}
template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p,
                             unsigned ldm, layout_t layout) {
  detail::load(f, p, ldm, layout == mem_row_major);
}
template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f,
                              unsigned ldm, layout_t layout) {
  using F = fragment<accumulator, M, N, K, float>;
  for (int i = 0; i < F::num_elements; ++i) {
    int r, c;
    detail::element<F>(i, r, c);
    (layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r]) = f.x[i];
  }
}
template <typename Use, int M, int N, int K, typename T, typename L>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, float v) {
  for (int i = 0; i < fragment<Use, M, N, K, T, L>::num_elements; ++i) f.x[i] = v;
}

template <typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 8, float>& d,
                     const fragment<matrix_a, 16, 16, 8, precision::tf32, LA>& a,
                     const fragment<matrix_b, 16, 16, 8, precision::tf32, LB>& b,
                     const fragment<accumulator, 16, 16, 8, float>& c) {
  using FA = fragment<matrix_a, 16, 16, 8, precision::tf32, LA>;
  using FB = fragment<matrix_b, 16, 16, 8, precision::tf32, LB>;
  using FC = fragment<accumulator, 16, 16, 8, float>;
  unsigned warp = ::emu::ctx.linear_tid / 32, lane = ::emu::ctx.linear_tid % 32;
  float* sa = ::emu::wmma_a[warp];
  float* sb = ::emu::wmma_b[warp];
  float* sc = ::emu::wmma_c[warp];
  for (int i = 0; i < FA::num_elements; ++i)
    sa[lane * FA::num_elements + i] = ::emu::tf32_truncate(a.x[i]);
  for (int i = 0; i < FB::num_elements; ++i)
    sb[lane * FB::num_elements + i] = ::emu::tf32_truncate(b.x[i]);
  for (int i = 0; i < FC::num_elements; ++i) sc[lane * FC::num_elements + i] = c.x[i];
  ::emu::barrier();
  float out[FC::num_elements];
  for (int i = 0; i < FC::num_elements; ++i) {
    int r, col;
    detail::element<FC>(i, r, col);
    float acc = 0.0f;
    for (int k = 0; k < 8; ++k) acc += sa[r * 8 + k] * sb[k * 16 + col];
    out[i] = acc + sc[r * 16 + col];
  }
  ::emu::barrier();
  for (int i = 0; i < FC::num_elements; ++i) d.x[i] = out[i];
}
}  // namespace wmma
}  // namespace nvcuda
