// Elementwise ops, f32. Layout: contiguous buffers of n elements; binary ops broadcast through
// BinaryParams (output dims, per-input strides with 0 on broadcast axes). Thread mapping: one element
// per thread in a grid-stride loop, 256 threads per block. No shared memory. Deterministic
// (each output written by one thread). Backward kernels accumulate: gx += f'(x)·gy.
#include "common.cuh"

// Unary op codes (Rust reads them as generated constants: ops/elementwise/gpu.rs); p0/p1 are
// clamp's bounds, the scalar or at_least's threshold. An unknown code yields NaN.
enum CoinUnary {
  UNARY_NEG = 0,
  UNARY_RELU = 1,
  UNARY_TANH = 2,
  UNARY_SIGMOID = 3,
  UNARY_SOFTPLUS = 4,
  UNARY_ABS = 5,
  UNARY_SQUARE = 6,
  UNARY_EXP = 7,
  UNARY_LOG = 8,
  UNARY_SQRT = 9,
  UNARY_CLAMP = 10,
  UNARY_ADD_SCALAR = 11,
  UNARY_MUL_SCALAR = 12,
  UNARY_AT_LEAST = 13,
};

// Binary op codes: add sub mul div maximum minimum (NaN-propagating as torch), and the
// comparisons, which write a mask as 1.0 / 0.0 (false for NaN, as IEEE). An unknown code yields
// NaN.
enum CoinBinary {
  BINARY_ADD = 0,
  BINARY_SUB = 1,
  BINARY_MUL = 2,
  BINARY_DIV = 3,
  BINARY_MAXIMUM = 4,
  BINARY_MINIMUM = 5,
  BINARY_GT = 6,
  BINARY_GE = 7,
  BINARY_LT = 8,
  BINARY_LE = 9,
  BINARY_EQ = 10,
};

struct UnaryParams {
  long long n;
  int op;
  float p0, p1;
  int pad_;
};

// Up to 6-D broadcasting of two inputs onto the output: output dims and, per input, its
// strides (0 along broadcast axes).
struct BinaryParams {
  long long dims[6];
  long long sa[6];
  long long sb[6];
  long long n;
  int rank;
  int op;
};

__device__ inline float coin_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

__device__ inline float coin_unary(int op, float x, float p0, float p1) {
  switch (op) {
    case UNARY_NEG: return -x;
    case UNARY_RELU: return x <= 0.0f ? 0.0f : x;
    case UNARY_TANH: return tanhf(x);
    case UNARY_SIGMOID: return coin_sigmoid(x);
    case UNARY_SOFTPLUS: return x > 20.0f ? x : fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
    case UNARY_ABS: return fabsf(x);
    case UNARY_SQUARE: return x * x;
    case UNARY_EXP: return expf(x);
    case UNARY_LOG: return logf(x);
    case UNARY_SQRT: return sqrtf(x);
    case UNARY_CLAMP: return x != x ? x : fminf(fmaxf(x, p0), p1);
    case UNARY_ADD_SCALAR: return x + p0;
    case UNARY_MUL_SCALAR: return x * p0;
    case UNARY_AT_LEAST: return x >= p0 ? 1.0f : 0.0f;
    default: return __int_as_float(0x7fffffff);
  }
}

__device__ inline float coin_unary_grad(int op, float x, float y, float p0, float p1) {
  switch (op) {
    case UNARY_NEG: return -1.0f;
    case UNARY_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case UNARY_TANH: return 1.0f - y * y;
    case UNARY_SIGMOID: return y * (1.0f - y);
    case UNARY_SOFTPLUS: return x > 20.0f ? 1.0f : coin_sigmoid(x);
    case UNARY_ABS: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case UNARY_SQUARE: return 2.0f * x;
    case UNARY_EXP: return y;
    case UNARY_LOG: return 1.0f / x;
    case UNARY_SQRT: return 0.5f / y;
    case UNARY_CLAMP: return (x >= p0 && x <= p1) ? 1.0f : 0.0f;
    case UNARY_ADD_SCALAR: return 1.0f;
    case UNARY_MUL_SCALAR: return p0;
    case UNARY_AT_LEAST: return 0.0f;
    default: return __int_as_float(0x7fffffff);
  }
}

extern "C" __global__ void __launch_bounds__(256) unary_fwd_f32(const float* x, float* y, UnaryParams p) {
  COIN_GRID_LOOP(i, p.n) { y[i] = coin_unary(p.op, x[i], p.p0, p.p1); }
}

extern "C" __global__ void __launch_bounds__(256) unary_bwd_f32(const float* x, const float* y, const float* gy, float* gx, UnaryParams p) {
  COIN_GRID_LOOP(i, p.n) { gx[i] += coin_unary_grad(p.op, x[i], y[i], p.p0, p.p1) * gy[i]; }
}

__device__ inline void coin_bcast_offsets(const BinaryParams& b, long long i, long long* oa, long long* ob) {
  long long a = 0, c = 0;
  for (int d = b.rank - 1; d >= 0; --d) {
    long long k = i % b.dims[d];
    i /= b.dims[d];
    a += k * b.sa[d];
    c += k * b.sb[d];
  }
  *oa = a;
  *ob = c;
}

__device__ inline float coin_binary(int op, float a, float b) {
  switch (op) {
    case BINARY_ADD: return a + b;
    case BINARY_SUB: return a - b;
    case BINARY_MUL: return a * b;
    case BINARY_DIV: return a / b;
    case BINARY_MAXIMUM: return (a != a || a >= b) ? a : b;
    case BINARY_MINIMUM: return (a != a || a <= b) ? a : b;
    case BINARY_GT: return a > b ? 1.0f : 0.0f;
    case BINARY_GE: return a >= b ? 1.0f : 0.0f;
    case BINARY_LT: return a < b ? 1.0f : 0.0f;
    case BINARY_LE: return a <= b ? 1.0f : 0.0f;
    case BINARY_EQ: return a == b ? 1.0f : 0.0f;
    default: return __int_as_float(0x7fffffff);
  }
}

extern "C" __global__ void __launch_bounds__(256) binary_fwd_f32(const float* a, const float* b, float* y, BinaryParams bc) {
  COIN_GRID_LOOP(i, bc.n) {
    long long ia, ib;
    coin_bcast_offsets(bc, i, &ia, &ib);
    y[i] = coin_binary(bc.op, a[ia], b[ib]);
  }
}

// y = cond != 0 ? a : b, with `a` broadcast through bc.sa and `b` through bc.sb; cond has the
// output's shape (bc.op is not read).
extern "C" __global__ void __launch_bounds__(256) where_f32(const float* cond, const float* a, const float* b, float* y, BinaryParams bc) {
  COIN_GRID_LOOP(i, bc.n) {
    long long ia, ib;
    coin_bcast_offsets(bc, i, &ia, &ib);
    y[i] = cond[i] != 0.0f ? a[ia] : b[ib];
  }
}

